import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeSyntheticMovieLens } from '../eval/synthetic';
import { PROJECT_ROOT } from '../shared/config';

/**
 * The evaluation harness at scale: the eval CLI on a synthetic 6,000-user
 * MovieLens-format folder (4,000 items, 2 rounds, popularity baseline only), in
 * a child process; wall time, and the eval process's peak RSS from its report.
 */

const SEED = 7;
const SCALE = { users: 6000, items: 4000, rounds: 2 };
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export async function benchScale(log: (line: string) => void) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-scale-'));
  try {
    const data = path.join(dir, 'data');
    const ratings = await writeSyntheticMovieLens(data, { users: SCALE.users, items: SCALE.items, seed: SEED });
    const started = performance.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'eval', '--ratings', data, '--rounds', String(SCALE.rounds), '--baselines', 'popularity', '--epsilons', 'none', '--out', path.join(dir, 'out'), '--json'],
        { cwd: PROJECT_ROOT, maxBuffer: MAX_REPORT_BYTES, env: { ...process.env, LOG_LEVEL: 'silent' } },
        (err, out, stderr) => (err ? reject(new Error(`eval at scale failed: ${stderr || err.message}`)) : resolve(out)),
      );
    });
    const report = JSON.parse(stdout);
    const fed = report.settings.find((x: { name: string }) => x.name === 'federated');
    const result = {
      users: SCALE.users,
      items: SCALE.items,
      ratings,
      rank: report.params.rank,
      rounds: SCALE.rounds,
      wallMs: Math.round(performance.now() - started),
      ingestMs: report.timings.ingestMs,
      peakRssMb: report.timings.peakRssMb,
      tempRoot: report.environment.tempRoot,
      perRound: fed.rounds.map((r: { round: number; participantsMs: number; aggregatorMs: number }) => ({ round: r.round, participantsMs: r.participantsMs, aggregatorMs: r.aggregatorMs })),
    };
    log(`eval at scale: ${SCALE.users} users, ${ratings} ratings, ${SCALE.items} items, ${SCALE.rounds} rounds: ${Math.round(result.wallMs / 1000)} s, peak RSS ${result.peakRssMb} MB`);
    return result;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
