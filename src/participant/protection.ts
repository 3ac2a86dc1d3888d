import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { deltaNoiseSigma } from '../shared/privacy';

/**
 * What protects the deltas a participant publishes, decided in one place so
 * that every entry point that publishes (the daemon, `participant --once`,
 * the app, the demo) says the same thing once at start. Without noise a delta
 * reveals which shows were watched, to the aggregator (from the delta) and to
 * every contributor (from two consecutive Global_V versions of a round with
 * one delta): see test/privacy/ and docs/threat-model.md.
 */
export interface Protection {
  /** What hides the watched set in published deltas. */
  deltas: 'dp-noise' | 'none';
  /** True when deltas go out without protection: the caller warns. */
  warn: boolean;
  /** One line for the log. */
  message: string;
}

export function describeProtection(config: Pick<Config, 'DP_EPSILON' | 'DP_DELTA' | 'DELTA_CLIP_NORM'>): Protection {
  if (config.DP_EPSILON > 0) {
    const sigma = deltaNoiseSigma(config.DP_EPSILON, config.DP_DELTA, config.DELTA_CLIP_NORM);
    return {
      deltas: 'dp-noise',
      warn: false,
      message: `deltas carry Gaussian noise (sigma ${sigma.toPrecision(3)}): each is (${config.DP_EPSILON}, ${config.DP_DELTA})-differentially private towards the aggregator and every contributor`,
    };
  }
  return {
    deltas: 'none',
    warn: true,
    message:
      'DP_EPSILON=0: deltas are published without differential-privacy noise, so the aggregator (from your delta) and other contributors (from consecutive Global_V versions) can tell which shows you watched; set DP_EPSILON (e.g. 8) to add noise',
  };
}

/** Log `describeProtection` once: a warning when deltas go out unprotected, else an info line. */
export function logProtection(config: Pick<Config, 'DP_EPSILON' | 'DP_DELTA' | 'DELTA_CLIP_NORM'>, logger: Logger): Protection {
  const protection = describeProtection(config);
  if (protection.warn) logger.warn({ protection: protection.deltas }, protection.message);
  else logger.info({ protection: protection.deltas }, protection.message);
  return protection;
}
