import path from 'node:path';
import { secureParams, type SecureContext } from '../../src/aggregator/secagg';
import { roundParams } from '../../src/aggregator/round';
import type { ParticipantContext } from '../../src/participant/node';
import { createMatcher, loadCatalog, type Catalog } from '../../src/shared/catalog';
import { loadConfig, withOverrides, type Config } from '../../src/shared/config';
import { silentLogger, type Logger } from '../../src/shared/log';
import { cryptoRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';
import { historyFor, put, writeSmallCatalog } from './data';
import { AGGREGATOR, APP, createRoot, type TestRoot } from './root';

/**
 * An in-process federation for secure-aggregation tests: a SyftBox-layout root,
 * a small catalogue cut from the real netflix_titles.csv, `n` participants with
 * matching histories, and the aggregator's secure context. Everything runs the
 * production code on real files.
 */
export const RANK = 4;
export const CATALOG_ITEMS = 120;

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
    env: { AGGREGATOR_DATASITE: AGGREGATOR, APP_NAME: APP, CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), DATE_ORDER: 'dmy', LOCAL_EPOCHS: '2', ...env },
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
