# The five-set selection, run 2: the same grid with round 2 sending only the co-occurrences (offdiag).
import json, sys, time, numpy as np, x
sets=sys.argv[1].split(','); out=sys.argv[2]
grid=[dict(m=m,k=k,share=sh,offdiag=1) for m in [100,200,400] for k in [4,8,16] for sh in [0.1]]+[dict(m=200,k=8,share=0.25,offdiag=1),dict(m=300,k=8,share=0.1,offdiag=1),dict(m=200,k=12,share=0.1,offdiag=1),dict(m=300,k=12,share=0.1,offdiag=1)]
with open(out,'a') as f:
    for name in sets:
        s=x.Set(name,'valid'); seeds=8 if name=='mls' else 4
        for cfg in grid:
            t=time.time()
            runs=[s.metrics(None,x.build(s,cfg,sd+1,8)).tolist() for sd in range(seeds)]
            off=s.metrics(None,x.build(s,cfg,1,0)).tolist()
            f.write(json.dumps(dict(set=name,config=cfg,runs=runs,noiseOff=off))+'\n'); f.flush()
            print(name,cfg,np.mean(runs,0),'%.0fs'%(time.time()-t),flush=True)
