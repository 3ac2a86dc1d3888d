import { integerL1Bound, skellamSpend, type PrivacyEntry } from './privacy';
import type { Arm } from './clicks';
import { bandOf, WEEKLY_BUCKETS, WEEKLY_CLIP, type Band } from './community';
import { roundNoise } from './secagg/contribution';
import { layoutLength, type ContributionLayout, type RoundNoise } from './secagg/files';
import { quantizedSensitivity, scaleOf, type Encoding } from './secagg/encoding';

/**
 * Community statistics summed under secure aggregation (docs/community.md):
 * each datasite (one person) sends, once per ISO week, one vector through a
 * secure round of its own (`secagg/community/`, see `secureRoundsView`); the
 * members' Skellam shares make the SUM over any ≥ T survivors (ε, δ)-DP, and
 * the aggregator sees only that noised sum.
 *
 * The contribution, laid out by `communityLayout` (segments in order):
 *   [ weekly (1) | bands (WEEKLY_BUCKETS.length) | shows (items + 1) | clicks (2) ]
 * - weekly = a_w · min(plays, WEEKLY_CLIP) / WEEKLY_CLIP: the plays of the week, clipped;
 * - bands  = a_b · one-hot of the band of weekly plays (WEEKLY_BUCKETS);
 * - shows  = a_s · one-hot of the catalogue item played most that week
 *            (position `items` = no matched show);
 * - clicks = a_c · (min(local, C), min(global, C)) / (C·√2): the recommendation
 *            page's clicks per arm since the last round, C = MAX_CLICKS_PER_ARM
 *            (the click experiment needs only these per-arm counts);
 * with a_part = √SUM_SHARES[part], so the whole vector is within L2 1 and
 * each part takes its share of the round's ρ (zCDP adds squared sensitivities).
 * A datasite with several profiles sends the mean of their vectors (still
 * within 1: one person, one vector).
 *
 * Neighbours: add/remove one datasite, L2 sensitivity 1 (γ + √length quanta
 * after stochastic rounding), the same accounting as a model round
 * (`roundNoise`, `skellamSpend`), recorded as kind `community` in every
 * contributing profile's ledger.
 */
export const WEEKLY_SEGMENT = 'weekly';
export const BANDS_SEGMENT = 'bands';
export const SHOWS_SEGMENT = 'shows';
/** The L2 bound of one contribution (and the encoding's clip norm). */
export const COMMUNITY_CLIP_NORM = 1;
export const COMMUNITY_PRIVACY_KIND = 'community';
/** Chance, over the whole catalogue, of listing a show that no participant played most. */
export const DETECTION_ALPHA = 0.05;

export const CLICKS_SEGMENT = 'clicks';
/** Clicks per arm one datasite's week counts at most (the clip of the clicks segment). */
export const MAX_CLICKS_PER_ARM = 5;
/** Each part's share of the contribution's squared L2 bound, so of the week's ρ (they add up to 1). */
export const SUM_SHARES = { weekly: 0.2, bands: 0.2, shows: 0.5, clicks: 0.1 } as const;
const WEIGHTS = { weekly: Math.sqrt(SUM_SHARES.weekly), bands: Math.sqrt(SUM_SHARES.bands), shows: Math.sqrt(SUM_SHARES.shows), clicks: Math.sqrt(SUM_SHARES.clicks) } as const;
/** From a click count to its coordinate: both arms together stay within a_c. */
const CLICK_UNIT = WEIGHTS.clicks / (MAX_CLICKS_PER_ARM * Math.SQRT2);

/** What one profile contributes: its plays in the week, its most-played matched item (null: none matched), its page's clicks per arm. */
export interface WeekSummary {
  plays: number;
  topItem: number | null;
  clicks?: Record<Arm, number>;
}

export function communityLayout(items: number): ContributionLayout {
  return {
    segments: [
      { name: WEEKLY_SEGMENT, length: 1 },
      { name: BANDS_SEGMENT, length: WEEKLY_BUCKETS.length },
      { name: SHOWS_SEGMENT, length: items + 1 },
      { name: CLICKS_SEGMENT, length: 2 },
    ],
  };
}

/** The encoding of a community round of `items` shows at `scaleBits`. */
export function communityEncoding(items: number, scaleBits: number): Encoding {
  return { length: layoutLength(communityLayout(items)), clipNorm: COMMUNITY_CLIP_NORM, scaleBits };
}

/** Skellam noise making one week's sum (epsilon, delta)-DP per datasite; none when epsilon is 0. */
export function communityNoise(encoding: Encoding, epsilon: number, delta: number): RoundNoise {
  return roundNoise(encoding, epsilon, delta);
}

/** The ledger entry of contributing to a community round with `noise` (null: no noise). */
export function communitySpend(at: string, encoding: Encoding, noise: RoundNoise): PrivacyEntry | null {
  if (noise.mechanism !== 'skellam' || noise.sigma <= 0) return null;
  const l2 = quantizedSensitivity(encoding);
  return skellamSpend(at, COMMUNITY_PRIVACY_KIND, { l2, l1: integerL1Bound(l2, encoding.length), mu: noise.sigma * noise.sigma });
}

/** One datasite's contribution: the mean over its profiles' week summaries (L2 ≤ 1). RangeError without profiles. */
export function buildCommunityContribution(profiles: readonly WeekSummary[], items: number): Float64Array {
  if (profiles.length === 0) throw new RangeError('a community contribution needs at least one profile');
  const bands = WEEKLY_BUCKETS.length;
  const x = new Float64Array(1 + bands + items + 1 + 2);
  const share = 1 / profiles.length;
  const clickAt = 1 + bands + items + 1;
  for (const { plays, topItem, clicks } of profiles) {
    if (topItem !== null && !(Number.isInteger(topItem) && topItem >= 0 && topItem < items)) throw new RangeError(`topItem ${topItem} is not an item of ${items}`);
    x[0] += share * WEIGHTS.weekly * (Math.min(Math.max(plays, 0), WEEKLY_CLIP) / WEEKLY_CLIP);
    x[1 + bandOf(plays)] += share * WEIGHTS.bands;
    x[1 + bands + (topItem ?? items)] += share * WEIGHTS.shows;
    x[clickAt] += share * CLICK_UNIT * Math.min(Math.max(clicks?.local ?? 0, 0), MAX_CLICKS_PER_ARM);
    x[clickAt + 1] += share * CLICK_UNIT * Math.min(Math.max(clicks?.global ?? 0, 0), MAX_CLICKS_PER_ARM);
  }
  return x;
}

/** Figures of one week from the decoded sum (unbiased; the noise's standard errors). */
export interface SummedEstimates {
  participants: number;
  /** Estimated number of participants whose most-played show each position was (items, then none). */
  showCounts: Float64Array;
  /** Standard error of every show count (the same for all). */
  showSe: number;
  /** The count a show nobody played most exceeds with probability at most DETECTION_ALPHA / items. */
  detectableCount: number;
  bands: Band[];
  mean: number;
  meanSe: number;
  /** Clicks per arm summed over the participants (each clipped to MAX_CLICKS_PER_ARM), with their standard error. */
  clicks: Record<Arm, number>;
  clicksSe: number;
}

export interface SumNoise {
  /** The round's noise (sigma of the sum over T survivors, in quanta). */
  noise: RoundNoise;
  /** T: the round's fewest survivors, which each share was calibrated for. */
  minSurvivors: number;
}

/**
 * Standard deviation of one coordinate of the decoded sum of `n` survivors, in
 * the contribution's units: each survivor added Skellam of variance σ²/T, and
 * stochastic rounding at most 1/4 quantum² each.
 */
export function sumNoiseStd(encoding: Encoding, n: number, { noise, minSurvivors }: SumNoise): number {
  const sigma = noise.mechanism === 'skellam' ? noise.sigma : 0;
  return Math.sqrt(n * ((sigma * sigma) / minSurvivors + 0.25)) / scaleOf(encoding);
}

/**
 * The week's figures from the decoded sum of `n` survivors' contributions.
 * Which shows to list: a count must exceed `detectableCount`, from Bernstein's
 * inequality for the sum's noise in quanta (a Skellam sum is a difference of
 * Poisson sums: sub-exponential with variance s² and scale 1 quantum):
 * t = L/3 + √((L/3)² + 2s²L), L = ln(items / DETECTION_ALPHA), so by the union
 * bound the chance of listing any show nobody played most is below DETECTION_ALPHA.
 */
export function estimateFromSum(sum: Float64Array, n: number, encoding: Encoding, noise: SumNoise): SummedEstimates {
  const bands = WEEKLY_BUCKETS.length;
  const items = sum.length - 4 - bands;
  if (!(items >= 1) || !(Number.isInteger(n) && n >= 1)) throw new RangeError(`a community sum of ${sum.length} values from ${n} survivors`);
  const std = sumNoiseStd(encoding, n, noise);
  const gamma = scaleOf(encoding);
  const showCounts = new Float64Array(items + 1);
  for (let j = 0; j <= items; j++) showCounts[j] = sum[1 + bands + j] / WEIGHTS.shows;
  const logTerm = Math.log(items / DETECTION_ALPHA);
  const stdQuanta = std * gamma;
  const thresholdQuanta = logTerm / 3 + Math.sqrt((logTerm / 3) ** 2 + 2 * stdQuanta * stdQuanta * logTerm);
  const shareSe = (k: number) => (std * Math.sqrt(k)) / (WEIGHTS.bands * n);
  let below = 0;
  const out: Band[] = WEEKLY_BUCKETS.map((min, k) => {
    const share = sum[1 + k] / (WEIGHTS.bands * n);
    const band: Band = { min, max: k + 1 < bands ? WEEKLY_BUCKETS[k + 1] - 1 : null, share, se: shareSe(1), below, belowSe: shareSe(k) };
    below += share;
    return band;
  });
  return {
    participants: n,
    showCounts,
    showSe: std / WEIGHTS.shows,
    detectableCount: thresholdQuanta / gamma / WEIGHTS.shows,
    bands: out,
    mean: (sum[0] * WEEKLY_CLIP) / (WEIGHTS.weekly * n),
    meanSe: (std * WEEKLY_CLIP) / (WEIGHTS.weekly * n),
    clicks: { local: sum[2 + bands + items] / CLICK_UNIT, global: sum[3 + bands + items] / CLICK_UNIT },
    clicksSe: std / CLICK_UNIT,
  };
}
