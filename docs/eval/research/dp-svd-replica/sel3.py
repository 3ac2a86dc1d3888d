# The five-set selection, run 3 (docs/eval/privacy.md, "Denoising the released matrix"): today's defaults against
# the post-processing and clipping levers of clip.py, RDP-calibrated noise, noise seeds 1..n (paired across
# configurations: the same draws). Writes JSON lines for agg.py.
# Usage: python3 sel3.py <sets> <out.jsonl> <seeds mls> <seeds synthetic> <json configs>
import json, sys, time, numpy as np, x, clip
sets = sys.argv[1].split(','); out = sys.argv[2]; seeds_mls = int(sys.argv[3]); seeds_syn = int(sys.argv[4]); cfgs = json.loads(sys.argv[5])
with open(out, 'a') as f:
    for name in sets:
        s = x.Set(name, 'valid'); seeds = seeds_mls if name == 'mls' else seeds_syn
        for cfg in cfgs:
            t = time.time()
            runs = [s.metrics(None, clip.build(s, cfg, sd + 1)).tolist() for sd in range(seeds)]
            off = s.metrics(None, clip.build(s, cfg, 1, 0)).tolist()
            f.write(json.dumps(dict(set=name, config=cfg, runs=runs, noiseOff=off)) + '\n'); f.flush()
            print(name, json.dumps(cfg), 'HR %.4f NDCG %.4f' % tuple(np.mean(runs, 0)), '%.0fs' % (time.time() - t), flush=True)
