import {
  readHistoryCache,
  readPrivacyLedger,
  readProfileModel,
  readProfileState,
  writePrivacyLedger
} from "./chunk-IEFLLXFA.js";
import {
  scoreItems
} from "./chunk-JKMSQLTA.js";
import {
  canSpend,
  laplaceNoise,
  privacySpent,
  pureDpSpend,
  recordSpend
} from "./chunk-OPHXPK3N.js";
import {
  PERMISSION_FILE,
  parsePermissions,
  readableHere,
  writePermissions
} from "./chunk-TBES3XCL.js";
import {
  matchEvents
} from "./chunk-FC2Z3HKA.js";
import {
  readJsonFile,
  readRegularFile,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  isEmailFolder,
  isProfileName
} from "./chunk-GYULMU4S.js";
import {
  AppError,
  formatError,
  isAppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/community.ts
import path from "node:path";

// src/shared/stats.ts
var NULL_SHARE = 0.5;
function signTestPValue(successes, n) {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) throw new RangeError(`successes must be an integer in [0, ${n}], got ${successes}`);
  if (n === 0) return 1;
  const tail = Math.min(successes, n - successes);
  const logHalfPowN = n * Math.log(NULL_SHARE);
  let logChoose = 0;
  let sum2 = 0;
  for (let i = 0; i <= tail; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i);
    sum2 += Math.exp(logChoose + logHalfPowN);
  }
  return Math.min(1, 2 * sum2);
}
var DEFAULT_BOOTSTRAP_SAMPLES = 2e3;
var DEFAULT_CONFIDENCE = 0.95;
function bootstrapMeanInterval(values, options) {
  const n = values.length;
  if (n === 0) return null;
  const samples = options.samples ?? DEFAULT_BOOTSTRAP_SAMPLES;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be a positive integer, got ${samples}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const means = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum2 = 0;
    for (let i = 0; i < n; i++) sum2 += values[options.random.int(n)];
    means[s] = sum2 / n;
  }
  means.sort();
  const alpha = 1 - confidence;
  return [quantileSorted(means, alpha / 2), quantileSorted(means, 1 - alpha / 2)];
}
function quantileSorted(sorted, q) {
  if (sorted.length === 0) throw new RangeError("quantile of an empty array");
  const pos = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
function normalQuantile(p) {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q2 = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q2 + c[1]) * q2 + c[2]) * q2 + c[3]) * q2 + c[4]) * q2 + c[5]) / ((((d[0] * q2 + d[1]) * q2 + d[2]) * q2 + d[3]) * q2 + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}
var Z95 = 1.959963984540054;
function boundedEstimate(value, se, min, max) {
  if (!(min <= max)) throw new RangeError(`the range [${min}, ${max}] is empty`);
  if (!Number.isFinite(value) || !(se >= 0)) throw new RangeError(`estimate ${value} \xB1 ${se} is not a finite value with a non-negative standard error`);
  const clamp = (x) => Math.min(max, Math.max(min, x));
  return { value: clamp(value), low: clamp(value - Z95 * se), high: clamp(value + Z95 * se), clipped: value < min || value > max };
}
function signTestSampleSize({ share, alpha, power }) {
  if (!(share > 0 && share < 1) || share === NULL_SHARE) throw new RangeError(`share must be in (0, 1) and not 0.5, got ${share}`);
  const zAlpha = normalQuantile(1 - alpha / 2);
  const zPower = normalQuantile(power);
  const numerator = zAlpha * Math.sqrt(NULL_SHARE * (1 - NULL_SHARE)) + zPower * Math.sqrt(share * (1 - share));
  return Math.ceil((numerator / (share - NULL_SHARE)) ** 2);
}

// src/shared/weeks.ts
var DAY_MS = 864e5;
var DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
var WEEK_RE = /^(\d{4})-W(\d{2})$/;
function dayNumber(date) {
  const m = DATE_RE.exec(date);
  if (!m) throw new RangeError(`${JSON.stringify(date)} is not a YYYY-MM-DD date`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
}
function dateOfDay(day) {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
function isoWeek(date) {
  const day = dayNumber(date);
  const weekday = (new Date(day * DAY_MS).getUTCDay() + 6) % 7;
  const thursday = day - weekday + 3;
  const year = new Date(thursday * DAY_MS).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1) / DAY_MS) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}
function weekStart(date) {
  const day = dayNumber(date);
  return dateOfDay(day - (new Date(day * DAY_MS).getUTCDay() + 6) % 7);
}
function shiftWeek(date, offset) {
  return isoWeek(dateOfDay(dayNumber(weekStart(date)) + 7 * offset));
}
function lastCompleteWeek(now) {
  return shiftWeek(now.toISOString().slice(0, 10), -1);
}
function shiftWeekLabel(week, offset) {
  const m = WEEK_RE.exec(week);
  if (!m) throw new RangeError(`${JSON.stringify(week)} is not an ISO week like 2021-W01`);
  const jan4 = `${m[1]}-01-04`;
  return shiftWeek(jan4, Number(m[2]) - 1 + offset);
}

// src/shared/community.ts
var COMMUNITY_FORMAT = "syftbox-netflix-svd/community";
var COMMUNITY_FORMAT_VERSION = 1;
var COMMUNITY_STATS_FORMAT = "syftbox-netflix-svd/community-stats";
var COMMUNITY_STATS_VERSION = 1;
var TREND_WEEKS = 8;
var WEEKLY_CLIP = 21;
var WEEKLY_BUCKETS = [0, 1, 4, 10, 21];
var EPSILON_SHARES = { weekly: 0.25, bucket: 0.25, show: 0.5 };
var SHOW_ENCODING = "oue-lsb-base64";
var MAX_COMMUNITY_BYTES = 64 * 1024;
var MAX_STATS_BYTES = 1024 * 1024;
var STATS_DIR = "community";
var STATS_FILE = "stats.json";
var MIN_REPORT_EPSILON = 1;
var MAX_REPORT_EPSILON = 100;
var MAX_NOISE_SCALES = 14;
var SCALE_REL_TOLERANCE = 1e-9;
function bandProbabilities(epsilon, bands) {
  const e = Math.exp(epsilon);
  return { p: e / (e + bands - 1), q: 1 / (e + bands - 1) };
}
function unaryProbabilities(epsilon) {
  return { p: 0.5, q: 1 / (Math.exp(epsilon) + 1) };
}
function bandOf(plays) {
  let band = 0;
  while (band + 1 < WEEKLY_BUCKETS.length && plays >= WEEKLY_BUCKETS[band + 1]) band++;
  return band;
}
function packBits(bits) {
  const packed = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) packed[i >> 3] |= 1 << (i & 7);
  return Buffer.from(packed).toString("base64");
}
function unpackBits(text, length) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const packed = Buffer.from(text, "base64");
  if (packed.length !== Math.ceil(length / 8) || packed.toString("base64") !== text) return null;
  const bits = new Uint8Array(length);
  for (let i = 0; i < length; i++) bits[i] = packed[i >> 3] >> (i & 7) & 1;
  for (let i = length; i < packed.length * 8; i++) if (packed[i >> 3] >> (i & 7) & 1) return null;
  return bits;
}
var WEEK_LABEL_RE = /^\d{4}-W\d{2}$/;
var isFiniteNumber = (v) => typeof v === "number" && Number.isFinite(v);
function decodeCommunityReport(value, expect) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const r = value;
  if (r.format !== COMMUNITY_FORMAT || r.formatVersion !== COMMUNITY_FORMAT_VERSION) return `format ${String(r.format)} version ${String(r.formatVersion)} is not ${COMMUNITY_FORMAT} version ${COMMUNITY_FORMAT_VERSION}`;
  if (r.vocabHash !== expect.vocabHash || r.items !== expect.items) return "made for another catalogue";
  if (typeof r.week !== "string" || !WEEK_LABEL_RE.test(r.week)) return "week is not an ISO week";
  const eps = r.epsilon;
  const parts = ["weekly", "bucket", "show"];
  if (!eps || !isFiniteNumber(eps.total) || !(eps.total >= MIN_REPORT_EPSILON && eps.total <= MAX_REPORT_EPSILON)) return `epsilon.total must be in [${MIN_REPORT_EPSILON}, ${MAX_REPORT_EPSILON}]`;
  for (const part of parts) {
    if (!isFiniteNumber(eps[part]) || Math.abs(eps[part] - eps.total * EPSILON_SHARES[part]) > 1e-9 * eps.total) return `epsilon.${part} is not ${EPSILON_SHARES[part]} of the total`;
  }
  const weekly = r.weekly;
  if (!weekly || weekly.clip !== WEEKLY_CLIP || !Array.isArray(weekly.values) || weekly.values.length !== TREND_WEEKS) return `weekly must have clip ${WEEKLY_CLIP} and ${TREND_WEEKS} values`;
  const scaleOf = (epsilon) => WEEKLY_CLIP / (epsilon * EPSILON_SHARES.weekly);
  for (const [i, v] of weekly.values.entries()) {
    if (typeof v !== "object" || v === null || v.week !== shiftWeekLabel(r.week, i - TREND_WEEKS + 1)) return `weekly.values[${i}] is not the week ${TREND_WEEKS - 1 - i} before ${r.week}`;
    if (v.plays === null && v.scale === null) continue;
    if (!isFiniteNumber(v.plays) || !isFiniteNumber(v.scale)) return `weekly.values[${i}] needs a finite plays and a scale, or both null`;
    if (v.scale < scaleOf(MAX_REPORT_EPSILON) || v.scale > scaleOf(MIN_REPORT_EPSILON)) return `weekly.values[${i}].scale ${v.scale} is not the Laplace scale of an epsilon in [${MIN_REPORT_EPSILON}, ${MAX_REPORT_EPSILON}]`;
    if (v.plays < -MAX_NOISE_SCALES * v.scale || v.plays > WEEKLY_CLIP + MAX_NOISE_SCALES * v.scale) return `weekly.values[${i}].plays ${v.plays} is further from [0, ${WEEKLY_CLIP}] than its noise goes (${MAX_NOISE_SCALES} scales)`;
  }
  const fresh = weekly.values[TREND_WEEKS - 1];
  if (fresh.scale === null) return "the report week has no value";
  if (Math.abs(fresh.scale - scaleOf(eps.total)) > SCALE_REL_TOLERANCE * fresh.scale) return `the report week's scale ${fresh.scale} is not the Laplace scale of epsilon ${eps.total} (${scaleOf(eps.total)})`;
  const bucket = r.bucket;
  if (!bucket || JSON.stringify(bucket.edges) !== JSON.stringify(WEEKLY_BUCKETS)) return `bucket.edges must be ${JSON.stringify(WEEKLY_BUCKETS)}`;
  if (!Number.isInteger(bucket.report) || bucket.report < 0 || bucket.report >= WEEKLY_BUCKETS.length) return "bucket.report is not a band index";
  if (!r.show || r.show.encoding !== SHOW_ENCODING || typeof r.show.bits !== "string") return `show must be ${SHOW_ENCODING}`;
  const bits = unpackBits(r.show.bits, expect.items + 1);
  if (bits === null) return `show.bits is not base64 of ${expect.items + 1} bits`;
  return { report: r, bits };
}
function communityStatsFile(ws, aggregatorEmail = ws.email) {
  return path.join(ws.aggregatorDir(aggregatorEmail), STATS_DIR, STATS_FILE);
}
async function readCommunityStats(ws, aggregatorEmail, catalog, logger) {
  const file = communityStatsFile(ws, aggregatorEmail);
  try {
    if (!await readableHere(ws, file)) return null;
    const value = await readJsonFile(file, { maxBytes: MAX_STATS_BYTES });
    if (value === null) return null;
    const shaped = value.format === COMMUNITY_STATS_FORMAT && value.formatVersion === COMMUNITY_STATS_VERSION && Array.isArray(value.topShows) && value.topShows.every((s) => Number.isInteger(s.item) && s.item >= 0 && s.item < catalog.items.length) && Array.isArray(value.trend) && Array.isArray(value.distribution?.bands) && value.distribution.bands.length === WEEKLY_BUCKETS.length;
    if (!shaped) {
      logger.warn({ file }, "community statistics in an unknown format; ignored");
      return null;
    }
    if (value.vocabHash !== catalog.hash) {
      logger.warn({ file }, "community statistics are for another catalogue; ignored");
      return null;
    }
    return value;
  } catch (err) {
    if (isAppError(err, "ERR_JSON_FORMAT")) logger.debug({ file }, "the community statistics are not complete yet");
    else logger.warn({ file, err: formatError(err) }, "cannot read the community statistics");
    return null;
  }
}
function displayedCommunity(stats) {
  const n = stats.participants;
  return {
    week: stats.week,
    participants: n,
    topShows: stats.topShows.map((s) => ({ item: s.item, count: boundedEstimate(s.count, s.se, 0, n) })),
    nothingWatched: boundedEstimate(stats.nothingWatched.count, stats.nothingWatched.se, 0, n),
    trend: stats.trend.map((t) => ({ week: t.week, participants: t.participants, mean: t.mean === null || t.se === null ? null : boundedEstimate(t.mean, t.se, 0, WEEKLY_CLIP) })),
    bands: stats.distribution.bands.map((b) => ({ min: b.min, max: b.max, share: boundedEstimate(b.share, b.se, 0, 1), below: boundedEstimate(b.below, b.belowSe, 0, 1) }))
  };
}

// src/participant/community.ts
import path2 from "node:path";

// src/participant/insights.ts
var BINGE_MIN_EPISODES = 3;
var TOP_SHOWS = 10;
var TOP_GENRES = 8;
var OTHER_GENRE = "Other";
var TOP_BINGES = 10;
function monthsBetween(first, last) {
  const out = [];
  let [y, m] = first.split("-").map(Number);
  const [ly, lm] = last.split("-").map(Number);
  while (y < ly || y === ly && m <= lm) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    if (++m > 12) [y, m] = [y + 1, 1];
  }
  return out;
}
function playsOf(events) {
  const byKey = /* @__PURE__ */ new Map();
  for (const event of events) {
    const key = `${event.date}\0${event.title}`;
    const hours = event.durationSec === null ? null : event.durationSec / 3600;
    const play = byKey.get(key);
    if (play === void 0) byKey.set(key, { date: event.date, show: event.show, kind: event.kind, title: event.title, hours });
    else if (hours !== null) play.hours = (play.hours ?? 0) + hours;
  }
  return [...byKey.values()].sort((a, b) => a.date < b.date ? -1 : a.date > b.date ? 1 : 0);
}
var sum = (a, b) => a === null ? b : b === null ? a : a + b;
function computeInsights(history, options) {
  const { events, itemOf } = history;
  const plays = playsOf(events);
  const hasDurations = events.some((e) => e.durationSec !== null);
  const firstDate = plays[0]?.date ?? null;
  const lastDate = plays.at(-1)?.date ?? null;
  const lastWeekLabel = lastCompleteWeek(options.now);
  const lastWeek = { week: lastWeekLabel, start: weekStart(shiftDate(options.now, -7)), plays: 0, hours: hasDurations ? 0 : null };
  const weekly = firstDate && lastDate ? weeklyPoints(plays, firstDate, lastDate, hasDurations) : [];
  for (const play of plays) {
    if (isoWeek(play.date) !== lastWeekLabel) continue;
    lastWeek.plays++;
    lastWeek.hours = sum(lastWeek.hours, play.hours);
  }
  const shows = showTotals(plays, itemOf);
  const months = firstDate && lastDate ? monthsBetween(firstDate.slice(0, 7), lastDate.slice(0, 7)) : [];
  return {
    totals: {
      plays: plays.length,
      hours: hasDurations ? plays.reduce((h, p) => h + (p.hours ?? 0), 0) : null,
      shows: shows.length,
      firstDate,
      lastDate,
      hasDurations
    },
    weekly,
    lastWeek,
    topShows: shows.slice(0, TOP_SHOWS),
    notInCatalogue: shows.filter((s) => s.item === null),
    genres: genreSeries(plays, months, options.catalog, itemOf),
    binges: bingeSummary(plays, months, itemOf)
  };
}
function shiftDate(now, days) {
  return new Date(now.getTime() + days * DAY_MS).toISOString().slice(0, 10);
}
function weeklyPoints(plays, firstDate, lastDate, hasDurations) {
  const points = /* @__PURE__ */ new Map();
  for (let day = dayNumber(weekStart(firstDate)); day <= dayNumber(lastDate); day += 7) {
    const start = dateOfDay(day);
    points.set(isoWeek(start), { week: isoWeek(start), start, plays: 0, hours: hasDurations ? 0 : null });
  }
  for (const play of plays) {
    const point = points.get(isoWeek(play.date));
    point.plays++;
    point.hours = sum(point.hours, play.hours);
  }
  return [...points.values()];
}
function showTotals(plays, matchShow) {
  const totals = /* @__PURE__ */ new Map();
  for (const play of plays) {
    const key = `${play.kind}\0${play.show}`;
    let total = totals.get(key);
    if (total === void 0) {
      total = { show: play.show, kind: play.kind, item: matchShow(play.show, play.kind), plays: 0, hours: null, firstDate: play.date, lastDate: play.date };
      totals.set(key, total);
    }
    total.plays++;
    total.hours = sum(total.hours, play.hours);
    total.lastDate = play.date;
  }
  return [...totals.values()].sort((a, b) => b.plays - a.plays || (b.hours ?? 0) - (a.hours ?? 0) || a.show.localeCompare(b.show));
}
function genreSeries(plays, months, catalog, matchShow) {
  const monthIndex = new Map(months.map((m, i) => [m, i]));
  const byGenre = /* @__PURE__ */ new Map();
  let unmatchedPlays = 0;
  for (const play of plays) {
    const item = matchShow(play.show, play.kind);
    const genres = item === null ? [] : catalog.items[item].genres;
    if (genres.length === 0) {
      unmatchedPlays += item === null ? 1 : 0;
      continue;
    }
    const m = monthIndex.get(play.date.slice(0, 7));
    for (const genre of genres) {
      let row = byGenre.get(genre);
      if (row === void 0) byGenre.set(genre, row = new Float64Array(months.length));
      row[m] += 1 / genres.length;
    }
  }
  const total = (row) => row.reduce((a, b) => a + b, 0);
  const ranked = [...byGenre.entries()].sort((a, b) => total(b[1]) - total(a[1]) || a[0].localeCompare(b[0]));
  const kept = ranked.slice(0, TOP_GENRES);
  const rest = ranked.slice(TOP_GENRES);
  const series = kept.map(([genre, row]) => ({ genre, row: [...row] }));
  if (rest.length > 0) {
    const other = new Array(months.length).fill(0);
    for (const [, row] of rest) row.forEach((v, i) => other[i] += v);
    series.push({ genre: OTHER_GENRE, row: other });
  }
  return { months, genres: series.map((s) => s.genre), plays: series.map((s) => s.row), unmatchedPlays };
}
function bingeSummary(plays, months, matchShow) {
  const episodes = /* @__PURE__ */ new Map();
  for (const play of plays) {
    if (play.kind !== "series") continue;
    let days = episodes.get(play.show);
    if (days === void 0) episodes.set(play.show, days = /* @__PURE__ */ new Map());
    const day = dayNumber(play.date);
    let titles = days.get(day);
    if (titles === void 0) days.set(day, titles = /* @__PURE__ */ new Set());
    titles.add(play.title);
  }
  const sessions = [];
  for (const [show, days] of episodes) {
    const bingeDays = [...days.entries()].filter(([, t]) => t.size >= BINGE_MIN_EPISODES).sort((a, b) => a[0] - b[0]);
    let current = null;
    let lastDay = Number.NEGATIVE_INFINITY;
    for (const [day, titles] of bingeDays) {
      if (current !== null && day === lastDay + 1) {
        current.end = dateOfDay(day);
        current.days++;
        current.episodes += titles.size;
      } else {
        current = { show, item: matchShow(show, "series"), start: dateOfDay(day), end: dateOfDay(day), days: 1, episodes: titles.size };
        sessions.push(current);
      }
      lastDay = day;
    }
  }
  const perMonth = new Map(months.map((m) => [m, 0]));
  for (const s of sessions) perMonth.set(s.start.slice(0, 7), (perMonth.get(s.start.slice(0, 7)) ?? 0) + 1);
  const longest = [...sessions].sort((a, b) => b.episodes - a.episodes || (a.start < b.start ? 1 : a.start > b.start ? -1 : 0)).slice(0, TOP_BINGES);
  return {
    minEpisodesPerDay: BINGE_MIN_EPISODES,
    sessions: sessions.length,
    longest,
    perMonth: [...perMonth.entries()].map(([month, n]) => ({ month, sessions: n }))
  };
}

// src/participant/community.ts
var PRIVACY_KIND = "community";
var PRIVATE_STATE_FILE = "community.json";
var PRIVATE_STATE_VERSION = 1;
function weekTruth(plays, week, matchShow) {
  const perItem = /* @__PURE__ */ new Map();
  let count = 0;
  for (const play of plays) {
    if (isoWeek(play.date) !== week) continue;
    count++;
    const item = matchShow(play.show, play.kind);
    if (item !== null) perItem.set(item, (perItem.get(item) ?? 0) + 1);
  }
  let topItem = null;
  for (const [item, n] of perItem) {
    const best = topItem === null ? 0 : perItem.get(topItem);
    if (n > best || n === best && item < topItem) topItem = item;
  }
  return { week, plays: count, topItem };
}
function buildCommunityReport(truth, options) {
  const { epsilon, items, random } = options;
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a positive number, got ${epsilon}`);
  const eps = { total: epsilon, weekly: epsilon * EPSILON_SHARES.weekly, bucket: epsilon * EPSILON_SHARES.bucket, show: epsilon * EPSILON_SHARES.show };
  const scale = WEEKLY_CLIP / eps.weekly;
  const fresh = { week: truth.week, plays: Math.min(Math.max(truth.plays, 0), WEEKLY_CLIP) + laplaceNoise(scale, random), scale };
  const values = [];
  for (let back = TREND_WEEKS - 1; back >= 1; back--) {
    const week = shiftWeekLabel(truth.week, -back);
    values.push(options.earlier.get(week) ?? { week, plays: null, scale: null });
  }
  values.push(fresh);
  const bands = WEEKLY_BUCKETS.length;
  const trueBand = bandOf(truth.plays);
  const band = bandProbabilities(eps.bucket, bands);
  let report = trueBand;
  if (random.next() >= band.p) {
    report = random.int(bands - 1);
    if (report >= trueBand) report++;
  }
  const unary = unaryProbabilities(eps.show);
  const position = truth.topItem ?? items;
  const bits = new Uint8Array(items + 1);
  for (let i = 0; i <= items; i++) bits[i] = random.next() < (i === position ? unary.p : unary.q) ? 1 : 0;
  return {
    format: COMMUNITY_FORMAT,
    formatVersion: COMMUNITY_FORMAT_VERSION,
    vocabHash: options.vocabHash,
    items,
    week: truth.week,
    epsilon: eps,
    weekly: { clip: WEEKLY_CLIP, values },
    bucket: { edges: [...WEEKLY_BUCKETS], report },
    show: { encoding: SHOW_ENCODING, bits: packBits(bits) }
  };
}
function compareWithCommunity(plays, shown) {
  const k = bandOf(plays);
  const here = shown.bands[k];
  const next = shown.bands[k + 1];
  const low = here.below.low;
  const high = next === void 0 ? 1 : next.below.high;
  return {
    week: shown.week,
    plays,
    band: { min: here.min, max: here.max },
    fewer: here.below,
    interval: [low, Math.max(low, high)],
    mean: shown.trend.find((t) => t.week === shown.week)?.mean ?? null
  };
}
async function publishCommunityStats(ctx, profile) {
  const { config, ws, catalog, logger } = ctx;
  const epsilon = config.INSIGHTS_EPSILON;
  if (epsilon <= 0) return { profile, status: "skipped", reason: "INSIGHTS_EPSILON is 0" };
  const dir = ws.privateDir(profile);
  const stateFile = path2.join(dir, PRIVATE_STATE_FILE);
  const published = ws.communityStats(profile);
  const week = lastCompleteWeek(ctx.now());
  const state = await readJsonFile(stateFile, { maxBytes: MAX_COMMUNITY_BYTES });
  const previous = state?.formatVersion === PRIVATE_STATE_VERSION && state.lastReport?.vocabHash === catalog.hash ? state.lastReport : null;
  if (previous?.week === week) {
    const current = await readJsonFile(published, { maxBytes: MAX_COMMUNITY_BYTES }).catch(() => null);
    if (JSON.stringify(current) !== JSON.stringify(previous)) await writeJsonAtomic(published, previous);
    return { profile, status: "unchanged", week };
  }
  const events = (await readHistoryCache(dir))?.events ?? null;
  if (events === null) return { profile, status: "skipped", reason: "no parsed history yet" };
  let ledger = await readPrivacyLedger(dir);
  const budget = { epsilon: config.PRIVACY_BUDGET_EPSILON, delta: config.DP_DELTA, periodDays: 0 };
  const spend = pureDpSpend(ctx.now().toISOString(), PRIVACY_KIND, "pure-dp", epsilon);
  if (!canSpend(ledger, spend, budget, ctx.now())) {
    const epsilonSpent = privacySpent(ledger, budget, ctx.now()).epsilon;
    logger.warn({ profile, epsilonSpent, budget: config.PRIVACY_BUDGET_EPSILON }, "privacy budget reached: no community statistics this week");
    return { profile, status: "skipped", reason: `privacy budget spent: ${epsilonSpent.toFixed(2)} of ${config.PRIVACY_BUDGET_EPSILON}` };
  }
  const earlier = new Map((previous?.weekly.values ?? []).filter((v) => v.plays !== null).map((v) => [v.week, v]));
  const matched = matchEvents(events, ctx.matcher);
  const truth = weekTruth(playsOf(matched.events), week, matched.itemOf);
  const report = buildCommunityReport(truth, { epsilon, items: catalog.items.length, vocabHash: catalog.hash, random: ctx.noiseRandom(), earlier });
  ledger = recordSpend(ledger, spend);
  await writePrivacyLedger(dir, ledger);
  await writeJsonAtomic(stateFile, { formatVersion: PRIVATE_STATE_VERSION, lastReport: report }, { private: true });
  await writeJsonAtomic(published, report);
  logger.info({ profile, week, epsilon, epsilonSpent: privacySpent(ledger, budget, ctx.now()).epsilon }, "published community statistics");
  return { profile, status: "published", week, epsilon };
}
async function publishAllCommunityStats(ctx, profiles) {
  const out = [];
  for (const profile of profiles) {
    try {
      out.push(await publishCommunityStats(ctx, profile));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      ctx.logger.error({ profile, code: err.code }, formatError(err));
      out.push({ profile, status: "skipped", reason: formatError(err) });
    }
  }
  return out;
}

// src/participant/blend.ts
import { createHmac, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path3 from "node:path";
var BLEND_FORMAT = "syftbox-netflix-svd/blend";
var BLEND_FORMAT_VERSION = 1;
var BLEND_ENCODING = "uint8-percentile-base64";
var CONSENT_MARKER = "consent.json";
var CONSENT_FORMAT = "syftbox-netflix-svd/blend-consent";
var MAX_PERCENTILE = 254;
var EXCLUDED = 255;
var DECOY_RATE = 0.05;
var WATCH_TOGETHER = 10;
var TASTE_ITEMS = 100;
var TASTE_GENRES = 5;
var MAX_BLEND_BYTES = 256 * 1024;
var PRIVATE_FILE = "blend.json";
var PRIVATE_VERSION = 1;
var SECRET_BYTES = 32;
var MAX_PRIVATE_BYTES = 64 * 1024;
var SCORES_FILE_RE = /^profile_\d{1,4}\.json$/;
function percentileScores(scores, excluded) {
  const out = new Uint8Array(scores.length).fill(EXCLUDED);
  const ranked = [];
  for (let j = 0; j < scores.length; j++) if (!excluded.has(j) && Number.isFinite(scores[j])) ranked.push(j);
  ranked.sort((a, b) => scores[a] - scores[b] || b - a);
  const last = Math.max(ranked.length - 1, 1);
  ranked.forEach((item, r) => out[item] = Math.round(MAX_PERCENTILE * r / last));
  return out;
}
function decoyItems(secret, profile, items, rate = DECOY_RATE) {
  const out = /* @__PURE__ */ new Set();
  const limit = rate * 2 ** 32;
  for (let j = 0; j < items; j++) {
    if (createHmac("sha256", secret).update(`${profile}\0${j}`).digest().readUInt32BE(0) < limit) out.add(j);
  }
  return out;
}
function encodeBlendScores(bytes, vocabHash) {
  return { format: BLEND_FORMAT, formatVersion: BLEND_FORMAT_VERSION, vocabHash, items: bytes.length, encoding: BLEND_ENCODING, scores: Buffer.from(bytes).toString("base64") };
}
function decodeBlendScores(value, expect) {
  if (typeof value !== "object" || value === null) return "not a JSON object";
  const v = value;
  if (v.format !== BLEND_FORMAT || v.formatVersion !== BLEND_FORMAT_VERSION || v.encoding !== BLEND_ENCODING) return `not ${BLEND_FORMAT} version ${BLEND_FORMAT_VERSION}`;
  if (v.vocabHash !== expect.vocabHash || v.items !== expect.items) return "made for another catalogue";
  if (typeof v.scores !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v.scores)) return "scores is not base64";
  const bytes = Buffer.from(v.scores, "base64");
  if (bytes.length !== expect.items) return `scores has ${bytes.length} values, not ${expect.items}`;
  return new Uint8Array(bytes);
}
var percent = (byte) => Math.round(100 * byte / MAX_PERCENTILE);
function tasteGenres(bytes, catalog) {
  const top = [];
  for (let j = 0; j < bytes.length; j++) if (bytes[j] !== EXCLUDED) top.push(j);
  top.sort((a, b) => bytes[b] - bytes[a] || a - b);
  const counts = /* @__PURE__ */ new Map();
  for (const item of top.slice(0, TASTE_ITEMS)) for (const g of catalog.items[item].genres) counts.set(g, (counts.get(g) ?? 0) + 1);
  return new Set([...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, TASTE_GENRES).map(([g]) => g));
}
function watchTogether(mine, theirs, catalog, n = WATCH_TOGETHER) {
  if (mine.length !== theirs.length || mine.length !== catalog.items.length) throw new RangeError(`score vectors of ${mine.length} and ${theirs.length} items for a catalogue of ${catalog.items.length}`);
  const candidates = [];
  for (let j = 0; j < mine.length; j++) if (mine[j] !== EXCLUDED && theirs[j] !== EXCLUDED) candidates.push(j);
  const sum2 = (j) => mine[j] + theirs[j];
  const gap = (j) => Math.abs(mine[j] - theirs[j]);
  const pool = candidates.sort((a, b) => sum2(b) - sum2(a) || a - b).slice(0, 2 * n);
  const chosen = pool.sort((a, b) => gap(a) - gap(b) || sum2(b) - sum2(a) || a - b).slice(0, n);
  const mineTaste = tasteGenres(mine, catalog);
  const theirTaste = tasteGenres(theirs, catalog);
  return chosen.map((item) => {
    const sharedGenres = catalog.items[item].genres.filter((g) => mineTaste.has(g) && theirTaste.has(g));
    const levels = `you ${percent(mine[item])}, them ${percent(theirs[item])}`;
    const reason = sharedGenres.length > 0 ? `You both lean to ${listText(sharedGenres)} (${levels})` : `High on both your lists (${levels})`;
    return { item, mine: percent(mine[item]), theirs: percent(theirs[item]), sharedGenres, reason };
  });
}
function listText(words) {
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}
var PERMISSION_SETTLE_MS = 3e4;
async function readPrivate(ws) {
  const file = path3.join(ws.privateRoot(), PRIVATE_FILE);
  const value = await readJsonFile(file, { maxBytes: MAX_PRIVATE_BYTES });
  if (value !== null && (value.formatVersion !== PRIVATE_VERSION || typeof value.secret !== "string")) {
    throw new AppError("ERR_JSON_FORMAT", `${file}: not a version ${PRIVATE_VERSION} blend state; delete it and choose the friend again on the blend page`, { file });
  }
  return value;
}
async function writePrivate(ws, value) {
  await writeJsonAtomic(path3.join(ws.privateRoot(), PRIVATE_FILE), value, { private: true });
}
async function readBlendConsent(ctx) {
  const configValue = ctx.config.BLEND_WITH;
  const choice = (await readPrivate(ctx.ws))?.choice ?? null;
  if (choice !== null && choice.configValue === configValue) return { friend: choice.friend, source: "page" };
  return configValue ? { friend: configValue, source: "config" } : { friend: null, source: "none" };
}
async function setBlendConsent(ctx, friend) {
  const normalized = friend === null ? null : friend.trim().toLowerCase();
  if (normalized !== null && !isEmailFolder(normalized)) throw new AppError("ERR_BAD_REQUEST", `${JSON.stringify(friend)} is not a datasite email such as friend@example.org`);
  if (normalized === ctx.ws.email) throw new AppError("ERR_BAD_REQUEST", "you cannot blend with your own datasite: name a friend");
  const current = await readPrivate(ctx.ws);
  await writePrivate(ctx.ws, {
    formatVersion: PRIVATE_VERSION,
    secret: current?.secret ?? randomBytes(SECRET_BYTES).toString("hex"),
    choice: { friend: normalized, configValue: ctx.config.BLEND_WITH }
  });
  return readBlendConsent(ctx);
}
async function decoySecret(ws) {
  const current = await readPrivate(ws);
  if (current !== null) return Buffer.from(current.secret, "hex");
  const secret = randomBytes(SECRET_BYTES).toString("hex");
  await writePrivate(ws, { formatVersion: PRIVATE_VERSION, secret, choice: null });
  return Buffer.from(secret, "hex");
}
async function listDir(dir) {
  try {
    return (await fs.readdir(dir)).sort();
  } catch {
    return [];
  }
}
async function trainedProfiles(ws) {
  const out = [];
  for (const name of await listDir(ws.privateRoot())) {
    if (isProfileName(name) && await readProfileState(ws.privateDir(name)) !== null) out.push(name);
  }
  return out;
}
async function computeBlendBytes(ws, catalog, profile, secret) {
  const model = await readProfileModel(ws.privateDir(profile));
  if (model === null || model.state.vocabHash !== catalog.hash || model.state.items !== catalog.items.length) return null;
  const { state } = model;
  const excluded = decoyItems(secret, profile, state.items);
  for (const item of state.watched) excluded.add(item);
  return percentileScores(scoreItems(model.u, model.vLocal, state.items, state.rank), excluded);
}
async function friendConsents(ws, friend) {
  const marker = path3.join(ws.blendDir(friend), CONSENT_MARKER);
  try {
    return await readRegularFile(marker, { maxBytes: MAX_PRIVATE_BYTES }) !== null && await readableHere(ws, marker);
  } catch {
    return false;
  }
}
function blendPermissions(friend) {
  return { terminal: false, rules: [{ pattern: "**", access: { read: [friend], write: [], admin: [] } }] };
}
async function ensurePermissions(dir, friend) {
  const file = path3.join(dir, PERMISSION_FILE);
  const wanted = blendPermissions(friend);
  const current = await readRegularFile(file, { maxBytes: MAX_PRIVATE_BYTES }).catch(() => null);
  if (current !== null) {
    try {
      if (JSON.stringify(parsePermissions(current.toString("utf8"), file)) === JSON.stringify(wanted)) return;
    } catch {
    }
  }
  await writePermissions(dir, wanted);
}
async function removeScores(dir, keep = /* @__PURE__ */ new Set()) {
  for (const name of await listDir(dir)) if (SCORES_FILE_RE.test(name) && !keep.has(name)) await fs.rm(path3.join(dir, name), { force: true });
}
async function removeBlend(dir) {
  await removeScores(dir);
  await fs.rm(path3.join(dir, CONSENT_MARKER), { force: true });
  await fs.rm(path3.join(dir, PERMISSION_FILE), { force: true });
}
async function syncBlend(ctx) {
  const { ws, catalog, logger } = ctx;
  const dir = ws.blendDir();
  const { friend } = await readBlendConsent(ctx);
  if (friend === null) {
    await removeBlend(dir);
    return { friend, state: "off", published: [] };
  }
  await removeScoresFor(dir, friend);
  await ensurePermissions(dir, friend);
  if (!ws.embedded) {
    const sinceMs = (ctx.now ?? (() => /* @__PURE__ */ new Date()))().getTime() - (await fs.stat(path3.join(dir, PERMISSION_FILE))).mtimeMs;
    if (sinceMs < PERMISSION_SETTLE_MS) {
      logger.debug({ friend, sinceMs }, "blend permission file written; the consent and scores follow once it has synced");
      return { friend, state: "waiting", published: [] };
    }
  }
  const marker = path3.join(dir, CONSENT_MARKER);
  if (await readRegularFile(marker, { maxBytes: MAX_PRIVATE_BYTES }).catch(() => null) === null) {
    await writeJsonAtomic(marker, { format: CONSENT_FORMAT, formatVersion: 1 });
  }
  if (!await friendConsents(ws, friend)) {
    await removeScores(dir);
    return { friend, state: "waiting", published: [] };
  }
  const secret = await decoySecret(ws);
  const published = [];
  for (const profile of await trainedProfiles(ws)) {
    try {
      const bytes = await computeBlendBytes(ws, catalog, profile, secret);
      if (bytes === null) continue;
      const file = path3.join(dir, `${profile}.json`);
      const text = `${JSON.stringify(encodeBlendScores(bytes, catalog.hash), null, 2)}
`;
      const current = await readRegularFile(file, { maxBytes: MAX_BLEND_BYTES }).catch(() => null);
      if (current === null || current.toString("utf8") !== text) await writeJsonAtomic(file, encodeBlendScores(bytes, catalog.hash));
      published.push(profile);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      logger.warn({ profile, code: err.code }, formatError(err));
    }
  }
  await removeScores(dir, new Set(published.map((p) => `${p}.json`)));
  if (published.length > 0) logger.debug({ profiles: published }, "blend scores published");
  return { friend, state: "active", published };
}
async function removeScoresFor(dir, friend) {
  const text = await readRegularFile(path3.join(dir, PERMISSION_FILE), { maxBytes: MAX_PRIVATE_BYTES }).catch(() => null);
  if (text === null) return;
  try {
    if (JSON.stringify(parsePermissions(text.toString("utf8"), path3.join(dir, PERMISSION_FILE))) === JSON.stringify(blendPermissions(friend))) return;
  } catch {
  }
  await removeScores(dir);
}
async function blendView(ctx, profile) {
  const { ws, catalog, logger } = ctx;
  const consent = await readBlendConsent(ctx);
  const friend = consent.friend;
  if (friend === null) return { consent, state: "off", lists: [] };
  if (!await friendConsents(ws, friend)) return { consent, state: "waiting", lists: [] };
  const expect = { items: catalog.items.length, vocabHash: catalog.hash };
  const theirs = [];
  for (const name of await listDir(ws.blendDir(friend))) {
    if (!SCORES_FILE_RE.test(name)) continue;
    const file = path3.join(ws.blendDir(friend), name);
    try {
      if (!await readableHere(ws, file)) continue;
      const decoded = decodeBlendScores(await readJsonFile(file, { maxBytes: MAX_BLEND_BYTES }), expect);
      if (typeof decoded === "string") logger.warn({ file, problem: decoded }, "skipped a friend's blend file");
      else theirs.push({ profile: name.slice(0, -".json".length), bytes: decoded });
    } catch (err) {
      if (isAppError(err, "ERR_JSON_FORMAT")) logger.debug({ file }, "a friend's blend file is not complete yet");
      else logger.warn({ file, err: formatError(err) }, "skipped a friend's blend file");
    }
  }
  if (theirs.length === 0) return { consent, state: "waiting", lists: [] };
  const mine = await myBlendBytes(ctx, profile);
  if (mine === null) return { consent, state: "untrained", lists: [] };
  return { consent, state: "active", lists: theirs.map((t) => ({ profile: t.profile, items: watchTogether(mine, t.bytes, catalog) })) };
}
async function myBlendBytes(ctx, profile) {
  const { ws, catalog } = ctx;
  const file = path3.join(ws.blendDir(), `${profile}.json`);
  const published = await readJsonFile(file, { maxBytes: MAX_BLEND_BYTES }).catch(() => null);
  const decoded = published === null ? null : decodeBlendScores(published, { items: catalog.items.length, vocabHash: catalog.hash });
  if (decoded instanceof Uint8Array) return decoded;
  return computeBlendBytes(ws, catalog, profile, await decoySecret(ws));
}

export {
  signTestPValue,
  DEFAULT_BOOTSTRAP_SAMPLES,
  bootstrapMeanInterval,
  signTestSampleSize,
  isoWeek,
  shiftWeekLabel,
  COMMUNITY_STATS_FORMAT,
  COMMUNITY_STATS_VERSION,
  TREND_WEEKS,
  WEEKLY_CLIP,
  WEEKLY_BUCKETS,
  MAX_COMMUNITY_BYTES,
  MAX_STATS_BYTES,
  bandProbabilities,
  unaryProbabilities,
  decodeCommunityReport,
  communityStatsFile,
  readCommunityStats,
  displayedCommunity,
  setBlendConsent,
  syncBlend,
  blendView,
  playsOf,
  computeInsights,
  weekTruth,
  compareWithCommunity,
  publishAllCommunityStats
};
//# sourceMappingURL=chunk-ZSCXCAKP.js.map
