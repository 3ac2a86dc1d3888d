import { loadConfig, requireValue } from '../shared/config';
import { moduleLogger, rootLogger } from '../shared/log';
import { createParticipantContext } from '../participant/context';
import { runParticipant, runParticipantPass } from '../participant/node';
import { logProtection } from '../participant/protection';
import { abortOnSignals } from '../shared/shutdown';
import { resolveIdentity, Workspace } from '../shared/workspace';
import { parseOptions, type Command } from './command';

export const command: Command = {
  summary: 'train on your private history and publish item-factor deltas (watch mode, or --once)',
  usage: `
usage: npm run -s cli -- participant [--once] [--json]

Reads OUTPUT_DIR/<profile>/NETFLIX_CSV for each profile in NETFLIX_PROFILES, trains
from the newest Global_V you may read (or the deterministic initialization before
the aggregator grants access), and publishes a clipped delta readable by
AGGREGATOR_DATASITE only. Without --once it watches the exports and the global
model and retrains when either changes; SIGTERM stops it.

  --once   run one pass and exit (0 when every export was processed or absent)
  --json   with --once, print the pass result as JSON
`,
  async run(argv) {
    const { values } = parseOptions(argv, { once: { type: 'boolean' }, json: { type: 'boolean' } });
    const config = loadConfig();
    requireValue(config, 'AGGREGATOR_DATASITE', 'the participant publishes deltas for this aggregator');
    const logger = moduleLogger('participant', rootLogger(config.LOG_LEVEL));
    const identity = resolveIdentity(config);
    const ws = new Workspace(identity, config.APP_NAME);
    const ctx = await createParticipantContext(config, ws, logger);
    if (values.once) {
      logProtection(config, logger);
      const result = await runParticipantPass(ctx);
      if (values.json) process.stdout.write(`${JSON.stringify(result.profiles.map((p) => ({ profile: p.profile, status: p.status, access: p.access, baseVersion: p.baseVersion })))}\n`);
      return result.failed.length > 0 ? 1 : 0;
    }
    await runParticipant(ctx, { signal: abortOnSignals() });
    return 0;
  },
};
