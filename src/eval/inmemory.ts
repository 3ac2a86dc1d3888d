import type { Interaction } from '../shared/model/feedback';
import { gramian } from '../shared/model/factorize';
import { addContribution, applyAggregate, contributionLayout, layoutSize, type AggregateParams, type OptimizerState } from '../shared/model/federated';
import type { Random } from '../shared/random';
import { applyExplicitAggregate, buildExplicitContribution, explicitContributionSize, type ExplicitParams } from './explicit';

/**
 * The federated rounds without files, for fast sweeps: every round, every user
 * builds its contribution from the current V (`buildContribution`), the
 * contributions are summed as secure aggregation would sum them, Gaussian noise
 * of std `noiseStd` is added to every coordinate of the sum (distributed DP's
 * noise, in the continuous approximation of the Skellam noise), and the
 * aggregator's `applyAggregate` makes the next V. The file-based run
 * (`federated.ts`) computes the same thing through the participants' and the
 * aggregator's code; the evaluation confirms its defaults there.
 */

export interface InMemoryOptions {
  rounds: number;
  params: AggregateParams;
  /** Source of the noise of the sum (only drawn when params.noiseStd > 0). */
  random: Random;
  onRound?: (round: number, V: Float32Array, stats: RoundStats) => void;
}

export interface RoundStats {
  /** Contributions clipped this round (norm above the bound). */
  clipped: number;
  /** Median L2 norm of the contributions before clipping. */
  medianNorm: number;
}

/** Run `rounds` rounds from V0; returns the final V. */
export function runInMemory(trains: readonly Interaction[][], V0: Float32Array, options: InMemoryOptions): Float32Array {
  const { params } = options;
  const size = layoutSize(contributionLayout(params.items, params.rank));
  let V = V0;
  let state: OptimizerState = null;
  for (let round = 1; round <= options.rounds; round++) {
    const gram = gramian(V, params.items, params.rank);
    const sum = new Float64Array(size);
    const norms = new Float64Array(trains.length);
    let clipped = 0;
    trains.forEach((interactions, i) => {
      const c = addContribution(sum, V, interactions, params, gram);
      norms[i] = c.norm;
      if (c.weight < 1) clipped++;
    });
    if (params.noiseStd > 0) for (let j = 0; j < size; j++) sum[j] += params.noiseStd * options.random.normal();
    const next = applyAggregate(V, sum, trains.length, params, state);
    V = next.V;
    state = next.state;
    norms.sort();
    options.onRound?.(round, V, { clipped, medianNorm: norms.length > 0 ? norms[norms.length >> 1] : 0 });
  }
  return V;
}

export interface ExplicitInMemoryOptions {
  rounds: number;
  params: ExplicitParams;
  /** Multiplier of the preconditioned step. */
  step: number;
  onRound?: (round: number, V: Float32Array) => void;
}

/** The explicit variant's rounds (`buildExplicitContribution`, summed, `applyExplicitAggregate`); returns the final V. */
export function runExplicitInMemory(trains: readonly Interaction[][], V0: Float32Array, options: ExplicitInMemoryOptions): Float32Array {
  const items = V0.length / options.params.rank;
  let V = V0;
  for (let round = 1; round <= options.rounds; round++) {
    const sum = new Float64Array(explicitContributionSize(items, options.params.rank));
    for (const ratings of trains) {
      const x = buildExplicitContribution(V, ratings, options.params).vector;
      for (let i = 0; i < sum.length; i++) sum[i] += x[i];
    }
    V = applyExplicitAggregate(V, sum, options.params, options.step);
    options.onRound?.(round, V);
  }
  return V;
}
