import {
  readHistory
} from "./chunk-VD4GDXTX.js";
import {
  createMatcher,
  loadCatalog,
  matchEvents
} from "./chunk-FC2Z3HKA.js";
import {
  moduleLogger,
  silentLogger
} from "./chunk-TL5FSXBU.js";
import "./chunk-3L2Z3EX5.js";

// src/commands/ingest-report.ts
import path from "node:path";
var UNMATCHED_SAMPLE = 20;
var SCORE_DIGITS = 1e3;
var REASON_TEXT = {
  exact: "exact",
  normalized: "normalized",
  fuzzy: "fuzzy",
  partial: "partial title",
  "rejected-kind": "rejected for kind",
  "rejected-date": "rejected for date",
  "rejected-seasons": "rejected for seasons",
  "rejected-confidence": "rejected, too doubtful",
  ambiguous: "ambiguous",
  "not-found": "not in the catalogue"
};
var describe = (catalog, id) => `${catalog.items[id].title} (${catalog.items[id].year ?? "year unknown"}, ${catalog.items[id].kind})`;
function matchShows(history, catalog, matcher) {
  return matchEvents(history.events, matcher).shows.map((s) => ({
    show: s.show,
    kind: s.kind,
    episodes: s.events,
    title: s.title,
    year: s.item === null ? null : catalog.items[s.item].year,
    score: Math.round(s.score * SCORE_DIGITS) / SCORE_DIGITS,
    reason: s.reason,
    candidates: s.candidates.map((id) => describe(catalog, id))
  }));
}
function ingestReport(history, catalog, matcher, withMatches) {
  const shows = matchShows(history, catalog, matcher);
  const unmatched = shows.filter((s) => s.title === null);
  const reasons = {};
  for (const s of shows) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
  return {
    rows: history.rows,
    skipped: history.skipped,
    profiles: history.profiles.map((p) => ({ name: p.name ?? "", rows: p.rows })),
    dateFormat: history.dateFormat,
    firstDate: history.firstDate,
    lastDate: history.lastDate,
    shows: shows.length,
    matched: shows.length - unmatched.length,
    unmatched: unmatched.length,
    reasons,
    unmatchedSample: unmatched.slice(0, UNMATCHED_SAMPLE).map((s) => s.show),
    ...withMatches ? { matches: shows } : {}
  };
}
function humanSummary(file, r) {
  const skipped = Object.entries(r.skipped).map(([reason, n]) => `${reason} ${n}`).join(", ") || "none";
  const lines = [
    `${file}`,
    `  rows       ${r.rows} (skipped: ${skipped})`,
    `  profiles   ${r.profiles.map((p) => `${p.name || "(unnamed)"}: ${p.rows}`).join(", ")}`,
    `  dates      ${r.firstDate ?? "-"} .. ${r.lastDate ?? "-"} (format ${r.dateFormat})`,
    `  shows      ${r.shows} distinct shows and films; ${r.matched} matched the catalogue, ${r.unmatched} not`
  ];
  if (r.unmatchedSample.length > 0) lines.push(`  unmatched  ${r.unmatchedSample.join(" | ")}`);
  lines.push(`  reasons    ${Object.entries(r.reasons).map(([reason, n]) => `${REASON_TEXT[reason]} ${n}`).join(", ")}`);
  for (const m of r.matches ?? []) {
    const match = m.title === null ? REASON_TEXT[m.reason] : `${m.title} (${m.year ?? "year unknown"})  ${REASON_TEXT[m.reason]} ${m.score}`;
    const others = m.candidates.length === 0 ? "" : `${m.title === null ? ": " : ", over "}${m.candidates.join(" | ")}`;
    lines.push(`  ${String(m.episodes).padStart(5)}  ${m.kind.padEnd(6)}  ${m.show}  ->  ${match}${others}`);
  }
  return `${lines.join("\n")}
`;
}
async function runIngest(config, o) {
  const log = o.json ? silentLogger : moduleLogger("ingest");
  const history = await readHistory(o.file, { dateOrder: o.dateOrder ?? config.DATE_ORDER, now: /* @__PURE__ */ new Date(), log });
  const catalog = await loadCatalog(o.catalog === void 0 ? config.CATALOG_PATH : path.resolve(o.catalog));
  const report = ingestReport(history, catalog, createMatcher(catalog), o.matches);
  process.stdout.write(o.json ? `${JSON.stringify(report)}
` : humanSummary(o.file, report));
  return 0;
}
export {
  runIngest
};
//# sourceMappingURL=ingest-report-VXSH22IA.js.map
