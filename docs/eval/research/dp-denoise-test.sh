#!/usr/bin/env bash
# The denoising defaults on eval's test split (docs/eval/privacy.md, "Clipping, the power method and denoising"):
# one `eval --dp distributed-sim` per seed, the report's DP, federated and popularity HR@10/NDCG@10 as JSON lines.
# Usage: docs/eval/research/dp-denoise-test.sh <first seed> <last seed> <out.jsonl> [more eval options, e.g. --dp-dimensions 8]
set -euo pipefail
first=$1; last=$2; out=$3; shift 3
for s in $(seq "$first" "$last"); do
  dir=$(mktemp -d /dev/shm/dp-denoise-XXXXXX)
  nice -n 10 npm run -s cli -- eval --ratings ../shared/data/movielens/ml-latest-small --dp distributed-sim --epsilons 8 \
    --baselines popularity --seed "$s" --out "$dir" --json "$@" 2>/dev/null | tail -1 > "$dir/report.json"
  python3 - "$s" "$dir/report.json" >> "$out" <<'PY'
import json, sys
seed, path = int(sys.argv[1]), sys.argv[2]
r = json.load(open(path)); by = {s['name']: s['metrics'] for s in r['settings']}
pick = lambda n: [by[n]['hr10'], by[n]['ndcg10']]
dp = next(n for n in by if n.startswith('dp-svd-simulated'))
print(json.dumps({'seed': seed, 'dp': pick(dp), 'federated': pick('federated'), 'popularity': pick('popularity')}))
PY
  rm -rf "$dir"
  tail -1 "$out"
done
