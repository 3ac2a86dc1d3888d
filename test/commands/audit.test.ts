import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRoot, type AuditReport } from '../../src/aggregator/audit';
import { writePermissions } from '../../src/shared/permissions';
import { Workspace, createEmbeddedDatasite } from '../../src/shared/workspace';
import { put } from '../helpers/data';
import { runCli } from '../helpers/process';

const APP = 'syftbox-netflix-svd';
const AGG = 'agg@x.org';
const ALICE = 'alice@x.org';
const BOB = 'bob@x.org';
const CAROL = 'carol@x.org'; // takes part, never contributed

let dataDir: string;
let ws: Workspace;

/** A root laid out as the project intends: everything private except what the contract allows. */
async function buildGoodRoot(): Promise<void> {
  for (const email of [AGG, ALICE, BOB, CAROL]) createEmbeddedDatasite(dataDir, email);
  for (const email of [ALICE, BOB, CAROL]) {
    await writePermissions(ws.appData(email), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
  }
  for (const email of [ALICE, BOB]) {
    await put(ws.deltaManifest('profile_0', email), '{"formatVersion":1}');
    await put(ws.deltaPayload('profile_0', email), 'npy-bytes');
    await put(ws.clickLog('profile_0', email), '{}\n');
  }
  await writePermissions(ws.blendDir(ALICE), { rules: [{ pattern: '**', access: { read: [BOB] } }] });
  await put(path.join(ws.blendDir(ALICE), 'profile_0.json'), '{}');
  await writePermissions(ws.aggregatorDir(AGG), { rules: [{ pattern: '**', access: { read: [ALICE, BOB] } }] });
  await put(path.join(ws.globalVersionDir(AGG, 1), 'Global_V.npy'), 'npy-bytes');
  await put(path.join(ws.globalVersionDir(AGG, 1), 'Global_V.json'), '{}');
  await put(ws.ledgerFile(AGG), '{}\n');
  // not synced by SyftBox, so not audited
  await put(path.join(ws.appData(ALICE), 'profile_0', '.delta.json.123.tmp'), 'partial');
  await fs.writeFile(path.join(ws.appData(ALICE), 'empty.json'), '');
}

const audit = () => auditRoot({ dataDir, appName: APP, aggregator: AGG });
const rel = (file: string) => path.relative(ws.datasitesDir, file).split(path.sep).join('/');
const problemsAt = (report: AuditReport, file: string) => report.violations.filter((v) => v.path === rel(file)).map((v) => v.problem);

beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'audit-'));
  ws = new Workspace({ email: AGG, dataDir }, APP);
  await buildGoodRoot();
});
afterEach(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('auditRoot', () => {
  it('passes the intended layout and reports readers and writers of every synced file', async () => {
    const report = await audit();
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    const byPath = new Map(report.files.map((f) => [f.path, f]));
    expect(byPath.get(rel(ws.deltaManifest('profile_0', ALICE)))).toEqual({
      path: rel(ws.deltaManifest('profile_0', ALICE)),
      owner: ALICE,
      readers: [AGG, ALICE],
      writers: [ALICE],
      kind: 'profile',
    });
    expect(byPath.get(rel(path.join(ws.blendDir(ALICE), 'profile_0.json')))?.readers).toEqual([ALICE, BOB]);
    expect(byPath.get(rel(path.join(ws.globalVersionDir(AGG, 1), 'Global_V.json')))).toMatchObject({ kind: 'global', readers: [AGG, ALICE, BOB] });
    expect(byPath.get(rel(ws.ledgerFile(AGG)))?.kind).toBe('aggregator');
    expect([...byPath.keys()].some((p) => p.endsWith('.tmp') || p.endsWith('empty.json'))).toBe(false);
    expect(report.files).toHaveLength(15);
  });

  it('flags a participant file readable by another participant', async () => {
    await writePermissions(ws.appData(ALICE), { rules: [{ pattern: '**', access: { read: [AGG, CAROL] } }] });
    const report = await audit();
    expect(report.ok).toBe(false);
    expect(problemsAt(report, ws.deltaPayload('profile_0', ALICE))).toEqual([
      `participant file readable by ${CAROL}: only its owner and the aggregator may read it`,
    ]);
  });

  it('flags a public profile folder and an outsider named only in a permission file', async () => {
    await writePermissions(ws.profileDir('profile_0', ALICE), { rules: [{ pattern: '**', access: { read: ['*'] } }] });
    await writePermissions(ws.profileDir('profile_0', BOB), { rules: [{ pattern: '**', access: { read: [AGG, 'dave@elsewhere.org'] } }] });
    const report = await audit();
    expect(problemsAt(report, ws.clickLog('profile_0', ALICE))[0]).toMatch(/readable by .*\*: only its owner/);
    expect(problemsAt(report, ws.clickLog('profile_0', BOB))[0]).toContain('readable by dave@elsewhere.org');
  });

  it('allows one blend friend but flags a second', async () => {
    await writePermissions(ws.blendDir(ALICE), { rules: [{ pattern: '**', access: { read: [BOB, CAROL] } }] });
    const report = await audit();
    expect(problemsAt(report, path.join(ws.blendDir(ALICE), 'profile_0.json'))).toEqual([
      `blend file readable by ${BOB}, ${CAROL}: only its owner, the aggregator and one friend may read it`,
    ]);
  });

  it('flags a global model readable by a non-contributor or by everyone', async () => {
    await writePermissions(ws.globalDir(AGG), { rules: [{ pattern: 'v000001/*.npy', access: { read: [ALICE, BOB, CAROL] } }, { pattern: '**', access: { read: ['*'] } }] });
    const report = await audit();
    expect(problemsAt(report, path.join(ws.globalVersionDir(AGG, 1), 'Global_V.npy'))).toEqual([`global model readable by ${CAROL}, who never published a delta`]);
    expect(problemsAt(report, path.join(ws.globalVersionDir(AGG, 1), 'Global_V.json'))[0]).toMatch(/readable by .*\*, who never/);
  });

  it('flags a file several participants may write', async () => {
    const inbox = path.join(ws.aggregatorDir(AGG), 'inbox');
    await writePermissions(inbox, { rules: [{ pattern: '**', access: { write: [ALICE, BOB] } }] });
    await put(path.join(inbox, 'note.json'), '{}');
    const report = await audit();
    expect(problemsAt(report, path.join(inbox, 'note.json'))).toEqual([
      `writable by ${ALICE}, ${BOB}: write implies read, so co-writers receive each other's data`,
    ]);
  });

  it('flags an email-glob writer even when it matches no local datasite', async () => {
    await writePermissions(ws.appData(CAROL), { rules: [{ pattern: '**', access: { read: [AGG], write: ['*@elsewhere.org'] } }] });
    await put(path.join(ws.appData(CAROL), 'status.json'), '{}');
    const report = await audit();
    expect(problemsAt(report, path.join(ws.appData(CAROL), 'status.json'))).toEqual([
      "writable by *@elsewhere.org: write implies read, so co-writers receive each other's data",
    ]);
    // only admins may write a permission file, so the glob does not make it writable
    expect(problemsAt(report, path.join(ws.appData(CAROL), 'syft.pub.yaml'))).toEqual([]);
  });

  it('reports a malformed permission file and falls back to the file above it', async () => {
    await fs.writeFile(path.join(ws.appData(BOB), 'syft.pub.yaml'), 'rules: [\n');
    const report = await audit();
    expect(problemsAt(report, path.join(ws.appData(BOB), 'syft.pub.yaml'))[0]).toMatch(/^malformed permission file \(ignored\): .*syft\.pub\.yaml: is not valid YAML/);
    expect(report.files.find((f) => f.path === rel(ws.deltaManifest('profile_0', BOB)))?.readers).toEqual([BOB]);
    expect(report.ok).toBe(false);
  });
});

const { AGGREGATOR_DATASITE: _, ...inherited } = process.env;
const auditCli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(['audit', ...args], { ...inherited, LOG_LEVEL: 'silent', ...env });

describe('cli audit (child process)', () => {
  it('exits 0 with JSON for the good layout, 1 with a readable report on a violation, 2 without an aggregator', async () => {
    const good = await auditCli(['--root', dataDir, '--json'], { AGGREGATOR_DATASITE: AGG });
    expect(good.code).toBe(0);
    const parsed = JSON.parse(good.stdout) as AuditReport;
    expect(parsed.ok).toBe(true);
    expect(parsed.files).toHaveLength(15);

    await writePermissions(ws.appData(ALICE), { rules: [{ pattern: '**', access: { read: ['*'] } }] });
    const [bad, usage] = await Promise.all([auditCli(['--root', dataDir, '--aggregator', AGG]), auditCli(['--root', dataDir])]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`VIOLATION ${rel(ws.deltaManifest('profile_0', ALICE))}: participant file readable by`);
    expect(bad.stdout).toMatch(/^PATH +KIND +READERS +WRITERS$/m);
    expect(bad.stdout.trimEnd().endsWith('FAIL')).toBe(true);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('AGGREGATOR_DATASITE');
  });
});
