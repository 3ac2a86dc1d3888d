import { describe, expect, it } from 'vitest';
import { communityEncoding, communityNoise, communitySpend } from '../../src/shared/community-sum';
import { loadConfig } from '../../src/shared/config';
import { SUBSPACE_BOUND, SUBSPACE_DEFAULTS, SUBSPACE_MEMBERS_FRACTION } from '../../src/shared/model/mechanism';
import { DP_COUNT_SHARE, type SubspacePhase } from '../../src/shared/model/subspace';
import { canSpend, emptyLedger, privacySpent, recordSpend, type PrivacyBudget, type PrivacyEntry, type PrivacyLedger } from '../../src/shared/privacy';
import { contributionBound, roundSpend, runRoundNoise, subspaceRunLengths } from '../../src/shared/secagg/contribution';
import { MAX_SCALE_BITS, type Encoding } from '../../src/shared/secagg/encoding';

/**
 * The default budget, checked with the ledger's own accountant: PRIVACY_BUDGET_EPSILON
 * at DP_DELTA per PRIVACY_PERIOD_DAYS admits one DP training run at DP_EPSILON and a
 * community round every week of the period at INSIGHTS_EPSILON, and not a second run.
 */
const config = loadConfig({ appDir: '/nonexistent', dotenv: false, env: {} });
/** The shipped catalogue's size (the count round's length; the Skellam terms barely depend on it). */
const ITEMS = 8807;
/** Weekly community rounds that can fall in a window of 365 days (52 weeks and a day). */
const WEEKS_IN_PERIOD = 53;
const DAY_MS = 24 * 60 * 60 * 1000;
const start = new Date('2027-01-04T12:00:00.000Z');
const at = (days: number) => new Date(start.getTime() + days * DAY_MS).toISOString();
const budget: PrivacyBudget = { epsilon: config.PRIVACY_BUDGET_EPSILON, delta: config.DP_DELTA, periodDays: config.PRIVACY_PERIOD_DAYS };

/** The ledger entry of one round of a training run at `scaleBits`, as a member records it. */
function runRound(phase: SubspacePhase, scaleBits: number, when: string): PrivacyEntry {
  const lengths = subspaceRunLengths(SUBSPACE_DEFAULTS, ITEMS, config.MODEL_RANK);
  const encoding: Encoding = { length: lengths[phase], clipNorm: contributionBound(SUBSPACE_BOUND, SUBSPACE_BOUND * SUBSPACE_MEMBERS_FRACTION), scaleBits };
  return roundSpend(when, encoding, runRoundNoise(encoding, { epsilon: config.DP_EPSILON, delta: config.DP_DELTA, countShare: DP_COUNT_SHARE }, lengths, phase))!;
}

function communityWeek(when: string): PrivacyEntry {
  const encoding = communityEncoding(ITEMS, config.SECAGG_SCALE_BITS);
  return communitySpend(when, encoding, communityNoise(encoding, config.INSIGHTS_EPSILON, config.DP_DELTA))!;
}

describe('the default privacy budget', () => {
  it('is DP_EPSILON 8 per run at DP_DELTA 1e-5, PRIVACY_BUDGET_EPSILON 13.28 per 365 days, INSIGHTS_EPSILON 1 per week', () => {
    expect(config).toMatchObject({ DP_EPSILON: 8, DP_DELTA: 1e-5, PRIVACY_BUDGET_EPSILON: 13.28, PRIVACY_PERIOD_DAYS: 365, INSIGHTS_EPSILON: 1 });
  });

  it.each([config.SECAGG_SCALE_BITS, MAX_SCALE_BITS])('admits one training run and a community week every week of the period, not a second run (scale bits %d)', (scaleBits) => {
    let ledger: PrivacyLedger = emptyLedger();
    const spend = (entry: PrivacyEntry, now: string) => {
      expect(canSpend(ledger, entry, budget, new Date(now)), `${entry.kind} at ${now}`).toBe(true);
      ledger = recordSpend(ledger, entry);
    };
    spend(runRound('count', scaleBits, at(0)), at(0));
    spend(runRound('gram', scaleBits, at(0.01)), at(0.01));
    const run = privacySpent(ledger, budget, new Date(at(1))).epsilon;
    expect(run).toBeLessThanOrEqual(config.DP_EPSILON);
    for (let week = 0; week < WEEKS_IN_PERIOD; week++) spend(communityWeek(at(week * 7 + 0.5)), at(week * 7 + 0.5));
    const year = at(WEEKS_IN_PERIOD * 7 - 7 + 0.9); // day 364.9: the run and all 53 weeks are in the window
    const spent = privacySpent(ledger, budget, new Date(year));
    expect(spent.entries).toBe(2 + WEEKS_IN_PERIOD);
    expect(spent.epsilon).toBeLessThanOrEqual(config.PRIVACY_BUDGET_EPSILON);
    // what is left would not pay for a second run's count round, let alone the run
    expect(canSpend(ledger, runRound('count', scaleBits, year), budget, new Date(year))).toBe(false);
    // once the first run has left the window, the next one fits beside the year's community weeks
    const next = at(366);
    const count = runRound('count', scaleBits, next);
    expect(canSpend(ledger, count, budget, new Date(next))).toBe(true);
    expect(canSpend(recordSpend(ledger, count), runRound('gram', scaleBits, next), budget, new Date(next))).toBe(true);
  });

  it('is the smallest budget of two decimals that does so: a hundredth less stops the last community week', () => {
    let ledger: PrivacyLedger = emptyLedger();
    ledger = recordSpend(recordSpend(ledger, runRound('count', config.SECAGG_SCALE_BITS, at(0))), runRound('gram', config.SECAGG_SCALE_BITS, at(0)));
    for (let week = 0; week < WEEKS_IN_PERIOD - 1; week++) ledger = recordSpend(ledger, communityWeek(at(week * 7)));
    const now = new Date(at(WEEKS_IN_PERIOD * 7 - 7));
    expect(canSpend(ledger, communityWeek(now.toISOString()), { ...budget, epsilon: config.PRIVACY_BUDGET_EPSILON - 0.01 }, now)).toBe(false);
  });

  it('records a run as two rounds whose spends compose to at most DP_EPSILON (the count round alone about a third of it)', () => {
    const ledger = recordSpend(emptyLedger(), runRound('count', config.SECAGG_SCALE_BITS, at(0)));
    const count = privacySpent(ledger, budget, new Date(at(1))).epsilon;
    const both = privacySpent(recordSpend(ledger, runRound('gram', config.SECAGG_SCALE_BITS, at(0))), budget, new Date(at(1))).epsilon;
    expect(count).toBeGreaterThan(1);
    expect(count).toBeLessThan(both / 2);
    expect(both).toBeGreaterThan(7);
    expect(both).toBeLessThanOrEqual(config.DP_EPSILON);
  });

  it('(a stated limit) lets two runs through in a period without community weeks: the aggregator, not the budget, keeps runs a period apart', () => {
    let ledger: PrivacyLedger = emptyLedger();
    for (const day of [0, 1]) for (const phase of ['count', 'gram'] as const) ledger = recordSpend(ledger, runRound(phase, config.SECAGG_SCALE_BITS, at(day)));
    const spent = privacySpent(ledger, budget, new Date(at(2))).epsilon;
    expect(spent).toBeGreaterThan(config.DP_EPSILON);
    expect(spent).toBeLessThan(config.PRIVACY_BUDGET_EPSILON);
  });
});
