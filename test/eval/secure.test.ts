import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticMovieLens } from '../../src/eval/synthetic';
import { runCli } from '../helpers/process';

/**
 * The evaluation's rounds through the real secure-aggregation protocol (round
 * files, masked fixed-point contributions, Shamir shares, unmasking), run by
 * default, give the model of the in-memory sum: issue 14's "within 1%".
 */
const USERS = 12;
const ITEMS = 200;
const ROUNDS = 2;

let dir: string;
let data: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eval-secure-'));
  data = path.join(dir, 'data');
  await writeSyntheticMovieLens(data, { users: USERS, items: ITEMS, seed: 9, minRatings: 10, meanExtraRatings: 20 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const evalRun = (out: string, secure: string[]) =>
  runCli(['eval', '--ratings', data, '--rounds', String(ROUNDS), '--rank', '8', '--out', path.join(dir, out), '--baselines', 'none', '--epsilons', 'none', ...secure, '--json'], { ...process.env, LOG_LEVEL: 'silent' });

describe('eval through secure aggregation', () => {
  it('by default runs every round through secure aggregation with every participant counted, within 1% of the in-memory sum with the same clip', async () => {
    // no --secure on the command line: the real protocol is the default
    const run = await evalRun('default', []);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`\\[federated-secure\\] round ${ROUNDS}/${ROUNDS} +survivors ${USERS}/${USERS} .*HR@10 \\d\\.\\d{4}`));
    const report = JSON.parse(run.stdout);
    const byName = Object.fromEntries(report.settings.map((s: { name: string }) => [s.name, s]));
    expect(Object.keys(byName)).toEqual(['federated', 'federated-clipped', 'federated-secure']);
    const secure = byName['federated-secure'];
    expect(secure.rounds.map((r: { round: number; accepted: number; rejected: number }) => [r.round, r.accepted, r.rejected])).toEqual(
      Array.from({ length: ROUNDS }, (_, i) => [i + 1, USERS, 0]),
    );
    expect(report.params.secureClipNorm).toBe(100);
    // every round, not only the last: the secure model tracks the in-memory one with the same clip
    for (let r = 0; r < ROUNDS; r++) {
      const plain = byName['federated-clipped'].rounds[r].metrics;
      const masked = secure.rounds[r].metrics;
      expect(Math.abs(masked.hr10 - plain.hr10), `round ${r + 1}`).toBeLessThanOrEqual(0.01 * plain.hr10);
      expect(Math.abs(masked.ndcg10 - plain.ndcg10), `round ${r + 1}`).toBeLessThanOrEqual(0.01 * plain.ndcg10);
    }
    const checks = report.checks.filter((c: { name: string }) => c.name.startsWith('federated-secure'));
    expect(checks).toHaveLength(2);
    for (const c of checks) expect(c.met, c.name).toBe(true);
    expect(report.command).not.toMatch(/--secure/);
  }, 900_000);

  it('--secure off runs the optimizer in memory only; --secure and --secure on are the default', async () => {
    const off = await evalRun('off', ['--secure', 'off']);
    expect(off.code, off.stderr).toBe(0);
    const report = JSON.parse(off.stdout);
    expect(report.settings.map((s: { name: string }) => s.name)).toEqual(['federated']);
    expect(report.params).not.toHaveProperty('secureClipNorm');
    expect(off.stderr).not.toMatch(/federated-secure/);
    for (const secure of [['--secure'], ['--secure', 'on'], ['--secure=on']]) {
      const on = await evalRun(`on-${secure.length}-${secure[0].length}`, [...secure, '--rounds', '1']);
      expect(on.code, on.stderr).toBe(0);
      expect(JSON.parse(on.stdout).settings.map((s: { name: string }) => s.name), secure.join(' ')).toEqual(['federated', 'federated-clipped', 'federated-secure']);
    }
    const bad = await evalRun('bad', ['--secure=maybe']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--secure maybe: expected one of on, off/);
  }, 900_000);
});
