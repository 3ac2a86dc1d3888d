import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ancestorFolders, evaluate, grants, readPermissionFolder, toDatasitesRelative, type PermissionFile } from '../../src/shared/permissions';

/**
 * What a SyftBox client would have synced to `email`'s machine from a root
 * where every datasite shares one disk: each file of datasites/ that the
 * server lets `email` read (the permission module's server semantics, legacy
 * files ignored as the current server ignores them), nothing else, and no
 * file SyftBox does not sync (0 bytes, symlinks, `*.tmp`, `*.log`). The copy
 * goes to `<targetDataDir>/datasites/`. Returns the copied paths, relative to datasites/.
 */
export async function syncView(sourceDataDir: string, email: string, targetDataDir: string): Promise<string[]> {
  const source = path.join(sourceDataDir, 'datasites');
  const target = path.join(targetDataDir, 'datasites');
  const permissions = new Map<string, PermissionFile | null>();
  const permissionsFor = async (rel: string): Promise<Map<string, PermissionFile>> => {
    const files = new Map<string, PermissionFile>();
    for (const folder of ancestorFolders(rel)) {
      if (!permissions.has(folder)) permissions.set(folder, await readPermissionFolder(source, folder, { legacy: false }).catch(() => null));
      const file = permissions.get(folder);
      if (file) files.set(folder, file);
    }
    return files;
  };
  const copied: string[] = [];
  for (const file of await walk(source)) {
    const rel = toDatasitesRelative(source, file);
    if (!grants(evaluate(await permissionsFor(rel), email, rel), 'read')) continue;
    const to = path.join(target, ...rel.split('/'));
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.copyFile(file, to);
    copied.push(rel);
  }
  return copied.sort();
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile() && !/\.(tmp|log)$/.test(entry.name) && (await fs.stat(full)).size > 0) out.push(full);
  }
  return out;
}
