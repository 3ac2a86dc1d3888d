# Rank the configurations of sel*.jsonl: mean over sets of HR@10 and NDCG@10 / the non-private federated value
# (validation, round 10, select.json); within 0.01 of the best, the best worst case.
import json, sys, numpy as np
REF={'mls':[0.06885245901639345,0.033443213026887034],'syn-dense':[0.072,0.03536907306181006],'syn-ml100k':[0.11452810180275716,0.06392790558902253],'syn-mid':[0.0895,0.05086000186301287],'syn-sparse':[0.09633333333333334,0.050723081075877585]}
rows=[json.loads(l) for l in open(sys.argv[1])]
sets=list(dict.fromkeys(r['set'] for r in rows))
key=lambda c: json.dumps(c,sort_keys=True)
cfgs={}
for r in rows: cfgs.setdefault(key(r['config']),{})[r['set']]=r
ranked=[]
for k,by in cfgs.items():
    if len(by)<len(sets): continue
    norm=[np.mean(by[s]['runs'],0)[i]/REF[s][i] for s in sets for i in (0,1)]
    ranked.append(dict(config=json.loads(k),score=float(np.mean(norm)),worst=float(min(norm)),
      sets={s:dict(hr10=float(np.mean(by[s]['runs'],0)[0]),hr10_sd=float(np.std([r[0] for r in by[s]['runs']],ddof=1)),ndcg10=float(np.mean(by[s]['runs'],0)[1]),noiseOff=by[s]['noiseOff'],ratioHr=float(np.mean(by[s]['runs'],0)[0]/REF[s][0])) for s in sets}))
ranked.sort(key=lambda r:-r['score'])
if ranked:
    top=ranked[0]['score']; chosen=sorted([r for r in ranked if r['score']>=top-0.01],key=lambda r:-r['worst'])[0]
    for r in ranked: print('%.3f %.3f'%(r['score'],r['worst']),json.dumps(r['config']),' '.join('%s %.4f±%.4f(%.2f)'%(s[:10],v['hr10'],v['hr10_sd'],v['ratioHr']) for s,v in r['sets'].items()))
    print('chosen',chosen['config'],chosen['score'],chosen['worst'])
    if len(sys.argv)>2: json.dump(dict(sets=sets,reference=REF,chosen=chosen,ranked=ranked),open(sys.argv[2],'w'),indent=1)
