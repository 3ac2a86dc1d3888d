/**
 * A small self-contained SVG line chart (no script, no external font or style),
 * for result files that a README or a browser shows as an image. Pure: a spec
 * in, SVG text out. Missing values (null) break the line.
 */

export interface LineSeries {
  name: string;
  values: readonly (number | null)[];
  /** CSS colour; defaults to the palette in order. */
  color?: string;
}

export interface LineChartSpec {
  title: string;
  /** A smaller line under the title (the run's setting). */
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** x of each value (same length as every series' values). */
  x: readonly number[];
  series: readonly LineSeries[];
  /** Fixed y range; otherwise from the data (with some room). */
  yMin?: number;
  yMax?: number;
  /** Base-10 logarithmic y axis (values must be > 0; others are left out). */
  logY?: boolean;
  /** Dashed horizontal reference lines, e.g. a significance level. */
  guides?: readonly { value: number; label: string }[];
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { top: 56, right: 130, bottom: 48, left: 64 };
const PALETTE = ['#5b4bdb', '#d9822b', '#2a9d8f', '#c0392b', '#7f8c8d'];
const TARGET_TICKS = 5;
const POINT_RADIUS = 3;
const LEGEND_ROW = 20;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, count: number = TARGET_TICKS): number[] {
  if (!(max > min)) return [min];
  const rough = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-3) return value.toExponential(0);
  return String(Number(value.toPrecision(4)));
}

/** The chart as an SVG document. */
export function renderLineChart(spec: LineChartSpec): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const usable = (v: number | null): v is number => v !== null && Number.isFinite(v) && (!spec.logY || v > 0);
  const data = spec.series.flatMap((s) => s.values.filter(usable));
  const guideValues = (spec.guides ?? []).map((g) => g.value).filter((v) => usable(v));
  const all = [...data, ...guideValues];
  const toAxis = (v: number) => (spec.logY ? Math.log10(v) : v);

  let lo = spec.yMin !== undefined ? toAxis(spec.yMin) : all.length > 0 ? Math.min(...all.map(toAxis)) : 0;
  let hi = spec.yMax !== undefined ? toAxis(spec.yMax) : all.length > 0 ? Math.max(...all.map(toAxis)) : 1;
  if (spec.logY) {
    lo = Math.floor(lo);
    hi = Math.max(Math.ceil(hi), lo + 1);
  } else if (spec.yMin === undefined || spec.yMax === undefined) {
    const pad = hi > lo ? (hi - lo) * 0.08 : Math.abs(hi) * 0.1 || 1;
    if (spec.yMin === undefined) lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    if (spec.yMax === undefined) hi += pad;
  }
  const xs = spec.x;
  const xLo = xs.length > 0 ? Math.min(...xs) : 0;
  const xHi = xs.length > 1 ? Math.max(...xs) : xLo + 1;
  const px = (x: number) => MARGIN.left + ((x - xLo) / (xHi - xLo)) * plotW;
  const py = (v: number) => MARGIN.top + plotH - ((toAxis(v) - lo) / (hi - lo)) * plotH;

  const yTicks = spec.logY ? Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) : niceTicks(lo, hi);
  const xTicks = xs.length <= 12 ? [...xs] : niceTicks(xLo, xHi).filter((t) => Number.isInteger(t));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(spec.title)}">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN.left}" y="22" ${FONT} font-size="16" font-weight="600" fill="#1d1d24">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${MARGIN.left}" y="40" ${FONT} font-size="12" fill="#66656e">${escapeXml(spec.subtitle)}</text>`);
  for (const t of yTicks) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#ecebe6"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${y}" ${FONT} font-size="11" fill="#66656e" text-anchor="end" dominant-baseline="middle">${escapeXml(formatTick(t))}</text>`);
  }
  for (const t of xTicks) {
    const x = px(t).toFixed(1);
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 18}" ${FONT} font-size="11" fill="#66656e" text-anchor="middle">${escapeXml(formatTick(t))}</text>`);
  }
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#66656e"/>`);
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#66656e"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" ${FONT} font-size="12" fill="#1d1d24" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" ${FONT} font-size="12" fill="#1d1d24" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);

  for (const guide of spec.guides ?? []) {
    if (!usable(guide.value) || toAxis(guide.value) < lo || toAxis(guide.value) > hi) continue;
    const y = py(guide.value).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#999" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${MARGIN.left + 4}" y="${(py(guide.value) - 4).toFixed(1)}" ${FONT} font-size="11" fill="#66656e">${escapeXml(guide.label)}</text>`);
  }

  spec.series.forEach((series, i) => {
    const color = series.color ?? PALETTE[i % PALETTE.length];
    const segments: string[][] = [[]];
    const points: string[] = [];
    series.values.forEach((v, k) => {
      if (!usable(v)) {
        if (segments[segments.length - 1].length > 0) segments.push([]);
        return;
      }
      const p = `${px(xs[k]).toFixed(1)},${py(v).toFixed(1)}`;
      segments[segments.length - 1].push(p);
      points.push(`<circle cx="${px(xs[k]).toFixed(1)}" cy="${py(v).toFixed(1)}" r="${POINT_RADIUS}" fill="${color}"/>`);
    });
    for (const seg of segments) if (seg.length > 1) out.push(`<polyline points="${seg.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    out.push(...points);
    const ly = MARGIN.top + 8 + i * LEGEND_ROW;
    out.push(`<line x1="${MARGIN.left + plotW + 10}" x2="${MARGIN.left + plotW + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${MARGIN.left + plotW + 36}" y="${ly}" ${FONT} font-size="12" fill="#1d1d24" dominant-baseline="middle">${escapeXml(series.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
