import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createMatcher, type Catalog } from '../shared/catalog';
import { PROJECT_ROOT, withOverrides, type Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { cryptoRandom } from '../shared/random';
import { createEmbeddedDatasite, Workspace } from '../shared/workspace';
import { performance } from 'node:perf_hooks';
import { runParticipantCycle, type ParticipantContext, type PassResult } from '../participant/node';
import { secureParamsOf } from '../aggregator/node';
import { roundParams, runRound, type RoundContext, type RoundResult } from '../aggregator/round';
import type { SecureContext, SecureRoundSummary } from '../aggregator/secagg';
import { runSecureRoundInProcess } from '../simulate/secure-round';

/**
 * The embedded demo: a SyftBox-layout root in the project folder with one
 * aggregator and one participant per shipped demo history (data/demo/), all
 * running the production code against real files and permission files. Your
 * own export under OUTPUT_DIR/profile_0/ replaces the first participant's.
 */
export const DEMO_AGGREGATOR = 'aggregator@demo.local';
export const DEMO_DIR = path.join(PROJECT_ROOT, 'data', 'demo');

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

/** Shipped demo histories, in a stable order. */
export function demoHistories(): string[] {
  return readdirSync(DEMO_DIR)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => path.join(DEMO_DIR, f));
}

/**
 * Create (or reuse) the embedded root at `config.LOCAL_ROOT`. The participant at
 * index 0 is you (LOCAL_EMAIL); the others are named after their demo history.
 */
export function buildDemoRoot(config: Config, catalog: Catalog, logger: Logger, { reset = false } = {}): DemoRoot {
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
    now: () => new Date(),
    logger: logger.child({ datasite: DEMO_AGGREGATOR }),
  };
  const secure = secureParamsOf(aggregatorConfig, aggregator);

  const ownExport = path.join(config.OUTPUT_DIR, 'profile_0', config.NETFLIX_CSV);
  const matcher = createMatcher(catalog);
  const files = demoHistories();
  const emails = files.map((file, index) => (index === 0 ? config.LOCAL_EMAIL : `${path.basename(file, '.csv')}@demo.local`));
  // You and the second participant are friends who both opted in to a blend.
  const blendWith = (index: number) => (index === 0 ? emails[1] : index === 1 ? emails[0] : '');
  const participants = files.map((file, index): DemoParticipant => {
    const email = emails[index];
    const useOwn = index === 0 && existsSync(ownExport);
    const csvName = useOwn ? config.NETFLIX_CSV : 'NetflixViewingHistory.csv';
    const exportsDir = path.join(dataDir, 'exports', email);
    const target = path.join(exportsDir, 'profile_0', csvName);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(useOwn ? ownExport : file, target);
    createEmbeddedDatasite(dataDir, email, index === 0 ? path.join(dataDir, 'config.json') : undefined);
    const participantConfig = demoConfig({ OUTPUT_DIR: exportsDir, NETFLIX_CSV: csvName, DATE_ORDER: useOwn ? config.DATE_ORDER : 'auto', BLEND_WITH: blendWith(index) });
    return {
      email,
      source: useOwn ? ownExport : path.relative(PROJECT_ROOT, file),
      ctx: {
        config: participantConfig,
        ws: new Workspace({ email, dataDir }, config.APP_NAME),
        catalog,
        matcher,
        logger: logger.child({ datasite: email }),
        now: () => new Date(),
        noiseRandom: cryptoRandom,
      },
    };
  });
  return { dataDir, aggregator, secure, participants };
}

export interface DemoRound {
  round: number;
  passes: PassResult[];
  /** What the aggregator did: a secure round (null: none could open) or a plain one. */
  outcome: { mode: 'secure'; summary: SecureRoundSummary | null } | { mode: 'plain'; result: RoundResult };
  durationMs: number;
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
    const outcome: DemoRound['outcome'] = root.secure
      ? { mode: 'secure', summary: await runSecureRoundInProcess({ ...root.aggregator, secure: root.secure }, root.participants.map((p) => p.ctx)) }
      : { mode: 'plain', result: await runRound(root.aggregator) };
    const entry = { round, passes, outcome, durationMs: Math.round(performance.now() - t0) };
    rounds.push(entry);
    onRound?.(entry);
    const everyoneGranted = passes.every((p) => p.profiles.length > 0 && p.profiles.every((o) => o.access === 'granted'));
    if (round >= minRounds && everyoneGranted) break;
  }
  return rounds;
}
