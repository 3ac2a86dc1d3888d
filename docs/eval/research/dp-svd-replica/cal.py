# The noise calibration on the validation splits of the five sets: the chosen defaults (m 200, k 8, share 0.1,
# co-occurrences) with the zCDP-calibrated noise (noise 1, the selection's) and with the RDP-calibrated noise
# (both stds times the factor `runNoiseMultipliers` gives for the set's catalogue, factors.json), on the same
# noise seeds (1..seeds: the same standard normal draws, scaled), so the two are paired.
# Usage: python3 cal.py <factors.json> <out.json> <seeds mls> <seeds synthetic>
import json, sys, time, numpy as np, x
factors=json.load(open(sys.argv[1])); out=sys.argv[2]; seeds_mls=int(sys.argv[3]); seeds_syn=int(sys.argv[4])
base=dict(m=200,k=8,share=0.1,offdiag=1)
result={}
for name,fac in factors.items():
    s=x.Set(name,'valid'); seeds=seeds_mls if name=='mls' else seeds_syn
    result[name]={'factor':fac['factor'],'seeds':seeds}
    for label,noise in (('zcdp',1.0),('rdp',fac['factor'])):
        t=time.time()
        runs=[s.metrics(None,x.build(s,dict(base,noise=noise),sd+1,8)).tolist() for sd in range(seeds)]
        result[name][label]=runs
        print(name,label,'noise %.6f'%noise,'HR@10 %.4f±%.4f NDCG@10 %.4f'%(np.mean([r[0] for r in runs]),np.std([r[0] for r in runs],ddof=1),np.mean([r[1] for r in runs])),'%.0fs'%(time.time()-t),flush=True)
    json.dump(dict(config=base,epsilon=8,delta=1e-5,sets=result),open(out,'w'),indent=1)
