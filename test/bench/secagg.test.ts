import { describe, expect, it } from 'vitest';
import { benchSecaggCore, benchSecureRounds } from '../../src/bench/secagg';
import { loadCatalog } from '../../src/shared/catalog';

describe('secure-aggregation benchmark', () => {
  it('runs a plain and a secure round on the same deltas and reports per-phase CPU, bytes, wall time and ratios', async () => {
    const lines: string[] = [];
    const c = { participants: 6, items: 40, rank: 4, dropout: 1 / 6, survivorFraction: 0.7 };
    const [row, dp] = await benchSecureRounds(await loadCatalog(), [{ ...c, mechanism: 'optimizer' }, { ...c, mechanism: 'dp' }], (l) => lines.push(l));
    expect(row).toMatchObject({ participants: 6, items: 40, rank: 4, plain: { accepted: 6 }, secure: { outcome: 'merged', survivors: 5, dropped: 1, k: 5, t: 3 } });
    for (const phase of ['join', 'share', 'mask', 'reveal', 'total'] as const) expect(row.secure.memberCpuMs[phase]).toBeGreaterThan(0);
    expect(row.secure.aggregatorCpuMs.unmask).toBeGreaterThan(0);
    expect(row.secure.aggregatorCpuMs.route).toBeGreaterThan(0);
    // a masked input (4 bytes a value) is at least as large as the float32 delta, and the secure member writes shares and keys besides
    expect(row.secure.memberBytes).toBeGreaterThan(row.plain.memberBytes);
    expect(row.secure.totalBytes).toBeGreaterThan(row.secure.memberBytes * 5);
    for (const key of ['memberCpu', 'memberBytes', 'aggregatorCpu', 'roundWall'] as const) expect(row.ratios[key]).toBeGreaterThan(0);
    // the DP run's round carries one value per item, the optimizer's two rank-sized statistics per item
    expect(dp).toMatchObject({ mechanism: 'dp', secure: { outcome: 'merged', survivors: 5 } });
    expect(dp.secure.memberBytes).toBeLessThan(row.secure.memberBytes);
    expect(lines.join('\n')).toMatch(/optimizer, DP_EPSILON=0: 6 members x 40 items x rank 4, 17% dropout/);
    expect(lines.join('\n')).toMatch(/DP run \(default\): 6 members/);
    expect(lines.join('\n')).toMatch(/member CPU: plain .* ms; secure .* \(join .*, share .*, mask .*, reveal .*\) = [\d.]+x/);
    expect(lines.join('\n')).toMatch(/aggregator CPU: plain .*; secure .*\(routing shares .*, sum .*, unmask \+ commit .*\) = [\d.]+x/);
  });

  it('measures the protocol functions alone: the cohort shape, a member, and an exact unmasking', async () => {
    const lines: string[] = [];
    const rows = await benchSecaggCore([{ participants: 40, length: 500, survivorFraction: 0.8, dropout: 0.1 }], (l) => lines.push(l));
    expect(rows[0]).toMatchObject({ participants: 40, k: 39, minSurvivors: 32, server: { dropped: 4, exact: true } });
    expect(rows[0].makeSharesCpuMs).toBeGreaterThanOrEqual(0);
    expect(lines[0]).toMatch(/k=39, t=20, T=32; member makeShares \d+ ms \+ maskInput \d+ ms CPU over 500 words; unmask at 10% dropout \d+ ms CPU/);
  });
});
