import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/shared/config';

/**
 * An app folder as SyftBox holds one (apps/<name>), made of links to this
 * checkout, for tests that start run.sh. Its node_modules is a folder of its
 * own (a link per package) with run.sh's install stamp for this checkout's
 * package-lock.json: run.sh never runs `npm ci` in a test, whatever stamp the
 * checkout's node_modules carries (worktrees may share one node_modules).
 */
const APP_ENTRIES = ['run.sh', 'package.json', 'package-lock.json', 'tsconfig.json', 'src', 'data', 'ui'];
const INSTALL_STAMP = '.install-stamp';

/** Fill `app` (created if missing) with links to this checkout, except `omit`. */
export function linkAppFolder(app: string, omit: string[] = []): void {
  mkdirSync(app, { recursive: true });
  for (const entry of APP_ENTRIES.filter((e) => !omit.includes(e))) symlinkSync(path.join(PROJECT_ROOT, entry), path.join(app, entry));
  const modules = path.join(app, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(path.join(PROJECT_ROOT, 'node_modules'))) {
    if (entry !== INSTALL_STAMP) symlinkSync(path.join(PROJECT_ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  // what run.sh writes after an install: the sha256 of package-lock.json
  writeFileSync(path.join(modules, INSTALL_STAMP), createHash('sha256').update(readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'))).digest('hex'));
}
