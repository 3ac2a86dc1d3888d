# Summarise dp-denoise-test.sh's runs against the previous defaults' runs of the same seeds and noise draws
# (dp-calibration-test-seeds.json, today's draws, RDP calibration). Usage: python3 dp-denoise-summary.py <runs.jsonl> [out.json]
import json, sys, numpy as np, os
here = os.path.dirname(os.path.abspath(__file__))
runs = [json.loads(l) for l in open(sys.argv[1])]
prev = {r['seed']: r for r in json.load(open(os.path.join(here, 'dp-calibration-test-seeds.json')))['today']['runs']['rdp']}
def block(rs):
    dp = np.array([r['dp'][0] for r in rs]); fed = np.array([r['federated'][0] for r in rs]); old = np.array([prev[r['seed']]['dp'][0] for r in rs])
    d = dp - old
    return dict(seeds=[rs[0]['seed'], rs[-1]['seed']], n=len(rs), dpHr10=[dp.mean(), dp.std(ddof=1)], federatedHr10=[fed.mean(), fed.std(ddof=1)],
                ratioOfMeans=dp.mean() / fed.mean(), seedsAtLeast09=int((dp / fed >= 0.9 - 1e-12).sum()),
                dpNdcg10=float(np.mean([r['dp'][1] for r in rs])), ndcgRatioOfMeans=float(np.mean([r['dp'][1] for r in rs]) / np.mean([r['federated'][1] for r in rs])),
                previousDpHr10=[old.mean(), old.std(ddof=1)], previousRatioOfMeans=old.mean() / fed.mean(),
                pairedDifference=[d.mean(), d.std(ddof=1) / np.sqrt(len(d))], betterEqualWorse=[int((d > 1e-12).sum()), int((abs(d) <= 1e-12).sum()), int((d < -1e-12).sum())])
out = {}
for lo, hi in ((42, 51), (52, 81), (42, 81)):
    rs = [r for r in runs if lo <= r['seed'] <= hi]
    if len(rs) >= 2: out[f'seeds{lo}to{hi}'] = block(rs)
for k, v in out.items():
    print(k, 'n', v['n'], 'DP %.4f±%.4f fed %.4f±%.4f ratio %.3f (prev %.4f, %.3f) >=0.9: %d  paired %+.4f (se %.4f) b/e/w %s  ndcg ratio %.3f' % (
        *v['dpHr10'], *v['federatedHr10'], v['ratioOfMeans'], v['previousDpHr10'][0], v['previousRatioOfMeans'], v['seedsAtLeast09'], *v['pairedDifference'], v['betterEqualWorse'], v['ndcgRatioOfMeans']))
if len(sys.argv) > 2:
    json.dump(dict(command='docs/eval/research/dp-denoise-test.sh (npm run -s cli -- eval --ratings ../shared/data/movielens/ml-latest-small --dp distributed-sim --epsilons 8 --baselines popularity --seed <s>)',
                   config=dict(topItems=200, dimensions=12, countShare=0.1, power=0.5, diagonal=False, threshold=1), summary=out, runs=runs), open(sys.argv[2], 'w'), indent=1)
