import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Papa from 'papaparse';
import { writeFileAtomic } from '../shared/atomic';
import { createMatcher, type Catalog } from '../shared/catalog';
import { PROJECT_ROOT, withOverrides, type Config } from '../shared/config';
import { readHistory, type ViewingEvent } from '../shared/history';
import type { Logger } from '../shared/log';
import { cryptoRandom } from '../shared/random';
import { createEmbeddedDatasite, Workspace } from '../shared/workspace';
import { performance } from 'node:perf_hooks';
import { publishAllCommunityStats } from '../participant/community';
import { communityMemberContext } from '../participant/community-round';
import { communityRoundContext } from '../aggregator/community-round';
import { TREND_WEEKS } from '../shared/community';
import { afterParticipantPass } from '../participant/extras';
import { runParticipantCycle, type ParticipantContext, type PassResult } from '../participant/node';
import { publishAggregatorReports } from '../aggregator/reports';
import { secureParamsOf } from '../aggregator/node';
import { roundParams, runRound, type RoundContext, type RoundResult } from '../aggregator/round';
import { advanceSecureRound, type SecureContext, type SecureRoundSummary } from '../aggregator/secagg';
import { runSecureRoundInProcess } from '../simulate/secure-round';

/**
 * The embedded demo: a SyftBox-layout root in the project folder with one
 * aggregator and one participant per shipped demo history (data/demo/), all
 * running the production code against real files and permission files. Your
 * own export under OUTPUT_DIR/profile_0/ replaces the first participant's.
 *
 * The shipped histories end in 2020 and 2021. So that the page shows what a
 * running install shows (last week's viewing, the community, its trend), the
 * demo moves every shipped history forward in time: the same titles in the
 * same order, every date moved by one offset so the newest viewing is today.
 * Your own export is used as it is.
 */
export const DEMO_AGGREGATOR = 'aggregator@demo.local';
export const DEMO_DIR = path.join(PROJECT_ROOT, 'data', 'demo');
/** Your history in the demo unless you bring your own: it has viewing in each of its last weeks, so every panel of your page has data. */
export const YOUR_DEMO_HISTORY = 'romance-and-drama.csv';
const DAY_MS = 86_400_000;

export interface DemoParticipant {
  email: string;
  ctx: ParticipantContext;
  /** Where the demo history came from (a shipped file or the user's own export). */
  source: string;
}

export interface DemoRoot {
  dataDir: string;
  aggregator: Omit<RoundContext, 'signal'>;
  /** Secure-round parameters (SECURE_AGGREGATION=on, the default); null = plain rounds. */
  secure: SecureContext['secure'] | null;
  participants: DemoParticipant[];
}

/** Shipped demo histories in a stable order, yours (YOUR_DEMO_HISTORY) first. */
export function demoHistories(): string[] {
  return readdirSync(DEMO_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort((a, b) => Number(b === YOUR_DEMO_HISTORY) - Number(a === YOUR_DEMO_HISTORY) || a.localeCompare(b))
    .map((f) => path.join(DEMO_DIR, f));
}

/** Move viewing dates (`YYYY-MM-DD`, file order kept) by whole days so that the newest is `today`. Pure. */
export function shiftToToday(events: readonly Pick<ViewingEvent, 'title' | 'date'>[], today: string): { title: string; date: string }[] {
  const newest = events.reduce((max, e) => (e.date > max ? e.date : max), '');
  if (newest === '') return [];
  const offsetMs = Date.parse(today) - Date.parse(newest);
  return events.map((e) => ({ title: e.title, date: new Date(Date.parse(e.date) + offsetMs).toISOString().slice(0, 10) }));
}

/** A shipped NetflixViewingHistory.csv rewritten to `target` with its newest viewing today (UTC); dates as YYYY-MM-DD. */
export async function writeCurrentHistory(source: string, target: string, now: Date): Promise<void> {
  const { events } = await readHistory(source, { now });
  const rows = shiftToToday(events, now.toISOString().slice(0, 10)).map((e) => [e.title, e.date]);
  await writeFileAtomic(target, `${Papa.unparse({ fields: ['Title', 'Date'], data: rows }, { quotes: true, newline: '\n' })}\n`);
}

export interface BuildDemoOptions {
  /** Delete the root first. */
  reset?: boolean;
  /** The demo's clock (default: now). */
  now?: () => Date;
}

/**
 * Create (or reuse) the embedded root at `config.LOCAL_ROOT`. The participant at
 * index 0 is you (LOCAL_EMAIL); the others are named after their demo history.
 */
export async function buildDemoRoot(config: Config, catalog: Catalog, logger: Logger, { reset = false, now = () => new Date() }: BuildDemoOptions = {}): Promise<DemoRoot> {
  const dataDir = config.LOCAL_ROOT;
  if (reset) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const demoConfig = (overrides: Partial<Record<keyof Config, string>>) =>
    withOverrides(config, { AGGREGATOR_DATASITE: DEMO_AGGREGATOR, NETFLIX_PROFILES: 'profile_0', NETFLIX_CSV: 'NetflixViewingHistory.csv', ...overrides });

  createEmbeddedDatasite(dataDir, DEMO_AGGREGATOR);
  const aggregatorConfig = demoConfig({});
  const aggregatorWs = new Workspace({ email: DEMO_AGGREGATOR, dataDir }, config.APP_NAME);
  const aggregator: Omit<RoundContext, 'signal'> = {
    ws: aggregatorWs,
    model: { items: catalog.items.length, rank: config.MODEL_RANK, vocabHash: catalog.hash },
    params: roundParams(aggregatorConfig),
    random: cryptoRandom(),
    now,
    logger: logger.child({ datasite: DEMO_AGGREGATOR }),
  };
  const secure = secureParamsOf(aggregatorConfig, aggregator);

  const ownExport = path.join(config.OUTPUT_DIR, 'profile_0', config.NETFLIX_CSV);
  const matcher = createMatcher(catalog);
  const files = demoHistories();
  const emails = files.map((file, index) => (index === 0 ? config.LOCAL_EMAIL : `${path.basename(file, '.csv')}@demo.local`));
  // You and the second participant are friends who both opted in to a blend.
  const blendWith = (index: number) => (index === 0 ? emails[1] : index === 1 ? emails[0] : '');
  const participants: DemoParticipant[] = [];
  for (const [index, file] of files.entries()) {
    const email = emails[index];
    const useOwn = index === 0 && existsSync(ownExport);
    const csvName = useOwn ? config.NETFLIX_CSV : 'NetflixViewingHistory.csv';
    const exportsDir = path.join(dataDir, 'exports', email);
    const target = path.join(exportsDir, 'profile_0', csvName);
    mkdirSync(path.dirname(target), { recursive: true });
    if (useOwn) copyFileSync(ownExport, target);
    else await writeCurrentHistory(file, target, now());
    createEmbeddedDatasite(dataDir, email, index === 0 ? path.join(dataDir, 'config.json') : undefined);
    const participantConfig = demoConfig({ OUTPUT_DIR: exportsDir, NETFLIX_CSV: csvName, DATE_ORDER: useOwn ? config.DATE_ORDER : 'auto', BLEND_WITH: blendWith(index) });
    participants.push({
      email,
      source: useOwn ? ownExport : path.relative(PROJECT_ROOT, file),
      ctx: {
        config: participantConfig,
        ws: new Workspace({ email, dataDir }, config.APP_NAME),
        catalog,
        matcher,
        logger: logger.child({ datasite: email }),
        now,
        noiseRandom: cryptoRandom,
      },
    });
  }
  return { dataDir, aggregator, secure, participants };
}

/**
 * The community statistics of the last TREND_WEEKS weeks, oldest first, as a
 * running install would have made them, so the community trend has its weeks
 * on the first run: with secure rounds, one community round per week; in plain
 * mode, each participant's weekly local report. A week already done is left as
 * it is, so a later run adds only the weeks since. Each week spends
 * INSIGHTS_EPSILON of every profile's budget.
 */
async function publishPastCommunityWeeks(root: DemoRoot, passes: readonly PassResult[], config: Config, catalog: Catalog): Promise<void> {
  for (let weeksAgo = TREND_WEEKS - 1; weeksAgo >= 0; weeksAgo--) {
    const then = new Date(root.aggregator.now().getTime() - weeksAgo * 7 * DAY_MS);
    if (root.secure) {
      const rounds = communityRoundContext({ ...root.aggregator, now: () => then, secure: root.secure }, config, catalog);
      await runSecureRoundInProcess(rounds, root.participants.map(({ ctx }) => communityMemberContext({ ...ctx, now: () => then })));
      continue;
    }
    for (const [i, { ctx }] of root.participants.entries()) {
      await publishAllCommunityStats({ ...ctx, now: () => then }, passes[i].profiles.map((p) => p.profile));
    }
  }
}

/**
 * After the rounds, what a running install publishes besides deltas: the
 * community reports of the last weeks (above), each participant's extras twice
 * (the first pass publishes each blend friend's consent, the second the
 * scores, once both consents are readable), then the aggregator's reports.
 */
export async function publishDemoExtras(root: DemoRoot, last: DemoRound, config: Config, catalog: Catalog): Promise<void> {
  await publishPastCommunityWeeks(root, last.passes, config, catalog);
  for (let pass = 0; pass < 2; pass++) {
    for (const [i, p] of root.participants.entries()) await afterParticipantPass(p.ctx, last.passes[i]);
  }
  await publishAggregatorReports(root.aggregator, config, catalog);
}

export interface DemoRound {
  round: number;
  passes: PassResult[];
  /** What the aggregator did: a secure round (null: none could open, and why) or a plain one. */
  outcome: { mode: 'secure'; summary: SecureRoundSummary; idle: null } | { mode: 'secure'; summary: null; idle: string } | { mode: 'plain'; result: RoundResult };
  durationMs: number;
}

/** One secure round with every participant in process, or why none could open. */
async function secureRound(ctx: SecureContext, participants: DemoRoot['participants']): Promise<DemoRound['outcome']> {
  const summary = await runSecureRoundInProcess(ctx, participants.map((p) => p.ctx));
  if (summary !== null) return { mode: 'secure', summary, idle: null };
  const step = await advanceSecureRound(ctx);
  return { mode: 'secure', summary: null, idle: step.action === 'idle' ? step.reason : `the aggregator is at ${step.action}` };
}

/**
 * Run federated rounds until a Global_V exists and every participant trained
 * from it (access granted), at least `minRounds` times. Each participant runs the
 * same cycle as the `participant` process (train, community report, blend), then
 * the aggregator runs a secure round with all of them in process (or, with
 * SECURE_AGGREGATION=off, a plain round over their deltas).
 */
export async function runDemoRounds(root: DemoRoot, { minRounds, maxRounds, onRound }: { minRounds: number; maxRounds: number; onRound?: (r: DemoRound) => void }): Promise<DemoRound[]> {
  const rounds: DemoRound[] = [];
  for (let round = 1; round <= maxRounds; round++) {
    const passes: PassResult[] = [];
    for (const p of root.participants) passes.push((await runParticipantCycle(p.ctx)).pass);
    const t0 = performance.now();
    const outcome: DemoRound['outcome'] = root.secure ? await secureRound({ ...root.aggregator, secure: root.secure }, root.participants) : { mode: 'plain', result: await runRound(root.aggregator) };
    const entry = { round, passes, outcome, durationMs: Math.round(performance.now() - t0) };
    rounds.push(entry);
    onRound?.(entry);
    const everyoneGranted = passes.every((p) => p.profiles.length > 0 && p.profiles.every((o) => o.access === 'granted'));
    if (round >= minRounds && everyoneGranted) break;
  }
  return rounds;
}
