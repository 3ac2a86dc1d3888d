import type { Interaction } from '../shared/model/feedback';
import { addSubspaceContribution, applySubspace, subspacePhase, subspaceSize, topItemsOf, SUBSPACE_ROUNDS, type SubspaceApplyParams, type SubspacePhase, type SubspaceReport } from '../shared/model/subspace';
import type { Random } from '../shared/random';

/**
 * The DP PureSVD rounds (`src/shared/model/subspace.ts`) without files: every
 * user adds its contribution against the current Global_V, the sum gets Gaussian
 * noise of std `noiseStd[phase]` on every coordinate (the distributed noise: the
 * survivors' Skellam shares sum to a Skellam of that variance, which the Gaussian
 * of the same variance approximates closely at these scales), and
 * `applySubspace` makes the next Global_V (knowing that std, as the aggregator does).
 */

export interface SubspaceRunOptions {
  params: SubspaceApplyParams;
  /** Noise std of each phase's sum (0 = no DP). */
  noiseStd: Record<SubspacePhase, number>;
  random: Random;
  onRound?: (round: number, V: Float32Array, report: SubspaceReport) => void;
}

/** Run the mechanism's two rounds from V0 (items x rank); returns the final Global_V. */
export function runSubspaceInMemory(trains: readonly Interaction[][], V0: Float32Array, options: SubspaceRunOptions): Float32Array {
  const { params } = options;
  let V = V0;
  for (let round = 1; round <= SUBSPACE_ROUNDS; round++) {
    const phase = subspacePhase(round);
    const sum = new Float64Array(subspaceSize(phase, params));
    const top = phase === 'gram' ? topItemsOf(V, params) : null;
    for (const interactions of trains) addSubspaceContribution(sum, top, interactions, params);
    const std = options.noiseStd[phase];
    if (std > 0) for (let i = 0; i < sum.length; i++) sum[i] += std * options.random.normal();
    const next = applySubspace(V, sum, round, params, std);
    V = next.V;
    options.onRound?.(round, V, next.report);
  }
  return V;
}
