import {
  DateColumn,
  decomposeTitle,
  isoDate
} from "./chunk-FC2Z3HKA.js";
import {
  silentLogger
} from "./chunk-TL5FSXBU.js";
import {
  AppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/history/index.ts
import { createHash } from "node:crypto";
import { promises as fs, constants as fsc } from "node:fs";

// src/shared/history/parse.ts
import Papa from "papaparse";
var SIMPLE_COLUMNS = ["Title", "Date"];
var ACTIVITY_COLUMNS = [
  "Profile Name",
  "Start Time",
  "Duration",
  "Attributes",
  "Title",
  "Supplemental Video Type",
  "Device Type",
  "Bookmark",
  "Latest Bookmark",
  "Country"
];
var ACTIVITY_REQUIRED = ["Profile Name", "Start Time", "Duration", "Title", "Supplemental Video Type"];
var ACTIVITY_DATE_FORMAT = "YYYY-MM-DD HH:MM:SS";
var MAX_HISTORY_ROWS = 1e6;
var MAX_RECORD_CHARS = 1024 * 1024;
var MAX_ZONE_AHEAD_MS = 14 * 3600 * 1e3;
var ISO_DATE_LENGTH = "YYYY-MM-DD".length;
var LOGGED_ROWS = 5;
function parseHistory(input, file, options) {
  return new Promise((resolve, reject) => {
    let reader = null;
    let record = 0;
    let charsFed = 0;
    input.on("data", (chunk) => {
      charsFed += chunk.length;
    });
    Papa.parse(input, {
      delimiter: ",",
      beforeFirstChunk: (chunk) => chunk.charCodeAt(0) === 65279 ? chunk.slice(1) : chunk,
      chunk(results) {
        const quoteError = results.errors.find((e) => e.code === "MissingQuotes");
        if (quoteError || charsFed - results.meta.cursor > MAX_RECORD_CHARS) {
          const row = record + (quoteError?.row ?? results.data.length) + 1;
          throw new AppError("ERR_HISTORY_CSV", `${file} row ${row}: a quoted field is never closed (a stray " in a title?); export the history again`, { file, row });
        }
        for (const fields of results.data) {
          record++;
          if (record - 1 > MAX_HISTORY_ROWS) {
            throw new AppError("ERR_FILE_TOO_LARGE", `${file} row ${record}: more than ${MAX_HISTORY_ROWS} data rows; a Netflix export has far fewer: is this the right file?`, { file, row: record });
          }
          if (fields.length === 1 && fields[0].trim() === "") continue;
          if (reader) reader.add(fields, record);
          else reader = readerFor(fields, file, record, options);
        }
      },
      complete() {
        try {
          resolve(finish(reader, file));
        } catch (err) {
          reject(err);
        }
      },
      error: (err) => reject(err)
    });
  });
}
function finish(reader, file) {
  if (!reader) throw new AppError("ERR_HISTORY_EMPTY", `${file} has no header row; export the history again from Netflix`, { file });
  const parsed = reader.finish();
  if (parsed.rows === 0) throw new AppError("ERR_HISTORY_EMPTY", `${file} has a header but no data rows: nothing was watched, or the download was cut short`, { file });
  return parsed;
}
function readerFor(header, file, row, options) {
  const names = header.map((h) => h.trim().toLowerCase());
  const columnOf = (name) => names.indexOf(name.toLowerCase());
  if (ACTIVITY_REQUIRED.every((c) => columnOf(c) >= 0)) {
    return new ActivityReader(file, options, {
      profile: columnOf("Profile Name"),
      start: columnOf("Start Time"),
      duration: columnOf("Duration"),
      title: columnOf("Title"),
      supplemental: columnOf("Supplemental Video Type")
    });
  }
  if (SIMPLE_COLUMNS.every((c) => columnOf(c) >= 0)) {
    return new SimpleReader(file, options, { title: columnOf("Title"), date: columnOf("Date") });
  }
  throw new AppError(
    "ERR_HISTORY_COLUMNS",
    `${file} row ${row}: columns ${JSON.stringify(header.join(","))} are not a Netflix export; expected ${SIMPLE_COLUMNS.join(",")} (NetflixViewingHistory.csv) or ${ACTIVITY_COLUMNS.join(",")} (ViewingActivity.csv)`,
    { file, row }
  );
}
var Skips = class {
  counts = {};
  firstRows = /* @__PURE__ */ new Map();
  add(reason, row) {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    const rows = this.firstRows.get(reason) ?? [];
    if (rows.length < LOGGED_ROWS) this.firstRows.set(reason, [...rows, row]);
  }
  count(reason) {
    return this.counts[reason] ?? 0;
  }
  firstRow(reason) {
    return this.firstRows.get(reason)?.[0];
  }
  /** Previews and blank titles are normal in an export (info); the other reasons mean damaged rows (warn). */
  log(log, file) {
    for (const [reason, rows] of this.firstRows) {
      const details = { file, reason, count: this.counts[reason], rows };
      if (reason === "supplemental" || reason === "blank_title") log.info(details, "skipped history rows");
      else log.warn(details, "skipped history rows");
    }
  }
};
var detach = (field) => JSON.parse(JSON.stringify(field));
var TitleCache = class {
  byTitle = /* @__PURE__ */ new Map();
  get(raw) {
    let kept = this.byTitle.get(raw);
    if (!kept) {
      const title = detach(raw);
      const { show, kind, season, episode } = decomposeTitle(title);
      kept = { title, show, kind, season, episode };
      this.byTitle.set(title, kept);
    }
    return kept;
  }
};
function eventOf(profile, kept, date, startTime, durationSec) {
  return { profile, title: kept.title, show: kept.show, kind: kept.kind, season: kept.season, episode: kept.episode, date, startTime, durationSec };
}
function dateRange(events) {
  let firstDate = null;
  let lastDate = null;
  for (const { date } of events) {
    if (firstDate === null || date < firstDate) firstDate = date;
    if (lastDate === null || date > lastDate) lastDate = date;
  }
  return { firstDate, lastDate };
}
var BLANK = /^[\s\u200B-\u200D\u2060\u00AD]*$/;
var isBlank = (title) => BLANK.test(title);
function noDateParses(file, row, expected) {
  throw new AppError(
    "ERR_HISTORY_DATE",
    `${file} row ${row}: no row has a readable date (expected ${expected}); is this an unmodified Netflix export?`,
    { file, row }
  );
}
var SimpleReader = class {
  constructor(file, options, col) {
    this.file = file;
    this.options = options;
    this.col = col;
  }
  file;
  options;
  col;
  rows = 0;
  skips = new Skips();
  titles = [];
  cache = new TitleCache();
  records = new Uint32Array(1024);
  dates = new DateColumn();
  add(fields, row) {
    this.rows++;
    if (fields.length <= Math.max(this.col.title, this.col.date)) return this.skips.add("bad_row", row);
    const title = fields[this.col.title].trim();
    if (isBlank(title)) return this.skips.add("blank_title", row);
    const i = this.dates.push(fields[this.col.date]);
    if (i === this.records.length) {
      const grown = new Uint32Array(2 * i);
      grown.set(this.records);
      this.records = grown;
    }
    this.records[i] = row;
    this.titles.push(this.cache.get(title));
  }
  finish() {
    const { file, options, dates, skips } = this;
    const order = dates.decideOrder(options.dateOrder, file, (i) => this.records[i]);
    const latest = new Date(options.now.getTime() + MAX_ZONE_AHEAD_MS).toISOString().slice(0, ISO_DATE_LENGTH);
    const events = [];
    for (let i = 0; i < dates.length; i++) {
      const date = dates.dateAt(i, order);
      if (date === null) skips.add("bad_date", this.records[i]);
      else if (date > latest) skips.add("future", this.records[i]);
      else events.push(eventOf(null, this.titles[i], date, null, null));
    }
    const format = dates.format(order);
    if (dates.length > 0 && skips.count("bad_date") === dates.length) noDateParses(file, skips.firstRow("bad_date"), format === "unknown" ? "e.g. 20/10/2020, 10/20/20 or 2020-10-20" : format);
    skips.log(options.log, file);
    return {
      file,
      shape: "NetflixViewingHistory",
      rows: this.rows,
      skipped: skips.counts,
      profiles: [{ name: null, rows: events.length }],
      dateFormat: format,
      ...dateRange(events),
      events
    };
  }
};
var START_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})Z?$/;
var DURATION_RE = /^(\d{1,3}):([0-5]\d):([0-5]\d)$/;
var HOURS_PER_DAY = 24;
var MINUTES_PER_HOUR = 60;
var SECONDS_PER_MINUTE = 60;
function parseStartTime(text) {
  const m = START_TIME_RE.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  if (isoDate(year, month, day) === null || hour >= HOURS_PER_DAY || minute >= MINUTES_PER_HOUR || second >= SECONDS_PER_MINUTE) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}
function parseDuration(text) {
  const m = DURATION_RE.exec(text.trim());
  return m ? (Number(m[1]) * MINUTES_PER_HOUR + Number(m[2])) * SECONDS_PER_MINUTE + Number(m[3]) : null;
}
var ActivityReader = class {
  constructor(file, options, col) {
    this.file = file;
    this.options = options;
    this.col = col;
    this.lastWidth = Math.max(...Object.values(col));
    this.nowMs = options.now.getTime();
  }
  file;
  options;
  col;
  rows = 0;
  skips = new Skips();
  events = [];
  profiles = /* @__PURE__ */ new Map();
  cache = new TitleCache();
  days = /* @__PURE__ */ new Map();
  lastWidth;
  nowMs;
  dated = 0;
  add(fields, row) {
    this.rows++;
    if (fields.length <= this.lastWidth) return this.skips.add("bad_row", row);
    const name = fields[this.col.profile].trim();
    let profile = this.profiles.get(name);
    if (!profile) {
      profile = { name: detach(name), rows: 0 };
      this.profiles.set(profile.name, profile);
    }
    if (fields[this.col.supplemental].trim() !== "") return this.skips.add("supplemental", row);
    const title = fields[this.col.title].trim();
    if (isBlank(title)) return this.skips.add("blank_title", row);
    this.dated++;
    const startMs = parseStartTime(fields[this.col.start]);
    if (startMs === null) return this.skips.add("bad_date", row);
    if (startMs > this.nowMs) return this.skips.add("future", row);
    const durationSec = parseDuration(fields[this.col.duration]);
    if (durationSec === null) return this.skips.add("bad_duration", row);
    profile.rows++;
    const startTime = new Date(startMs).toISOString();
    this.events.push(eventOf(profile.name, this.cache.get(title), this.day(startTime.slice(0, ISO_DATE_LENGTH)), startTime, durationSec));
  }
  /** One string per distinct day. */
  day(date) {
    const known = this.days.get(date);
    if (known !== void 0) return known;
    this.days.set(date, date);
    return date;
  }
  finish() {
    const { file, skips, events } = this;
    if (this.dated > 0 && skips.count("bad_date") === this.dated) noDateParses(file, skips.firstRow("bad_date"), ACTIVITY_DATE_FORMAT);
    skips.log(this.options.log, file);
    return {
      file,
      shape: "ViewingActivity",
      rows: this.rows,
      skipped: skips.counts,
      profiles: [...this.profiles.values()],
      dateFormat: ACTIVITY_DATE_FORMAT,
      ...dateRange(events),
      events
    };
  }
};

// src/shared/history/index.ts
var MAX_HISTORY_BYTES = 256 * 1024 * 1024;
var SNIFF_BYTES = 1024;
async function readHistory(file, options = {}) {
  const handle = await openHistory(file);
  try {
    const before = await statHistory(handle, file);
    if (before.size === 0) throw new AppError("ERR_HISTORY_EMPTY", `${file} is empty; export the history again from Netflix`, { file });
    await assertText(handle, file);
    const stream = handle.createReadStream({ encoding: "utf8", start: 0, end: before.size, autoClose: false });
    try {
      const parsed = await parseHistory(stream, file, {
        dateOrder: options.dateOrder ?? "auto",
        now: options.now ?? /* @__PURE__ */ new Date(),
        log: options.log ?? silentLogger
      });
      await assertUnchanged(handle, file, before, stream.bytesRead);
      return parsed;
    } catch (err) {
      if (!(err instanceof AppError && err.code === "ERR_HISTORY_CHANGED")) await assertUnchanged(handle, file, before, null);
      throw err;
    } finally {
      stream.destroy();
    }
  } finally {
    await handle.close();
  }
}
async function hashHistory(file) {
  let handle;
  try {
    handle = await openHistory(file);
  } catch (err) {
    if (err instanceof AppError && err.code === "ERR_FILE_NOT_FOUND") return null;
    throw err;
  }
  try {
    await statHistory(handle, file);
    const hash = createHash("sha256");
    for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk);
    return hash.digest("hex");
  } finally {
    await handle.close();
  }
}
async function statHistory(handle, file) {
  const stats = await handle.stat();
  if (!stats.isFile()) throw new AppError("ERR_FILE_NOT_REGULAR", `${file} is not a regular file`, { file });
  if (stats.size > MAX_HISTORY_BYTES) {
    throw new AppError("ERR_FILE_TOO_LARGE", `${file} is ${stats.size} bytes; a viewing history may be at most ${MAX_HISTORY_BYTES} bytes`, { file });
  }
  return stats;
}
async function openHistory(file) {
  try {
    return await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = err.code;
    if (code === "ENOENT") throw new AppError("ERR_FILE_NOT_FOUND", `${file} does not exist; download your viewing history from Netflix and save it there`, { file });
    if (code === "ELOOP") throw new AppError("ERR_FILE_NOT_REGULAR", `${file} is a symlink; copy the export itself there`, { file });
    throw err;
  }
}
async function assertText(handle, file) {
  const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(SNIFF_BYTES), position: 0 });
  const head = buffer.subarray(0, bytesRead);
  let text = head.indexOf(0) < 0;
  if (text) {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: true });
    } catch {
      text = false;
    }
  }
  if (!text) {
    throw new AppError("ERR_HISTORY_BINARY", `${file} is not UTF-8 text (NUL bytes or invalid UTF-8 in its first ${SNIFF_BYTES} bytes); give the .csv file Netflix sent, unmodified`, { file });
  }
}
async function assertUnchanged(handle, file, before, bytesRead) {
  const after = await handle.stat();
  const current = await fs.lstat(file).catch(() => null);
  const same = after.size === before.size && after.mtimeMs === before.mtimeMs && (bytesRead === null || bytesRead === before.size) && current !== null && current.ino === before.ino && current.dev === before.dev;
  if (!same) {
    throw new AppError("ERR_HISTORY_CHANGED", `${file} changed while it was being read; wait until the download or copy has finished, then run again`, { file });
  }
}

export {
  readHistory,
  hashHistory
};
//# sourceMappingURL=chunk-VD4GDXTX.js.map
