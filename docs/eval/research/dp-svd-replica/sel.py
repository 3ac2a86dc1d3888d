# The five-set selection, run 1: grid m x k x count share with the diagonal, and the cheap levers. Writes JSON lines.
import json, sys, time, numpy as np, x
# Selection of the DP PureSVD defaults on the validation splits of five sets (numpy replica of subspace.ts + solveUser).
sets=sys.argv[1].split(','); out=sys.argv[2]
grid=[dict(m=m,k=k,share=sh) for m in [100,200,400] for k in [4,8,16] for sh in [0.1,0.25]]
levers=[dict(m=200,k=8,share=0.05),dict(m=200,k=8,share=0.1,pop=1),dict(m=400,k=8,share=0.1,pop=1),dict(m=200,k=8,share=0.1,p=1),dict(m=200,k=8,share=0.1,shrink=1),dict(m=400,k=16,share=0.1,shrink=1),dict(m=300,k=8,share=0.1)]
with open(out,'a') as f:
    for name in sets:
        s=x.Set(name,'valid'); seeds=8 if name=='mls' else 4
        for cfg in grid+levers:
            t=time.time()
            runs=[s.metrics(None,x.build(s,cfg,sd+1,8)).tolist() for sd in range(seeds)]
            off=s.metrics(None,x.build(s,cfg,1,0)).tolist()
            f.write(json.dumps(dict(set=name,config=cfg,runs=runs,noiseOff=off))+'\n'); f.flush()
            print(name,cfg,np.mean(runs,0),'%.0fs'%(time.time()-t),flush=True)
