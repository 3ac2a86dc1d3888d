import { describe, expect, it } from 'vitest';
import { benchTable } from '../../src/bench/table';

/** The README's performance table: each anchored figure with its anchor and ratio, n/a where this run had no anchor. */
describe('benchTable', () => {
  const report = {
    createdAt: '2026-12-05T00:30:00.000Z',
    mode: 'default',
    environment: { node: '20.20.2', cpus: 2, cpuModel: 'AMD EPYC', loadAverageAtStart: [0.6, 1, 2] },
    startup: { nodeMs: 106, figures: { 'build --help': { medianMs: 131, ratioToNode: 1.2 } } },
    page: { endpoints: { 'GET /': { requestsPerSec: 8335.9, p99Ms: 7.2 } } },
    aggregator: [
      { participants: 1000, rank: 32, roundMs: 1540, mbPerSec: 698, numpyMbPerSec: 1036, ratioToNumpy: 0.67, coldMbPerSec: 601, coldRatioToNumpy: 0.58, peakRssMb: 181 },
      { participants: 10_000, rank: 32, roundMs: 10_133, mbPerSec: 1061, numpyMbPerSec: null, ratioToNumpy: null, peakRssMb: 254, targetMs: 15_000, targetRssMb: 1024 },
    ],
    secureSum: { maskExpansion: { count: 50, mbPerSec: 300, numpyMbPerSec: 1473, ratioToNumpy: 0.2 } },
    secureAggregation: {
      rounds: [{ participants: 1000, items: 8807, dropout: 0.05, mechanism: 'optimizer' as const, secure: { memberCpuMs: { total: 420.5 }, aggregatorCpuMs: { total: 6100 } }, plain: { aggregatorCpuMs: 2000 }, ratios: { aggregatorCpu: 3.05 } }],
    },
  };

  it('puts every anchored figure in a row with its anchor and ratio', () => {
    const lines = benchTable(report).split('\n');
    expect(lines[0]).toContain('Node 20.20.2, 2 CPUs (AMD EPYC), load average 0.6 1.0 2.0');
    expect(lines).toContain('| aggregator round, 1,000 deltas x rank 32 | 698 MB/s | numpy loop 1036 MB/s | 0.67x |');
    expect(lines).toContain('|   the same, as the first round of a fresh process | 601 MB/s | numpy loop 1036 MB/s | 0.58x |');
    expect(lines).toContain('| aggregator round, 10,000 deltas x rank 32 | 1061 MB/s | n/a | n/a |');
    expect(lines.filter((l) => l.includes('first round of a fresh process'))).toHaveLength(1); // none for a case measured warm only
    expect(lines).toContain("|   the same round's time | 10.13 s | target 15 s | 0.68x |");
    expect(lines).toContain("|   the same round's peak RSS | 254 MB | target 1024 MB | 0.25x |");
    expect(lines).toContain('| secure aggregation, 50 masks expanded | 300 MB/s | numpy 1473 MB/s | 0.2x |');
    expect(lines).toContain('| secure round (optimizer, DP_EPSILON=0), 1000 members x 8807 items, 5% dropout: member CPU | 420.5 ms | target 1,000 ms | 0.42x |');
    expect(lines).toContain('| secure round (optimizer, DP_EPSILON=0), 1000 members x 8807 items, 5% dropout: aggregator CPU | 6100 ms | plain FedAvg 2000 ms | 3.05x |');
    expect(lines).toContain('| page GET /: requests/s | 8335.9 | target 1,000/s | 8.34x |');
    expect(lines).toContain('| page GET /: p99 latency | 7.2 ms | target 20 ms | 0.36x |');
    expect(lines).toContain('| start-up, build --help | 131 ms | node -e 0 106 ms | 1.2x |');
  });
});
