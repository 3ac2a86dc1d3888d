import {
  PERMISSION_FILE,
  parsePermissions,
  writePermissions
} from "./chunk-TBES3XCL.js";

// src/participant/publish.ts
import { readFile } from "node:fs/promises";
import path from "node:path";
function participantPermissions(aggregator) {
  return { rules: [{ pattern: "**", access: { read: [aggregator], write: [], admin: [] } }] };
}
async function ensurePublishPermissions(ws, aggregator) {
  const wanted = participantPermissions(aggregator);
  const file = path.join(ws.appData(), PERMISSION_FILE);
  try {
    const current = parsePermissions(await readFile(file, "utf8"), file, () => void 0);
    if (JSON.stringify(current.rules) === JSON.stringify(wanted.rules) && !current.terminal) return;
  } catch {
  }
  await writePermissions(ws.appData(), wanted);
}

export {
  ensurePublishPermissions
};
//# sourceMappingURL=chunk-NT3X3JSI.js.map
