import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRound } from '../../src/aggregator/round';
import { createRandom } from '../../src/shared/random';
import { startCli } from '../helpers/process';
import { addParticipant, AGGREGATOR, cliEnv, createRoot, publish, randomDelta, roundContext, type TestRoot } from '../helpers/root';

/** `verify` run by a participant, as a real CLI process against a root where rounds ran in-process. */
let root: TestRoot;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  await root.cleanup();
});

async function verify(email: string, args: string[] = []) {
  const exit = await startCli(['verify', '--json', ...args], cliEnv(root, email)).done;
  return { code: exit.code, stderr: exit.stderr, result: exit.stdout ? JSON.parse(exit.stdout) : null };
}

describe('verify', () => {
  it('passes for a contributor whose delta was merged, and fails once its Global_V copy or the ledger is altered', async () => {
    const random = createRandom(1);
    const a = await addParticipant(root, 'a@example.org');
    const mine = await publish(a, 'profile_0', randomDelta(random));
    await runRound(roundContext(root));

    const ok = await verify('a@example.org');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.result).toMatchObject({
      ok: true,
      ledger: { entries: 1, verifies: true },
      globals: [{ version: 1, status: 'match' }],
      profiles: [{ profile: 'profile_0', delta: { sha256: mine.sha256, status: 'included', version: 1 } }],
    });

    const payload = path.join(root.ws.globalVersionDir(AGGREGATOR, 1), 'Global_V.npy');
    const original = await fs.readFile(payload);
    const altered = Buffer.from(original);
    altered[altered.length - 1] ^= 1;
    await fs.writeFile(payload, altered);
    const tampered = await verify('a@example.org');
    expect(tampered.code).toBe(1);
    expect(tampered.result.globals[0].status).toBe('mismatch');
    await fs.writeFile(payload, original);

    const ledgerFile = root.ws.ledgerFile(AGGREGATOR);
    await fs.writeFile(ledgerFile, (await fs.readFile(ledgerFile, 'utf8')).replace('"rejectedCount":0', '"rejectedCount":1'));
    const broken = await verify('a@example.org');
    expect(broken.code).toBe(1);
    expect(broken.result.ledger.verifies).toBe(false);
  });

  it('fails when a round ran after the latest delta without merging it; a delta newer than every round is pending', async () => {
    const random = createRandom(2);
    const a = await addParticipant(root, 'a@example.org');
    const b = await addParticipant(root, 'b@example.org');
    await publish(a, 'profile_0', randomDelta(random));
    await runRound(roundContext(root));
    // a's next delta declares a clip norm above the aggregator's: refused in round 2
    await publish(a, 'profile_0', randomDelta(random), { baseVersion: 1, clipNorm: 5 });
    await publish(b, 'profile_0', randomDelta(random), { baseVersion: 1 });
    await runRound(roundContext(root));

    const missing = await verify('a@example.org', ['--profile', 'profile_0']);
    expect(missing.code).toBe(1);
    expect(missing.result.profiles[0].delta.status).toBe('missing');
    expect(missing.result.problems[0]).toMatch(/not in the ledger/);

    await publish(a, 'profile_0', randomDelta(random), { baseVersion: 2, createdAt: new Date().toISOString() });
    const pending = await verify('a@example.org');
    expect(pending.code, pending.stderr).toBe(0);
    expect(pending.result.profiles[0].delta.status).toBe('pending');
  });

  it('exits 0 with nothing to check before any round, and 2 on a bad --profile', async () => {
    await addParticipant(root, 'new@example.org');
    const empty = await verify('new@example.org');
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.result).toMatchObject({ ok: true, ledger: { entries: 0 }, profiles: [] });
    const bad = await verify('new@example.org', ['--profile', '../x']);
    expect(bad.code).toBe(2);
  });
});
