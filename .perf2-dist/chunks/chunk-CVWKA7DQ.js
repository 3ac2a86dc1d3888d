import {
  INBOX_DIR,
  MASKED_MANIFEST
} from "./chunk-65BIV6JN.js";
import {
  EVERYONE,
  ancestorFolders,
  evaluate,
  grants,
  namedPrincipals,
  readPermissionFolder,
  toDatasitesRelative,
  uncheckedPatterns
} from "./chunk-TBES3XCL.js";
import {
  Workspace,
  isEmailFolder,
  isProfileName
} from "./chunk-GYULMU4S.js";
import {
  AppError,
  isAppError
} from "./chunk-3L2Z3EX5.js";

// src/aggregator/audit.ts
import { promises as fs } from "node:fs";
import path from "node:path";
var NOT_SYNCED_SUFFIXES = [".tmp", ".log"];
async function auditRoot({ dataDir, appName, aggregator, now = /* @__PURE__ */ new Date() }) {
  const ws = new Workspace({ email: aggregator, dataDir }, appName);
  const sites = await listDatasites(ws.datasitesDir);
  const published = [];
  for (const owner of sites) {
    for (const abs of await listSyncedFiles(ws.appData(owner))) published.push({ abs, rel: toDatasitesRelative(ws.datasitesDir, abs), owner });
  }
  const violations = [];
  const warnings = [];
  const folders = [...new Set(published.flatMap(({ rel }) => ancestorFolders(rel)))].sort();
  const views = await Promise.all(
    [false, true].map(async (legacy) => {
      const permissions = /* @__PURE__ */ new Map();
      for (const folder of folders) {
        try {
          const file = await readPermissionFolder(ws.datasitesDir, folder, {
            legacy,
            onUnknownKeys: ({ file: name, keys }) => warnings.push(`${toDatasitesRelative(ws.datasitesDir, name)}: unknown keys ignored: ${keys.join(", ")}`)
          });
          if (file !== null) permissions.set(folder, file);
        } catch (err) {
          if (!isAppError(err, "ERR_PERMISSION_FILE") || err.file === void 0) throw err;
          const problem = `malformed permission file (ignored): ${err.message}`;
          const where = toDatasitesRelative(ws.datasitesDir, err.file);
          if (!violations.some((v) => v.path === where)) violations.push({ path: where, problem });
        }
      }
      return permissions;
    })
  );
  for (const [folder, file] of views[0]) {
    for (const pattern of uncheckedPatterns(file, folder)) {
      violations.push({ path: `${folder}/syft.pub.yaml`, problem: `rule "${pattern}" uses template syntax this audit cannot evaluate; the server may apply it: check who it grants by hand` });
    }
  }
  const contributors = new Set(published.filter(({ abs, owner }) => isContribution(ws, abs, owner)).map(({ owner }) => owner));
  const principals = [.../* @__PURE__ */ new Set([...sites, ...views.flatMap((files2) => namedPrincipals(files2.values()))])].sort();
  const holders = (rel, needed) => {
    const has = (user) => views.some((permissions) => grants(evaluate(permissions, user, rel, now), needed));
    const named = principals.filter(has);
    return has(EVERYONE) ? [...named, EVERYONE] : named;
  };
  const files = published.map(({ abs, rel, owner }) => ({
    path: rel,
    owner,
    readers: holders(rel, "read"),
    writers: holders(rel, "write"),
    kind: classify(ws, abs, owner)
  }));
  for (const file of files) {
    for (const problem of judge(file, aggregator, contributors)) violations.push({ path: file.path, problem });
  }
  return { files, violations, warnings: [...new Set(warnings)], ok: violations.length === 0 };
}
function judge(file, aggregator, contributors) {
  const problems = [];
  const others = (list, allowed) => list.filter((p) => !allowed.includes(p));
  const extraReaders = others(file.readers, [file.owner, aggregator]);
  if ((file.kind === "profile" || file.kind === "secagg") && extraReaders.length > 0) {
    problems.push(`participant file readable by ${extraReaders.join(", ")}: only its owner and the aggregator may read it`);
  }
  if (file.kind === "secagg-round" && extraReaders.includes(EVERYONE)) {
    problems.push("secure-round file readable by everyone: only the round's members may read it");
  }
  if (file.kind === "secagg-round" && path.posix.basename(path.posix.dirname(file.path)) === INBOX_DIR && extraReaders.length > 1) {
    problems.push(`inbox readable by ${extraReaders.join(", ")}: only the member it is sealed for may read it`);
  }
  if (file.kind === "blend" && (extraReaders.length > 1 || extraReaders.includes(EVERYONE))) {
    problems.push(`blend file readable by ${extraReaders.join(", ")}: only its owner, the aggregator and one friend may read it`);
  }
  if (file.kind === "global") {
    const outsiders = others(file.readers, [aggregator, ...contributors]);
    if (outsiders.length > 0) problems.push(`global model readable by ${outsiders.join(", ")}, who never published a delta`);
  }
  const coWriters = others(file.writers, [file.owner, aggregator]);
  if (coWriters.length > 1 || coWriters.some(isGroup)) {
    problems.push(`writable by ${coWriters.join(", ")}: write implies read, so co-writers receive each other's data`);
  }
  return problems;
}
function isGroup(principal) {
  return /[*?[\]]/.test(principal);
}
function classify(ws, abs, owner) {
  if (owner === ws.email && isInside(abs, ws.globalDir(owner))) return "global";
  if (owner === ws.email && isInside(abs, ws.secaggDir(owner))) return "secagg-round";
  if (isInside(abs, ws.secaggAnswersRoot(owner))) return "secagg";
  if (owner === ws.email && isInside(abs, ws.aggregatorDir(owner))) return "aggregator";
  if (isInside(abs, ws.blendDir(owner))) return "blend";
  const [first, ...rest] = path.relative(ws.appData(owner), abs).split(path.sep);
  return isProfileName(first) && rest.length > 0 ? "profile" : "other";
}
function isContribution(ws, abs, owner) {
  const [first] = path.relative(ws.appData(owner), abs).split(path.sep);
  if (isProfileName(first)) return abs === ws.deltaManifest(first, owner);
  return isInside(abs, ws.secaggAnswersRoot(owner)) && path.basename(abs) === MASKED_MANIFEST;
}
function isInside(file, dir) {
  const rel = path.relative(dir, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}
async function listDatasites(datasitesDir) {
  let entries;
  try {
    entries = await fs.readdir(datasitesDir, { withFileTypes: true });
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
    throw new AppError("ERR_FILE_NOT_FOUND", `${datasitesDir} does not exist: pass --root <SyftBox data_dir>`, { file: datasitesDir });
  }
  return entries.filter((e) => e.isDirectory() && isEmailFolder(e.name)).map((e) => e.name).sort();
}
async function listSyncedFiles(dir) {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === "ENOENT") return [];
    throw err;
  }
  const found = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...await listSyncedFiles(full));
    else if (entry.isFile() && !NOT_SYNCED_SUFFIXES.some((s) => entry.name.endsWith(s)) && (await fs.stat(full)).size > 0) found.push(full);
  }
  return found;
}

export {
  auditRoot
};
//# sourceMappingURL=chunk-CVWKA7DQ.js.map
