import { promises as fs } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discoverProfiles } from '../../src/aggregator/discover';
import { runRound } from '../../src/aggregator/round';
import { writePermissions } from '../../src/shared/permissions';
import { createRandom } from '../../src/shared/random';
import { encodeNpy } from '../../src/shared/npy';
import { addParticipant, AGGREGATOR, APP, createRoot, publish, publishRaw, randomDelta, roundContext, type TestRoot } from '../helpers/root';

let root: TestRoot;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  await root.cleanup();
});

/** A logger that records debug lines, to check that skipped entries are reported. */
function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('discoverProfiles', () => {
  it('finds real profile folders only, and skips everything else with a debug log', async () => {
    const random = createRandom(1);
    const real = await addParticipant(root, 'real@example.org');
    await publish(real, 'profile_0', randomDelta(random));
    await publish(real, 'profile_12', randomDelta(random));
    await publish(real, 'profile_2', randomDelta(random));
    const appData = real.appData();
    // stray files, conflict and rejected copies, a profile folder without a manifest
    await fs.writeFile(path.join(appData, 'notes.txt'), 'x');
    await fs.mkdir(path.join(appData, 'profile_0.conflict'));
    await fs.copyFile(path.join(appData, 'profile_0', 'delta.json'), path.join(appData, 'profile_0.conflict', 'delta.json'));
    await fs.mkdir(path.join(appData, 'profile_3.rejected'));
    await fs.mkdir(path.join(appData, 'profile_4'));
    await fs.writeFile(path.join(appData, 'profile_0', 'delta.conflict.json'), '{}');
    // a folder under datasites/ that is not an email, with a well-formed profile inside
    const notEmail = path.join(root.ws.datasitesDir, 'not-an-email', 'app_data', APP, 'profile_0');
    await publishRaw(notEmail, encodeNpy(randomDelta(random), [40, 3]));
    // a symlinked datasite and a symlinked profile folder pointing outside datasites/
    const outside = path.join(root.dataDir, 'outside');
    await publishRaw(path.join(outside, 'app_data', APP, 'profile_0'), encodeNpy(randomDelta(random), [40, 3]));
    await fs.symlink(outside, path.join(root.ws.datasitesDir, 'linked@example.org'));
    const other = await addParticipant(root, 'other@example.org');
    await fs.mkdir(other.appData(), { recursive: true });
    await fs.symlink(path.join(outside, 'app_data', APP, 'profile_0'), path.join(other.appData(), 'profile_0'));
    // a symlinked app folder
    const third = await addParticipant(root, 'third@example.org');
    await fs.rm(third.appData(), { recursive: true });
    await fs.symlink(path.join(outside, 'app_data', APP), third.appData());
    // the aggregator's own outputs, and the aggregator taking part as a participant
    await fs.mkdir(path.join(root.ws.aggregatorDir(AGGREGATOR), 'global'), { recursive: true });
    await writePermissions(root.ws.appData(), { rules: [{ pattern: '**', access: { read: [AGGREGATOR] } }] });
    await publish(root.ws, 'profile_1', randomDelta(random));

    const { logger, lines } = recordingLogger();
    const found = await discoverProfiles(root.ws, logger);

    expect(found.map((f) => `${f.email}/${f.profile}`)).toEqual([
      `${AGGREGATOR}/profile_1`,
      'real@example.org/profile_0',
      'real@example.org/profile_2',
      'real@example.org/profile_12',
    ]);
    const skipped = lines.map((l) => l.entry);
    expect(skipped).toEqual(expect.arrayContaining(['not-an-email', 'linked@example.org', 'notes.txt', 'profile_0.conflict', 'profile_3.rejected', 'aggregator', 'profile_0']));
  });

  it('a round ignores what discovery skips: nothing outside the datasites is merged', async () => {
    const outside = path.join(root.dataDir, 'outside');
    await publishRaw(path.join(outside, 'app_data', APP, 'profile_0'), encodeNpy(randomDelta(createRandom(2)), [40, 3]));
    await fs.symlink(outside, path.join(root.ws.datasitesDir, 'linked@example.org'));
    const result = await runRound(roundContext(root));
    expect(result).toMatchObject({ outcome: 'nothing-new', counts: { accepted: 0, rejected: 0, replayed: 0, waiting: 0 } });
  });
});
