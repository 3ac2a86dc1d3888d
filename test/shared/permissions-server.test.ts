import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileTemplate, templateData } from '../../src/shared/acl-template';
import {
  EVERYONE,
  PERMISSION_FILE,
  accessOf,
  canRead,
  evaluate,
  parsePermissions,
  readableHere,
  uncheckedPatterns,
  writePermissions,
  type AccessLevel,
  type PermissionFile,
} from '../../src/shared/permissions';
import { createEmbeddedDatasite } from '../../src/shared/workspace';

/**
 * Cases where the SyftBox server (OpenMined/syftbox internal/server/acl) grants
 * more than a reading of the format suggests. Each row is what the server
 * answers; the permission module (and so the audit) must answer the same.
 */

const A = 'a@x.org';
const B = 'b@y.org';
const C = 'c@z.org';
const NOW = new Date('2026-03-07T12:00:00Z');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Case {
  name: string;
  files: Record<string, PermissionFile>;
  expect: [user: string, target: string, level: AccessLevel][];
}

const rule = (pattern: string, access: PermissionFile['rules'][number]['access']) => ({ pattern, access });

const CASES: Case[] = [
  {
    name: 'ownership is a string-prefix test: bob@x.co owns bob@x.com/…',
    files: { 'bob@x.com': { rules: [rule('**', { read: [] })] } },
    expect: [
      ['bob@x.co', 'bob@x.com/app/delta.json', 'admin'],
      ['bob@x.com', 'bob@x.com/app/delta.json', 'admin'],
      ['bob@x.com', 'bob@x.co/f', 'none'],
      ['bob@x.comm', 'bob@x.com/f', 'none'],
    ],
  },
  {
    name: '{{.UserHash}}, sha2, upper and lower resolve per user',
    files: {
      [A]: {
        rules: [
          rule('hash/{{.UserHash}}/**', { read: ['USER'] }),
          rule('short/{{sha2 .UserEmail 8}}/**', { read: ['USER'] }),
          rule('loud/{{.UserEmail | upper}}/**', { read: ['USER'] }),
          rule('quiet/{{lower "MiXeD"}}/**', { read: [B] }),
        ],
      },
    },
    expect: [
      [B, `${A}/hash/${sha256(B).slice(0, 16)}/f`, 'read'],
      [C, `${A}/hash/${sha256(B).slice(0, 16)}/f`, 'none'],
      [B, `${A}/short/${sha256(B).slice(0, 8)}/f`, 'read'],
      [B, `${A}/loud/${B.toUpperCase()}/f`, 'read'],
      [B, `${A}/quiet/mixed/f`, 'read'],
    ],
  },
  {
    name: 'date templates resolve at the time of the request (UTC)',
    files: { [A]: { rules: [rule('logs/{{.Year}}-{{.Month}}-{{.Date}}/**', { read: [B] })] } },
    expect: [
      [B, `${A}/logs/2026-03-07/f`, 'read'],
      [B, `${A}/logs/2026-03-06/f`, 'none'],
    ],
  },
  {
    name: 'for the public pseudo-user, {{.UserEmail}} matches every folder and USER is everyone',
    files: { [A]: { rules: [rule('inbox/{{.UserEmail}}/**', { read: ['USER'] })] } },
    expect: [
      [EVERYONE, `${A}/inbox/${B}/secret.json`, 'read'],
      [C, `${A}/inbox/${B}/secret.json`, 'none'],
      [B, `${A}/inbox/${B}/secret.json`, 'read'],
    ],
  },
  {
    name: 'a template the server cannot parse drops that rule only; one that fails to execute matches nothing',
    files: {
      [A]: {
        rules: [
          rule('x/{{nosuchfunction .UserEmail}}/**', { read: ['*'] }),
          rule('x/{{.NoSuchField}}/**', { read: ['*'] }),
          rule('x/**', { read: [B] }),
        ],
      },
    },
    expect: [
      [B, `${A}/x/${B}/f`, 'read'],
      [C, `${A}/x/${C}/f`, 'none'],
    ],
  },
  {
    name: 'bracket classes, negated with ! or ^, and ranges',
    files: { [A]: { rules: [rule('profile_[!0]/**', { read: [B] }), rule('log_[^a-m]*', { read: [C] }), rule('v[0-2].json', { read: [C] })] } },
    expect: [
      [B, `${A}/profile_1/delta.json`, 'read'],
      [B, `${A}/profile_0/delta.json`, 'none'],
      [C, `${A}/log_zeta.txt`, 'read'],
      [C, `${A}/log_alpha.txt`, 'none'],
      [C, `${A}/v2.json`, 'read'],
      [C, `${A}/v3.json`, 'none'],
    ],
  },
  {
    name: 'a wildcard segment before /** also matches the folder name itself (here, a file by that name)',
    files: { [A]: { rules: [rule('profile_*/**', { read: [B] })] } },
    expect: [
      [B, `${A}/profile_3`, 'read'],
      [B, `${A}/profile_3/delta.json`, 'read'],
      [B, `${A}/other`, 'none'],
    ],
  },
  {
    name: 'rules of equal specificity: the most permissive matching one decides, in any file order',
    files: {
      [A]: { rules: [rule('?.txt', { read: [] }), rule('a.tx?', { read: [B] }), rule('a.tx?', { write: [C] })] },
      [B]: { rules: [rule('a.tx?', { write: [C] }), rule('a.tx?', { read: [A] }), rule('?.txt', { read: [] })] },
    },
    expect: [
      [B, `${A}/a.txt`, 'read'],
      [C, `${A}/a.txt`, 'write'],
      [A, `${B}/a.txt`, 'read'],
      [C, `${B}/a.txt`, 'write'],
    ],
  },
  {
    name: 'alternatives and globs in access lists are matched like the server',
    files: { [A]: { rules: [rule('{data,logs}/*.json', { read: ['*@y.org', 'c@[yz].org'] })] } },
    expect: [
      [B, `${A}/data/f.json`, 'read'],
      [C, `${A}/logs/f.json`, 'read'],
      [B, `${A}/other/f.json`, 'none'],
      [EVERYONE, `${A}/data/f.json`, 'none'],
    ],
  },
];

describe('evaluate follows the SyftBox server', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const files = new Map(Object.entries(c.files));
      const got = c.expect.map(([user, target]) => [user, target, evaluate(files, user, target, NOW)]);
      expect(got).toEqual(c.expect);
    });
  }
});

describe('parsePermissions decodes like the server (yaml.v3)', () => {
  it('takes yes/no/on/off for terminal', () => {
    expect(parsePermissions('terminal: yes\nrules: []\n', 'f').terminal).toBe(true);
    expect(parsePermissions('terminal: Off\nrules: []\n', 'f').terminal).toBe(false);
  });

  it('reads only the first YAML document', () => {
    const text = "rules:\n  - pattern: '**'\n    access: {read: ['*']}\n---\nrules: [\n";
    expect(parsePermissions(text, 'f').rules).toEqual([{ pattern: '**', access: { read: ['*'], write: [], admin: [] } }]);
  });

  it('turns scalars in string places into strings', () => {
    const parsed = parsePermissions("rules:\n  - pattern: 2026\n    access: {read: [1, true, ~]}\n", 'f');
    expect(parsed.rules).toEqual([{ pattern: '2026', access: { read: ['1', 'true', ''], write: [], admin: [] } }]);
  });

  it('accepts every template at parse time and names the ones it cannot evaluate', () => {
    const file = parsePermissions(
      "rules:\n  - pattern: '{{.Year}}/**'\n    access: {read: []}\n  - pattern: '{{if .UserEmail}}x{{end}}'\n    access: {read: ['*']}\n",
      'f',
    );
    expect(uncheckedPatterns(file, A)).toEqual(['{{if .UserEmail}}x{{end}}']);
  });
});

describe('compileTemplate', () => {
  const data = templateData(B, NOW);
  const run = (text: string) => {
    const compiled = compileTemplate(text);
    return compiled.kind === 'ok' ? compiled.execute(data) : compiled.kind;
  };

  it('evaluates fields, functions, literals and pipes as Go does', () => {
    expect(run('{{.UserEmail}}/x')).toBe(`${B}/x`);
    expect(run('{{sha2 .UserEmail}}')).toBe(sha256(B));
    expect(run('{{sha2 .UserEmail 0}}')).toBe(sha256(B).slice(0, 16));
    expect(run('{{sha2 .UserEmail 200}}')).toBe(sha256(B));
    expect(run('{{.UserEmail | lower | sha2}}')).toBe(sha256(B));
    expect(run('a {{- .Month -}} b')).toBe('a03b');
  });

  it('fails to execute where Go does: wrong argument types, unknown fields, too many arguments', () => {
    expect(run('{{.UserEmail | sha2 8}}')).toBeNull(); // the pipe passes the email as the LAST argument
    expect(run('{{sha2 .UserEmail 300}}')).toBeNull();
    expect(run('{{.Nope}}')).toBeNull();
    expect(run('{{upper .UserEmail .Year}}')).toBeNull();
  });

  it('tells what the server could not parse from what it could but this module does not evaluate', () => {
    expect(run('{{nosuch .UserEmail}}')).toBe('invalid');
    expect(run('}}{{.UserEmail')).toBe('invalid');
    expect(run('{{}}')).toBe('invalid');
    expect(run('{{printf "%s" .UserEmail}}')).toBe('unsupported');
    expect(run('{{with .UserEmail}}{{.}}{{end}}')).toBe('unsupported');
    expect(run('{{/* note */}}')).toBe('unsupported');
  });
});

describe('permission files the server never has', () => {
  let dataDir: string;
  let datasites: string;

  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'perm-server-'));
    datasites = path.join(dataDir, 'datasites');
    createEmbeddedDatasite(dataDir, A);
    await writePermissions(path.join(datasites, A), { rules: [{ pattern: 'app/**', access: { read: [B] } }] });
    await fs.mkdir(path.join(datasites, A, 'app'), { recursive: true });
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const target = () => path.join(datasites, A, 'app', 'f.json');

  it('an empty (0-byte) syft.pub.yaml is never synced: the folder above governs', async () => {
    await fs.writeFile(path.join(datasites, A, 'app', PERMISSION_FILE), '');
    expect(await accessOf(datasites, B, target())).toBe('read');
  });

  it('a syft.pub.yaml that does not parse is skipped: the folder above governs', async () => {
    await fs.writeFile(path.join(datasites, A, 'app', PERMISSION_FILE), 'rules:\n  - access: {read: []}\n');
    expect(await accessOf(datasites, B, target())).toBe('read');
  });

  it('a symlinked syft.pub.yaml is never synced: the folder above governs', async () => {
    const elsewhere = path.join(dataDir, 'owner-only.yaml');
    await fs.writeFile(elsewhere, "rules:\n  - pattern: '**'\n    access: {read: []}\n");
    await fs.symlink(elsewhere, path.join(datasites, A, 'app', PERMISSION_FILE));
    expect(await accessOf(datasites, B, target())).toBe('read');
  });

  it('a non-empty file with only comments is owner-only, as the server reads it', async () => {
    await fs.writeFile(path.join(datasites, A, 'app', PERMISSION_FILE), '# nothing yet\n');
    expect(await accessOf(datasites, B, target())).toBe('none');
  });
});

describe('readableHere', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'readable-'));
    createEmbeddedDatasite(dataDir, A);
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('under a SyftBox client, what sync delivered is readable: no permission file needs to be here', async () => {
    const datasitesDir = path.join(dataDir, 'datasites');
    const file = path.join(datasitesDir, A, 'shared', 'f.json');
    expect(await canRead(datasitesDir, B, file)).toBe(false); // A's root file is owner-only here
    expect(await readableHere({ datasitesDir, email: B, embedded: false }, file)).toBe(true);
    expect(await readableHere({ datasitesDir, email: B, embedded: true }, file)).toBe(false);
    await writePermissions(path.join(datasitesDir, A, 'shared'), { rules: [{ pattern: '**', access: { read: [B] } }] });
    expect(await readableHere({ datasitesDir, email: B, embedded: true }, file)).toBe(true);
  });
});
