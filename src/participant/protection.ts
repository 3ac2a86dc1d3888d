import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { deltaNoiseSigma } from '../shared/privacy';

/**
 * What protects what a participant contributes, decided in one place so that
 * every entry point (the daemon, `participant --once`, the app, the demo) says
 * the same thing once at start. Without noise a contribution reveals which
 * shows were watched: a plain delta to the aggregator, and two consecutive
 * Global_V versions to every contributor (see test/privacy/ and
 * docs/threat-model.md).
 */
export interface Protection {
  /** secure: the aggregator sees only each round's sum (SECURE_AGGREGATION=on); plain: it sees every delta. */
  aggregation: 'secure' | 'plain';
  /** What noise is added (DP_EPSILON > 0), else none. */
  deltas: 'dp-noise' | 'none';
  /** True when nothing adds noise: the caller warns. */
  warn: boolean;
  /** One line for the log. */
  message: string;
}

export function describeProtection(config: Pick<Config, 'DP_EPSILON' | 'DP_DELTA' | 'DELTA_CLIP_NORM' | 'SECURE_AGGREGATION'>): Protection {
  const noised = config.DP_EPSILON > 0;
  const deltas = noised ? 'dp-noise' : 'none';
  if (config.SECURE_AGGREGATION === 'on') {
    const seen = 'SECURE_AGGREGATION=on: the aggregator sees only the sum of the round\'s contributions';
    if (noised) {
      return {
        aggregation: 'secure',
        deltas,
        warn: false,
        message: `${seen}; that sum carries noise for (${config.DP_EPSILON}, ${config.DP_DELTA})-differential privacy (this datasite declines a round that adds less)`,
      };
    }
    return {
      aggregation: 'secure',
      deltas,
      warn: true,
      message: `DP_EPSILON=0: no differential-privacy noise is added. ${seen}, but that sum carries no noise, so contributors comparing consecutive Global_V versions can learn from it which shows were watched; set DP_EPSILON (e.g. 8) to add noise`,
    };
  }
  if (noised) {
    const sigma = deltaNoiseSigma(config.DP_EPSILON, config.DP_DELTA, config.DELTA_CLIP_NORM);
    return {
      aggregation: 'plain',
      deltas,
      warn: false,
      message: `deltas carry Gaussian noise (sigma ${sigma.toPrecision(3)}): each is (${config.DP_EPSILON}, ${config.DP_DELTA})-differentially private towards the aggregator and every contributor`,
    };
  }
  return {
    aggregation: 'plain',
    deltas,
    warn: true,
    message:
      'DP_EPSILON=0: deltas are published without differential-privacy noise, so the aggregator (from your delta) and other contributors (from consecutive Global_V versions) can tell which shows you watched; set DP_EPSILON (e.g. 8) to add noise',
  };
}

/** Log `describeProtection` once: a warning when nothing adds noise, else an info line. */
export function logProtection(config: Pick<Config, 'DP_EPSILON' | 'DP_DELTA' | 'DELTA_CLIP_NORM' | 'SECURE_AGGREGATION'>, logger: Logger): Protection {
  const protection = describeProtection(config);
  const fields = { aggregation: protection.aggregation, protection: protection.deltas };
  if (protection.warn) logger.warn(fields, protection.message);
  else logger.info(fields, protection.message);
  return protection;
}
