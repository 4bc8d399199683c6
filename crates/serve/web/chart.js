// Hand-written SVG charts for the logsieve page: per-minute series put in
// buckets over the selected range, sparklines and a time chart with axes.
// Everything returns SVG markup as a string (no inline styles: the page's
// Content-Security-Policy forbids them; colours come from CSS classes).

const MINUTE = 60_000;

const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/**
 * The bucket axis of a range: minute-aligned, at most `maxPoints` buckets.
 * @returns {{start:number, step:number, n:number}} start and step in ms
 */
export function axisOf(since, until, maxPoints = 120) {
  const m0 = Math.floor(since / MINUTE);
  const m1 = Math.max(m0 + 1, Math.ceil(until / MINUTE));
  const minutes = m1 - m0;
  const stepMin = Math.max(1, Math.ceil(minutes / maxPoints));
  return { start: m0 * MINUTE, step: stepMin * MINUTE, n: Math.ceil(minutes / stepMin) };
}

/**
 * Counts of a series ([[rfc3339, count], ...] per non-empty minute) in the
 * buckets of `axis`; minutes outside the axis are left out, empty buckets are 0.
 */
export function bucketize(series, axis, into) {
  const out = into ?? new Float64Array(axis.n);
  for (const [t, c] of series) {
    const i = Math.floor((Date.parse(t) - axis.start) / axis.step);
    if (i >= 0 && i < axis.n) out[i] += c;
  }
  return out;
}

/** A number rounded up to 1, 2, 2.5 or 5 times a power of ten. */
export function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** Short number: 950, 1.2k, 34k, 1.5M. */
export function short(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 1).replace(/\.0$/, '') + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1).replace(/\.0$/, '') + 'M';
  if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1).replace(/\.0$/, '') + 'k';
  return String(Math.round(v * 100) / 100);
}

/**
 * A sparkline: an area and a line over `values`, the last point marked
 * (class `hot` when `hot` is set, e.g. a spike).
 */
export function sparkline(values, { width = 120, height = 26, hot = false, label = '' } = {}) {
  const n = values.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (values[i] > max) max = values[i];
  const pad = 2;
  const h = height - pad * 2;
  const x = (i) => (n <= 1 ? width / 2 : (i * (width - 4)) / (n - 1) + 2);
  const y = (v) => pad + h - (max > 0 ? (v / max) * h : 0);
  let pts = '';
  for (let i = 0; i < n; i++) pts += `${x(i).toFixed(1)},${y(values[i]).toFixed(1)} `;
  const area = n ? `M${x(0).toFixed(1)},${pad + h} L${pts.trim().replaceAll(' ', ' L')} L${x(n - 1).toFixed(1)},${pad + h} Z` : '';
  const last = n ? `<circle class="spark-dot${hot ? ' hot' : ''}" cx="${x(n - 1).toFixed(1)}" cy="${y(values[n - 1]).toFixed(1)}" r="2"/>` : '';
  return `<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${label ? `role="img" aria-label="${esc(label)}"` : 'aria-hidden="true"'}><path class="spark-area" d="${area}"/><polyline class="spark-line" points="${pts.trim()}"/>${last}</svg>`;
}

/** A share bar: `frac` of `width` filled. */
export function shareBar(frac, width = 60, height = 6) {
  const w = Math.max(frac > 0 ? 1 : 0, Math.min(1, frac) * width);
  return `<svg class="share" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-hidden="true"><rect class="share-bg" width="${width}" height="${height}" rx="2"/><rect class="share-fg" width="${w.toFixed(1)}" height="${height}" rx="2"/></svg>`;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  const p = (v) => String(v).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return spanMs > 36 * 3600_000 ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}` : hm;
}

/** Local date-time for tooltips: 2026-11-23 10:04. */
export function fullTime(ms) {
  const d = new Date(ms);
  const p = (v) => String(v).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * A time chart over `axis`: bars for one series (`kind: 'bar'`) or one line
 * per series. `series`: [{name, values, cls}] with `cls` a colour class
 * (c0 … c7). Each bucket has a hover title with its values.
 */
export function timeChart(series, axis, { width = 900, height = 180, kind = 'line', unit = 'lines' } = {}) {
  const ml = 44, mr = 10, mt = 8, mb = 22;
  const pw = Math.max(10, width - ml - mr);
  const ph = Math.max(10, height - mt - mb);
  let max = 0;
  for (const s of series) for (const v of s.values) if (v > max) max = v;
  const top = niceCeil(max);
  const y = (v) => mt + ph - (v / top) * ph;
  const bw = pw / axis.n;
  const parts = [];
  // grid and y labels
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    const yy = y(v).toFixed(1);
    parts.push(`<line class="grid" x1="${ml}" x2="${ml + pw}" y1="${yy}" y2="${yy}"/>`);
    parts.push(`<text class="tick" x="${ml - 6}" y="${yy}" dy="0.32em" text-anchor="end">${short(v)}</text>`);
  }
  // x labels: about one per 110 px, on round bucket positions
  const span = axis.n * axis.step;
  const every = Math.max(1, Math.ceil(axis.n / Math.max(1, Math.floor(pw / 110))));
  for (let i = 0; i < axis.n; i += every) {
    const xx = ml + i * bw;
    parts.push(`<line class="tickmark" x1="${xx.toFixed(1)}" x2="${xx.toFixed(1)}" y1="${mt + ph}" y2="${mt + ph + 4}"/>`);
    parts.push(`<text class="tick" x="${xx.toFixed(1)}" y="${mt + ph + 15}" text-anchor="${i === 0 ? 'start' : 'middle'}">${timeLabel(axis.start + i * axis.step, span)}</text>`);
  }
  if (kind === 'bar') {
    const s = series[0];
    const gap = bw > 4 ? 1 : 0;
    for (let i = 0; i < axis.n; i++) {
      const v = s?.values[i] ?? 0;
      if (v <= 0) continue;
      const yy = y(v);
      parts.push(`<rect class="bar ${s.cls ?? 'c0'}" x="${(ml + i * bw + gap / 2).toFixed(1)}" y="${yy.toFixed(1)}" width="${Math.max(0.5, bw - gap).toFixed(1)}" height="${(mt + ph - yy).toFixed(1)}"/>`);
    }
  } else {
    for (const s of series) {
      let d = '';
      for (let i = 0; i < axis.n; i++) d += `${i ? 'L' : 'M'}${(ml + (i + 0.5) * bw).toFixed(1)},${y(s.values[i]).toFixed(1)}`;
      parts.push(`<path class="line ${s.cls}" d="${d}"/>`);
    }
  }
  parts.push(`<line class="axis" x1="${ml}" x2="${ml + pw}" y1="${mt + ph}" y2="${mt + ph}"/>`);
  // hover columns with the bucket's values
  const stepMin = axis.step / MINUTE;
  for (let i = 0; i < axis.n; i++) {
    const t = axis.start + i * axis.step;
    const vals = series.map((s) => `${series.length > 1 ? s.name + ': ' : ''}${Math.round(s.values[i]).toLocaleString('en-US')} ${unit}`).join('\n');
    parts.push(`<rect class="hover" x="${(ml + i * bw).toFixed(1)}" y="${mt}" width="${bw.toFixed(1)}" height="${ph}"><title>${esc(fullTime(t))}${stepMin > 1 ? ` (+${stepMin} min)` : ''}\n${esc(vals)}</title></rect>`);
  }
  return `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(unit)} over time">${parts.join('')}</svg>`;
}
