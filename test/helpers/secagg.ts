import path from 'node:path';
import { secureParams, type SecureContext } from '../../src/aggregator/secagg';
import { roundParams } from '../../src/aggregator/round';
import type { ParticipantContext } from '../../src/participant/node';
import { profileInteractions, readProfileModel } from '../../src/participant/state';
import { createMatcher, loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig, withOverrides, type Config } from '../../src/shared/config';
import { silentLogger, type Logger } from '../../src/shared/log';
import { mechanism, type MechanismSpec } from '../../src/shared/model/mechanism';
import { cryptoRandom } from '../../src/shared/random';
import { buildContribution, contributionLayout, splitSum } from '../../src/shared/secagg/contribution';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { historyFor, put, writeSmallCatalog } from './data';
import { AGGREGATOR, APP, createRoot, type TestRoot } from './root';

/**
 * An in-process federation for secure-aggregation tests: a SyftBox-layout root,
 * a small catalogue cut from the real netflix_titles.csv, `n` participants with
 * matching histories, and the aggregator's secure context. Everything runs the
 * production code on real files. Its rounds are the non-private optimizer's
 * (DP_EPSILON=0) unless `env` sets DP_EPSILON (the app's default runs DP training runs).
 */
export const RANK = 4;
export const CATALOG_ITEMS = 120;
/** CONTRIBUTION_CLIP_NORM near the contributions' norms on these small histories (the default suits real ones), so the quantization is fine. */
export const TEST_CLIP_NORM = 10;

export interface Federation {
  root: TestRoot;
  catalog: Catalog;
  catalogFile: string;
  config: Config;
  aggregator: SecureContext;
  members: ParticipantContext[];
  emails: string[];
}

export const memberEmail = (i: number) => `m${i}@example.org`;

export async function createFederation(n: number, env: Record<string, string> = {}, logger: Logger = silentLogger): Promise<Federation> {
  const root = await createRoot();
  const catalogFile = await writeSmallCatalog(path.join(root.dataDir, 'catalog.json'), CATALOG_ITEMS);
  const catalog = await loadCatalog(catalogFile);
  const config = loadConfig({
    appDir: root.dataDir,
    dotenv: false,
    env: { DP_EPSILON: '0', AGGREGATOR_DATASITE: AGGREGATOR, APP_NAME: APP, CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), DATE_ORDER: 'dmy', LOCAL_EPOCHS: '2', CONTRIBUTION_CLIP_NORM: String(TEST_CLIP_NORM), ...env },
  });
  const model = { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash };
  const aggregator: SecureContext = {
    ws: root.ws,
    model,
    params: roundParams(config),
    random: cryptoRandom(),
    now: () => new Date(),
    logger,
    secure: secureParams(config, model),
  };
  const matcher = createMatcher(catalog);
  const emails = Array.from({ length: n }, (_, i) => memberEmail(i));
  const members: ParticipantContext[] = [];
  for (const [i, email] of emails.entries()) {
    createEmbeddedDatasite(root.dataDir, email);
    const outputDir = path.join(root.dataDir, 'exports', email);
    await put(path.join(outputDir, 'profile_0', 'NetflixViewingHistory.csv'), historyFor(catalog, i, 20));
    members.push({
      config: withOverrides(config, { OUTPUT_DIR: outputDir }),
      ws: new Workspace({ email, dataDir: root.dataDir }, APP),
      catalog,
      matcher,
      logger,
      now: () => new Date(),
      noiseRandom: cryptoRandom,
    });
  }
  return { root, catalog, catalogFile, config, aggregator, members, emails };
}

/** The shape of Global_V. */
export interface Shape {
  items: number;
  rank: number;
}

/**
 * The contribution of the datasite of `ws` (its profile_0) as its private state
 * stands now, built with `spec`: what its masked input hides.
 */
export async function contributionOf(ws: Workspace, spec: MechanismSpec, { items, rank }: Shape): Promise<Float64Array> {
  const m = mechanism(spec);
  const model = (await readProfileModel(ws.privateDir('profile_0')))!;
  return buildContribution(m, model.vGlobal, [profileInteractions(model.state)], contributionLayout(m, items, rank), { items, rank, weightScale: m.bound });
}

/** Member `i`'s contribution with the aggregator's mechanism. */
export function memberContribution(f: Federation, i: number): Promise<Float64Array> {
  return contributionOf(f.members[i].ws, f.aggregator.secure.mechanism, f.aggregator.model);
}

/** The Global_V that `spec` makes from `base` and the float sum of `contributions`. */
export function expectedUpdate(spec: MechanismSpec, { items, rank }: Shape, base: Float32Array, contributions: readonly Float64Array[]): Float32Array {
  const m = mechanism(spec);
  const sum = new Float64Array(contributions[0].length);
  for (const x of contributions) for (let j = 0; j < sum.length; j++) sum[j] += x[j];
  const { part, members } = splitSum(sum, contributionLayout(m, items, rank), m.bound);
  return m.apply(base, part, items, rank, { count: members, noiseStd: 0 }).V;
}

/**
 * How far `actual` is from `expected`, relative to the size of the update
 * (max |actual − expected| / max |expected − base|): the quantization of the
 * secure sum moves the update by a small fraction of itself.
 */
export function relativeUpdateError(actual: Float32Array, expected: Float32Array, base: Float32Array): number {
  let diff = 0;
  let step = 0;
  for (let j = 0; j < base.length; j++) {
    diff = Math.max(diff, Math.abs(actual[j] - expected[j]));
    step = Math.max(step, Math.abs(expected[j] - base[j]));
  }
  return diff / step;
}
