import path from 'node:path';
import { auditRoot, type AuditReport, type FileKind } from '../aggregator/audit';
import { loadConfig, requireValue } from '../shared/config';
import { AppError } from '../shared/errors';
import { isEmailFolder, resolveIdentity } from '../shared/workspace';
import { parseOptions, type Command } from './command';

const USAGE = `
usage: npm run -s cli -- audit [--root <dataDir>] [--aggregator <email>] [--json]

Lists every published file of the app under <dataDir>/datasites/*/app_data/<APP_NAME>/
with who may read and write it (datasites of the root, emails and globs named in
permission files, '*' for everyone), and checks the privacy contract:
  - profile_<n>/ files: readable only by their owner and the aggregator
  - blend/ files: also by one friend, no more
  - aggregator/global/: readable only by datasites that published a delta
  - no file writable by several users besides its owner and the aggregator
Exit 0 when all holds, 1 on any violation, 2 on a usage error.

  --root <dataDir>      SyftBox data_dir (default: the configured identity's)
  --aggregator <email>  aggregator datasite (default: AGGREGATOR_DATASITE)
  --json                one JSON object {files, violations, warnings, ok}
`;

export const command: Command = {
  usage: USAGE,
  async run(argv) {
    const { values } = parseOptions(argv, {
      root: { type: 'string' },
      aggregator: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const config = loadConfig();
    const dataDir = values.root === undefined ? resolveIdentity(config).dataDir : path.resolve(values.root);
    const aggregator =
      values.aggregator === undefined
        ? requireValue(config, 'AGGREGATOR_DATASITE', 'the audit judges files against the aggregator datasite (or pass --aggregator <email>)')
        : values.aggregator.toLowerCase();
    if (!isEmailFolder(aggregator)) throw new AppError('ERR_USAGE', `--aggregator ${values.aggregator}: expected an email such as agg@example.org`);

    const report = await auditRoot({ dataDir, appName: config.APP_NAME, aggregator });
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatReport(report, dataDir, aggregator));
    return report.ok ? 0 : 1;
  },
};

/** Human summary: a table of files, counts by kind, then violations and warnings. */
function formatReport(report: AuditReport, dataDir: string, aggregator: string): string {
  const header = ['PATH', 'KIND', 'READERS', 'WRITERS'];
  const rows = report.files.map((f) => [f.path, f.kind, f.readers.join(', '), f.writers.join(', ')]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const counts = new Map<FileKind, number>();
  for (const f of report.files) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
  const byKind = [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
  const out = [
    `audit of ${path.join(dataDir, 'datasites')} (aggregator ${aggregator})`,
    '',
    line(header),
    ...rows.map(line),
    '',
    `${report.files.length} files${byKind ? ` (${byKind})` : ''}, ${report.violations.length} violations, ${report.warnings.length} warnings`,
    ...report.violations.map((v) => `VIOLATION ${v.path}: ${v.problem}`),
    ...report.warnings.map((w) => `warning ${w}`),
    report.ok ? 'OK' : 'FAIL',
  ];
  return `${out.join('\n')}\n`;
}
