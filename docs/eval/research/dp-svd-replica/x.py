# numpy replica of src/shared/model/subspace.ts + solveUser scoring (reg 3, alpha 2) used for the DP PureSVD lever
# exploration and the five-set selection (docs/eval/privacy.md). Reads the split cache that
# `npx tsx scripts/model-research.ts` writes to $TMPDIR/syftbox-model-research/<set>.json. Without noise it
# reproduces the TypeScript mechanism exactly (mls valid, m 200, k 8: HR@10 0.0590 with the diagonal, 0.0623 without).
# Usage: python3 x.py <sets> valid|test <json list of configs> <seeds> <epsilon>
import json, numpy as np, math, sys, itertools, time
# Replica of subspace.ts + solveUser scoring (reg 3, alpha 2), with levers.
def load(name, split):
    d=json.load(open(f'/tmp/syftbox-model-research/{name}.json'))
    items=d['items']; P=d[split]['participants']; n=len(P)
    X=np.zeros((n,items),dtype=np.float32); Cf=np.zeros((n,items),dtype=np.float32)
    for i,p in enumerate(P):
        for it,pref,conf in p['train']:
            if pref>0: X[i,it]=1
            Cf[i,it]=conf
    held=np.array([p['heldOut'] for p in P])
    return X,Cf,held
def zrho(eps,delta):
    L=math.log(1/delta); return (math.sqrt(L+eps)-math.sqrt(L))**2
class Set:
    def __init__(s,name,split):
        s.X,s.Cf,s.held=load(name,split); s.n,s.items=s.X.shape
        s.has=np.where(s.held>=0)[0]
        s.A=s.X/np.maximum(np.linalg.norm(s.X,axis=1,keepdims=True),1e-12)
        s.cnt=s.A.sum(0)
        s.rows=[np.nonzero(s.Cf[i])[0] for i in range(s.n)]
    def metrics(s,scores_fn,V,reg=3.0,alpha=2.0):
        r=V.shape[1]; GV=V.T.astype(np.float64)@V; out=[]
        hs=[];nd=[]
        for i in s.has:
            idx=s.rows[i]; c=1+alpha*s.Cf[i,idx]; Vi=V[idx].astype(np.float64)
            M=GV+(Vi*(c-1)[:,None]).T@Vi+reg*np.eye(r); b=Vi.T@c
            u=np.linalg.solve(M,b); sc=V@u
            t=s.held[i]; st=sc[t]; cand=np.ones(s.items,bool); cand[idx]=False; cand[t]=False
            j=np.arange(s.items)
            rk=((sc>st)|((sc==st)&(j<t)))[cand].sum()
            hs.append(rk<10); nd.append(1/math.log2(rk+2) if rk<10 else 0)
        return np.array([np.mean(hs),np.mean(nd)])
def build(s,cfg,seed,eps=8,delta=1e-5,rank=32):
    m=cfg.get('m',200);k=cfg.get('k',8);share=cfg.get('share',0.1);p=cfg.get('p',0.5)
    rng=np.random.default_rng(seed)
    if eps>0:
        rho=zrho(eps,delta); s1=1/math.sqrt(2*rho*share); s2=1/math.sqrt(2*rho*(1-share))
        # 'noise': both stds times a factor (the RDP calibration, runNoiseMultipliers: 0.9244 at eps 8; cal.py)
        s1*=cfg.get('noise',1.0); s2*=cfg.get('noise',1.0)
    else: s1=s2=0
    ncnt=s.cnt+s1*rng.standard_normal(s.items)
    cp=np.maximum(ncnt,0)
    S=np.sort(np.lexsort((np.arange(s.items),-cp))[:m])
    B=s.X[:,S].astype(np.float64); w=cfg.get('itemw',None)
    if cfg.get('confw'): B=B*s.Cf[:,S]**cfg['confw']
    if cfg.get('trunc'):
        L=cfg['trunc']; key=B+1e-3*rng.random(B.shape)*(B>0)
        th=-np.sort(-key,axis=1)[:,L-1:L] if B.shape[1]>=L else 0
        B=np.where(key>=th,B,0)
    if w is not None: B=B*(cp[S]**w)[None,:]
    B=B/np.maximum(np.linalg.norm(B,axis=1,keepdims=True),1e-12)
    N=rng.standard_normal((m,m))*s2/math.sqrt(2); N=np.triu(N,1); N=N+N.T+np.diag(rng.standard_normal(m)*s2)
    if cfg.get('offdiag'):
        nS=(B>0).sum(1); wu=np.where(nS>=2,1/np.sqrt(np.maximum(1-1/np.maximum(nS,1),1e-12)),0)
        Bw=B*np.sqrt(wu)[:,None]; G=Bw.T@Bw; np.fill_diagonal(G,0); np.fill_diagonal(N,0)
        if cfg['offdiag']==3: np.fill_diagonal(G, cp[S]*s.n/cp[S].sum()*cfg.get('dscale',1.0))
    else: G=B.T@B
    wv,Q=np.linalg.eigh(G+N); wv=wv[::-1]; Q=Q[:,::-1]
    V=np.zeros((s.items,rank))
    kk=0
    kap2=(s2**2/2)*m
    rowscale=np.ones(m)
    if w is not None and cfg.get('vw',0): rowscale=cp[S]**(w*cfg['vw'])
    if cfg.get('rowpow'): rowscale=(cp[S]/cp[S].mean())**cfg['rowpow']
    for e in range(k):
        if wv[e]<=0: break
        lam=wv[e]
        if cfg.get('shrink'):
            if lam**2<=4*kap2: break
            lam=(lam+math.sqrt(lam**2-4*kap2))/2
        V[S,e]=Q[:,e]*rowscale*lam**p*cfg.get('scale',1.0); kk+=1
    g=cfg.get('pop',0)
    if g:
        col=cp/ (np.linalg.norm(cp)+1e-12)   # unit column
        # scale relative to the first eigen column's norm (= lam1^p)
        V[:,kk if cfg.get('popcol','next')=='next' else rank-1]=g*col*(wv[0]**p)*cfg.get('scale',1.0)
    return V.astype(np.float32)
if __name__=='__main__':
    names=sys.argv[1].split(','); split=sys.argv[2]; cfgs=json.loads(sys.argv[3]); seeds=int(sys.argv[4]); eps=float(sys.argv[5]) if len(sys.argv)>5 else 8
    for name in names:
        s=Set(name,split)
        for cfg in cfgs:
            t=time.time()
            res=np.array([s.metrics(None,build(s,cfg,sd+1,eps)) for sd in range(seeds if eps>0 else 1)])
            mu=res.mean(0); sd=res[:,0].std(ddof=1) if len(res)>1 else 0
            print(name,split,'eps',eps,json.dumps(cfg),'HR %.4f±%.4f NDCG %.4f'%(mu[0],sd,mu[1]),'(%.0fs)'%(time.time()-t),flush=True)
