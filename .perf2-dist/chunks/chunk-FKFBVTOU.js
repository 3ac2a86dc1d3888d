import {
  ARMS,
  MAX_CLICK_LOG_BYTES,
  armOnSide,
  readClickLog
} from "./chunk-RSHDQWJH.js";
import {
  DEFAULT_BOOTSTRAP_SAMPLES,
  bootstrapMeanInterval,
  signTestPValue,
  signTestSampleSize
} from "./chunk-ZSCXCAKP.js";
import {
  createRandom
} from "./chunk-OPHXPK3N.js";
import {
  readableHere
} from "./chunk-TBES3XCL.js";
import {
  writeFileAtomic,
  writeJsonAtomic
} from "./chunk-TL5FSXBU.js";
import {
  Workspace,
  isEmailFolder,
  isProfileName
} from "./chunk-GYULMU4S.js";
import {
  formatError
} from "./chunk-3L2Z3EX5.js";

// src/aggregator/experiment.ts
import { promises as fs } from "node:fs";
import path from "node:path";
var EXPERIMENT_FORMAT = "syftbox-netflix-svd/experiment";
var EXPERIMENT_FORMAT_VERSION = 1;
var ASSUMED_SHARE = 0.6;
var SIGNIFICANCE_LEVEL = 0.05;
var TARGET_POWER = 0.8;
var DEFAULT_BOOTSTRAP_SEED = 1;
function analyzeClicks(rows, options = {}) {
  const units = /* @__PURE__ */ new Map();
  const unit = (key) => {
    let u = units.get(key);
    if (!u) units.set(key, u = { views: /* @__PURE__ */ new Map(), clicks: { local: 0, global: 0 }, seen: /* @__PURE__ */ new Set() });
    return u;
  };
  const arms = { local: { impressions: 0, clicks: 0, clickRate: null }, global: { impressions: 0, clicks: 0, clickRate: null } };
  const sides = { left: 0, right: 0 };
  let pageViews = 0;
  let ignoredClicks = 0;
  for (const row of rows) {
    if (row.type !== "view") continue;
    const u = unit(row.participant);
    if (u.views.has(row.pageView)) continue;
    u.views.set(row.pageView, row);
    pageViews++;
    for (const arm of ARMS) arms[arm].impressions += row.shown[arm];
  }
  for (const row of rows) {
    if (row.type !== "click") continue;
    const u = unit(row.participant);
    const view = u.views.get(row.pageView);
    const key = `${row.pageView}/${row.arm}/${row.rank}`;
    if (!view || armOnSide(view.left, row.side) !== row.arm || row.rank < 1 || row.rank > view.shown[row.arm] || u.seen.has(key)) {
      ignoredClicks++;
      continue;
    }
    u.seen.add(key);
    u.clicks[row.arm]++;
    arms[row.arm].clicks++;
    sides[row.side]++;
  }
  for (const arm of ARMS) arms[arm].clickRate = arms[arm].impressions > 0 ? arms[arm].clicks / arms[arm].impressions : null;
  const participants = [...units.values()].map((u) => ({ pageViews: u.views.size, localClicks: u.clicks.local, globalClicks: u.clicks.global, preference: preferenceOf(u.clicks) })).sort((a, b) => b.globalClicks - a.globalClicks || b.localClicks - a.localClicks || b.pageViews - a.pageViews);
  const count = (p) => participants.filter((u) => u.preference === p).length;
  const preferGlobal = count("global");
  const preferLocal = count("local");
  const decisive = preferGlobal + preferLocal;
  const bootstrapSamples = options.bootstrapSamples ?? DEFAULT_BOOTSTRAP_SAMPLES;
  const votes = new Float64Array(decisive);
  votes.fill(1, 0, preferGlobal);
  const decisiveNeeded = signTestSampleSize({ share: ASSUMED_SHARE, alpha: SIGNIFICANCE_LEVEL, power: TARGET_POWER });
  return {
    pageViews,
    arms,
    sides,
    participants,
    signTest: { decisive, preferGlobal, preferLocal, ties: count("tie"), withoutClicks: count("none"), pValue: signTestPValue(preferGlobal, decisive) },
    preferenceShare: {
      global: decisive > 0 ? preferGlobal / decisive : null,
      ci95: bootstrapMeanInterval(votes, { random: options.random ?? createRandom(DEFAULT_BOOTSTRAP_SEED), samples: bootstrapSamples }),
      bootstrapSamples
    },
    sampleSize: {
      assumedShare: ASSUMED_SHARE,
      alpha: SIGNIFICANCE_LEVEL,
      power: TARGET_POWER,
      decisiveNeeded,
      moreDecisiveNeeded: Math.max(0, decisiveNeeded - decisive)
    },
    ignoredClicks
  };
}
function preferenceOf(clicks) {
  if (clicks.local === 0 && clicks.global === 0) return "none";
  if (clicks.local === clicks.global) return "tie";
  return clicks.global > clicks.local ? "global" : "local";
}
function experimentDir(ws) {
  return path.join(ws.aggregatorDir(ws.email), "experiment");
}
async function writeExperimentReport(ws, options) {
  const { logger } = options;
  const view = options.appName && options.appName !== ws.appName ? new Workspace(ws, options.appName) : ws;
  const maxBytes = options.maxLogBytes ?? MAX_CLICK_LOG_BYTES;
  const rows = [];
  const logs = { read: 0, skipped: 0, rejectedLines: 0, tornTails: 0 };
  for (const { email, profile, file } of await findClickLogs(view)) {
    try {
      if (!await readableHere(view, file)) {
        logs.skipped++;
        logger.debug({ file }, "click log not readable by this datasite; skipped");
        continue;
      }
      const parsed = await readClickLog(file, maxBytes);
      if (parsed === null) continue;
      logs.read++;
      logs.rejectedLines += parsed.rejected;
      if (parsed.torn) logs.tornTails++;
      const participant = `${email}/${profile}`;
      for (const row of parsed.rows) rows.push({ ...row, participant });
    } catch (err) {
      logs.skipped++;
      logger.warn({ file, err: formatError(err) }, "skipped a click log");
    }
  }
  const analysis = analyzeClicks(rows, { random: options.random });
  const report = {
    format: EXPERIMENT_FORMAT,
    formatVersion: EXPERIMENT_FORMAT_VERSION,
    createdAt: options.now().toISOString(),
    logs,
    ...analysis
  };
  const dir = experimentDir(view);
  const jsonFile = path.join(dir, "report.json");
  const htmlFile = path.join(dir, "report.html");
  await writeJsonAtomic(jsonFile, report);
  await writeFileAtomic(htmlFile, renderExperimentHtml(report));
  logger.info(
    { logs: logs.read, skipped: logs.skipped, pageViews: report.pageViews, decisive: report.signTest.decisive, pValue: report.signTest.pValue },
    "wrote experiment report"
  );
  return { report, jsonFile, htmlFile };
}
async function subfolders(dir) {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}
async function findClickLogs(ws) {
  const out = [];
  for (const email of (await subfolders(ws.datasitesDir)).filter(isEmailFolder)) {
    for (const profile of (await subfolders(ws.appData(email))).filter(isProfileName)) {
      out.push({ email, profile, file: ws.clickLog(profile, email) });
    }
  }
  return out;
}
function formatNumber(value, digits = 3) {
  if (value === null) return "\u2013";
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}
function formatPercent(value) {
  return value === null ? "\u2013" : `${(value * 100).toFixed(1)}%`;
}
function renderExperimentHtml(report) {
  const { signTest: s, preferenceShare: share, sampleSize: size, arms } = report;
  const verdict = s.decisive === 0 ? "No participant has clicked more on one list than the other yet." : s.pValue < report.sampleSize.alpha ? `The ${s.preferGlobal > s.preferLocal ? "global" : "local"} model is preferred (sign test p = ${formatNumber(s.pValue, 4)}).` : `No significant preference yet (sign test p = ${formatNumber(s.pValue, 4)}).`;
  const ci = share.ci95 ? `${formatPercent(share.ci95[0])} \u2013 ${formatPercent(share.ci95[1])}` : "\u2013";
  const armRows = ARMS.map(
    (arm) => `<tr><th scope="row">${arm === "global" ? "Global model" : "Local model"}</th><td>${arms[arm].impressions}</td><td>${arms[arm].clicks}</td><td>${formatPercent(arms[arm].clickRate)}</td></tr>`
  ).join("\n");
  const unitRows = report.participants.map((u, i) => `<tr><td>${i + 1}</td><td>${u.pageViews}</td><td>${u.localClicks}</td><td>${u.globalClicks}</td><td>${u.preference}</td></tr>`).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local vs global recommendations: experiment report</title>
<style>
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d24; background: #f6f5f2; margin: 0; }
  main { max-width: 760px; margin: 0 auto; padding: 32px 20px 48px; }
  h1 { font-size: 1.6rem; margin: 0 0 4px; }
  h2 { font-size: 1.1rem; margin: 32px 0 8px; }
  .meta { color: #66656e; font-size: .9rem; }
  .verdict { font-size: 1.15rem; background: #fff; border-left: 4px solid #5b4bdb; padding: 12px 16px; border-radius: 6px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 6px; overflow: hidden; }
  th, td { text-align: right; padding: 6px 12px; border-bottom: 1px solid #ecebe6; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  thead th { background: #efeee9; font-weight: 600; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: #fff; padding: 12px 16px; border-radius: 6px; }
  dt { color: #66656e; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<main>
<h1>Local vs global recommendations</h1>
<p class="meta">Updated ${report.createdAt} \xB7 ${report.logs.read} click logs \xB7 ${report.pageViews} page views</p>
<p class="verdict">${verdict}</p>

<h2>Clicks per list</h2>
<table>
<thead><tr><th>List</th><th>Shows shown</th><th>Clicks</th><th>Click rate</th></tr></thead>
<tbody>
${armRows}
</tbody>
</table>
<p class="meta">Clicks by column: left ${report.sides.left}, right ${report.sides.right} (the side of each list is random per page view).</p>

<h2>Paired comparison</h2>
<dl>
<dt>Prefer global</dt><dd>${s.preferGlobal}</dd>
<dt>Prefer local</dt><dd>${s.preferLocal}</dd>
<dt>Ties (dropped)</dt><dd>${s.ties}</dd>
<dt>No clicks yet</dt><dd>${s.withoutClicks}</dd>
<dt>Sign test p (two-sided, exact)</dt><dd>${formatNumber(s.pValue, 4)}</dd>
<dt>Share preferring global</dt><dd>${formatPercent(share.global)} (95% bootstrap CI ${ci})</dd>
<dt>Needed for a 60/40 preference</dt><dd>${size.decisiveNeeded} decisive participants (\u03B1 = ${size.alpha}, power ${size.power * 100}%); ${size.moreDecisiveNeeded} more to go</dd>
</dl>

<h2>Participants</h2>
<p class="meta">One anonymous row per participant profile, sorted by counts.</p>
<table>
<thead><tr><th>#</th><th>Page views</th><th>Local clicks</th><th>Global clicks</th><th>Prefers</th></tr></thead>
<tbody>
${unitRows}
</tbody>
</table>
</main>
</body>
</html>
`;
}

export {
  SIGNIFICANCE_LEVEL,
  analyzeClicks,
  writeExperimentReport
};
//# sourceMappingURL=chunk-FKFBVTOU.js.map
