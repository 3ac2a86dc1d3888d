import path from 'node:path';
import { canonicalJson } from '../shared/ledger';
import { readRegularFile } from '../shared/atomic';
import { formatPermissions, isFormattedText, PERMISSION_FILE, parsePermissions, writePermissions, type PermissionFile } from '../shared/permissions';

/**
 * Who may read the aggregator's shared folder (`app_data/<app>/aggregator/`):
 * exactly the participants whose deltas were ever accepted (a contributor keeps
 * access), never everyone. They read the Global_V versions, the ledger, and the
 * experiment and community reports; nothing else there (the permission file
 * itself, so the list of contributors, included) is readable by them.
 */
const CONTRIBUTOR_READABLE: readonly string[] = ['global/**', 'ledger.jsonl', 'experiment/**', 'community/**'];

const MAX_PERMISSION_BYTES = 1024 * 1024; // 1 MiB

/** The rules of `aggregator/syft.pub.yaml`: each pattern readable by the contributors only. */
function aggregatorPermissions(contributors: readonly string[], patterns: readonly string[] = CONTRIBUTOR_READABLE): PermissionFile {
  const read = [...new Set(contributors)].sort();
  return { terminal: false, rules: patterns.map((pattern) => ({ pattern, access: { read, write: [], admin: [] } })) };
}

/** Make `<aggregatorDir>/syft.pub.yaml` grant exactly `contributors`; rewrites it only when it differs. Returns whether it wrote. */
export async function grantContributors(aggregatorDir: string, contributors: readonly string[], patterns?: readonly string[]): Promise<boolean> {
  return ensurePermissions(aggregatorDir, aggregatorPermissions(contributors, patterns));
}

/**
 * Make `<dir>/syft.pub.yaml` say exactly `wanted`; rewrites it only when it differs (no churn for the sync). Returns whether it wrote.
 * The file is usually the text this process wrote: that is compared as text, and only another text is parsed.
 */
export async function ensurePermissions(dir: string, wanted: PermissionFile): Promise<boolean> {
  const file = path.join(dir, PERMISSION_FILE);
  const text = formatPermissions(wanted, file);
  const current = await readRegularFile(file, { maxBytes: MAX_PERMISSION_BYTES }).catch(() => null);
  if (current !== null && saysTheSame(current.toString('utf8'), text, wanted, file)) return false;
  await writePermissions(dir, wanted);
  return true;
}

/** Whether the text on disk says `wanted` (which formats as `text`): compared as text, and parsed only when this process did not format it. */
function saysTheSame(currentText: string, text: string, wanted: PermissionFile, file: string): boolean {
  if (currentText === text) return true;
  if (isFormattedText(currentText)) return false; // another text this process formatted says other rules
  try {
    return canonicalJson(parsePermissions(currentText, file)) === canonicalJson({ terminal: false, ...wanted });
  } catch {
    return false; // malformed: overwritten
  }
}
