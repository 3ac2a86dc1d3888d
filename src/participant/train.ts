import { matchEvents, type HistoryMatches, type Matcher } from '../shared/catalog';
import { clipL2 } from '../shared/delta';
import type { NoiseRecord } from '../shared/delta';
import type { ViewingEvent } from '../shared/history';
import { implicitFeedback, type Interaction, type WatchEvent } from '../shared/model/feedback';
import { addGaussianNoise, deltaNoiseSigma } from '../shared/privacy';
import type { Random } from '../shared/random';

/**
 * The participant's pure pipeline: viewing events -> matched interactions ->
 * local training from a base item matrix -> a clipped (optionally noised) delta.
 * No I/O: `node.ts` reads files and publishes.
 */

interface MatchedHistory {
  interactions: Interaction[];
  /** Catalogue ids of every matched show (excluded from recommendations). */
  watched: number[];
  matchedShows: number;
  unmatchedShows: number;
}

interface FeedbackSettings {
  now: Date;
  halfLifeDays: number;
  mode: 'implicit' | 'stars';
}

/** Match each distinct show once, with the evidence of the whole history (`matchEvents`), then turn matched viewing into interactions. */
export function matchHistory(events: ViewingEvent[], matcher: Matcher, settings: FeedbackSettings): MatchedHistory {
  return historyFeedback(matchEvents(events, matcher), settings);
}

/** The interactions of a matched history. */
export function historyFeedback(matched: HistoryMatches, settings: FeedbackSettings): MatchedHistory {
  const watchEvents: WatchEvent[] = [];
  for (const event of matched.events) {
    const item = matched.itemOf(event.show, event.kind);
    if (item === null) continue;
    const episodeKey = event.kind === 'series' ? `${event.season ?? ''}\u0000${event.episode ?? event.title}` : null;
    watchEvents.push({ item, date: event.date, durationSec: event.durationSec, episodeKey });
  }
  const items = matched.shows.flatMap((s) => (s.item === null ? [] : [s.item]));
  return {
    interactions: implicitFeedback(watchEvents, settings),
    watched: [...new Set(items)].sort((a, b) => a - b),
    matchedShows: items.length,
    unmatchedShows: matched.shows.length - items.length,
  };
}

interface PrivacySettings {
  clipNorm: number;
  /** 0 = no noise. */
  epsilon: number;
  delta: number;
  random: Random;
}

interface PrivateDelta {
  values: Float32Array;
  /** L2 norm before clipping. */
  rawNorm: number;
  noise: NoiseRecord | null;
}

/**
 * delta = local - base, clipped to `clipNorm` in L2, then, when epsilon > 0,
 * Gaussian noise calibrated so that the published delta is (epsilon, delta)-DP
 * with respect to the profile's whole history, as seen by the aggregator
 * (local, replace-one: sensitivity 2 * clipNorm, see `deltaNoiseSigma`).
 */
export function privatizeDelta(local: Float32Array, base: Float32Array, settings: PrivacySettings): PrivateDelta {
  if (local.length !== base.length) throw new RangeError(`local has ${local.length} values, base ${base.length}`);
  const values = new Float32Array(local.length);
  for (let i = 0; i < values.length; i++) values[i] = local[i] - base[i];
  const rawNorm = clipL2(values, settings.clipNorm);
  if (settings.epsilon <= 0) return { values, rawNorm, noise: null };
  const sigma = deltaNoiseSigma(settings.epsilon, settings.delta, settings.clipNorm);
  addGaussianNoise(values, sigma, settings.random);
  return { values, rawNorm, noise: { mechanism: 'gaussian', epsilon: settings.epsilon, delta: settings.delta, sigma } };
}
