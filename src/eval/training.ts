import type { Interaction } from '../shared/model/feedback';
import { gramian, trainLocal } from '../shared/model/factorize';

/**
 * What one participant of the FedAvg baseline computes in one round: start from
 * the base item factors, train on the private interactions, return the local item
 * factors (the delta is `V − base`) and the user factors. Shared by the
 * file-based FedAvg run, its in-memory twin (`simulateFederated`) and the
 * local-only baseline.
 */

export interface LocalUpdate {
  V: Float32Array;
  u: Float32Array;
}

/** Prepared once per base (a round), then called once per participant. */
export type LocalTrainer = (base: Float32Array) => (train: Interaction[]) => LocalUpdate;

export interface ImplicitTraining {
  items: number;
  rank: number;
  reg: number;
  alpha: number;
  epochs: number;
  lr: number;
}

/** The implicit model's `trainLocal`; VᵀV of the base is computed once per round and shared. */
export function implicitTrainer(options: ImplicitTraining): LocalTrainer {
  return (base) => {
    const gram = gramian(base, options.items, options.rank);
    return (train) => {
      const trained = trainLocal(base, train, { ...options, gram });
      return { V: trained.V, u: trained.u };
    };
  };
}
