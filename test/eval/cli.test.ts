import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticMovieLens } from '../../src/eval/synthetic';
import { runCli } from '../helpers/process';

const USERS = 30;
const ITEMS = 400;

let dir: string;
let data: string;

const cli = (args: string[]) => runCli(['eval', ...args], { ...process.env, LOG_LEVEL: 'silent' });

/** movieIds each user rated, from the generated ratings.csv. */
function ratedByUser(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of readFileSync(path.join(data, 'ratings.csv'), 'utf8').trim().split('\n').slice(1)) {
    const [user, movie] = line.split(',');
    (out.get(user) ?? out.set(user, new Set()).get(user)!).add(movie);
  }
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eval-cli-'));
  data = path.join(dir, 'data');
  await writeSyntheticMovieLens(data, { users: USERS, items: ITEMS, seed: 5 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('eval CLI', () => {
  it('runs the implicit protocol end to end and writes the documented report', async () => {
    const out = path.join(dir, 'implicit');
    const run = await cli(['--ratings', data, '--rounds', '2', '--out', out, '--central-iterations', '2', '--epsilons', '8', '--dp', 'both', '--dp-rounds', '2', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/\[federated\] round 2\/2 +HR@10 \d\.\d{4}/);
    expect(run.stderr).toMatch(/\[fedavg\] round 2\/2 .*ETA .*HR@10 \d\.\d{4}/);
    const report = JSON.parse(run.stdout);
    expect(report).toEqual(JSON.parse(readFileSync(path.join(out, 'implicit.json'), 'utf8')));
    for (const key of ['format', 'formatVersion', 'protocol', 'createdAt', 'command', 'dataset', 'split', 'params', 'matching', 'settings', 'checks', 'timings', 'environment']) {
      expect(report).toHaveProperty(key);
    }
    expect(report.protocol).toBe('implicit');
    expect(report.split.kind).toBe('leave-last-out');
    expect(report.dataset).toMatchObject({ users: USERS, items: ITEMS, participants: USERS, evaluatedUsers: USERS });
    expect(report.matching.rate).toBe(1);
    const names = report.settings.map((s: { name: string }) => s.name);
    // by default the optimizer's rounds also go through the real secure-aggregation protocol (secure.test.ts checks them)
    expect(names).toEqual(['popularity', 'local-only', 'central-als', 'fedavg', 'federated', 'federated-clipped', 'federated-secure', 'federated-dp-central-eps8', 'federated-dp-local-eps8']);
    for (const s of report.settings) {
      expect(Object.keys(s.metrics).sort()).toEqual(['hr10', 'ndcg10', 'recall20', 'sampledHr10', 'sampledNdcg10', 'users']);
    }
    const byName = Object.fromEntries(report.settings.map((s: { name: string }) => [s.name, s]));
    // The baseline goes through the files: every participant's delta accepted in every round.
    expect(byName.fedavg.rounds.map((r: { round: number; accepted: number }) => [r.round, r.accepted])).toEqual([[1, USERS], [2, USERS]]);
    expect(byName.federated.rounds.map((r: { round: number }) => r.round)).toEqual([1, 2]);
    expect(byName.federated.metrics).toEqual(byName.federated.rounds[1].metrics);
    // Rounds to 0.95 of the centralized model: a round number or null, for HR@10 and NDCG@10.
    expect(byName.federated.reach).toMatchObject({ ratio: 0.95, of: 'central-als' });
    for (const key of ['hr10', 'ndcg10']) expect([null, 1, 2]).toContain(byName.federated.reach[key]);
    expect(report.checks.map((c: { name: string }) => c.name)).toContain('federated / central-als HR@10 >= 0.97 within 10 rounds');
    expect(byName['federated-dp-central-eps8'].privacy).toMatchObject({ mode: 'central', epsilon: 8, delta: 1e-5 });
    expect(byName['federated-dp-central-eps8'].privacy.noiseStdOfSum).toBeCloseTo(byName['federated-dp-central-eps8'].privacy.noiseMultiplier * byName['federated-dp-central-eps8'].privacy.clipNorm, 9);
    expect(byName['federated-dp-local-eps8'].privacy.perRoundEpsilon).toBeGreaterThan(0);
    for (const chart of ['implicit-hr10.svg', 'implicit-ndcg10.svg']) expect(readFileSync(path.join(out, chart), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });

  it('runs the explicit k-fold protocol with RMSE and MAE per setting and per round', async () => {
    const out = path.join(dir, 'explicit');
    const run = await cli(['--ratings', data, '--protocol', 'explicit', '--folds', '2', '--rounds', '2', '--out', out, '--central-iterations', '2']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(readFileSync(path.join(out, 'explicit.json'), 'utf8'));
    expect(report.split).toMatchObject({ kind: 'k-fold', folds: 2 });
    expect(report.settings.map((s: { name: string }) => s.name)).toEqual(['global-mean', 'item-mean', 'local-only', 'central-als', 'federated']);
    const ratings = readFileSync(path.join(data, 'ratings.csv'), 'utf8').trim().split('\n').length - 1;
    for (const s of report.settings) {
      expect(s.metrics.count).toBe(ratings);
      expect(s.metrics.rmse).toBeGreaterThan(0);
      expect(s.metrics.mae).toBeLessThanOrEqual(s.metrics.rmse);
    }
    const fed = report.settings.find((s: { name: string }) => s.name === 'federated');
    expect(fed.rounds).toHaveLength(2);
    expect(fed.rounds[1].metrics).toEqual(fed.metrics);
    expect(fed.reach).toMatchObject({ ratio: 1.02, of: 'central-als' });
    expect(existsSync(path.join(out, 'explicit-rmse.svg'))).toBe(true);
  });

  it('--holdout none writes recommendations.jsonl: top 100 global and local movieIds per user, none already rated', async () => {
    const out = path.join(dir, 'recs');
    const run = await cli(['--ratings', data, '--holdout', 'none', '--rounds', '2', '--out', out, '--scores']);
    expect(run.code, run.stderr).toBe(0);
    const lines = readFileSync(path.join(out, 'recommendations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(USERS);
    const rated = ratedByUser();
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['global', 'local', 'scores', 'user']);
      expect(typeof line.user).toBe('string');
      for (const key of ['global', 'local'] as const) {
        const list: string[] = line[key];
        expect(list.length).toBe(Math.min(100, ITEMS - rated.get(line.user)!.size));
        expect(new Set(list).size).toBe(list.length);
        expect(list.every((id) => /^\d+$/.test(id) && Number(id) >= 1 && Number(id) <= ITEMS && !rated.get(line.user)!.has(id))).toBe(true);
        const scores: number[] = line.scores[key];
        expect(scores).toHaveLength(list.length);
        expect(scores.every((s, i) => i === 0 || s <= scores[i - 1])).toBe(true);
      }
    }
  });

  it('--protocol explicit --predict writes predictions.csv for the requested pairs', async () => {
    const out = path.join(dir, 'pred');
    const pairs = path.join(dir, 'pairs.csv');
    writeFileSync(pairs, 'userId,movieId,rating,timestamp\r\n1,1,4,0\r\n2,399,3,0\r\n999,5,1,0\r\n3,123456,2,0\r\n');
    const run = await cli(['--ratings', data, '--protocol', 'explicit', '--holdout', 'none', '--predict', pairs, '--rounds', '2', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const lines = readFileSync(path.join(out, 'predictions.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('userId,movieId,prediction');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['1,1', '2,399', '999,5', '3,123456']);
    for (const line of lines.slice(1)) {
      const p = Number(line.split(',')[2]);
      expect(p).toBeGreaterThanOrEqual(0.5);
      expect(p).toBeLessThanOrEqual(5);
    }
  });

  it('exits 2 on a usage error', async () => {
    const run = await cli(['--rounds', '2']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--ratings');
  });
});
