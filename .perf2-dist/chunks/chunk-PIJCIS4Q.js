// src/eval/chart.ts
var WIDTH = 980;
var HEIGHT = 440;
var MARGIN = { left: 64, right: 330, top: 40, bottom: 50 };
var TICKS = 5;
var COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0A0A0", "#332288"];
var REFERENCE_COLORS = ["#000000", "#8c8c8c", "#8c510a", "#01665e"];
var HEADROOM = 0.05;
var LEGEND_ROW = 20;
var FONT = 'font-family="system-ui, sans-serif"';
function niceStep(range, ticks) {
  if (!(range > 0)) return 1;
  const raw = range / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}
function escapeXml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
function formatTick(value, step) {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return value.toFixed(decimals);
}
function lineChartSvg(spec) {
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...spec.series.flatMap((s) => s.points.map((p) => p[1])), ...spec.references.map((r) => r.y)].filter(Number.isFinite);
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs, xMin + 1) : 1;
  const yLow = ys.length > 0 ? Math.min(...ys) : 0;
  const yHigh = ys.length > 0 ? Math.max(...ys) : 1;
  const span = Math.max(yHigh - yLow, Math.abs(yHigh) * 0.1, 1e-9);
  const yStep = niceStep(span * (1 + 2 * HEADROOM), TICKS);
  const yMin = Math.max(yLow >= 0 ? 0 : -Infinity, Math.floor((yLow - HEADROOM * span) / yStep) * yStep);
  const yMax = Math.max(yMin + yStep, Math.ceil((yHigh + HEADROOM * span) / yStep) * yStep);
  const xStep = Math.max(1, niceStep(xMax - xMin, TICKS));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x) => MARGIN.left + (x - xMin) / (xMax - xMin) * plotW;
  const py = (y) => MARGIN.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;
  const f = (n) => n.toFixed(1);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT} font-size="12">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN.left}" y="${MARGIN.top - 16}" font-size="15" font-weight="600">${escapeXml(spec.title)}</text>`);
  for (let y = yMin; y <= yMax + yStep / 2; y += yStep) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(py(y))}" y2="${f(py(y))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${f(py(y) + 4)}" text-anchor="end">${formatTick(y, yStep)}</text>`);
  }
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax; x += xStep) {
    out.push(`<line x1="${f(px(x))}" x2="${f(px(x))}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" stroke="#333"/>`);
    out.push(`<text x="${f(px(x))}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${formatTick(x, xStep)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  const legend = [];
  let row = 0;
  const legendX = MARGIN.left + plotW + 16;
  const legendEntry = (color, dash, name) => {
    const y = MARGIN.top + 8 + row * LEGEND_ROW;
    legend.push(`<line x1="${legendX}" x2="${legendX + 24}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${dash}/>`);
    legend.push(`<text x="${legendX + 30}" y="${y + 4}">${escapeXml(name)}</text>`);
    row++;
  };
  spec.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length];
    const dash = series.dotted ? ' stroke-dasharray="2 3"' : "";
    const d = series.points.map(([x, y], k) => `${k === 0 ? "M" : "L"}${f(px(x))},${f(py(y))}`).join(" ");
    if (d !== "") out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const [x, y] of series.points) out.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="2.5" fill="${color}"/>`);
    legendEntry(color, dash, series.name);
  });
  spec.references.forEach((ref, i) => {
    const color = REFERENCE_COLORS[i % REFERENCE_COLORS.length];
    const dash = ' stroke-dasharray="6 4"';
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(py(ref.y))}" y2="${f(py(ref.y))}" stroke="${color}" stroke-width="1.5"${dash}/>`);
    legendEntry(color, dash, `${ref.name} (${ref.y.toFixed(4)})`);
  });
  out.push(...legend);
  out.push("</svg>");
  return `${out.join("\n")}
`;
}

export {
  lineChartSvg
};
//# sourceMappingURL=chunk-PIJCIS4Q.js.map
