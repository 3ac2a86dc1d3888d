import { createMatcher, loadCatalog } from '../shared/catalog';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { cryptoRandom } from '../shared/random';
import type { Workspace } from '../shared/workspace';
import type { ParticipantContext } from './node';

/** Everything a participant pass needs, resolved once from the configuration. */
export async function createParticipantContext(config: Config, ws: Workspace, logger: Logger): Promise<ParticipantContext> {
  const catalog = await loadCatalog(config.CATALOG_PATH);
  return {
    config,
    ws,
    catalog,
    matcher: createMatcher(catalog),
    logger,
    now: () => new Date(),
    noiseRandom: cryptoRandom,
  };
}
