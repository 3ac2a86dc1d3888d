import { applyServerUpdate, createMerger } from '../aggregator/merge';
import { clipL2 } from '../shared/delta';
import type { Interaction } from '../shared/model/feedback';
import { scoreItems } from '../shared/model/recommend';
import { createRandom } from '../shared/random';
import { privatizeDelta } from '../participant/train';
import { predictExplicit, trainCentralExplicit, type ExplicitParams } from './explicit';
import type { Predictor, RankingUser, RatingUser, Scorer } from './evaluate';
import type { LocalTrainer } from './training';

/**
 * The settings the federated model is compared with, all in memory on the same
 * split and the same pipeline-produced interactions:
 * - popularity: items ranked by how many users trained on them;
 * - global mean and damped item mean (explicit protocol);
 * - local-only: each user trains alone from the initialization (implicit: for
 *   as many local epochs as the federated run has rounds; explicit: exact ALS on
 *   the user's own ratings);
 * - the previous federated optimizer in memory (`simulateFederated`): local
 *   training, clipping, FedAvg of the deltas and a server learning rate, the
 *   baseline of docs/eval's option comparisons (the evaluation runs it through
 *   the files, `federated.ts`). The centralized ALS (`trainCentral*`) is called
 *   by the caller directly.
 */

/** Items ranked by their number of training users. */
export function popularityScorer(users: readonly RankingUser[], items: number): Scorer {
  const counts = new Float32Array(items);
  for (const user of users) for (const { item } of user.train) counts[item]++;
  return () => counts;
}

/** Every rating predicted as the mean training rating. */
export function meanPredictor(mean: number): Predictor {
  return () => () => mean;
}

/** Damping of the item mean toward the global mean, in pseudo-ratings. */
const ITEM_MEAN_DAMPING = 5;

/** Item mean, shrunk toward the global mean: (Σ r + k·mean) / (n + k). */
export function itemMeanPredictor(users: readonly RatingUser[], items: number, mean: number): Predictor {
  const sum = new Float64Array(items);
  const count = new Float64Array(items);
  for (const user of users) {
    for (const { item, preference } of user.train) {
      sum[item] += preference;
      count[item]++;
    }
  }
  const predicted = new Float64Array(items);
  for (let j = 0; j < items; j++) predicted[j] = (sum[j] + ITEM_MEAN_DAMPING * mean) / (count[j] + ITEM_MEAN_DAMPING);
  return () => (item) => predicted[item];
}

/** Scorer of users trained alone from `V0` (`trainer` set up with the local-only epochs): s = V_local u. */
export function localOnlyScorer(V0: Float32Array, rank: number, trainer: LocalTrainer): Scorer {
  const items = V0.length / rank;
  const train = trainer(V0);
  return (user) => {
    const local = train(user.train);
    return scoreItems(local.u, local.V, items, rank);
  };
}

/** Predictor of users trained alone from `V0`: exact ALS on the user's own ratings (`iterations`), mean + b_u + u·v_j. */
export function localOnlyPredictor(V0: Float32Array, params: ExplicitParams, iterations: number): Predictor {
  const items = V0.length / params.rank;
  return (user) => {
    const alone = trainCentralExplicit([user.train], items, params.rank, { ...params, iterations }, V0);
    const solved = { u: alone.U, bias: alone.userBias[0] };
    return (item) => predictExplicit(solved, alone.V, item, params.rank, params.mean);
  };
}

interface SimulationOptions {
  rounds: number;
  /** DELTA_CLIP_NORM applied by each participant. */
  clipNorm: number;
  /** SERVER_CLIP_NORM (0 = off). */
  serverClipNorm: number;
  serverLr: number;
  /** Called after each round with the new item factors. */
  onRound?: (round: number, V: Float32Array) => void;
}

/**
 * The federated optimizer without the federation: every round, every user trains
 * from the current V, the clipped deltas are averaged (FedAvg) and applied with
 * the server learning rate, exactly as `runRound` does it from the files (no
 * noise). Returns the final V.
 */
export function simulateFederated(trains: readonly Interaction[][], V0: Float32Array, trainer: LocalTrainer, options: SimulationOptions): Float32Array {
  let V = V0;
  const noNoise = createRandom(0);
  for (let round = 1; round <= options.rounds; round++) {
    const train = trainer(V);
    const merger = createMerger('fedavg', V.length);
    for (const interactions of trains) {
      const delta = privatizeDelta(train(interactions).V, V, { clipNorm: options.clipNorm, epsilon: 0, delta: 0, random: noNoise }).values;
      if (options.serverClipNorm > 0) clipL2(delta, options.serverClipNorm);
      merger.add(delta, 1);
    }
    V = applyServerUpdate(V, merger.result(), { serverLr: options.serverLr, noiseStd: 0, random: noNoise });
    options.onRound?.(round, V);
  }
  return V;
}
