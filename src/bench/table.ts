/**
 * The README's performance table: every figure of one `npm run bench` run that has an
 * anchor (numpy on the same files, `node -e 0`, plain FedAvg, or the issue's target),
 * as measured value, anchor and ratio. Written to bench-results/bench.md.
 */

/** How the table and the benchmark's log name a secure round's mechanism (`SecureRoundCase.mechanism`). */
export const MECHANISM_LABEL = { dp: 'DP run (default)', optimizer: 'optimizer, DP_EPSILON=0' } as const;

interface Report {
  createdAt: string;
  mode: string;
  environment: { node: string; cpus: number; cpuModel: string | null; loadAverageAtStart: number[] };
  startup?: { nodeMs: number; figures: Record<string, { medianMs: number; ratioToNode: number }> };
  page?: { endpoints: Record<string, { requestsPerSec: number; p99Ms: number }> };
  aggregator?: { participants: number; rank: number; roundMs: number; mbPerSec: number; numpyMbPerSec: number | null; ratioToNumpy: number | null; coldMbPerSec?: number | null; coldRatioToNumpy?: number | null; peakRssMb: number; targetMs?: number; targetRssMb?: number }[];
  secureSum?: Record<string, { count: number; mbPerSec: number; numpyMbPerSec: number | null; ratioToNumpy: number | null }>;
  secureAggregation?: {
    rounds: { participants: number; items: number; dropout: number; mechanism?: keyof typeof MECHANISM_LABEL; secure: { memberCpuMs: { total: number }; aggregatorCpuMs: { total: number } }; plain: { aggregatorCpuMs: number }; ratios: { aggregatorCpu: number | null } }[];
  };
}

const row = (cells: (string | number | null)[]) => `| ${cells.map((c) => (c === null ? 'n/a' : String(c))).join(' | ')} |`;
const r2 = (x: number) => Math.round(x * 100) / 100;

export function benchTable(report: Report): string {
  const lines = [
    `Measured by \`npm run bench\`${report.mode === 'default' ? '' : ` (--${report.mode})`} on ${report.createdAt.slice(0, 10)}: Node ${report.environment.node}, ${report.environment.cpus} CPUs (${report.environment.cpuModel ?? 'unknown'}), load average ${report.environment.loadAverageAtStart.map((l) => l.toFixed(1)).join(' ')} at the start.`,
    '',
    row(['figure', 'measured', 'anchor', 'ratio']),
    row(['---', '---:', '---:', '---:']),
  ];
  for (const a of report.aggregator ?? []) {
    lines.push(row([`aggregator round, ${a.participants.toLocaleString('en')} deltas x rank ${a.rank}`, `${a.mbPerSec} MB/s`, a.numpyMbPerSec === null ? null : `numpy loop ${a.numpyMbPerSec} MB/s`, a.ratioToNumpy === null ? null : `${a.ratioToNumpy}x`]));
    if (a.coldMbPerSec != null) {
      lines.push(row([`  the same, as the first round of a fresh process`, `${a.coldMbPerSec} MB/s`, a.numpyMbPerSec === null ? null : `numpy loop ${a.numpyMbPerSec} MB/s`, a.coldRatioToNumpy == null ? null : `${a.coldRatioToNumpy}x`]));
    }
    if (a.targetMs !== undefined) {
      lines.push(row([`  the same round's time`, `${r2(a.roundMs / 1000)} s`, `target ${a.targetMs / 1000} s`, `${r2(a.roundMs / a.targetMs)}x`]));
      lines.push(row([`  the same round's peak RSS`, `${a.peakRssMb} MB`, `target ${a.targetRssMb} MB`, `${r2(a.peakRssMb / a.targetRssMb!)}x`]));
    }
  }
  for (const [name, f] of Object.entries(report.secureSum ?? {})) {
    lines.push(row([`secure aggregation, ${name === 'maskedSum' ? `${f.count} masked inputs summed` : `${f.count} masks expanded`}`, `${f.mbPerSec} MB/s`, f.numpyMbPerSec === null ? null : `numpy ${f.numpyMbPerSec} MB/s`, f.ratioToNumpy === null ? null : `${f.ratioToNumpy}x`]));
  }
  for (const s of report.secureAggregation?.rounds ?? []) {
    const label = `secure round${s.mechanism ? ` (${MECHANISM_LABEL[s.mechanism]})` : ''}, ${s.participants} members x ${s.items} items, ${Math.round(s.dropout * 100)}% dropout`;
    lines.push(row([`${label}: member CPU`, `${s.secure.memberCpuMs.total} ms`, 'target 1,000 ms', `${r2(s.secure.memberCpuMs.total / 1000)}x`]));
    lines.push(row([`${label}: aggregator CPU`, `${s.secure.aggregatorCpuMs.total} ms`, `plain FedAvg ${s.plain.aggregatorCpuMs} ms`, s.ratios.aggregatorCpu === null ? null : `${s.ratios.aggregatorCpu}x`]));
  }
  for (const [route, p] of Object.entries(report.page?.endpoints ?? {})) {
    lines.push(row([`page ${route}: requests/s`, p.requestsPerSec, 'target 1,000/s', `${r2(p.requestsPerSec / 1000)}x`]));
    lines.push(row([`page ${route}: p99 latency`, `${p.p99Ms} ms`, 'target 20 ms', `${r2(p.p99Ms / 20)}x`]));
  }
  if (report.startup) {
    for (const [name, f] of Object.entries(report.startup.figures)) lines.push(row([`start-up, ${name}`, `${f.medianMs} ms`, `node -e 0 ${report.startup.nodeMs} ms`, `${f.ratioToNode}x`]));
  }
  return `${lines.join('\n')}\n`;
}
