import { loadConfig, requireValue } from '../shared/config';
import { moduleLogger, rootLogger } from '../shared/log';
import { createParticipantContext } from '../participant/context';
import { runParticipant, runParticipantCycle } from '../participant/node';
import { logProtection } from '../participant/protection';
import { abortOnSignals } from '../shared/shutdown';
import { resolveIdentity, Workspace } from '../shared/workspace';
import { parseOptions, type Command } from './command';

export const command: Command = {
  usage: `
usage: npm run -s cli -- participant [--once] [--json]

Reads OUTPUT_DIR/<profile>/NETFLIX_CSV for each profile in NETFLIX_PROFILES, trains
from the newest Global_V you may read (or the deterministic initialization before
the aggregator grants access), publishes this week's community report and the blend,
and contributes to the aggregator's rounds. With SECURE_AGGREGATION=on (the default)
your profiles' deltas are averaged into one contribution that leaves only masked,
in the aggregator's secure rounds (it learns the round's sum); with =off a clipped
delta per profile is published, readable by AGGREGATOR_DATASITE only. Without --once
it watches the exports and the aggregator's folder and acts when either changes;
SIGTERM stops it.

  --once   run one cycle and exit (0 when every export was processed or absent);
           it answers the secure round's current phase, if any
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
      const { pass: result, secure } = await runParticipantCycle(ctx);
      if (values.json) {
        const profiles = result.profiles.map((p) => ({ profile: p.profile, status: p.status, access: p.access, baseVersion: p.baseVersion }));
        process.stdout.write(`${JSON.stringify(secure === null ? profiles : { profiles, secure })}\n`);
      }
      return result.failed.length > 0 ? 1 : 0;
    }
    await runParticipant(ctx, { signal: abortOnSignals() });
    return 0;
  },
};
