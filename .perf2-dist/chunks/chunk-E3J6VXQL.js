import {
  writeExperimentReport
} from "./chunk-FKFBVTOU.js";
import {
  COMMUNITY_STATS_FORMAT,
  COMMUNITY_STATS_VERSION,
  MAX_COMMUNITY_BYTES,
  MAX_STATS_BYTES,
  TREND_WEEKS,
  WEEKLY_BUCKETS,
  WEEKLY_CLIP,
  bandProbabilities,
  communityStatsFile,
  decodeCommunityReport,
  displayedCommunity,
  isoWeek,
  shiftWeekLabel,
  unaryProbabilities
} from "./chunk-ZSCXCAKP.js";
import {
  discoverProfiles
} from "./chunk-IYQIEVDU.js";
import {
  cryptoRandom
} from "./chunk-OPHXPK3N.js";
import {
  readableHere
} from "./chunk-TBES3XCL.js";
import {
  readJsonFile,
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  Workspace
} from "./chunk-GYULMU4S.js";
import {
  formatError,
  isAppError
} from "./chunk-3L2Z3EX5.js";

// src/aggregator/community.ts
import { createHash } from "node:crypto";
import path from "node:path";
var DETECTION_ALPHA = 0.05;
var TOP_COMMUNITY_SHOWS = 20;
var PUBLIC_TOP_SHOWS = 10;
var PUBLIC_PAGE = "index.html";
var PRIVATE_STATE_FILE = "community.json";
var PRIVATE_STATE_VERSION = 1;
var MAX_PRIVATE_STATE_BYTES = 64 * 1024;
var clamp01 = (x) => Math.min(1, Math.max(0, x));
function estimateShowCounts(reports, items) {
  const positions = items + 1;
  const counts = new Float64Array(positions);
  const unary = reports.map((d) => unaryProbabilities(d.report.epsilon.show));
  reports.forEach(({ bits }, i) => {
    const { p, q } = unary[i];
    for (let j = 0; j < positions; j++) counts[j] += (bits[j] - q) / (p - q);
  });
  const n = reports.length;
  let nullVariance = 0;
  let bound = 0;
  for (const { p, q } of unary) {
    nullVariance += q * (1 - q) / (p - q) ** 2;
    bound = Math.max(bound, 1 / (p - q));
  }
  const logTerm = Math.log(items / DETECTION_ALPHA);
  const linear = bound * logTerm / 3;
  const detectableCount = linear + Math.sqrt(linear ** 2 + 2 * nullVariance * logTerm);
  const seAt = (share) => {
    let variance = 0;
    for (const { p, q } of unary) {
      const pi = q + (p - q) * clamp01(share);
      variance += pi * (1 - pi) / (p - q) ** 2;
    }
    return Math.sqrt(variance);
  };
  return { counts, seAt, se: (position) => seAt(counts[position] / n), detectableCount };
}
function estimateCommunity(decoded, options) {
  if (decoded.length === 0) return null;
  const perWeek = /* @__PURE__ */ new Map();
  for (const d of decoded) perWeek.set(d.report.week, (perWeek.get(d.report.week) ?? 0) + 1);
  const weeks = [...perWeek.keys()].sort().reverse();
  const week = weeks.find((w) => perWeek.get(w) >= options.minParticipants) ?? weeks[0];
  const current = decoded.filter((d) => d.report.week === week);
  const n = current.length;
  const epsilons = current.map((d) => d.report.epsilon.total);
  const shows = estimateShowCounts(current, options.items);
  const { detectableCount } = shows;
  const detected = [];
  for (let item = 0; item < options.items; item++) {
    if (shows.counts[item] > detectableCount) detected.push({ item, count: shows.counts[item], se: shows.se(item) });
  }
  const topShows = detected.sort((a, b) => b.count - a.count || a.item - b.item).slice(0, TOP_COMMUNITY_SHOWS);
  const bands = WEEKLY_BUCKETS.length;
  const rr = current.map((d) => bandProbabilities(d.report.epsilon.bucket, bands));
  const shareOf = (inSet, size) => {
    if (size === 0) return { share: 0, se: 0 };
    let sum = 0;
    current.forEach((d, i) => {
      const { p, q } = rr[i];
      sum += ((inSet(d.report.bucket.report) ? 1 : 0) - size * q) / (p - q);
    });
    const share = sum / n;
    let variance = 0;
    for (const { p, q } of rr) {
      const pi = clamp01(size * q + (p - q) * clamp01(share));
      variance += pi * (1 - pi) / (p - q) ** 2;
    }
    return { share, se: Math.sqrt(variance) / n };
  };
  const distribution = WEEKLY_BUCKETS.map((min, k) => {
    const own = shareOf((b) => b === k, 1);
    const below = shareOf((b) => b < k, k);
    return { min, max: k + 1 < bands ? WEEKLY_BUCKETS[k + 1] - 1 : null, share: own.share, se: own.se, below: below.share, belowSe: below.se };
  });
  const trend = [];
  for (let back = TREND_WEEKS - 1; back >= 0; back--) {
    const label = shiftWeekLabel(week, -back);
    let sum = 0;
    let noiseVariance = 0;
    let count = 0;
    for (const { report } of decoded) {
      const value = report.weekly.values.find((v) => v.week === label);
      if (!value || value.plays === null || value.scale === null) continue;
      sum += value.plays;
      noiseVariance += 2 * value.scale ** 2;
      count++;
    }
    const enough = count >= options.minParticipants && count > 0;
    trend.push({ week: label, participants: count, mean: enough ? sum / count : null, se: enough ? Math.sqrt(noiseVariance) / count : null });
  }
  return {
    week,
    participants: n,
    epsilon: { min: Math.min(...epsilons), max: Math.max(...epsilons) },
    detectableCount,
    topShows,
    nothingWatched: { count: shows.counts[options.items], se: shows.se(options.items) },
    trend,
    distribution: { participants: n, bands: distribution }
  };
}
async function aggregateCommunity(ws, options) {
  const { catalog, logger } = options;
  const view = options.appName && options.appName !== ws.appName ? new Workspace(ws, options.appName) : ws;
  const aggregator = options.aggregatorEmail ?? view.email;
  const expect = { items: catalog.items.length, vocabHash: catalog.hash };
  const decoded = [];
  const hash = createHash("sha256").update(JSON.stringify({ minParticipants: options.minParticipants, vocab: catalog.hash }));
  for (const { email, profile } of await discoverProfiles(view, logger, path.basename(view.communityStats("profile_0")))) {
    const file = view.communityStats(profile, email);
    try {
      if (!await readableHere(view, file)) continue;
      const value = await readJsonFile(file, { maxBytes: MAX_COMMUNITY_BYTES });
      if (value === null) continue;
      const result = decodeCommunityReport(value, expect);
      if (typeof result === "string") {
        logger.warn({ file, problem: result }, "skipped a community report");
        continue;
      }
      decoded.push(result);
      hash.update(`${email}/${profile}\0${JSON.stringify(value)}
`);
    } catch (err) {
      if (isAppError(err, "ERR_JSON_FORMAT")) logger.debug({ file }, "a community report is not complete yet");
      else logger.warn({ file, err: formatError(err) }, "skipped a community report");
    }
  }
  const thisWeek = isoWeek(options.now().toISOString().slice(0, 10));
  const future = decoded.filter((d) => d.report.week > thisWeek).length;
  if (future > 0) logger.warn({ reports: future, thisWeek }, "skipped community reports about weeks that have not happened yet (a participant's clock is wrong)");
  const timely = decoded.filter((d) => d.report.week <= thisWeek);
  const estimates = estimateCommunity(timely, { items: expect.items, minParticipants: options.minParticipants });
  if (estimates === null || estimates.participants < options.minParticipants) {
    logger.info({ week: estimates?.week ?? null, participants: estimates?.participants ?? 0, needed: options.minParticipants }, "too few community reports to publish statistics");
    return { status: "waiting", week: estimates?.week ?? null, participants: estimates?.participants ?? 0 };
  }
  const inputsSha256 = hash.digest("hex");
  const stateFile = path.join(view.aggregatorPrivateDir(), PRIVATE_STATE_FILE);
  const statsFile = communityStatsFile(view, aggregator);
  const publicFile = path.join(view.publicDir(aggregator), PUBLIC_PAGE);
  const state = await readJsonFile(stateFile, { maxBytes: MAX_PRIVATE_STATE_BYTES }).catch(() => null);
  const existing = await readJsonFile(statsFile, { maxBytes: MAX_STATS_BYTES }).catch(() => null);
  if (state?.inputsSha256 === inputsSha256 && existing !== null) return { status: "unchanged", week: estimates.week, participants: estimates.participants };
  const stats = {
    format: COMMUNITY_STATS_FORMAT,
    formatVersion: COMMUNITY_STATS_VERSION,
    createdAt: options.now().toISOString(),
    vocabHash: catalog.hash,
    ...estimates
  };
  await writeJsonAtomic(statsFile, stats);
  await writeFileAtomic(publicFile, renderCommunityHtml(stats, catalog));
  await writeJsonAtomic(stateFile, { formatVersion: PRIVATE_STATE_VERSION, inputsSha256 }, { private: true });
  logger.info({ week: stats.week, participants: stats.participants }, "published community statistics");
  return { status: "published", week: stats.week, participants: stats.participants, statsFile, publicFile };
}
var HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
var percent = (x) => `${(x * 100).toFixed(1)}%`;
function renderCommunityHtml(stats, catalog) {
  const n = stats.participants;
  const shown = displayedCommunity(stats);
  const rows = shown.topShows.slice(0, PUBLIC_TOP_SHOWS).map(({ item: id, count }, i) => {
    const item = catalog.items[id];
    const meta = [item.kind === "series" ? "Series" : "Film", item.year, item.genres.slice(0, 2).join(", ")].filter((x) => x !== null && x !== "").join(" \xB7 ");
    const share = `${percent(count.value / n)}${count.clipped ? "*" : ""}`;
    return `<tr><td>${i + 1}</td><td><strong>${escapeHtml(item.title)}</strong><br><span class="meta">${escapeHtml(meta)}</span></td><td>${share}</td><td>${percent(count.low / n)} to ${percent(count.high / n)}</td></tr>`;
  });
  const clipped = shown.topShows.slice(0, PUBLIC_TOP_SHOWS).some((s) => s.count.clipped) ? `<p class="meta">* The noisy estimate came out above 100%; it is shown as 100%.</p>` : "";
  const table = rows.length > 0 ? `<table>
<thead><tr><th>#</th><th>Show</th><th>Share</th><th>95% interval</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
</table>
${clipped}` : `<p><strong>No show stands out from the noise yet.</strong> With ${n} participants a show must be the most-played of about ${Math.ceil(stats.detectableCount)} of them to be listed; more participants (or a larger \u03B5) make that fewer.</p>`;
  const mean = shown.trend.at(-1)?.mean;
  const meanText = mean ? `<p>Average plays per participant that week: <strong>${mean.value.toFixed(1)}</strong> (95% interval ${mean.low.toFixed(1)} to ${mean.high.toFixed(1)}; plays counted up to ${WEEKLY_CLIP}${mean.clipped ? "; the noisy estimate came out below 0 and is shown as 0" : ""}).</p>` : "";
  const eps = stats.epsilon.min === stats.epsilon.max ? `\u03B5 = ${stats.epsilon.min}` : `\u03B5 from ${stats.epsilon.min} to ${stats.epsilon.max}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Community top shows, ${escapeHtml(stats.week)}</title>
<style>
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d24; background: #f6f5f2; margin: 0; }
  main { max-width: 760px; margin: 0 auto; padding: 32px 20px 48px; }
  h1 { font-size: 1.6rem; margin: 0 0 4px; }
  .meta { color: #66656e; font-size: .9rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 6px; overflow: hidden; margin-top: 16px; }
  th, td { text-align: right; padding: 8px 12px; border-bottom: 1px solid #ecebe6; font-variant-numeric: tabular-nums; vertical-align: top; }
  th:nth-child(2), td:nth-child(2) { text-align: left; }
  thead th { background: #efeee9; font-weight: 600; }
</style>
</head>
<body>
<main>
<h1>What the community watched in ${escapeHtml(stats.week)}</h1>
<p class="meta">Updated ${escapeHtml(stats.createdAt)} \xB7 ${n} participants \xB7 locally differentially private reports (${escapeHtml(eps)} per weekly report)</p>
<p>Each participant's app sent only a randomized report of the show it played most that week; nobody, the aggregator included, saw anyone's viewing. The shares below are debiased estimates of the share of participants whose most-played show it was, with the 95% interval of the randomization (kept within 0% to 100%). A show is listed only when its estimate exceeds ${stats.detectableCount.toFixed(1)} participants, a level that noise alone reaches for any show with a probability below ${DETECTION_ALPHA * 100}%.</p>
${table}
${meanText}
</main>
</body>
</html>
`;
}

// src/aggregator/reports.ts
async function publishAggregatorReports(round, config, catalog) {
  const { ws, logger } = round;
  try {
    await writeExperimentReport(ws, { appName: config.APP_NAME, now: round.now, random: cryptoRandom(), logger });
  } catch (err) {
    logger.error({ err: formatError(err) }, "could not write the experiment report");
  }
  try {
    await aggregateCommunity(ws, { appName: config.APP_NAME, catalog, minParticipants: config.MIN_PARTICIPANTS, now: round.now, logger });
  } catch (err) {
    logger.error({ err: formatError(err) }, "could not aggregate the community statistics");
  }
}

export {
  publishAggregatorReports
};
//# sourceMappingURL=chunk-E3J6VXQL.js.map
