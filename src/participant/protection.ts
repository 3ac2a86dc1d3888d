import type { Config } from '../shared/config';
import { MAX_CLICKS_PER_ARM } from '../shared/community-sum';
import { BLEND_REFRESH_DAYS } from './blend';
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

export function describeProtection(config: Pick<Config, 'DP_EPSILON' | 'DP_DELTA' | 'DELTA_CLIP_NORM' | 'SECURE_AGGREGATION' | 'PRIVACY_PERIOD_DAYS'>): Protection {
  const noised = config.DP_EPSILON > 0;
  const deltas = noised ? 'dp-noise' : 'none';
  if (config.SECURE_AGGREGATION === 'on') {
    const seen = 'SECURE_AGGREGATION=on: the aggregator sees only the sum of the round\'s contributions';
    if (noised) {
      return {
        aggregation: 'secure',
        deltas,
        warn: false,
        message: `${seen}; the model is trained in differentially private runs of two rounds whose sums carry noise for (${config.DP_EPSILON}, ${config.DP_DELTA})-differential privacy per run for this whole datasite, ${runsPerPeriod(config.PRIVACY_PERIOD_DAYS)} (this datasite declines a round that adds less noise than DP_EPSILON asks, or that its privacy budget cannot pay for)`,
      };
    }
    return {
      aggregation: 'secure',
      deltas,
      warn: true,
      message: `DP_EPSILON=0: no differential-privacy noise is added. ${seen}, and that sum carries no noise: the aggregator and every contributor comparing consecutive Global_V versions can learn from it which shows the round's members watched, taken together; set DP_EPSILON (e.g. 8) to add noise`,
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

/** How often the aggregator may start a DP training run, in words. */
export function runsPerPeriod(periodDays: number): string {
  return periodDays > 0 ? `at most one run every ${periodDays} days` : 'one run only';
}

/**
 * The page's note on the privacy budget: what this profile's ledger has spent in
 * the window (`spentEpsilon`, at DP_DELTA), of PRIVACY_BUDGET_EPSILON, and what
 * happens at the limit.
 */
export function budgetStatement(config: Pick<Config, 'PRIVACY_BUDGET_EPSILON' | 'PRIVACY_PERIOD_DAYS' | 'DP_DELTA'>, spentEpsilon: number): string {
  const window = config.PRIVACY_PERIOD_DAYS > 0 ? `in the last ${config.PRIVACY_PERIOD_DAYS} days` : 'in total (the budget never renews)';
  const renew = config.PRIVACY_PERIOD_DAYS > 0 ? ' until older releases leave the window' : '';
  return `Privacy budget: this profile has spent ε = ${spentEpsilon.toFixed(2)} of ${config.PRIVACY_BUDGET_EPSILON} ${window} (δ = ${config.DP_DELTA}, every release composed); a round or community week it cannot pay for is sat out${renew}.`;
}

/** The settings that decide what the participant's other releases give away. */
export type ReleaseSettings = Pick<Config, 'SECURE_AGGREGATION' | 'INSIGHTS_EPSILON' | 'DP_DELTA' | 'BLEND_WITH' | 'BLEND_EPSILON' | 'MODEL_RANK'>;

/**
 * What the releases besides the model update give away, one sentence each, never
 * more than the mechanism gives: the community statistics (a secure community
 * round, or a local report in plain mode), the clicks of the page, the blend. Shown on
 * the page under the update's statement and logged at start.
 */
export function describeReleases(config: ReleaseSettings): string[] {
  const eps = config.INSIGHTS_EPSILON;
  const community =
    eps <= 0
      ? 'No community statistics are sent (INSIGHTS_EPSILON=0).'
      : config.SECURE_AGGREGATION === 'on'
        ? `Your week for the community statistics (plays, their band, the show you played most) leaves only masked, in a secure community round: the aggregator learns the sum over all members with differential-privacy noise, (ε = ${eps}, δ = ${config.DP_DELTA}) per week for your whole datasite.`
        : `Secure aggregation is off, so your weekly community report goes to the aggregator as it is; it is randomized here first, (ε = ${eps}) per week of local differential privacy, a much noisier and weaker protection than secure aggregation gives at the same ε.`;
  const clicks =
    eps <= 0
      ? 'The click log of the recommendation page stays on this machine, and nothing about your clicks is sent (INSIGHTS_EPSILON=0).'
      : config.SECURE_AGGREGATION === 'on'
        ? 'The click log of the recommendation page stays on this machine: only your clicks per list leave, inside the secure community round\'s noised sum.'
        : `The click log of the recommendation page stays on this machine: once a week only your clicks per list (at most ${MAX_CLICKS_PER_ARM} each) go to the aggregator, with noise for (ε = ${eps}) differential privacy per week; no shows, times or page views.`;
  // The friend may also be named on the blend page, so the sentence stands without BLEND_WITH too.
  const friend = config.BLEND_WITH ? `your blend friend (${config.BLEND_WITH})` : 'a friend you blend with';
  const blend =
    config.BLEND_EPSILON <= 0 || config.DP_DELTA <= 0
      ? 'The blend shares nothing with a friend (it needs BLEND_EPSILON > 0 and DP_DELTA > 0).'
      : `While you blend, ${friend} reads a summary of your taste (${config.MODEL_RANK} numbers) with Gaussian noise, (ε = ${config.BLEND_EPSILON}, δ = ${config.DP_DELTA})-differentially private for each show, renewed at most every ${BLEND_REFRESH_DAYS} days from your privacy budget; no show is marked as watched, but the taste itself is shared (docs/blend.md).`;
  return [community, clicks, blend];
}

/** Log `describeProtection` once: a warning when nothing adds noise, else an info line. */
export function logProtection(config: Pick<Config, 'DP_EPSILON' | 'DP_DELTA' | 'DELTA_CLIP_NORM' | 'SECURE_AGGREGATION' | 'PRIVACY_PERIOD_DAYS'> & ReleaseSettings, logger: Logger): Protection {
  const protection = describeProtection(config);
  const fields = { aggregation: protection.aggregation, protection: protection.deltas };
  if (protection.warn) logger.warn(fields, protection.message);
  else logger.info(fields, protection.message);
  for (const release of describeReleases(config)) logger.info({ aggregation: protection.aggregation }, release);
  return protection;
}
