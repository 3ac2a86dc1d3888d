# Lever (5): a third round extending the eigenvectors to the next items (x_T outer the user factor), budget split in three.
import numpy as np, math, json, sys, time, x
def solve_all(s,V,reg=3.0,alpha=2.0,users=None):
    r=V.shape[1]; GV=V.T.astype(np.float64)@V; U=np.zeros((s.n,r))
    for i in (range(s.n) if users is None else users):
        idx=s.rows[i]; c=1+alpha*s.Cf[i,idx]; Vi=V[idx].astype(np.float64)
        M=GV+(Vi*(c-1)[:,None]).T@Vi+reg*np.eye(r); U[i]=np.linalg.solve(M,Vi.T@c)
    return U
def build3(s,cfg,seed,eps=8,delta=1e-5,rank=32):
    m=cfg.get('m',200);k=cfg.get('k',8);sh=cfg.get('shares',[0.1,0.5,0.4]);p=cfg.get('p',0.5);m2=cfg.get('m2',1000)
    rng=np.random.default_rng(seed)
    if eps>0:
        rho=x.zrho(eps,delta); sig=[1/math.sqrt(2*rho*f) for f in sh]
    else: sig=[0,0,0]
    cp=np.maximum(s.cnt+sig[0]*rng.standard_normal(s.items),0)
    order=np.lexsort((np.arange(s.items),-cp))
    S=np.sort(order[:m]); T=np.sort(order[:m2])
    B=s.X[:,S].astype(np.float64); B=B/np.maximum(np.linalg.norm(B,axis=1,keepdims=True),1e-12)
    N=rng.standard_normal((m,m))*sig[1]/math.sqrt(2); N=np.triu(N,1); N=N+N.T+np.diag(rng.standard_normal(m)*sig[1])
    wv,Q=np.linalg.eigh(B.T@B+N); wv=wv[::-1]; Q=Q[:,::-1]
    V=np.zeros((s.items,rank)); kk=0
    for e in range(k):
        if wv[e]<=0: break
        V[S,e]=Q[:,e]*wv[e]**p; kk+=1
    if cfg.get('only2'): return V.astype(np.float32)
    U=solve_all(s,V.astype(np.float32))[:,:kk]
    Un=U/np.maximum(np.linalg.norm(U,axis=1,keepdims=True),1e-12)
    XT=s.X[:,T].astype(np.float64); XT=XT/np.maximum(np.linalg.norm(XT,axis=1,keepdims=True),1e-12)
    Y=XT.T@Un + sig[2]*rng.standard_normal((len(T),kk))
    # map Y to V's scale: least squares on the rows of S (public post-processing)
    posS=np.searchsorted(T,S)
    W,*_=np.linalg.lstsq(Y[posS],V[S,:kk],rcond=None)
    V2=np.zeros_like(V)
    V2[T,:kk]=Y@W
    if cfg.get('keepS',1): V2[S,:kk]=V[S,:kk]
    return V2.astype(np.float32)
if __name__=='__main__':
    names=sys.argv[1].split(','); split=sys.argv[2]; cfgs=json.loads(sys.argv[3]); seeds=int(sys.argv[4]); eps=float(sys.argv[5])
    for name in names:
        s=x.Set(name,split)
        for cfg in cfgs:
            t=time.time()
            res=np.array([s.metrics(None,build3(s,cfg,sd+1,eps)) for sd in range(seeds if eps>0 else 1)])
            mu=res.mean(0); sd=res[:,0].std(ddof=1) if len(res)>1 else 0
            print(name,split,'eps',eps,json.dumps(cfg),'HR %.4f±%.4f NDCG %.4f'%(mu[0],sd,mu[1]),'(%.0fs)'%(time.time()-t),flush=True)
