import {
  readRegularFile,
  writeFileAtomic
} from "./chunk-TL5FSXBU.js";
import {
  isAppError
} from "./chunk-3L2Z3EX5.js";

// src/participant/clicks.ts
import { promises as fs, constants as fsc } from "node:fs";
import path from "node:path";

// src/shared/clicks.ts
var CLICK_LOG_VERSION = 2;
var LEGACY_CLICK_LOG_VERSION = 1;
var ARMS = ["local", "global"];
function otherArm(arm) {
  return arm === "local" ? "global" : "local";
}
function armOnSide(left, side) {
  return side === "left" ? left : otherArm(left);
}
var MAX_LIST_LENGTH = 50;
var PAGE_VIEW_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;
var MAX_ITEM_ID = 1e7;
function isItemList(value) {
  return Array.isArray(value) && value.length <= MAX_LIST_LENGTH && value.every((v) => Number.isInteger(v) && v >= 0 && v < MAX_ITEM_ID);
}
function isListLength(value) {
  return Number.isInteger(value) && value >= 0 && value <= MAX_LIST_LENGTH;
}
function isRank(value) {
  return Number.isInteger(value) && value >= 1 && value <= MAX_LIST_LENGTH;
}
function isVersion(value) {
  return Number.isSafeInteger(value) && value >= 0;
}
function isArm(value) {
  return value === "local" || value === "global";
}
function isSide(value) {
  return value === "left" || value === "right";
}
function versionsOf(value) {
  const versions = value;
  if (typeof versions !== "object" || versions === null || !isVersion(versions.global) || !isVersion(versions.localBase)) return null;
  return { global: versions.global, localBase: versions.localBase };
}
function parseClickLogRow(value) {
  if (typeof value !== "object" || value === null) return null;
  const r = value;
  if (r.v !== CLICK_LOG_VERSION || typeof r.pageView !== "string" || !PAGE_VIEW_ID_RE.test(r.pageView)) return null;
  if (r.type === "view") {
    const shown = r.shown;
    const versions = versionsOf(r.versions);
    if (!isArm(r.left) || typeof shown !== "object" || shown === null || !isListLength(shown.local) || !isListLength(shown.global) || versions === null) return null;
    return { v: CLICK_LOG_VERSION, type: "view", pageView: r.pageView, left: r.left, shown: { local: shown.local, global: shown.global }, versions };
  }
  if (r.type === "click") {
    if (!isSide(r.side) || !isArm(r.arm) || !isRank(r.rank)) return null;
    return { v: CLICK_LOG_VERSION, type: "click", pageView: r.pageView, side: r.side, arm: r.arm, rank: r.rank };
  }
  return null;
}
function upgradeLegacyRow(value) {
  if (typeof value !== "object" || value === null) return null;
  const r = value;
  if (r.v !== LEGACY_CLICK_LOG_VERSION) return null;
  if (r.type === "view" && isItemList(r.local) && isItemList(r.global)) {
    return parseClickLogRow({ v: CLICK_LOG_VERSION, type: "view", pageView: r.pageView, left: r.left, shown: { local: r.local.length, global: r.global.length }, versions: r.versions });
  }
  if (r.type === "click") return parseClickLogRow({ v: CLICK_LOG_VERSION, type: "click", pageView: r.pageView, side: r.side, arm: r.arm, rank: r.rank });
  return null;
}
function parseClickLog(text) {
  const lines = text.split("\n");
  const tail = lines.pop() ?? "";
  const rows = [];
  let rejected = 0;
  for (const line of lines) {
    if (line.trim() === "") continue;
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      rejected++;
      continue;
    }
    const row = parseClickLogRow(parsed);
    if (row) rows.push(row);
    else rejected++;
  }
  return { rows, rejected, torn: tail !== "" };
}
var MAX_CLICK_LOG_BYTES = 8 * 1024 * 1024;
async function readClickLog(file, maxBytes = MAX_CLICK_LOG_BYTES) {
  const bytes = await readRegularFile(file, { maxBytes });
  return bytes === null ? null : parseClickLog(bytes.toString("utf8"));
}

// src/participant/clicks.ts
var APPEND_FLAGS = fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW;
var NEWLINE = 10;
var FSYNC_INTERVAL_MS = 200;
var ClickLog = class {
  file;
  logger;
  prepare;
  pending = [];
  draining = null;
  prepared = false;
  syncTimer = null;
  syncing = null;
  constructor(file, options) {
    this.file = file;
    this.logger = options.logger;
    this.prepare = options.prepare;
  }
  /** Append one row; resolves when it is written (in the page cache, safe from a crash of this process). */
  append(row) {
    const line = Buffer.from(`${JSON.stringify(row)}
`, "utf8");
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.draining ??= this.drain();
    });
  }
  /** Resolves when every row appended so far is written and fsynced (or has failed). */
  async flushed() {
    while (this.draining) await this.draining;
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
      this.syncing = this.sync();
    }
    await this.syncing;
  }
  /** After a write: one fsync within FSYNC_INTERVAL_MS covers every row written until it starts. */
  scheduleSync() {
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = null;
      this.syncing = this.sync();
    }, FSYNC_INTERVAL_MS);
  }
  async sync() {
    try {
      const handle = await fs.open(this.file, APPEND_FLAGS);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      this.logger.error({ err, file: this.file }, "cannot fsync the click log");
    }
  }
  async drain() {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.writeBatch(batch.map((p) => p.line));
          this.scheduleSync();
          for (const p of batch) p.resolve();
        } catch (err) {
          this.logger.error({ err, file: this.file, rows: batch.length }, "cannot append to the click log");
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.draining = null;
    }
  }
  async writeBatch(lines) {
    if (!this.prepared) {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await this.prepare?.();
      await upgradeLegacyLog(this.file);
    }
    const handle = await fs.open(this.file, APPEND_FLAGS, 420);
    try {
      if (!this.prepared) {
        await terminateTornTail(handle);
        this.prepared = true;
      }
      await writeWhole(handle, lines.length === 1 ? lines[0] : Buffer.concat(lines));
    } finally {
      await handle.close();
    }
  }
};
async function upgradeLegacyLog(file) {
  const bytes = await readRegularFile(file, { maxBytes: MAX_CLICK_LOG_BYTES }).catch((err) => {
    if (isAppError(err, "ERR_FILE_TOO_LARGE")) return null;
    throw err;
  });
  if (bytes === null) return;
  let upgraded = false;
  const lines = bytes.toString("utf8").split("\n").map((line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      return line;
    }
    const row = upgradeLegacyRow(parsed);
    if (row === null) return line;
    upgraded = true;
    return JSON.stringify(row);
  });
  if (upgraded) await writeFileAtomic(file, lines.join("\n"));
}
async function terminateTornTail(handle) {
  const { size } = await handle.stat();
  if (size === 0) return;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  if (last[0] !== NEWLINE) await writeWhole(handle, Buffer.from("\n"));
}
async function writeWhole(handle, line) {
  let offset = 0;
  while (offset < line.length) {
    const { bytesWritten } = await handle.write(line, offset, line.length - offset);
    offset += bytesWritten;
  }
}

export {
  CLICK_LOG_VERSION,
  ARMS,
  otherArm,
  armOnSide,
  MAX_CLICK_LOG_BYTES,
  readClickLog,
  ClickLog
};
//# sourceMappingURL=chunk-RSHDQWJH.js.map
