import { existsSync, promises as fs, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { analyzeClicks, writeExperimentReport, type ExperimentRow } from '../aggregator/experiment';
import { auditRoot } from '../aggregator/audit';
import { roundParams, runRound, type RoundContext } from '../aggregator/round';
import { ClickLog } from '../participant/clicks';
import type { Arm, ClickLogRow } from '../shared/clicks';
import { runParticipantPass, type ParticipantContext, type PassStep } from '../participant/node';
import { readMemberStatus, type MemberStep } from '../participant/secagg';
import { readAssignments } from '../participant/profiles';
import { readPrivacyLedger } from '../participant/state';
import { privacySpent, type PrivacyLedger } from '../shared/privacy';
import { poisonMaskedInput, poisonTarget, type PoisonAttack } from './poison';
import { secureParamsOf } from '../aggregator/node';
import type { SecureParams } from '../aggregator/secagg';
import { runSecureRoundInProcess } from './secure-round';
import { publishClickCounts } from '../participant/click-counts';
import { loadRecommendations } from '../participant/recommendations';
import { createMatcher, type Catalog, type Matcher } from '../shared/catalog';
import { withOverrides, type Config } from '../shared/config';
import { AppError } from '../shared/errors';
import { auditParticipation, readGlobalCopies, readLedger } from '../shared/ledger';
import type { Logger } from '../shared/log';
import { createRandom, deriveSeed, type Random } from '../shared/random';
import { createEmbeddedDatasite, Workspace } from '../shared/workspace';
import { DEFAULT_CHOICE, gradedNdcg, pageViewId, simulatePageView, truePreference, type ChoiceParams } from './choice';
import {
  bestItems,
  createPopulation,
  createWorld,
  formatHistoryCsv,
  DAYS_PER_WEEK,
  MS_PER_DAY,
  organicViewing,
  titleMatchRate,
  utilities,
  watchThisWeek,
  type HistoryRow,
  type SimParticipant,
  type World,
} from './population';

/**
 * The closed loop: a SyftBox-layout root with one aggregator and P simulated
 * participants, run week by week through the production code paths:
 *
 * 1. every participant runs `runParticipantPass` on its own export file (parse,
 *    train, write private state, publish the delta and its permission file);
 * 2. the aggregator runs a secure round with every participant in process
 *    (`runSecureRoundInProcess`: masked contributions, the sum becomes Global_V), or,
 *    with SECURE_AGGREGATION=off, `runRound` over the published deltas;
 * 3. every participant watches a show it finds by itself (drawn from its hidden
 *    tastes), and, once granted a Global_V, is shown the page's two lists
 *    (`loadRecommendations`, as the page server; left arm drawn per view) and
 *    clicks by the choice model (`choice.ts`) on its hidden tastes; the rows go
 *    through the real `ClickLog`, and everything watched is appended to its
 *    export, dated in that week;
 * 4. the aggregator writes its experiment report from the click logs on disk.
 *
 * Everything is sequential and in-process; time is a simulated clock (week w ends
 * on day 7w − 1 after SIM_START), randomness is seeded (DP noise included: this
 * is a simulation), so a run is reproducible except for its timings.
 */

export const SIM_AGGREGATOR = 'aggregator@sim.example';
/** Monday 6 January 2025, 00:00 UTC: day 0 of week 1. */
const SIM_START_MS = Date.UTC(2025, 0, 6);
/** Rank of the simulated model: half the default MODEL_RANK, so the files and training per participant cost half. */
const DEFAULT_SIM_RANK = 16;
const SIMULATION_FORMAT = 'syftbox-netflix-svd/simulation';
const SIMULATION_FORMAT_VERSION = 1;
const PROFILE = 'profile_0';
const CSV_NAME = 'NetflixViewingHistory.csv';
/** Page views happen on the last day of the week, at 20:00 UTC; shows are watched on the days before. */
const PAGE_HOUR_MS = 20 * 3_600_000;
const BYTES_PER_MB = 1024 * 1024;
/** Per participant besides its matrices: export, manifests, logs, permission files (bytes). */
const PARTICIPANT_OVERHEAD_BYTES = 64 * 1024;
/** Matrices of items x rank per participant on disk: V_local, V_global and the delta. */
const MATRICES_PER_PARTICIPANT = 3;
const SHM_DIR = '/dev/shm';
/** Use /dev/shm only with this much room beyond the estimate (it is RAM). */
const SHM_HEADROOM = 1.5;

export interface SimulationOptions {
  participants: number;
  weeks: number;
  seed: number;
  /** MODEL_RANK of the simulated federation. */
  rank: number;
  /** RECS_PER_COLUMN: shows per column, and N of NDCG@N. */
  recsPerColumn: number;
  viewsPerWeek: number;
  /** Share of participants whose global list is replaced by the unseen shows they like least (a planted difference). */
  degradeGlobal: number;
  /** A/A: both columns show the local model's list. */
  aa: boolean;
  /** DP_EPSILON: of one DP training run with secure rounds, of each published delta in plain mode (0 = no noise). */
  epsilon: number;
  /** Keep the root in this folder; null = a temporary root, deleted at the end. */
  root: string | null;
  /** Run the permission audit at the end (it checks every published file against every datasite). */
  audit: boolean;
  choice: ChoiceParams;
  /** The first participant poisons every secure round from `fromWeek` on (poison.ts); null: everybody is honest. */
  attack: { kind: PoisonAttack; fromWeek: number } | null;
  /** The aggregator refuses sums outside what honest members can add (SecureParams.checkSum); false only to measure an attack without it. */
  sumCheck: boolean;
}

export const DEFAULT_SIMULATION: Readonly<SimulationOptions> = Object.freeze({
  participants: 200,
  weeks: 10,
  seed: 1,
  rank: DEFAULT_SIM_RANK,
  recsPerColumn: 5,
  viewsPerWeek: 1,
  degradeGlobal: 0,
  aa: false,
  epsilon: 0,
  root: null,
  audit: true,
  choice: DEFAULT_CHOICE,
  attack: null,
  sumCheck: true,
});

/** Wall time of each step of a week, summed over participants (ms). Participants run one after the other, so the steps add up to the week. */
interface WeekTimings {
  /** runParticipantPass: history parse, training, private state and delta write. */
  participantPass: number;
  round: number;
  /** loadRecommendations for every page. */
  recommendation: number;
  /** Hidden utilities, the shows found without the page, NDCG, the choice model. */
  choice: number;
  /** ClickLog appends (fsynced). */
  clickWrite: number;
  /** Export files rewritten with the week's viewing. */
  historyWrite: number;
  /** The aggregator's experiment report from the click logs. */
  report: number;
}

export interface WeekMetrics {
  week: number;
  /** Clicks / impressions per arm, this week's page views. */
  ctr: Record<Arm, number | null>;
  /** Sign test of the aggregator's experiment report on every click so far. */
  pValue: number;
  /** Share of participants shown a page whose hidden tastes favour the global list (among those not indifferent); null if all are. */
  truePreference: number | null;
  /** Mean NDCG@N of the lists shown, graded by the hidden utility. */
  ndcg: Record<Arm, number | null>;
  /** The same for N random unseen shows: what a model that learned nothing scores. */
  ndcgRandomBaseline: number | null;
  /** Largest total epsilon any participant has spent on model contributions (its ledger's composition with secure rounds). */
  epsilonSpent: number;
  roundMs: number;
  /** What happened, in counts. */
  counts: {
    deltasPublished: number;
    deltasAccepted: number;
    failedPasses: number;
    globalVersion: number;
    participantsShown: number;
    pageViews: number;
    clicks: Record<Arm, number>;
    /** Cumulative, from the report: participants who clicked more on one arm. */
    preferGlobal: number;
    preferLocal: number;
  };
  timingsMs: WeekTimings;
  elapsedMs: number;
}

export interface SimulationResult {
  format: typeof SIMULATION_FORMAT;
  formatVersion: typeof SIMULATION_FORMAT_VERSION;
  params: Omit<SimulationOptions, 'root'> & { items: number; model: Record<string, number | string> };
  /** Share of (participant, show) pairs of the initial histories whose title the matcher maps back to the show. */
  titleMatchRate: number;
  weeks: WeekMetrics[];
  /** The hash chain verifies, every Global_V version matches its ledger line, and every participant's last delta is in the ledger. */
  ledgerOk: boolean;
  ledger: { entries: number; problems: string[]; lastDeltasIncluded: number; participants: number };
  /** auditRoot found no privacy violation (null when the audit was skipped). */
  auditOk: boolean | null;
  auditViolations: number | null;
  /** Where the root is kept; null when it was temporary (deleted). */
  root: string | null;
  /** Size of the root's files at the end. */
  rootMb: number;
  setupMs: number;
  /** The end-of-run checks: ledger (chain, Global_V copies, last deltas) and permission audit. */
  checksMs: { ledger: number; audit: number };
  wallMs: number;
  peakRssMb: number;
}

interface SimulationEnv {
  /** Model, privacy and merge parameters (the simulator overrides identity, paths, rank, page size, epsilon). */
  config: Config;
  catalog: Catalog;
  logger: Logger;
  /** Called after each week. */
  onWeek?: (week: WeekMetrics, total: number) => void;
  /** Watches the run from inside (benchmark). */
  probe?: SimulationProbe;
}

export interface SimulationProbe {
  /** Each step of a participant pass as it ends (`ParticipantContext.onStep`). */
  passStep?(step: PassStep): void;
  /** Each participant pass's start and end (performance.now()). */
  passDone(startMs: number, endMs: number): void;
  /** The finished root, before a temporary one is deleted: the aggregator's and the participants' workspaces. */
  inspect?(root: { aggregator: Workspace; participants: Workspace[] }): Promise<void>;
}

interface SimSite {
  person: SimParticipant;
  ctx: ParticipantContext;
  exportFile: string;
  clickLog: ClickLog;
  /** Total epsilon spent on published deltas. */
  epsilon: number;
  lastDeltaSha256: string | null;
}

interface SimRoot {
  dataDir: string;
  temporary: boolean;
  aggregator: RoundContext;
  /** Secure-round parameters (SECURE_AGGREGATION=on, the default); null = plain rounds. */
  secure: SecureParams | null;
  sites: SimSite[];
  clock: { nowMs: number };
}

/** Bytes the root will take on disk, roughly. */
function estimateRootBytes(participants: number, items: number, rank: number, weeks: number): number {
  const matrix = items * rank * Float32Array.BYTES_PER_ELEMENT;
  return participants * (MATRICES_PER_PARTICIPANT * matrix + PARTICIPANT_OVERHEAD_BYTES) + (weeks + 1) * matrix;
}

/** Where a temporary root goes: /dev/shm (memory) when it has room to spare, else the OS temp folder. */
function temporaryBase(estimateBytes: number): string {
  try {
    if (existsSync(SHM_DIR)) {
      const fsStats = statfsSync(SHM_DIR);
      if (fsStats.bavail * fsStats.bsize > SHM_HEADROOM * estimateBytes && os.freemem() > SHM_HEADROOM * estimateBytes) return SHM_DIR;
    }
  } catch {
    // no statfs here: fall back to the OS temp folder
  }
  return os.tmpdir();
}

const emailOf = (index: number) => `participant-${String(index + 1).padStart(5, '0')}@sim.example`;
const weekStartMs = (week: number) => SIM_START_MS + (week - 1) * DAYS_PER_WEEK * MS_PER_DAY;
const pageTimeMs = (week: number) => weekStartMs(week) + (DAYS_PER_WEEK - 1) * MS_PER_DAY + PAGE_HOUR_MS;

/** The root folder: a new temporary one, or `options.root` if it is new or empty. */
async function createRootFolder(options: SimulationOptions, items: number): Promise<{ dataDir: string; temporary: boolean }> {
  if (options.root === null) {
    const base = temporaryBase(estimateRootBytes(options.participants, items, options.rank, options.weeks));
    return { dataDir: await fs.mkdtemp(path.join(base, 'syftbox-sim-')), temporary: true };
  }
  const dataDir = path.resolve(options.root);
  await fs.mkdir(dataDir, { recursive: true });
  if ((await fs.readdir(dataDir)).length > 0) {
    throw new AppError('ERR_USAGE', `simulation root ${dataDir} is not empty: give a new or empty folder, so that no earlier run mixes in`);
  }
  return { dataDir, temporary: false };
}

async function buildRoot(folder: { dataDir: string; temporary: boolean }, options: SimulationOptions, env: SimulationEnv, people: SimParticipant[], matcher: Matcher): Promise<SimRoot> {
  const { catalog, logger } = env;
  const { dataDir, temporary } = folder;
  const clock = { nowMs: SIM_START_MS };
  const now = () => new Date(clock.nowMs);
  const base = withOverrides(env.config, {
    AGGREGATOR_DATASITE: SIM_AGGREGATOR,
    MODEL_RANK: String(options.rank),
    RECS_PER_COLUMN: String(options.recsPerColumn),
    DP_EPSILON: String(options.epsilon),
    SEED: String(options.seed),
    NETFLIX_PROFILES: PROFILE,
    NETFLIX_CSV: CSV_NAME,
    DATE_ORDER: 'mdy',
  });
  createEmbeddedDatasite(dataDir, SIM_AGGREGATOR);
  const aggregator: RoundContext = {
    ws: new Workspace({ email: SIM_AGGREGATOR, dataDir }, base.APP_NAME),
    model: { items: catalog.items.length, rank: options.rank, vocabHash: catalog.hash },
    params: roundParams(base),
    random: createRandom(deriveSeed(options.seed, 'server-noise')),
    now,
    logger: logger.child({ datasite: SIM_AGGREGATOR }),
  };
  const secureDefaults = secureParamsOf(base, aggregator);
  const secure = secureDefaults && { ...secureDefaults, checkSum: options.sumCheck };
  const sites: SimSite[] = [];
  for (const person of people) {
    const exportsDir = path.join(dataDir, 'exports', person.email);
    const exportFile = path.join(exportsDir, PROFILE, CSV_NAME);
    await fs.mkdir(path.dirname(exportFile), { recursive: true });
    await fs.writeFile(exportFile, formatHistoryCsv(person.history));
    createEmbeddedDatasite(dataDir, person.email);
    const ws = new Workspace({ email: person.email, dataDir }, base.APP_NAME);
    const siteLogger = logger.child({ datasite: person.email });
    let deltas = 0;
    const ctx: ParticipantContext = {
      config: withOverrides(base, { OUTPUT_DIR: exportsDir }),
      ws,
      catalog,
      matcher,
      logger: siteLogger,
      now,
      noiseRandom: () => createRandom(deriveSeed(options.seed, `dp-noise/${person.index}/${deltas++}`)),
      onStep: env.probe?.passStep?.bind(env.probe),
    };
    const clickLog = new ClickLog(ws.privateClickLog(PROFILE), { logger: siteLogger, private: true });
    sites.push({ person, ctx, exportFile, clickLog, epsilon: 0, lastDeltaSha256: null });
  }
  return { dataDir, temporary, aggregator, secure, sites, clock };
}

const mean = (values: number[]) => (values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length);
const elapsedSince = (t0: number) => performance.now() - t0;

interface PagesOutcome {
  rows: ExperimentRow[];
  /** Null when the participant was not shown the experiment (no readable Global_V yet). */
  truth: { ndcg: Record<Arm, number>; ndcgRandom: number; preferred: Arm | null } | null;
  timings: Pick<WeekTimings, 'recommendation' | 'choice' | 'clickWrite' | 'historyWrite'>;
}

/** N distinct random shows the participant has not seen. */
function randomUnseen(items: number, n: number, seen: ReadonlySet<number>, random: Random): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const item = random.int(items);
    if (!seen.has(item) && !out.includes(item)) out.push(item);
  }
  return out;
}

/** Append the week's viewing to the participant's export (the file is rewritten, newest first). */
async function appendViewing(site: SimSite, rows: HistoryRow[]): Promise<void> {
  site.person.history.push(...rows);
  await fs.writeFile(site.exportFile, formatHistoryCsv(site.person.history));
}

/**
 * One participant's end of the week: the shows it found by itself, then its page
 * views (lists as the page builds them, clicks by the choice model, rows to its
 * click log), then everything watched appended to its export.
 */
async function endWeek(site: SimSite, week: number, nowMs: number, options: SimulationOptions, catalog: Catalog, world: World): Promise<PagesOutcome> {
  const { person } = site;
  const timings = { recommendation: 0, choice: 0, clickWrite: 0, historyWrite: 0 };
  let t0 = performance.now();
  const u = utilities(world, person.taste);
  const watched = organicViewing(catalog, person, u, weekStartMs(week), nowMs, createRandom(deriveSeed(options.seed, `organic/${person.index}/${week}`)));
  timings.choice = elapsedSince(t0);
  const finish = async (outcome: Omit<PagesOutcome, 'timings'>): Promise<PagesOutcome> => {
    t0 = performance.now();
    await appendViewing(site, watched);
    timings.historyWrite = elapsedSince(t0);
    return { ...outcome, timings };
  };

  t0 = performance.now();
  const recs = await loadRecommendations(site.ctx, PROFILE, options.recsPerColumn);
  timings.recommendation = elapsedSince(t0);
  // as on the page: no experiment before a Global_V is readable
  if (recs === null || recs.globalVersion === null) return finish({ rows: [], truth: null });

  t0 = performance.now();
  const random = createRandom(deriveSeed(options.seed, `choice/${person.index}/${week}`));
  const utility = (item: number) => u[item];
  const local = recs.local.map((s) => s.id);
  // the planted difference: the unseen shows this participant's hidden tastes rate lowest
  const global = options.aa ? local : person.degraded ? bestItems(u.map((x) => -x), options.recsPerColumn, person.seen) : recs.global.map((s) => s.id);
  const lists = { local, global };
  const ideal = bestItems(u, options.recsPerColumn, person.seen);
  const truth = {
    ndcg: { local: gradedNdcg(local, ideal, utility), global: gradedNdcg(global, ideal, utility) },
    ndcgRandom: gradedNdcg(randomUnseen(u.length, options.recsPerColumn, person.seen, createRandom(deriveSeed(options.seed, `baseline/${person.index}/${week}`))), ideal, utility),
    preferred: truePreference(lists, utility, options.choice),
  };
  const logRows: ClickLogRow[] = [];
  const chosen: number[] = [];
  for (let view = 0; view < options.viewsPerWeek; view++) {
    const page = simulatePageView({
      pageView: pageViewId(random),
      lists,
      versions: { global: recs.globalVersion, localBase: recs.localBaseVersion },
      utility,
      chosen: person.seen,
      random,
      params: options.choice,
    });
    logRows.push(page.view, ...page.clicks);
    chosen.push(...page.clickedItems);
  }
  for (const item of chosen) watched.push(...watchThisWeek(catalog, person, item, weekStartMs(week), nowMs, random));
  timings.choice += elapsedSince(t0);

  t0 = performance.now();
  await Promise.all(logRows.map((row) => site.clickLog.append(row)));
  timings.clickWrite = elapsedSince(t0);
  const participant = `${person.email}/${PROFILE}`;
  return finish({ rows: logRows.map((row) => ({ ...row, participant })), truth });
}

/** One week: passes, round, pages and clicks, report. */
async function runWeek(root: SimRoot, week: number, options: SimulationOptions, env: SimulationEnv, world: World): Promise<Omit<WeekMetrics, 'elapsedMs'>> {
  const timings: WeekTimings = { participantPass: 0, round: 0, recommendation: 0, choice: 0, clickWrite: 0, historyWrite: 0, report: 0 };
  root.clock.nowMs = pageTimeMs(week);
  let deltasPublished = 0;
  let failedPasses = 0;
  // one after the other: the steps are CPU-bound (training, hashing, npy encoding), overlapping them gains nothing
  for (const site of root.sites) {
    const t0 = performance.now();
    const result = await runParticipantPass(site.ctx);
    const t1 = performance.now();
    env.probe?.passDone(t0, t1);
    timings.participantPass += t1 - t0;
    failedPasses += result.failed.length;
    for (const outcome of result.profiles) {
      if (outcome.status === 'trained') deltasPublished++;
      if (outcome.status !== 'published') continue;
      deltasPublished++;
      site.epsilon += outcome.manifest.noise?.epsilon ?? 0;
      site.lastDeltaSha256 = outcome.manifest.sha256;
    }
  }

  let t0 = performance.now();
  const round = await runWeekRound(root, options, week);
  timings.round = elapsedSince(t0);

  const rows: ExperimentRow[] = [];
  const ndcg: Record<Arm | 'random', number[]> = { local: [], global: [], random: [] };
  const favour = { global: 0, local: 0 };
  let participantsShown = 0;
  for (const site of root.sites) {
    const outcome = await endWeek(site, week, root.clock.nowMs, options, env.catalog, world);
    for (const [step, ms] of Object.entries(outcome.timings)) timings[step as keyof typeof outcome.timings] += ms;
    rows.push(...outcome.rows);
    if (outcome.truth === null) continue;
    participantsShown++;
    ndcg.local.push(outcome.truth.ndcg.local);
    ndcg.global.push(outcome.truth.ndcg.global);
    ndcg.random.push(outcome.truth.ndcgRandom);
    if (outcome.truth.preferred) favour[outcome.truth.preferred]++;
  }

  t0 = performance.now();
  // What the app publishes for the experiment: noised weekly click counts, as in plain mode (with secure
  // aggregation the app sends the same counts inside the community round, which the simulator does not run).
  for (const site of root.sites) {
    await site.clickLog.flushed();
    await publishClickCounts({ ...site.ctx, config: { ...site.ctx.config, SECURE_AGGREGATION: 'off' } }, PROFILE);
  }
  const { report } = await writeExperimentReport(root.aggregator.ws, {
    now: root.aggregator.now,
    random: createRandom(deriveSeed(options.seed, `bootstrap/${week}`)),
    logger: root.aggregator.logger,
  });
  timings.report = elapsedSince(t0);
  const thisWeek = analyzeClicks(rows, { bootstrapSamples: 1 });
  const decided = favour.global + favour.local;
  return {
    week,
    ctr: { local: thisWeek.arms.local.clickRate, global: thisWeek.arms.global.clickRate },
    pValue: report.signTest.pValue,
    truePreference: decided > 0 ? favour.global / decided : null,
    ndcg: { local: mean(ndcg.local), global: mean(ndcg.global) },
    ndcgRandomBaseline: mean(ndcg.random),
    epsilonSpent: Math.max(0, ...root.sites.map((s) => s.epsilon)),
    roundMs: Math.round(timings.round),
    counts: {
      deltasPublished,
      deltasAccepted: round.accepted,
      failedPasses,
      globalVersion: round.version,
      participantsShown,
      pageViews: thisWeek.pageViews,
      clicks: { local: thisWeek.arms.local.clicks, global: thisWeek.arms.global.clicks },
      preferGlobal: report.signTest.preferGlobal,
      preferLocal: report.signTest.preferLocal,
    },
    timingsMs: roundEach(timings),
  };
}

/**
 * The week's aggregation: a secure round with every participant in process (each
 * counted one records the sha256 of its masked input and, with noise, the round's
 * epsilon), or a plain round over the published deltas.
 */
async function runWeekRound(root: SimRoot, options: SimulationOptions, week: number): Promise<{ accepted: number; version: number }> {
  if (root.secure === null) {
    const result = await runRound(root.aggregator);
    return { accepted: result.counts.accepted, version: result.version };
  }
  const { attack } = options;
  const attacker = root.sites[0];
  const poison =
    attack !== null && attack.fromWeek <= week && attacker !== undefined
      ? async ({ index, steps }: { index: number; steps: MemberStep[] }) => {
          const masked = index === 0 ? steps.find((s) => s.action === 'masked') : undefined;
          if (masked === undefined || masked.action !== 'masked') return;
          const target = await poisonTarget(root.aggregator.ws, attacker.ctx.ws, masked.roundId, root.sites.length, root.aggregator.now().toISOString());
          await poisonMaskedInput(attack.kind, target, createRandom(deriveSeed(options.seed, `poison/${week}`)));
        }
      : undefined;
  const summary = await runSecureRoundInProcess({ ...root.aggregator, secure: root.secure }, root.sites.map((s) => s.ctx), { afterMember: poison });
  if (summary?.outcome !== 'merged') return { accepted: 0, version: summary?.version ?? 0 };
  for (const site of root.sites) {
    const counted = (await readMemberStatus(site.ctx.ws))?.lastCounted;
    if (counted?.roundId !== summary.roundId) continue;
    site.lastDeltaSha256 = counted.maskedSha256;
    // a secure round's spend is in the members' ledgers (a DP run's two rounds compose to DP_EPSILON, not twice it)
    if (root.secure.dp !== null && counted.weight === 1) site.epsilon = await ledgerEpsilon(site.ctx);
  }
  return { accepted: summary.survivors.length, version: summary.version };
}

/**
 * The most epsilon any profile of the site has spent on model rounds, composed by its
 * privacy ledger (all time; the weekly click counts the simulator publishes spend from
 * the same ledger, and are left out of this figure).
 */
async function ledgerEpsilon(ctx: ParticipantContext): Promise<number> {
  const profiles = [...new Set((await readAssignments(ctx.ws.privateRoot())).map((a) => a.profile))];
  const budget = { epsilon: ctx.config.PRIVACY_BUDGET_EPSILON, delta: ctx.config.DP_DELTA, periodDays: 0 };
  const rounds = (ledger: PrivacyLedger): PrivacyLedger => ({ ...ledger, entries: ledger.entries.filter((e) => e.kind === 'round') });
  const spent = await Promise.all(profiles.map(async (p) => privacySpent(rounds(await readPrivacyLedger(ctx.ws.privateDir(p))), budget, ctx.now()).epsilon));
  return Math.max(0, ...spent);
}

/** Every value rounded to a whole number (of milliseconds). */
export function roundEach<T extends object>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Math.round(v as number)])) as T;
}

/** The ledger end to end (chain, Global_V copies, every participant's last delta merged) and the permission audit. */
async function checkRoot(root: SimRoot, audit: boolean): Promise<Pick<SimulationResult, 'ledgerOk' | 'ledger' | 'auditOk' | 'auditViolations' | 'checksMs'>> {
  const { ws } = root.aggregator;
  const t0 = performance.now();
  const entries = await readLedger(ws.ledgerFile(ws.email));
  const check = auditParticipation(entries, { globals: await readGlobalCopies(ws.globalDir(ws.email)), delta: null, graceMs: 0 });
  const merged = new Set(entries.flatMap((e) => e.accepted.map((a) => a.deltaSha256)));
  const lastDeltasIncluded = root.sites.filter((s) => s.lastDeltaSha256 !== null && merged.has(s.lastDeltaSha256)).length;
  const problems = [...check.problems];
  if (lastDeltasIncluded < root.sites.length) problems.push(`${root.sites.length - lastDeltasIncluded} participants' last delta is not in the ledger`);
  const t1 = performance.now();
  const report = audit ? await auditRoot({ dataDir: root.dataDir, appName: ws.appName, aggregator: ws.email }) : null;
  const checksMs = { ledger: Math.round(t1 - t0), audit: Math.round(elapsedSince(t1)) };
  return {
    checksMs,
    ledgerOk: problems.length === 0,
    ledger: { entries: entries.length, problems, lastDeltasIncluded, participants: root.sites.length },
    auditOk: report ? report.ok : null,
    auditViolations: report ? report.violations.length : null,
  };
}

/** Total size of the regular files under `dir`. */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(file);
    else if (entry.isFile()) total += (await fs.stat(file)).size;
  }
  return total;
}

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** Run the closed loop; the temporary root (if any) is deleted before this resolves. */
export async function runSimulation(options: SimulationOptions, env: SimulationEnv): Promise<SimulationResult> {
  const t0 = performance.now();
  const { catalog } = env;
  const world = createWorld(catalog, options.seed);
  const people = createPopulation(catalog, world, {
    participants: options.participants,
    seed: options.seed,
    degradeGlobal: options.degradeGlobal,
    startMs: SIM_START_MS,
    email: emailOf,
  });
  const matcher = createMatcher(catalog);
  const matchRate = titleMatchRate(catalog, matcher, people);
  const folder = await createRootFolder(options, catalog.items.length);
  try {
    const root = await buildRoot(folder, options, env, people, matcher);
    const setupMs = Math.round(elapsedSince(t0));
    const weeks: WeekMetrics[] = [];
    for (let week = 1; week <= options.weeks; week++) {
      const metrics = { ...(await runWeek(root, week, options, env, world)), elapsedMs: Math.round(elapsedSince(t0)) };
      weeks.push(metrics);
      env.onWeek?.(metrics, options.weeks);
    }
    // every click acknowledged is on disk before the checks read the root (and before a temporary root is deleted)
    await Promise.all(root.sites.map((site) => site.clickLog.flushed()));
    const checks = await checkRoot(root, options.audit);
    await env.probe?.inspect?.({ aggregator: root.aggregator.ws, participants: root.sites.map((s) => s.ctx.ws) });
    const { root: _root, ...params } = options;
    const config = root.sites[0]?.ctx.config ?? env.config;
    return {
      format: SIMULATION_FORMAT,
      formatVersion: SIMULATION_FORMAT_VERSION,
      params: {
        ...params,
        items: catalog.items.length,
        model: {
          ALS_REG: config.ALS_REG,
          ALS_ALPHA: config.ALS_ALPHA,
          LOCAL_EPOCHS: config.LOCAL_EPOCHS,
          LOCAL_LR: config.LOCAL_LR,
          FEEDBACK_MODE: config.FEEDBACK_MODE,
          DELTA_CLIP_NORM: config.DELTA_CLIP_NORM,
          DP_DELTA: config.DP_DELTA,
          PRIVACY_BUDGET_EPSILON: config.PRIVACY_BUDGET_EPSILON,
          SERVER_LR: config.SERVER_LR,
          MERGE_MODE: config.MERGE_MODE,
          SECURE_AGGREGATION: config.SECURE_AGGREGATION,
          DIVERSITY: config.DIVERSITY,
        },
      },
      titleMatchRate: matchRate,
      weeks,
      ...checks,
      root: root.temporary ? null : root.dataDir,
      rootMb: Math.round(await folderBytes(root.dataDir) / BYTES_PER_MB),
      setupMs,
      wallMs: Math.round(elapsedSince(t0)),
      peakRssMb: peakRssMb(),
    };
  } finally {
    if (folder.temporary) await fs.rm(folder.dataDir, { recursive: true, force: true });
  }
}
