import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/aggregator/audit';
import type { RoundResult } from '../../src/aggregator/round';
import { loadCatalog } from '../../src/shared/catalog';
import { createRandom } from '../../src/shared/random';
import type { Workspace } from '../../src/shared/workspace';
import { logLines, startCli } from '../helpers/process';
import { addParticipant, AGGREGATOR, cliEnv, createRoot, publish, randomDelta, writeCatalog, type TestRoot } from '../helpers/root';

/**
 * Hostile permission files in participants' app folders, seen by a real
 * `aggregator --once` (discovery) and a real `audit`: malformed YAML and a
 * malformed ruleset make the profile invisible (as the SyftBox server ignores a
 * ruleset it cannot parse) with a log line naming the file; unknown keys are
 * ignored with a warning naming them (yaml.v3 is not strict); a rule letting
 * everyone write the delta makes it unattributable, so it is not merged; the
 * other participants merge as usual, and the audit reports each problem.
 */
const RANK = 2;

let root: TestRoot;
beforeEach(async () => {
  root = await createRoot();
});
afterEach(async () => {
  await root.cleanup();
});

const rel = (file: string) => path.relative(root.ws.datasitesDir, file).split(path.sep).join('/');
const permissionFile = (ws: Workspace, ...sub: string[]) => path.join(ws.appData(), ...sub, 'syft.pub.yaml');

describe('hostile permission files', () => {
  it('through the aggregator\'s discovery and the audit command', async () => {
    const catalogFile = await writeCatalog(root, 20);
    const catalog = await loadCatalog(catalogFile);
    const fields = { items: catalog.items.length, rank: RANK, vocabHash: catalog.hash };
    const random = createRandom(31);
    const participant = async (email: string) => {
      const ws = await addParticipant(root, email);
      const manifest = await publish(ws, 'profile_0', randomDelta(random, 0.5, fields.items * RANK), fields);
      return { ws, manifest };
    };
    const good = await participant('good@example.org');
    const unknown = await participant('unknownkeys@example.org');
    await fs.writeFile(
      permissionFile(unknown.ws),
      `comment: shared with the aggregator\nrules:\n  - pattern: '**'\n    note: read only\n    access:\n      read: ['${AGGREGATOR}']\n      write: []\n      execute: ['*']\n`,
    );
    const badYaml = await participant('badyaml@example.org');
    await fs.writeFile(permissionFile(badYaml.ws), `rules:\n  - pattern: '**'\n    access: { read: ['${AGGREGATOR}'\n`);
    const badShape = await participant('badshape@example.org');
    await fs.writeFile(permissionFile(badShape.ws), 'rules: everyone\n');
    const openWrite = await participant('openwrite@example.org');
    await fs.writeFile(permissionFile(openWrite.ws), `rules:\n  - pattern: '**'\n    access:\n      read: ['${AGGREGATOR}']\n      write: ['*']\n`);
    const userWrite = await participant('userwrite@example.org');
    await fs.writeFile(permissionFile(userWrite.ws), `rules:\n  - pattern: '**'\n    access:\n      read: ['${AGGREGATOR}']\n      write: ['USER']\n`);
    // the app folder's file is fine, but the nearest one (in the profile folder) opens the delta to everyone
    const nested = await participant('nested@example.org');
    await fs.writeFile(permissionFile(nested.ws, 'profile_0'), `rules:\n  - pattern: 'delta.json'\n    access:\n      read: ['${AGGREGATOR}']\n      admin: ['*']\n  - pattern: '**'\n    access:\n      read: ['${AGGREGATOR}']\n`);

    // issue 20: an email glob that matches everyone, and one other named writer, are "someone else" too
    const globWrite = await participant('globwrite@example.org');
    await fs.writeFile(permissionFile(globWrite.ws), `rules:\n  - pattern: '**'\n    access:\n      read: ['${AGGREGATOR}']\n      write: ['*@*']\n`);
    const coWriter = await participant('cowriter@example.org');
    await fs.writeFile(permissionFile(coWriter.ws), `rules:\n  - pattern: '**'\n    access:\n      read: ['${AGGREGATOR}']\n      write: ['mallory@example.org']\n`);

    const env = cliEnv(root, AGGREGATOR, { CATALOG_PATH: catalogFile, MODEL_RANK: String(RANK), LOG_LEVEL: 'debug' });
    const aggregator = await startCli(['aggregator', '--once', '--json'], env).done;
    expect(aggregator.code, aggregator.stderr).toBe(0);
    // stdout: the log lines, then the round summary (pretty-printed JSON from a line "{")
    const lines = aggregator.stdout.split('\n');
    const summary = JSON.parse(lines.slice(lines.indexOf('{')).join('\n')) as RoundResult;
    const logs = logLines(lines.slice(0, lines.indexOf('{')).join('\n'));

    // only the well-shared deltas are merged; the others appear in no list of the round
    expect(summary.accepted.map((a) => [a.email, a.deltaSha256])).toEqual([
      ['good@example.org', good.manifest.sha256],
      ['unknownkeys@example.org', unknown.manifest.sha256],
    ]);
    expect(summary.counts).toEqual({ accepted: 2, rejected: 0, replayed: 0, waiting: 0 });

    // unknown keys: ignored with a warning naming the file and the keys
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 40, file: permissionFile(unknown.ws), keys: ['comment', 'rules[0].note', 'rules[0].access.execute'], msg: 'unknown keys in permission file ignored' }),
    );
    // malformed files: skipped like the server skips them (the owner-only datasite file above governs, so the
    // profile is not shared), with one warning naming the file and the problem
    const unreadable = (file: string) => logs.find((l) => l.msg === 'permission file does not parse; like the server, the folder above governs' && l.file === file);
    expect(unreadable(permissionFile(badYaml.ws))).toMatchObject({ level: 40, err: expect.stringMatching(/is not valid YAML/) });
    expect(unreadable(permissionFile(badShape.ws))).toMatchObject({ level: 40, err: expect.stringMatching(/"rules" must be a list/) });
    // everyone may write: skipped with a warning naming the manifest
    for (const p of [openWrite, userWrite, nested, globWrite, coWriter]) {
      expect(logs, p.ws.email).toContainEqual(expect.objectContaining({ level: 40, email: p.ws.email, profile: 'profile_0', file: p.ws.deltaManifest('profile_0') }));
    }
    expect(logs.find((l) => l.email === globWrite.ws.email && l.level === 40)?.writers).toEqual(['*@*', AGGREGATOR]);
    expect(logs.find((l) => l.email === coWriter.ws.email && l.level === 40)?.writers).toEqual(['mallory@example.org']);

    // the audit reports the same files
    const auditRun = await startCli(['audit', '--root', root.dataDir, '--aggregator', AGGREGATOR, '--json'], env).done;
    expect(auditRun.code, auditRun.stderr).toBe(1);
    const report = JSON.parse(auditRun.stdout) as AuditReport;
    const problems = (file: string) => report.violations.filter((v) => v.path === rel(file)).map((v) => v.problem);
    expect(problems(permissionFile(badYaml.ws))).toEqual([expect.stringMatching(/^malformed permission file \(ignored\): .*syft\.pub\.yaml: is not valid YAML/)]);
    expect(problems(permissionFile(badShape.ws))).toEqual([expect.stringMatching(/^malformed permission file \(ignored\): .*"rules" must be a list/)]);
    // write implies read: everyone may read it, and everyone may write it
    const open = [
      expect.stringMatching(/^participant file readable by (.+, )?\*: only its owner and the aggregator may read it$/),
      expect.stringMatching(/^writable by (.+, )?\*: write implies read, so co-writers receive each other's data$/),
    ];
    for (const p of [openWrite, userWrite]) {
      expect(problems(p.ws.deltaManifest('profile_0')), p.ws.email).toEqual(open);
      expect(problems(path.join(p.ws.profileDir('profile_0'), p.manifest.payload)), p.ws.email).toEqual(open);
    }
    expect(problems(nested.ws.deltaManifest('profile_0'))).toEqual(open);
    expect(problems(path.join(nested.ws.profileDir('profile_0'), nested.manifest.payload))).toEqual([]);
    expect(problems(globWrite.ws.deltaManifest('profile_0'))).toEqual([
      expect.stringMatching(/^participant file readable by \*@\*, .*: only its owner and the aggregator may read it$/),
      expect.stringMatching(/^writable by \*@\*, .*: write implies read, so co-writers receive each other's data$/),
    ]);
    expect(report.warnings).toEqual([`${rel(permissionFile(unknown.ws))}: unknown keys ignored: comment, rules[0].note, rules[0].access.execute`]);
    for (const p of [good, unknown]) expect(problems(p.ws.deltaManifest('profile_0')), p.ws.email).toEqual([]);
  });
});
