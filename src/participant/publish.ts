import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PERMISSION_FILE, parsePermissions, writePermissions, type PermissionFile } from '../shared/permissions';
import type { Workspace } from '../shared/workspace';

/**
 * What a participant publishes is readable by the aggregator alone: one
 * `syft.pub.yaml` in `app_data/<app>/` whose single rule grants read to
 * AGGREGATOR_DATASITE. No one gets write, so no other participant's data is ever
 * synced here. (`blend/` has its own file: see `blend.ts`.)
 */
function participantPermissions(aggregator: string): PermissionFile {
  return { rules: [{ pattern: '**', access: { read: [aggregator], write: [], admin: [] } }] };
}

/** Write the participant's permission file unless it already says exactly this (no churn for the sync). */
export async function ensurePublishPermissions(ws: Workspace, aggregator: string): Promise<void> {
  const wanted = participantPermissions(aggregator);
  const file = path.join(ws.appData(), PERMISSION_FILE);
  try {
    const current = parsePermissions(await readFile(file, 'utf8'), file, () => undefined);
    if (JSON.stringify(current.rules) === JSON.stringify(wanted.rules) && !current.terminal) return;
  } catch {
    // absent or malformed: rewrite it
  }
  await writePermissions(ws.appData(), wanted);
}
