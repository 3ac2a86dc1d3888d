import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRoot } from '../../src/aggregator/audit';
import { writePermissions } from '../../src/shared/permissions';
import { Workspace, createEmbeddedDatasite } from '../../src/shared/workspace';

/**
 * The audit errs towards "more readable": in each case below an earlier audit
 * reported fewer readers than the SyftBox server allows. Each row builds the
 * case in a fresh root and names a reader the server allows, which the audit
 * must list (and flag).
 */

const APP = 'syftbox-netflix-svd';
const AGG = 'agg@x.org';
const ALICE = 'alice@x.org';
const BOB = 'bob@x.org';
const CAROL = 'carol@x.org'; // takes part, never contributed

let dataDir: string;
let ws: Workspace;

async function put(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text);
}

beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'audit-server-'));
  ws = new Workspace({ email: AGG, dataDir }, APP);
  for (const email of [AGG, ALICE, BOB, CAROL]) createEmbeddedDatasite(dataDir, email);
  for (const email of [ALICE, BOB]) {
    await writePermissions(ws.appData(email), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
    await put(ws.deltaManifest('profile_0', email), '{}');
  }
  await writePermissions(ws.aggregatorDir(AGG), { rules: [{ pattern: 'global/**', access: { read: [ALICE, BOB] } }] });
  await put(path.join(ws.globalVersionDir(AGG, 1), 'Global_V.npy'), 'npy');
});
afterEach(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

interface Case {
  name: string;
  /** Builds the case; returns the file (absolute) whose readers are checked. */
  setup: () => Promise<string>;
  reader: string;
}

const yaml = (rules: string) => `rules:\n${rules}`;

const CASES: Case[] = [
  {
    name: 'ownership by string prefix: the datasite bob@x.co owns bob@x.com',
    setup: async () => {
      createEmbeddedDatasite(dataDir, 'bob@x.co');
      createEmbeddedDatasite(dataDir, 'bob@x.com');
      await writePermissions(ws.appData('bob@x.com'), { rules: [{ pattern: '**', access: { read: [AGG] } }] });
      await put(ws.deltaManifest('profile_0', 'bob@x.com'), '{}');
      return ws.deltaManifest('profile_0', 'bob@x.com');
    },
    reader: 'bob@x.co',
  },
  {
    name: 'a {{.UserEmail}} template grants the public pseudo-user everything it covers',
    setup: async () => {
      await writePermissions(ws.appData(ALICE), {
        rules: [
          { pattern: '**', access: { read: [AGG] } },
          { pattern: '{{.UserEmail}}/**', access: { read: ['USER'] } },
        ],
      });
      return ws.deltaManifest('profile_0', ALICE);
    },
    reader: '*',
  },
  {
    name: 'an empty syft.pub.yaml is never synced, so the more open folder above governs',
    setup: async () => {
      await writePermissions(ws.appData(ALICE), { rules: [{ pattern: 'profile_0/**', access: { read: [AGG, CAROL] } }, { pattern: '**', access: { read: [AGG] } }] });
      await fs.writeFile(path.join(ws.profileDir('profile_0', ALICE), 'syft.pub.yaml'), '');
      return ws.deltaManifest('profile_0', ALICE);
    },
    reader: CAROL,
  },
  {
    name: 'a syft.pub.yaml the server cannot parse is skipped, so the more open folder above governs',
    setup: async () => {
      await writePermissions(ws.appData(ALICE), { rules: [{ pattern: 'profile_0/**', access: { read: [AGG, CAROL] } }, { pattern: '**', access: { read: [AGG] } }] });
      await put(path.join(ws.profileDir('profile_0', ALICE), 'syft.pub.yaml'), yaml("  - pattern: '**'\n    access: ~\n"));
      return ws.deltaManifest('profile_0', ALICE);
    },
    reader: CAROL,
  },
  {
    name: 'a negated bracket class [!9] matches profile_0',
    setup: async () => {
      await writePermissions(ws.appData(ALICE), { rules: [{ pattern: 'profile_[!9]/**', access: { read: [AGG, CAROL] } }, { pattern: '**', access: { read: [AGG] } }] });
      return ws.deltaManifest('profile_0', ALICE);
    },
    reader: CAROL,
  },
  {
    name: 'a wildcard segment before /** matches a file named like the folder',
    setup: async () => {
      await writePermissions(ws.globalDir(AGG), { rules: [{ pattern: 'v*/**', access: { read: ['*'] } }, { pattern: '**', access: { read: [ALICE, BOB] } }] });
      await put(path.join(ws.globalDir(AGG), 'v000002'), 'a file, not a version folder');
      return path.join(ws.globalDir(AGG), 'v000002');
    },
    reader: '*',
  },
  {
    name: 'rules of equal specificity count with the most permissive, whatever their order in the file',
    setup: async () => {
      await writePermissions(ws.globalVersionDir(AGG, 1), {
        rules: [
          { pattern: 'Global_V.np?', access: { read: [ALICE, BOB] } },
          { pattern: '?lobal_V.npy', access: { read: ['*'] } },
        ],
      });
      return path.join(ws.globalVersionDir(AGG, 1), 'Global_V.npy');
    },
    reader: '*',
  },
  {
    name: 'a legacy syftperm.yaml counts both ways: the current server ignores it',
    setup: async () => {
      await writePermissions(ws.appData(ALICE), { rules: [{ pattern: 'profile_0/**', access: { read: [AGG, CAROL] } }, { pattern: '**', access: { read: [AGG] } }] });
      await put(path.join(ws.profileDir('profile_0', ALICE), 'syftperm.yaml'), `- {path: '**', user: ${AGG}, permissions: [read]}\n`);
      return ws.deltaManifest('profile_0', ALICE);
    },
    reader: CAROL,
  },
];

describe('the audit reports every reader the server allows', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const file = await c.setup();
      const report = await auditRoot({ dataDir, appName: APP, aggregator: AGG });
      const rel = path.relative(ws.datasitesDir, file).split(path.sep).join('/');
      const audited = report.files.find((f) => f.path === rel);
      expect(audited?.readers).toContain(c.reader);
      expect(report.violations.some((v) => v.path === rel && v.problem.includes(c.reader))).toBe(true);
      expect(report.ok).toBe(false);
    });
  }

  it('flags a rule whose template it cannot evaluate instead of passing silently', async () => {
    await put(path.join(ws.appData(BOB), 'syft.pub.yaml'), yaml(`  - pattern: '**'\n    access: {read: [${AGG}]}\n  - pattern: '{{printf "%s" .UserEmail}}/**'\n    access: {read: ['*']}\n`));
    const report = await auditRoot({ dataDir, appName: APP, aggregator: AGG });
    expect(report.violations).toEqual([
      { path: `${BOB}/app_data/${APP}/syft.pub.yaml`, problem: expect.stringMatching(/^rule "\{\{printf "%s" \.UserEmail\}\}\/\*\*" uses template syntax this audit cannot evaluate/) },
    ]);
  });

  it('still passes the intended layout', async () => {
    const report = await auditRoot({ dataDir, appName: APP, aggregator: AGG });
    expect(report.violations).toEqual([]);
  });
});
