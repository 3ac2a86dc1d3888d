# Levers of issue 15's second pass (docs/eval/privacy.md, "Clipping, power method, denoising"): the replica of
# x.py generalised. Every contribution keeps L2 norm <= 1 (unit sensitivity, noise sigma per unit):
#  round 1 (count): raw row x (norm sqrt(n)) -> x / n^(a1/2), clipped to C1, divided by C1
#     (a1 1, C1 1 = today's x/|x|); weight per user g1(n) = min(n^(-a1/2)/C1, n^(-1/2)).
#  round 2 (gram): raw co-occurrences offdiag(x_S x_S^T) (Frobenius norm r = sqrt(n(n-1))) -> / r^a2, clipped to
#     C2, / C2 (a2 1, C2 1 = today's); weight g2(n) = min(r^-a2 / C2, 1/r).
#  post-processing of the noisy m x m matrix: 'clamp' (entries < 0 -> 0), 'soft' t (soft threshold at t * the
#     off-diagonal noise std), 'psoft' t (max(M - t * std, 0)), 'hard' t (entries with |M| <= t * std -> 0), 'pgar' t (M - (t std)^2 / M above t * std, 0 below:
#     the non-negative garrote, which leaves large entries nearly unshrunk).
#  'edge' c: keep only the directions whose eigenvalue exceeds c x the top eigenvalue of the same denoiser applied
#     to noise alone (fixed draws; public: sigma, m, t), up to k.
#  'power' T, 'over' k': the noisy power method (Hardt & Price 2014) instead of the Gram release: public Q0 (m x k',
#     seeded Gaussian, orthonormalised), T rounds each sending x~ (x~^T Q) (norm <= 1), rho split evenly over them.
import json, math, sys, time, numpy as np, x
NOISE = 0.924369374042726  # runNoiseMultipliers' factor at eps 8, delta 1e-5 (the RDP calibration)
def gweights(n, a, C, r):
    with np.errstate(divide='ignore'):
        return np.where(r > 0, np.minimum(r ** (-a) / C, 1 / np.maximum(r, 1e-300)), 0.0)
def build(s, cfg, seed, eps=8, delta=1e-5, rank=32):
    m = cfg.get('m', 200); k = cfg.get('k', 8); share = cfg.get('share', 0.1); p = cfg.get('p', 0.5)
    rng = np.random.default_rng(seed)
    if eps > 0:
        rho = x.zrho(eps, delta); s1 = NOISE / math.sqrt(2 * rho * share); rest = 2 * rho * (1 - share)
    else: s1 = 0; rest = math.inf
    n_all = s.X.sum(1)
    g1 = gweights(n_all, cfg.get('a1', 1), cfg.get('C1', 1), np.sqrt(n_all))
    cnt = (s.X * g1[:, None]).sum(0)
    ncnt = cnt + s1 * rng.standard_normal(s.items); cp = np.maximum(ncnt, 0)
    S = np.sort(np.lexsort((np.arange(s.items), -cp))[:m])
    XS = s.X[:, S].astype(np.float64); nS = XS.sum(1)
    V = np.zeros((s.items, rank))
    if cfg.get('power'):
        T = cfg['power']; kk = cfg.get('over', k)
        s2 = NOISE / math.sqrt(rest / T) if eps > 0 else 0
        Xt = XS / np.maximum(np.sqrt(nS), 1e-12)[:, None]
        Q = np.linalg.qr(np.random.default_rng(cfg.get('qseed', 7)).standard_normal((m, kk)))[0]
        for t in range(T):
            Y = Xt.T @ (Xt @ Q) + s2 * rng.standard_normal((m, kk))
            Qn = np.linalg.qr(Y)[0]
            if t == T - 1:
                # Rayleigh-Ritz in span(Y): B = Q^T Y ~ Q^T G Q (public post-processing), eigen-directions of it
                Bm = Q.T @ Y; Bm = (Bm + Bm.T) / 2
                if cfg.get('rr', 1):
                    # directions: left singular vectors of Y, values: singular values (~ eigenvalues of G)
                    U, sv, _ = np.linalg.svd(Y, full_matrices=False); wv, E = sv, U
                Q = Qn
        for e in range(min(k, E.shape[1])):
            V[S, e] = E[:, e] * wv[e] ** p
        return V.astype(np.float32)
    s2 = NOISE / math.sqrt(rest) if eps > 0 else 0
    r = np.sqrt(nS * np.maximum(nS - 1, 0))
    g2 = gweights(nS, cfg.get('a2', 1), cfg.get('C2', 1), r)
    Bw = XS * np.sqrt(g2)[:, None]; G = Bw.T @ Bw; np.fill_diagonal(G, 0)
    N = rng.standard_normal((m, m)) * s2 / math.sqrt(2); N = np.triu(N, 1); N = N + N.T
    M = G + N
    if cfg.get('clamp'): M = np.maximum(M, 0)
    if cfg.get('soft'):
        t = cfg['soft'] * s2 / math.sqrt(2); M = np.sign(M) * np.maximum(np.abs(M) - t, 0)
    if cfg.get('psoft'): M = np.maximum(M - cfg['psoft'] * s2 / math.sqrt(2), 0)
    if cfg.get('pgar'):  # positive non-negative garrote: v - t^2 std^2 / v above t std, 0 below
        t = cfg['pgar'] * s2 / math.sqrt(2); M = np.where(M > t, M - t * t / np.where(M > t, M, 1), 0)
    if cfg.get('hard'): M = np.where(np.abs(M) > cfg['hard'] * s2 / math.sqrt(2), M, 0)
    if cfg.get('fill'):  # diagonal from round 1's counts (post-processing): fill * mean off-diagonal row sum scale
        d = cp[S]; M[np.diag_indices(m)] = cfg['fill'] * d / d.mean() * np.abs(M).sum(1).mean() / m
    wv, Q = np.linalg.eigh(M); wv = wv[::-1]; Q = Q[:, ::-1]
    edge = 0
    if cfg.get('edge') and s2 > 0:
        # the top eigenvalue of the same denoising applied to noise alone (public: sigma, m, t), from fixed draws
        Z = np.random.default_rng(99).standard_normal((m, m)) * s2 / math.sqrt(2); Z = np.triu(Z, 1); Z = Z + Z.T
        if cfg.get('psoft'): Z = np.maximum(Z - cfg['psoft'] * s2 / math.sqrt(2), 0)
        if cfg.get('clamp'): Z = np.maximum(Z, 0)
        edge = cfg['edge'] * np.linalg.eigvalsh(Z)[-1]
    for e in range(k):
        if wv[e] <= max(edge, 0): break
        V[S, e] = Q[:, e] * wv[e] ** p * cfg.get('scale', 1.0)
    return V.astype(np.float32)
if __name__ == '__main__':
    # Usage: python3 clip.py <sets> valid|test <json configs> <seeds> [out.jsonl]  (seeds 1..n; noise off run too)
    names = sys.argv[1].split(','); split = sys.argv[2]; cfgs = json.loads(sys.argv[3]); seeds = int(sys.argv[4])
    out = open(sys.argv[5], 'a') if len(sys.argv) > 5 else None
    for name in names:
        s = x.Set(name, split)
        for cfg in cfgs:
            t = time.time()
            runs = [s.metrics(None, build(s, cfg, sd + 1)).tolist() for sd in range(seeds)]
            off = s.metrics(None, build(s, cfg, 1, 0)).tolist()
            mu = np.mean(runs, 0); sd = np.std([r_[0] for r_ in runs], ddof=1) if seeds > 1 else 0
            print(name, json.dumps(cfg), 'HR %.4f±%.4f NDCG %.4f off %.4f' % (mu[0], sd, mu[1], off[0]), '(%.0fs)' % (time.time() - t), flush=True)
            if out: out.write(json.dumps(dict(set=name, config=cfg, runs=runs, noiseOff=off)) + '\n'); out.flush()
