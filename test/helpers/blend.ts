import type { Catalog } from '../../src/shared/catalog';
import type { BlendContext } from '../../src/participant/blend';
import { writeGlobalVersion } from '../../src/shared/global-model';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { createEmbeddedDatasite, Workspace } from '../../src/shared/workspace';

/** The settings a blend context reads, at the defaults, with the friend and the aggregator given. */
export function blendConfig(friend: string | null, aggregator: string): BlendContext['config'] {
  return { BLEND_WITH: friend, BLEND_EPSILON: 1, DP_DELTA: 0.00001, PRIVACY_BUDGET_EPSILON: 50, PRIVACY_PERIOD_DAYS: 365, AGGREGATOR_DATASITE: aggregator, ALS_REG: 3 };
}

/** Global_V version 1 (seeded normal rows) in `aggregator`'s datasite, readable by `readers` (the taste summaries are computed against it). */
export async function writeBlendGlobal(dataDir: string, app: string, aggregator: string, readers: string[], catalog: Catalog, rank: number, seed = 7): Promise<Float32Array> {
  createEmbeddedDatasite(dataDir, aggregator);
  const ws = new Workspace({ email: aggregator, dataDir }, app);
  await writePermissions(ws.aggregatorDir(aggregator), { rules: [{ pattern: '**', access: { read: readers } }] });
  const random = createRandom(seed);
  const values = Float32Array.from({ length: catalog.items.length * rank }, () => random.normal());
  await writeGlobalVersion(ws.globalDir(aggregator), values, { version: 1, round: 1, items: catalog.items.length, rank, vocabHash: catalog.hash, contributors: 3, createdAt: '2026-01-01T00:00:00.000Z' });
  return values;
}
