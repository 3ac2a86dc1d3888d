import { performance } from 'node:perf_hooks';
import { loadConfig } from '../shared/config';
import { initialItemFactors } from '../shared/global-model';
import { gramian, solveUser, trainLocal } from '../shared/model/factorize';
import type { Interaction } from '../shared/model/feedback';
import { createRandom, type Random } from '../shared/random';

/** Training throughput: trainLocal and solveUser calls per second at ranks 32 and 100 over `items` items. */

const SEED = 7;
const INTERACTIONS_PER_USER = 100;
const USERS = 16;
const MIN_CALLS = 3;
const RANKS = [32, 100];

interface TrainingRate {
  rank: number;
  items: number;
  interactions: number;
  epochs: number;
  trainLocalPerSec: number;
  trainLocalSharedGramPerSec: number;
  solveUserPerSec: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function randomInteractions(random: Random, items: number, count: number): Interaction[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(random.int(items));
  return [...chosen].sort((a, b) => a - b).map((item) => ({ item, preference: 1, confidence: 0.5 + 3 * random.next() }));
}

/** Calls of `fn` per second over about `seconds` (at least MIN_CALLS calls). */
function rate(seconds: number, fn: () => void): number {
  let calls = 0;
  const start = performance.now();
  while (calls < MIN_CALLS || performance.now() - start < seconds * 1000) {
    fn();
    calls++;
  }
  return calls / ((performance.now() - start) / 1000);
}

/** Each rate measured for about `seconds`, with 100 interactions a user and the default LOCAL_EPOCHS. */
export function benchTraining(items: number, seconds: number, log: (line: string) => void): TrainingRate[] {
  const config = loadConfig({ dotenv: false, env: {} });
  const random = createRandom(SEED);
  return RANKS.map((rank) => {
    const V = initialItemFactors(items, rank, SEED);
    const users = Array.from({ length: USERS }, () => randomInteractions(random, items, INTERACTIONS_PER_USER));
    const options = { items, rank, reg: config.ALS_REG, alpha: config.ALS_ALPHA, epochs: config.LOCAL_EPOCHS, lr: config.LOCAL_LR };
    const gram = gramian(V, items, rank);
    let k = 0;
    const trainLocalPerSec = rate(seconds, () => trainLocal(V, users[k++ % users.length], options));
    const trainLocalSharedGramPerSec = rate(seconds, () => trainLocal(V, users[k++ % users.length], { ...options, gram }));
    const solveUserPerSec = rate(seconds, () => solveUser(V, rank, users[k++ % users.length], options, gram));
    const row = { rank, items, interactions: INTERACTIONS_PER_USER, epochs: options.epochs, trainLocalPerSec: round1(trainLocalPerSec), trainLocalSharedGramPerSec: round1(trainLocalSharedGramPerSec), solveUserPerSec: round1(solveUserPerSec) };
    log(`training rank ${rank}: trainLocal ${row.trainLocalPerSec}/s (participant, computes VᵀV), ${row.trainLocalSharedGramPerSec}/s (shared VᵀV), solveUser ${row.solveUserPerSec}/s`);
    return row;
  });
}
