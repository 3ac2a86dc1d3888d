import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/shared/errors';
import {
  EVERYONE,
  PERMISSION_FILE,
  accessOf,
  canRead,
  evaluate,
  formatPermissions,
  grants,
  otherWriters,
  parseLegacyPermissions,
  parsePermissions,
  readPermissionFolder,
  specificity,
  toDatasitesRelative,
  writePermissions,
  writersBesidesOwner,
  type AccessLevel,
  type PermissionFile,
} from '../../src/shared/permissions';
import { createEmbeddedDatasite } from '../../src/shared/workspace';

const A = 'a@x.org';
const B = 'b@y.org';
const C = 'c@z.org';
const D = 'd@example.org';

const readBy = (pattern: string, read: string[]) => ({ pattern, access: { read } });

interface Case {
  name: string;
  files: Record<string, PermissionFile>;
  expect: [user: string, target: string, level: AccessLevel][];
}

const CASES: Case[] = [
  {
    name: 'nearest file wins, nothing inherited from the parent',
    files: {
      [A]: { rules: [readBy('**', [B])] },
      [`${A}/app`]: { rules: [readBy('**', [C])] },
    },
    expect: [
      [B, `${A}/app/f.json`, 'none'],
      [C, `${A}/app/deep/f.json`, 'read'],
      [B, `${A}/other/f.json`, 'read'],
      [C, `${A}/other/f.json`, 'none'],
    ],
  },
  {
    name: 'conflicting rules: the most specific matching pattern wins, file order does not matter',
    files: {
      [A]: {
        rules: [readBy('**', [B]), readBy('*.json', [C]), readBy('secret/**', []), readBy('secret/key.json', [D])],
      },
    },
    expect: [
      [C, `${A}/x.json`, 'read'],
      [B, `${A}/x.json`, 'none'],
      [B, `${A}/dir/x.json`, 'read'],
      [B, `${A}/secret/other.txt`, 'none'],
      [D, `${A}/secret/key.json`, 'read'],
      [C, `${A}/secret/key.json`, 'none'],
    ],
  },
  {
    name: "'*' grants every user and the anonymous EVERYONE",
    files: { [A]: { rules: [readBy('public/**', ['*'])] } },
    expect: [
      [B, `${A}/public/index.html`, 'read'],
      [EVERYONE, `${A}/public/.hidden`, 'read'],
      [B, `${A}/private.txt`, 'none'],
    ],
  },
  {
    name: "USER with a plain pattern is everyone; with {{.UserEmail}} only the user's own folder, and the public pseudo-user's",
    files: {
      [A]: { rules: [readBy('open/**', ['USER'])] },
      [`${A}/inbox`]: { rules: [{ pattern: '{{.UserEmail}}/**', access: { read: ['USER'], write: ['USER'] } }] },
    },
    expect: [
      [C, `${A}/open/f`, 'read'],
      [EVERYONE, `${A}/open/f`, 'read'],
      [B, `${A}/inbox/${B}/m.json`, 'write'],
      [C, `${A}/inbox/${B}/m.json`, 'none'],
      // the server resolves {{.UserEmail}} to '*' for the public pseudo-user: the glob matches every folder
      [EVERYONE, `${A}/inbox/${B}/m.json`, 'write'],
    ],
  },
  {
    name: 'email globs match users by email, never the anonymous EVERYONE',
    files: { [A]: { rules: [readBy('**', ['*@example.org'])] } },
    expect: [
      [D, `${A}/f`, 'read'],
      ['first.last@example.org', `${A}/f`, 'read'],
      [B, `${A}/f`, 'none'],
      [EVERYONE, `${A}/f`, 'none'],
    ],
  },
  {
    name: 'a terminal file higher up wins over a nearer one below it',
    files: {
      [`${A}/t`]: { terminal: true, rules: [readBy('**', [B])] },
      [`${A}/t/sub`]: { rules: [readBy('**', [C])] },
    },
    expect: [
      [B, `${A}/t/sub/f`, 'read'],
      [C, `${A}/t/sub/f`, 'none'],
    ],
  },
  {
    name: 'the datasite owner always has admin',
    files: { [A]: { terminal: true, rules: [readBy('**', [])] } },
    expect: [
      [A, `${A}/anything/at/all`, 'admin'],
      [A, `${A}/${PERMISSION_FILE}`, 'admin'],
      [A, `${B}/f`, 'none'],
    ],
  },
  {
    name: 'levels nest: admin over write over read',
    files: { [A]: { rules: [{ pattern: '**', access: { admin: [B], write: [C], read: [D] } }] } },
    expect: [
      [B, `${A}/f`, 'admin'],
      [C, `${A}/f`, 'write'],
      [D, `${A}/f`, 'read'],
      ['e@e.org', `${A}/f`, 'none'],
    ],
  },
  {
    name: 'no permission file or no matching rule denies',
    files: { [A]: { rules: [readBy('x/**', ['*'])] }, [`${A}/empty`]: { rules: [] } },
    expect: [
      [B, `${A}/y/f`, 'none'],
      [B, `${A}/empty/x/f`, 'none'],
      [C, `${B}/f`, 'none'],
    ],
  },
  {
    name: 'writing a syft.pub.yaml needs admin: a folder writer only reads it',
    files: { [A]: { rules: [{ pattern: '**', access: { write: [C], admin: [B] } }] } },
    expect: [
      [C, `${A}/${PERMISSION_FILE}`, 'read'],
      [C, `${A}/data.json`, 'write'],
      [B, `${A}/${PERMISSION_FILE}`, 'admin'],
    ],
  },
];

describe('evaluate', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const files = new Map(Object.entries(c.files));
      const got = c.expect.map(([user, target]) => [user, target, evaluate(files, user, target)]);
      expect(got).toEqual(c.expect);
    });
  }

  it('grants() encodes admin ⊇ write ⊇ read', () => {
    expect(grants('admin', 'write') && grants('write', 'read') && grants('read', 'read')).toBe(true);
    expect(grants('read', 'write') || grants('none', 'read') || grants('write', 'admin')).toBe(false);
  });

  it('orders patterns like the Go server (calculateGlobSpecificity)', () => {
    const patterns = ['**', '**/*', '*.csv', 'public/**', 'public/data.csv'];
    expect([...patterns].sort((a, b) => specificity(b) - specificity(a))).toEqual(['public/data.csv', 'public/**', '*.csv', '**/*', '**']);
  });

  it('rejects targets that leave datasites/', () => {
    expect(() => evaluate(new Map(), B, `${A}/../${B}/f`)).toThrow(RangeError);
  });
});

describe('otherWriters', () => {
  const target = `${A}/app_data/app/profile_0/delta.json`;
  const writers = (access: PermissionFile['rules'][number]['access'], pattern = '**') => otherWriters(new Map([[`${A}/app_data/app`, { rules: [{ pattern, access }] }]]), target);

  it('names everyone besides the owner who may write, including globs that stand for everyone (issue 20: *@*)', () => {
    expect(writers({ read: [B] })).toEqual([]);
    expect(writers({ read: [B], write: [] })).toEqual([]);
    expect(writers({ write: ['*@*'] })).toEqual(['*@*']);
    expect(writers({ write: ['*@example.org'] })).toEqual(['*@example.org']);
    expect(writers({ write: [B] })).toEqual([B]);
    expect(writers({ admin: [C] })).toEqual([C]);
    expect(writers({ write: ['*'] })).toEqual([EVERYONE]);
    expect(writers({ read: [B], write: ['USER'] })).toEqual([B, EVERYONE]);
    expect(writers({ write: [A] })).toEqual([]);
    expect(writers({ write: ['*@*'] }, 'other/**')).toEqual([]);
    // The public pseudo-user resolves {{.UserEmail}} to '*', so a per-user folder rule grants it too (see permissions.ts).
    expect(writers({ write: ['USER'] }, '{{.UserEmail}}/**')).toEqual([EVERYONE]);
  });
});

describe('parsePermissions', () => {
  it('reads the documented format', () => {
    const text = "terminal: true\nrules:\n  - pattern: 'delta/**'\n    access:\n      read: [agg@x.org]\n      write: []\n";
    expect(parsePermissions(text, 'f.yaml')).toEqual({
      terminal: true,
      rules: [{ pattern: 'delta/**', access: { read: ['agg@x.org'], write: [], admin: [] } }],
    });
  });

  it('treats an empty file as owner-only', () => {
    expect(parsePermissions('', 'f.yaml')).toEqual({ terminal: false, rules: [] });
  });

  it('ignores unknown keys like the Go server and reports them', () => {
    const reported: string[][] = [];
    const text = "owner: me\nrules:\n  - pattern: '**'\n    limits: {maxFiles: 3}\n    access: {read: ['*'], delete: []}\n";
    const parsed = parsePermissions(text, 'f.yaml', ({ keys }) => reported.push(keys));
    expect(reported).toEqual([['owner', 'rules[0].limits', 'rules[0].access.delete']]);
    expect(parsed.rules).toEqual([{ pattern: '**', access: { read: ['*'], write: [], admin: [] } }]);
  });

  const MALFORMED: [string, string][] = [
    ['broken YAML', 'rules: [\n'],
    ['duplicate keys', 'rules: []\nrules: []\n'],
    ['a list at the top', '- pattern: x\n'],
    ['terminal not a boolean', 'terminal: maybe\nrules: []\n'],
    ['rules not a list', 'rules: {pattern: x}\n'],
    ['rule without pattern', 'rules:\n  - access: {read: []}\n'],
    ['rule without access', "rules:\n  - pattern: '**'\n"],
    ['access list not a list', "rules:\n  - pattern: '**'\n    access: {read: a@x.org}\n"],
    ['a list where a string belongs', "rules:\n  - pattern: '**'\n    access: {read: [[a@x.org]]}\n"],
    ['an empty pattern', "rules:\n  - pattern: ~\n    access: {read: []}\n"],
  ];
  for (const [name, text] of MALFORMED) {
    it(`rejects ${name} with ERR_PERMISSION_FILE naming the file`, () => {
      const file = '/root/datasites/a@x.org/syft.pub.yaml';
      const err = catchError(() => parsePermissions(text, file));
      expect(isAppError(err, 'ERR_PERMISSION_FILE')).toBe(true);
      expect((err as Error).message).toContain(file);
    });
  }
});

describe('toDatasitesRelative', () => {
  it('gives what path.relative gives, for normalized paths and for those it must resolve', () => {
    const dir = '/r/datasites';
    const reference = (target: string) => {
      const rel = path.relative(path.resolve(dir), path.resolve(target));
      return rel === '' || rel === '..' || rel.startsWith('../') ? 'outside' : rel;
    };
    const targets = ['a@b/x', '...x/./y', 'a@b/./x', 'a@b/../c/x', '/a', 'a/', 'a//b', '...x/y', '.', '..', 'a/..', '../datasites/a', './a'].map((t) => `${dir}/${t}`);
    for (const target of [...targets, '/r/datasitesX/a', '/elsewhere/a']) {
      let got: string;
      try {
        got = toDatasitesRelative(dir, target);
      } catch {
        got = 'outside';
      }
      expect({ target, got }).toEqual({ target, got: reference(target) });
    }
  });
});

describe('formatPermissions', () => {
  // strings of the characters it does not parse back (emails, globs), among them ones YAML would read as other types
  const plain = ['123', 'true', 'null', 'no', '1e3', '0x1F', '**', '*.npy', 'global/**', 'a.b+c@d-e.f', '_x', 'user1000@eval.local'];
  it('writes plain strings so that they parse back as the same strings', () => {
    const file: PermissionFile = { terminal: false, rules: plain.map((pattern) => ({ pattern, access: { read: plain, write: [B], admin: [] } })) };
    expect(parsePermissions(formatPermissions(file, 'plain'), 'plain')).toEqual(file);
  });
  it('writes any other string so that it parses back too (checked by parsing)', () => {
    const odd = ['- dash', '#hash', 'key: value', '"quoted"', "it's", 'tab\there', '[a]', '{b}', '&anchor', '!tag', '%pct', '@at', '|pipe', '>gt', ' lead', 'trail '];
    const file: PermissionFile = { terminal: true, rules: odd.map((pattern) => ({ pattern, access: { read: odd, write: [], admin: [] } })) };
    expect(parsePermissions(formatPermissions(file, 'odd'), 'odd')).toEqual(file);
  });
});

describe('parseLegacyPermissions', () => {
  const LEGACY = [
    "- {path: '**', user: '*', permissions: [read]}",
    "- {path: secret.txt, user: '*', permissions: read, type: disallow}",
    `- {path: '**', user: ${B}, permissions: [read, write]}`,
    `- {path: 'write-only/**', user: ${C}, permissions: [write]}`,
    `- {path: '{useremail}/*', user: '*', permissions: [read, create]}`,
    `- {path: 'admin/**', user: ${D}, permissions: [ADMIN]}`,
  ].join('\n');

  it('folds allow/disallow per path into the current model', () => {
    const files = new Map([[A, parseLegacyPermissions(LEGACY, 'syftperm.yaml')]]);
    const cases: [string, string, AccessLevel][] = [
      [EVERYONE, `${A}/f`, 'read'],
      [B, `${A}/f`, 'write'],
      [EVERYONE, `${A}/secret.txt`, 'none'],
      [B, `${A}/secret.txt`, 'write'],
      [C, `${A}/write-only/f`, 'read'],
      [C, `${A}/${C}/f`, 'write'],
      [D, `${A}/admin/f`, 'admin'],
    ];
    expect(cases.map(([u, t]) => [u, t, evaluate(files, u, t)])).toEqual(cases);
  });

  it('translates {useremail} into the {{.UserEmail}} template', () => {
    const parsed = parseLegacyPermissions(LEGACY, 'syftperm.yaml');
    expect(parsed.rules.map((r) => r.pattern)).toContain('{{.UserEmail}}/*');
  });

  for (const [name, text] of [
    ['not a list', 'rules: []\n'],
    ['an unknown key', "- {path: '**', user: '*', permissions: [read], terminal: true}\n"],
    ['a bad permission', "- {path: '**', user: '*', permissions: [delete]}\n"],
    ['a bad user', "- {path: '**', user: bob, permissions: [read]}\n"],
    ['a parent path', "- {path: '../**', user: '*', permissions: [read]}\n"],
  ] as const) {
    it(`rejects ${name} with ERR_PERMISSION_FILE`, () => {
      const err = catchError(() => parseLegacyPermissions(text, 'x/syftperm.yaml'));
      expect(isAppError(err, 'ERR_PERMISSION_FILE') && err.file).toBe('x/syftperm.yaml');
    });
  }
});

describe('permission files on disk', () => {
  let dataDir: string;
  let datasites: string;

  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'perm-'));
    datasites = path.join(dataDir, 'datasites');
    createEmbeddedDatasite(dataDir, A);
  });
  afterEach(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('refuses write or admin for everyone, and writes nothing', async () => {
    const dir = path.join(datasites, A, 'shared');
    await expect(writePermissions(dir, { rules: [{ pattern: '**', access: { write: ['*'] } }] })).rejects.toThrow(RangeError);
    await expect(writePermissions(dir, { rules: [{ pattern: '**', access: { admin: ['*'] } }] })).rejects.toThrow(RangeError);
    await expect(writePermissions(dir, { rules: [{ pattern: 'in/**', access: { write: ['USER'] } }] })).rejects.toThrow(RangeError);
    await expect(fs.access(path.join(dir, PERMISSION_FILE))).rejects.toThrow();
  });

  it('sees a rewritten permission file at once (the parse cache follows the file)', async () => {
    const dir = path.join(datasites, A, 'app_data', 'app');
    const target = path.join(dir, 'profile_0', 'delta.json');
    await writePermissions(dir, { rules: [{ pattern: '**', access: { read: [B] } }] });
    expect(await canRead(datasites, B, target)).toBe(true);
    expect(await canRead(datasites, C, target)).toBe(false);
    await writePermissions(dir, { rules: [{ pattern: '**', access: { read: [C] } }] });
    expect(await canRead(datasites, B, target)).toBe(false);
    expect(await canRead(datasites, C, target)).toBe(true);
    await fs.rm(path.join(dir, PERMISSION_FILE));
    expect(await canRead(datasites, C, target)).toBe(false);
  });

  it('writes atomically a file that parses back to the same rules', async () => {
    const dir = path.join(datasites, A, 'app_data', 'app');
    const file: PermissionFile = {
      terminal: true,
      rules: [
        { pattern: 'profile_*/**', access: { read: [B] } },
        { pattern: '{{.UserEmail}}/**', access: { read: ['USER'], write: ['USER'], admin: [] } },
      ],
    };
    await writePermissions(dir, file);
    const text = await fs.readFile(path.join(dir, PERMISSION_FILE), 'utf8');
    expect(parsePermissions(text, 'written')).toEqual({
      terminal: true,
      rules: [
        { pattern: 'profile_*/**', access: { read: [B], write: [], admin: [] } },
        { pattern: '{{.UserEmail}}/**', access: { read: ['USER'], write: ['USER'], admin: [] } },
      ],
    });
    expect(await fs.readdir(dir)).toEqual([PERMISSION_FILE]);
  });

  it('answers accessOf / canRead / writersBesidesOwner from the files on disk', async () => {
    const app = path.join(datasites, A, 'app_data', 'app');
    await writePermissions(app, { rules: [{ pattern: 'profile_*/**', access: { read: [B], write: [C] } }] });
    const delta = path.join(app, 'profile_0', 'delta.json');
    expect(await accessOf(datasites, B, delta)).toBe('read');
    expect(await canRead(datasites, B, delta)).toBe(true);
    expect(await writersBesidesOwner(datasites, delta)).toEqual([C]);
    expect(await canRead(datasites, B, path.join(datasites, A, 'notes.txt'))).toBe(false); // default owner-only root
    expect(await canRead(datasites, D, path.join(datasites, A, 'public', 'index.html'))).toBe(true); // default public/
    expect(await accessOf(datasites, A, delta)).toBe('admin');
    await expect(accessOf(datasites, B, path.join(dataDir, 'private', 'x'))).rejects.toThrow(RangeError);
  });

  it('reads a legacy syftperm.yaml, but a syft.pub.yaml beside it wins', async () => {
    const legacyDir = path.join(datasites, A, 'old');
    await fs.mkdir(legacyDir, { recursive: true });
    await fs.writeFile(path.join(legacyDir, 'syftperm.yaml'), `- {path: '**', user: ${B}, permissions: [read]}\n`);
    const target = path.join(legacyDir, 'f.txt');
    expect(await canRead(datasites, B, target)).toBe(true);
    await writePermissions(legacyDir, { rules: [{ pattern: '**', access: { read: [C] } }] });
    expect([await canRead(datasites, B, target), await canRead(datasites, C, target)]).toEqual([false, true]);
    expect(await readPermissionFolder(datasites, `${A}/nothing-here`)).toBeNull();
  });

  it('names the malformed file on disk, and skips it for access like the server: the folder above governs', async () => {
    const dir = path.join(datasites, A, 'bad');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, PERMISSION_FILE), 'rules: [\n');
    const err = await readPermissionFolder(datasites, `${A}/bad`).catch((e: unknown) => e);
    expect(isAppError(err, 'ERR_PERMISSION_FILE') && err.file).toBe(path.join(dir, PERMISSION_FILE));
    await writePermissions(path.join(datasites, A), { rules: [{ pattern: 'bad/**', access: { read: [B] } }] });
    expect(await accessOf(datasites, B, path.join(dir, 'f'))).toBe('read');
    expect(await accessOf(datasites, C, path.join(dir, 'f'))).toBe('none');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}
