import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { communityRoundContext } from '../../src/aggregator/community-round';
import { advanceSecureRound } from '../../src/aggregator/secagg';
import { communityMemberContext } from '../../src/participant/community-round';
import { runParticipantPass, type ParticipantContext } from '../../src/participant/node';
import { readMemberStatus } from '../../src/participant/secagg';
import { readPrivacyLedger } from '../../src/participant/state';
import { readJsonFile } from '../../src/shared/atomic';
import { communityStatsFile, MAX_STATS_BYTES, type CommunityStats } from '../../src/shared/community';
import { withOverrides } from '../../src/shared/config';
import { MAX_CLICKS_PER_ARM } from '../../src/shared/community-sum';
import { secureRoundsView } from '../../src/shared/workspace';
import { runSecureRoundInProcess } from '../../src/simulate/secure-round';
import { put } from '../helpers/data';
import { AGGREGATOR } from '../helpers/root';
import { createFederation, type Federation } from '../helpers/secagg';

/** Community statistics through a secure round of their own, on real files in a SyftBox-layout root. */
let fed: Federation | null = null;
afterEach(async () => {
  await fed?.root.cleanup();
  fed = null;
});

/** Wednesday of ISO week 2026-W03: the last complete week is 2026-W02 (5 to 11 January). */
const NOW = new Date('2026-01-14T10:00:00Z');

/** A history of `plays` (title, day of January 2026) rows. */
function history(plays: [string, number][]): string {
  return `Title,Date\n${plays.map(([title, day]) => `"${title}",${String(day).padStart(2, '0')}/01/2026`).join('\n')}\n`;
}

async function federationWithWeeks(envs: Record<string, string>[] = []): Promise<{ f: Federation; a: number; b: number }> {
  const f = await createFederation(5, { INSIGHTS_EPSILON: '100', PRIVACY_BUDGET_EPSILON: '1000' });
  fed = f;
  const films = f.catalog.items.map((item, id) => ({ item, id })).filter(({ item }) => item.kind === 'film' && /^[A-Za-z][A-Za-z ]+$/.test(item.title));
  const unique = films.filter(({ item }) => f.catalog.items.filter((o) => o.title.toLowerCase() === item.title.toLowerCase()).length === 1);
  const [A, B, C] = unique;
  const weeks: [string, number][][] = [
    [[A.item.title, 5], [A.item.title, 6], [A.item.title, 7], [A.item.title, 8], [B.item.title, 9]],
    [[A.item.title, 5], [A.item.title, 6], [A.item.title, 7], [A.item.title, 8], [B.item.title, 9]],
    [[A.item.title, 5], [A.item.title, 6], [A.item.title, 7], [A.item.title, 8], [B.item.title, 9]],
    [[B.item.title, 10], [B.item.title, 11]],
    [[C.item.title, 2]], // 2 January: nothing in 2026-W02
  ];
  for (const [i, m] of f.members.entries()) {
    await put(path.join(m.config.OUTPUT_DIR, 'profile_0', m.config.NETFLIX_CSV), history(weeks[i]));
    m.now = () => NOW;
    if (envs[i]) m.config = withOverrides(m.config, envs[i]);
  }
  f.aggregator.now = () => NOW;
  for (const m of f.members) await runParticipantPass(m);
  return { f, a: A.id, b: B.id };
}

const members = (f: Federation) => f.members.map((m: ParticipantContext) => communityMemberContext(m));

describe('a community round', () => {
  it('publishes the week\'s figures from the noised sum alone, spends from each profile\'s ledger, and runs once a week', async () => {
    const { f, a, b } = await federationWithWeeks();
    // the page's clicks, kept privately: 3 local and 1 global, and 7 local (counted as MAX_CLICKS_PER_ARM)
    const click = (arm: string) => JSON.stringify({ v: 2, type: 'click', pageView: 'pageview01', side: 'left', arm, rank: 1 });
    await put(f.members[0].ws.privateClickLog('profile_0'), `${['local', 'local', 'local', 'global'].map(click).join('\n')}\n`);
    await put(f.members[1].ws.privateClickLog('profile_0'), `${Array.from({ length: 7 }, () => click('local')).join('\n')}\n`);
    const ctx = communityRoundContext(f.aggregator, f.config, f.catalog);
    const summary = await runSecureRoundInProcess(ctx, members(f));
    expect(summary).toMatchObject({ outcome: 'merged', cohort: 5 });

    const stats = (await readJsonFile(communityStatsFile(f.root.ws, AGGREGATOR), { maxBytes: MAX_STATS_BYTES })) as CommunityStats;
    expect(stats).toMatchObject({ formatVersion: 2, mechanism: 'secure-sum', week: '2026-W02', participants: 5, epsilon: { min: 100, max: 100 } });
    // ε = 100 leaves little noise: every figure is within 4 of its stated standard errors of the truth
    const within = (value: number, truth: number, se: number) => expect(Math.abs(value - truth)).toBeLessThan(4 * se);
    const shown = (item: number) => stats.topShows.find((s) => s.item === item)!;
    expect(shown(a).se).toBeLessThan(0.2);
    within(shown(a).count, 3, shown(a).se);
    within(shown(b).count, 1, shown(b).se);
    within(stats.nothingWatched.count, 1, stats.nothingWatched.se);
    within(stats.trend.at(-1)!.mean!, (5 + 5 + 5 + 2 + 0) / 5, stats.trend.at(-1)!.se!);
    stats.distribution.bands.forEach((band, k) => within(band.share, [0.2, 0.2, 0.6, 0, 0][k], band.se));
    // the click experiment gets the per-arm totals, nothing per page view
    expect(stats.clicks!.maxPerArm).toBe(MAX_CLICKS_PER_ARM);
    within(stats.clicks!.local.count, 3 + MAX_CLICKS_PER_ARM, stats.clicks!.local.se);
    within(stats.clicks!.global.count, 1, stats.clicks!.global.se);
    expect(stats.clicks!.local.se).toBeLessThan(3); // a click weighs less than a show: its share of ρ is 0.1 for 2·MAX_CLICKS_PER_ARM
    for (const m of f.members) expect(existsSync(m.ws.clickLog('profile_0'))).toBe(false);
    // no title, no email in the published file
    const text = JSON.stringify(stats);
    expect(text).not.toContain(f.catalog.items[a].title);
    for (const email of f.emails) expect(text).not.toContain(email);
    const page = await fs.readFile(path.join(f.root.ws.publicDir(AGGREGATOR), 'index.html'), 'utf8');
    expect(page).toContain('summed under secure aggregation');

    for (const m of f.members) {
      const ledger = await readPrivacyLedger(m.ws.privateDir('profile_0'));
      expect(ledger.entries.filter((e) => e.kind === 'community' && e.mechanism === 'skellam')).toHaveLength(1);
      expect((await readMemberStatus(secureRoundsView(m.ws, 'community')))!.lastRound).toMatchObject({ outcome: 'merged', counted: true });
    }
    // its own folders: the model's round folders are untouched
    expect((await fs.readdir(f.root.ws.secaggDir(AGGREGATOR))).filter((n) => n !== 'community' && n !== 'syft.pub.yaml')).toEqual([]);
    expect(await readMemberStatus(f.members[0].ws)).toBeNull();
    // the week is published: no second round, no second spend
    expect(await advanceSecureRound(ctx)).toMatchObject({ action: 'idle', reason: expect.stringContaining('2026-W02 are published') });
  }, 600_000);

  it('goes on without a member whose INSIGHTS_EPSILON asks for more noise than the round adds; that member spends nothing', async () => {
    const { f } = await federationWithWeeks([{ INSIGHTS_EPSILON: '1' }]);
    const summary = await runSecureRoundInProcess(communityRoundContext(f.aggregator, f.config, f.catalog), members(f));
    expect(summary).toMatchObject({ outcome: 'merged', cohort: 4 });
    const status = await readMemberStatus(secureRoundsView(f.members[0].ws, 'community'));
    expect(status!.declined!.reason).toContain('INSIGHTS_EPSILON=1');
    expect((await readPrivacyLedger(f.members[0].ws.privateDir('profile_0'))).entries.filter((e) => e.kind === 'community')).toHaveLength(0);
    expect(((await readJsonFile(communityStatsFile(f.root.ws, AGGREGATOR), { maxBytes: MAX_STATS_BYTES })) as CommunityStats).participants).toBe(4);
  }, 600_000);

  it('stops sending once a profile\'s privacy budget cannot pay for the week: the datasite declines, one calm reason', async () => {
    const { f } = await federationWithWeeks([{ PRIVACY_BUDGET_EPSILON: '50' }]);
    const summary = await runSecureRoundInProcess(communityRoundContext(f.aggregator, f.config, f.catalog), members(f));
    expect(summary).toMatchObject({ outcome: 'merged', cohort: 4 });
    const status = await readMemberStatus(secureRoundsView(f.members[0].ws, 'community'));
    expect(status!.declined!.reason).toMatch(/^privacy budget spent \(PRIVACY_BUDGET_EPSILON=50\)/);
    expect((await readPrivacyLedger(f.members[0].ws.privateDir('profile_0'))).entries).toHaveLength(0);
    expect((await readPrivacyLedger(f.members[1].ws.privateDir('profile_0'))).entries.filter((e) => e.kind === 'community')).toHaveLength(1);
  }, 600_000);
});
