// The logsieve page: overview, templates of a source, a template's detail,
// alerts. Plain ES module, no dependencies. Data comes only from the
// documented query API: GET /v1/sources, /v1/templates, /v1/templates/{id},
// /v1/alerts. Every view is a hash URL (#/source/api?range=1h&q=...) that
// reopens it. When the API answers 401 the page asks for the bearer token,
// keeps it in sessionStorage and sends it as Authorization: Bearer.

import { axisOf, bucketize, sparkline, shareBar, timeChart, short, fullTime } from './chart.js';

const RANGES = { '15m': 15 * 60e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 86400e3 };
const RANGE_NAMES = { '15m': 'last 15 minutes', '1h': 'last hour', '6h': 'last 6 hours', '24h': 'last 24 hours', '7d': 'last 7 days' };
const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];
const GLOBAL = ['range', 'from', 'to', 'refresh'];
const TOKEN_KEY = 'logsieve.token';
const PAGE = 500; // template rows rendered at once; "Show more" adds as many
const MAX = 100000; // the API's largest limit

const $ = (sel, el = document) => el.querySelector(sel);
const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const NUM = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const num = (v) => NUM.format(Math.round(v));
const iso = (ms) => new Date(ms).toISOString();

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, message, url) {
    super(message);
    this.status = status;
    this.url = url;
  }
}

let tokenPrompt = null; // one dialog for all the calls that got a 401

function askToken(refused) {
  if (tokenPrompt) return tokenPrompt;
  const dlg = $('#token-dialog');
  $('#token-error').hidden = !refused;
  $('#token-input').value = '';
  tokenPrompt = new Promise((resolve) => {
    const done = () => {
      dlg.removeEventListener('close', done);
      tokenPrompt = null;
      const v = dlg.returnValue === 'ok' ? $('#token-input').value.trim() : '';
      if (v) {
        sessionStorage.setItem(TOKEN_KEY, v);
        syncTokenButton();
        resolve(v);
      } else resolve(null);
    };
    dlg.addEventListener('close', done);
    dlg.returnValue = '';
    dlg.showModal();
    $('#token-input').focus();
  });
  return tokenPrompt;
}

/** GET a JSON API path; asks for the token on 401 and retries. */
async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const url = path + (q.toString() ? '?' + q : '');
  let refused = false;
  for (;;) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    let r;
    try {
      r = await fetch(url, { headers, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, `no answer from ${location.origin} (${e.message})`, url);
    }
    if (r.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      const t = await askToken(refused || !!token);
      refused = true;
      if (t === null) throw new ApiError(401, 'this service needs its bearer token (logsieve serve --auth-token-file)', url);
      continue;
    }
    let body = null;
    try {
      body = await r.json();
    } catch {
      /* an error without a JSON body */
    }
    if (!r.ok) throw new ApiError(r.status, body?.error ?? `HTTP ${r.status}`, url);
    if (body === null) throw new ApiError(r.status, 'the answer is not JSON', url);
    return body;
  }
}

function syncTokenButton() {
  $('#forget-token').hidden = !sessionStorage.getItem(TOKEN_KEY);
}

// ---------------------------------------------------------------- routing

function route() {
  const h = location.hash.replace(/^#/, '') || '/';
  const qi = h.indexOf('?');
  const path = qi < 0 ? h : h.slice(0, qi);
  const params = new URLSearchParams(qi < 0 ? '' : h.slice(qi + 1));
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { view: parts[0] || 'overview', arg: parts[1] ?? null, params };
}

/** The hash of a view, keeping the range and refresh settings. */
function href(view, arg, extra = {}, cur = route().params) {
  const p = new URLSearchParams();
  for (const k of GLOBAL) if (cur.get(k)) p.set(k, cur.get(k));
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const path = view === 'overview' ? '/' : `/${view}${arg != null ? '/' + encodeURIComponent(arg) : ''}`;
  const qs = p.toString();
  return '#' + path + (qs ? '?' + qs : '');
}

/** Changes query parameters of the current view; `push` adds a history entry. */
function setParams(changes, { push = false, rerender = true } = {}) {
  const r = route();
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '') r.params.delete(k);
    else r.params.set(k, v);
  }
  const path = r.view === 'overview' ? '/' : `/${r.view}${r.arg != null ? '/' + encodeURIComponent(r.arg) : ''}`;
  const qs = r.params.toString();
  const hash = '#' + path + (qs ? '?' + qs : '');
  if (push) location.hash = hash; // hashchange renders
  else {
    history.replaceState(null, '', hash);
    if (rerender) render();
  }
}

class UserError extends Error {}

function timeRange(params) {
  const r = params.get('range') || '1h';
  if (r === 'custom') {
    const from = Date.parse(params.get('from') ?? '');
    const to = params.get('to') ? Date.parse(params.get('to')) : Date.now();
    if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to)
      throw new UserError('The custom range in the URL is not valid: pick a start before the end (Range → custom), or choose a preset range.');
    return { since: from, until: to, label: `${fullTime(from)} – ${fullTime(to)}` };
  }
  const span = RANGES[r] ?? RANGES['1h'];
  const until = Date.now();
  return { since: until - span, until, label: RANGE_NAMES[r] ?? RANGE_NAMES['1h'] };
}

// ---------------------------------------------------------------- formatting

function when(t) {
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const p = (v) => String(v).padStart(2, '0');
  const hms = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return `<time datetime="${esc(iso(ms))}" title="${esc(iso(ms))}">${sameDay ? hms : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${hms}`}</time>`;
}

function rate(lines, range) {
  const r = lines / ((range.until - range.since) / 1000);
  if (r === 0) return '0';
  if (r >= 100) return num(r);
  if (r >= 1) return r.toFixed(1);
  return r.toPrecision(2);
}

/** A template's text with its `<*>` slots highlighted. */
function templateHtml(text) {
  return esc(text).replaceAll('&lt;*&gt;', '<span class="slot">&lt;*&gt;</span>');
}

const levelClass = (l) => (LEVELS.includes(String(l).toLowerCase()) ? 'lv-' + String(l).toLowerCase() : 'lv-other');

function levelChip(level, count) {
  return `<span class="chip ${levelClass(level)}">${esc(level)}${count !== undefined ? ` <b>${num(count)}</b>` : ''}</span>`;
}

/**
 * The example line with the template's variable parts highlighted: the
 * template's constant parts in order, `<*>` matching anything between them.
 */
function exampleHtml(line, template) {
  const parts = template.split('<*>');
  // Lazy wildcards backtrack: long lines or many slots are shown plain.
  if (parts.length > 1 && parts.length <= 24 && line.length <= 4000) {
    const rx = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+');
    const pattern = parts.map(rx).join(')(.*?)(').replace(/^/, '(').concat(')');
    // The last slot takes the rest of its token when the template ends with it.
    const re = new RegExp(pattern.replace(/\(\.\*\?\)\(\)$/, '(\\S*)()'), 's');
    const m = re.exec(line);
    if (m) {
      let out = esc(line.slice(0, m.index));
      for (let i = 1; i < m.length; i++) out += i % 2 === 0 ? `<mark class="var">${esc(m[i])}</mark>` : esc(m[i]);
      return out + esc(line.slice(m.index + m[0].length));
    }
  }
  return esc(line);
}

// ---------------------------------------------------------------- shared pieces

function card(label, value, sub = '', attrs = '') {
  return `<div class="card"${attrs}><div class="card-label">${label}</div><div class="card-value">${value}</div><div class="card-sub">${sub}</div></div>`;
}

function emptyBox(title, body) {
  return `<div class="empty"><h2>${title}</h2>${body}</div>`;
}

function errorBox(err) {
  let what;
  let todo;
  if (err instanceof UserError) {
    what = 'This link cannot be opened';
    todo = esc(err.message);
  } else if (err.status === 0) {
    what = 'logsieve serve does not answer';
    todo = `${esc(err.message)}. Check that the service is running and reachable at <code>${esc(location.origin)}</code>, then press Refresh.`;
  } else if (err.status === 401) {
    what = 'A bearer token is needed';
    todo = 'This service was started with <code>--auth-token-file</code>. <button type="button" class="btn" data-action="token">Enter the token</button>';
  } else if (err.status === 400) {
    what = 'The request was refused';
    todo = `${esc(err.message)}. Check the range and filters in the address bar, or go back to the <a href="${href('overview')}">overview</a>.`;
  } else if (err.status === 404) {
    what = 'Not found';
    todo = `${esc(err.message)}. It may have been evicted (--max-templates) or removed by retention. Go back to the <a href="${href('overview')}">overview</a>.`;
  } else {
    what = `The service answered ${err.status ?? 'an error'}`;
    todo = `${esc(err.message)}. Retry with Refresh; if it persists, look at the service's log.`;
  }
  return `<div class="error" role="alert"><h2>${what}</h2><p>${todo}</p></div>`;
}

function chartPanel(title, id) {
  return `<section class="panel"><div class="panel-head"><h2>${title}</h2><div class="legend" id="${id}-legend"></div></div><div class="chart-box" id="${id}"></div></section>`;
}

/** Draws a chart into `id` at its width, and again when the window is resized. */
const charts = new Map();
function drawChart(id, series, axis, opts) {
  charts.set(id, { series, axis, opts });
  const box = document.getElementById(id);
  if (!box) return;
  box.innerHTML = timeChart(series, axis, { width: Math.max(200, box.clientWidth), ...opts });
  const legend = document.getElementById(id + '-legend');
  if (legend && series.length > 1)
    legend.innerHTML = series.map((s) => `<span class="key ${s.cls}">${esc(s.name)}</span>`).join('');
}
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [id, c] of charts) if (document.getElementById(id)) drawChart(id, c.series, c.axis, c.opts);
  }, 100);
});

function stepText(axis) {
  const m = axis.step / 60e3;
  return m === 1 ? 'per minute' : m < 60 ? `per ${m} minutes` : m % 60 === 0 ? `per ${m / 60} h` : `per ${m} min`;
}

// ---------------------------------------------------------------- views

/** Overview: sources with lines/s, templates, new templates, alerts by level. */
async function overview(ctx) {
  const { range } = ctx;
  const [src, al] = await Promise.all([
    api('/v1/sources'),
    api('/v1/alerts', { since: iso(range.since), until: iso(range.until), limit: MAX }),
  ]);
  const sources = src.sources;
  if (!sources.length) {
    const tok = sessionStorage.getItem(TOKEN_KEY) ? ` -H 'Authorization: Bearer …'` : '';
    return `<div class="page-head"><h1>Overview</h1></div>${emptyBox(
      'No sources yet',
      `<p>Send lines and they show up here, one source per stream:</p>
       <pre>curl${tok} --data-binary @app.log '${esc(location.origin)}/v1/ingest?source=app'</pre>
       <p>Loki push, OTLP, syslog and the Unix socket work too (see <code>logsieve serve --help</code> and docs/SERVE.md). Add <code>--rules DIR</code> to raise Sigma alerts.</p>`,
    )}`;
  }
  const per = await Promise.all(
    sources.map((s) =>
      api('/v1/templates', { source: s.source, since: iso(range.since), until: iso(range.until), limit: MAX }),
    ),
  );
  const axis = axisOf(range.since, range.until);
  const alertsBy = new Map(); // source -> level -> n
  const levelTotals = new Map();
  for (const a of al.alerts) {
    const m = alertsBy.get(a.source) ?? new Map();
    m.set(a.level, (m.get(a.level) ?? 0) + 1);
    alertsBy.set(a.source, m);
    levelTotals.set(a.level, (levelTotals.get(a.level) ?? 0) + 1);
  }
  let totalLines = 0;
  let totalNew = 0;
  let totalActive = 0;
  const rows = sources.map((s, i) => {
    const d = per[i];
    const vol = new Float64Array(axis.n);
    let fresh = 0;
    for (const t of d.templates) {
      bucketize(t.series, axis, vol);
      if (Date.parse(t.first_seen) >= range.since) fresh++;
    }
    totalLines += d.lines;
    totalNew += fresh;
    totalActive += d.templates.length;
    return { s, lines: d.lines, active: d.templates.length, fresh, vol, alerts: alertsBy.get(s.source) ?? new Map() };
  });
  const sortedLevels = (m) =>
    [...m.entries()].sort((a, b) => {
      const ia = LEVELS.indexOf(a[0]);
      const ib = LEVELS.indexOf(b[0]);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
  const alertChips = (m, source) =>
    m.size
      ? sortedLevels(m)
          .map(([l, n]) => `<a class="chip-link" href="${href('alerts', null, { level: l, source })}">${levelChip(l, n)}</a>`)
          .join(' ')
      : '<span class="muted">none</span>';
  const top = [...rows].sort((a, b) => b.lines - a.lines);
  const series = top.slice(0, 8).map((r, i) => ({ name: r.s.source, values: r.vol, cls: 'c' + i }));
  const html = `
    <div class="page-head"><h1>Overview</h1><span class="sub">${esc(range.label)}</span></div>
    <div class="cards">
      ${card('Lines', `<span data-testid="total-lines" data-value="${totalLines}">${num(totalLines)}</span>`, `${rate(totalLines, range)} lines/s`)}
      ${card('Sources', num(sources.length), `${num(sources.reduce((a, s) => a + s.templates, 0))} templates in all`)}
      ${card('Templates in range', num(totalActive), 'with lines in the range')}
      ${card('New templates', `<span data-value="${totalNew}">${num(totalNew)}</span>`, 'first seen in the range')}
      ${card('Alerts', `<a href="${href('alerts')}">${num(al.alerts.length)}${al.alerts.length >= MAX ? '+' : ''}</a>`, sortedLevels(levelTotals).map(([l, n]) => levelChip(l, n)).join(' ') || 'none in the range')}
    </div>
    ${chartPanel(`Lines ${stepText(axis)}${sources.length > 8 ? ' (8 largest sources)' : ''}`, 'ov-chart')}
    <section class="panel">
      <div class="panel-head"><h2>Sources</h2></div>
      <div class="table-wrap"><table class="grid" data-testid="sources">
        <thead><tr><th>Source</th><th class="num">Lines/s</th><th class="num">Lines</th><th>Volume</th><th class="num">Templates</th><th class="num">New</th><th>Alerts</th><th>Last seen</th></tr></thead>
        <tbody>${rows
          .map(
            (r) => `<tr data-source="${esc(r.s.source)}">
          <td><a class="strong" href="${href('source', r.s.source)}">${esc(r.s.source)}</a></td>
          <td class="num">${rate(r.lines, range)}</td>
          <td class="num" data-col="lines" data-value="${r.lines}">${num(r.lines)}</td>
          <td>${sparkline(r.vol, { width: 140, label: `${r.s.source} lines over the range` })}</td>
          <td class="num" data-col="templates" data-value="${r.active}" title="${num(r.s.templates)} in all">${num(r.active)} <span class="muted">/ ${num(r.s.templates)}</span></td>
          <td class="num" data-col="new" data-value="${r.fresh}">${r.fresh ? `<a href="${href('source', r.s.source, { sort: 'first' })}"><span class="badge new">${num(r.fresh)} new</span></a>` : '<span class="muted">0</span>'}</td>
          <td>${alertChips(r.alerts, r.s.source)}</td>
          <td>${when(r.s.last_seen)}</td></tr>`,
          )
          .join('')}</tbody></table></div>
    </section>`;
  return { html, after: () => drawChart('ov-chart', series, axis, { height: 200 }) };
}

/** Marks of one template over the range: buckets, new, spike, change. */
function enrich(t, axis, range, lines) {
  const b = bucketize(t.series, axis);
  const first = Date.parse(t.first_seen);
  const isNew = first >= range.since;
  // Spike: the last bucket far above the template's usual rate (mean of the
  // buckets before it, from its first non-empty one).
  let spike = false;
  const n = b.length;
  let k = 0;
  while (k < n - 1 && b[k] === 0) k++;
  const base = n - 1 - k;
  if (base >= 3) {
    let sum = 0;
    let sq = 0;
    for (let i = k; i < n - 1; i++) {
      sum += b[i];
      sq += b[i] * b[i];
    }
    const mean = sum / base;
    const sd = Math.sqrt(Math.max(0, sq / base - mean * mean));
    const last = b[n - 1];
    spike = last >= 5 && last > 3 * Math.max(mean, 1) && last > mean + 3 * sd;
  }
  // Change: lines in the later half of the range minus the earlier half.
  let early = 0;
  let late = 0;
  for (let i = 0; i < n; i++) (i < n / 2 ? (early += b[i]) : (late += b[i]));
  return { t, b, isNew, spike, change: late - early, share: lines ? t.count / lines : 0, first, last: Date.parse(t.last_seen) };
}

/** At most `max` points: neighbouring buckets summed, for a small sparkline. */
function thin(b, max) {
  if (b.length <= max) return b;
  const k = Math.ceil(b.length / max);
  const out = new Float64Array(Math.ceil(b.length / k));
  for (let i = 0; i < b.length; i++) out[Math.floor(i / k)] += b[i];
  return out;
}

const SORTS = {
  count: (a, b) => b.t.count - a.t.count,
  first: (a, b) => b.first - a.first,
  change: (a, b) => b.change - a.change || b.t.count - a.t.count,
};

/** Templates of one source: table, filter, sort, badges. */
async function templatesView(ctx) {
  const { range, arg: source, params } = ctx;
  if (!source) throw new UserError('No source in the link: open a source from the overview.');
  const d = await api('/v1/templates', { source, since: iso(range.since), until: iso(range.until), limit: MAX });
  const axis = axisOf(range.since, range.until);
  const rows = d.templates.map((t) => enrich(t, axis, range, d.lines));
  const vol = new Float64Array(axis.n);
  for (const r of rows) for (let i = 0; i < axis.n; i++) vol[i] += r.b[i];
  const nNew = rows.filter((r) => r.isNew).length;
  const nSpike = rows.filter((r) => r.spike).length;
  const q = params.get('q') ?? '';
  const sort = SORTS[params.get('sort')] ? params.get('sort') : 'count';
  const only = params.get('only') ?? '';
  const head = `
    <nav class="crumbs" aria-label="Breadcrumb"><a href="${href('overview')}">Overview</a> › <span>${esc(source)}</span></nav>
    <div class="page-head"><h1>${esc(source)}</h1><span class="sub">${esc(range.label)}</span></div>
    <div class="cards">
      ${card('Lines', `<span data-testid="source-lines" data-value="${d.lines}">${num(d.lines)}</span>`, `${rate(d.lines, range)} lines/s`)}
      ${card('Templates in range', num(rows.length), d.templates.length >= MAX ? 'the first 100,000' : 'with lines in the range')}
      ${card('New', `<span data-value="${nNew}">${num(nNew)}</span>`, 'first seen in the range')}
      ${card('Spikes', num(nSpike), 'last bucket far above usual')}
      ${card('Alerts', `<a href="${href('alerts', null, { source })}">View</a>`, 'on this source')}
    </div>
    ${chartPanel(`Lines ${stepText(axis)}`, 'src-chart')}`;
  if (!rows.length) {
    return (
      head +
      emptyBox(
        'No lines from this source in the range',
        `<p>Choose a longer range above, or send lines: <code>curl --data-binary @app.log '${esc(location.origin)}/v1/ingest?source=${esc(encodeURIComponent(source))}'</code></p>`,
      )
    );
  }
  const html = `${head}
    <section class="panel">
      <div class="panel-head toolbar">
        <h2>Templates</h2>
        <label class="filter"><span class="sr">Filter templates</span><input id="tpl-filter" type="search" placeholder="Filter templates (substring)  /" value="${esc(q)}" autocomplete="off" spellcheck="false"></label>
        <label>Sort <select id="tpl-sort">
          <option value="count"${sort === 'count' ? ' selected' : ''}>count</option>
          <option value="first"${sort === 'first' ? ' selected' : ''}>first seen</option>
          <option value="change"${sort === 'change' ? ' selected' : ''}>change</option></select></label>
        <label>Show <select id="tpl-only">
          <option value=""${only === '' ? ' selected' : ''}>all</option>
          <option value="new"${only === 'new' ? ' selected' : ''}>new</option>
          <option value="spike"${only === 'spike' ? ' selected' : ''}>spikes</option></select></label>
        <span class="muted" id="tpl-count" aria-live="polite"></span>
      </div>
      <div class="table-wrap"><table class="grid templates" data-testid="templates">
        <colgroup><col class="c-tpl"><col class="c-num"><col class="c-share"><col class="c-spark"><col class="c-time"><col class="c-time"><col class="c-num"></colgroup>
        <thead><tr><th>Template</th><th class="num">Count</th><th>Share</th><th>Trend</th><th>First seen</th><th>Last seen</th><th class="num" title="Lines in the later half of the range minus the earlier half">Change</th></tr></thead>
        <tbody id="tpl-body"></tbody></table></div>
      <div class="more" id="tpl-more"></div>
    </section>`;
  let shown = PAGE;
  const fill = () => {
    const p = route().params;
    const needle = (p.get('q') ?? '').toLowerCase();
    const s = SORTS[p.get('sort')] ? p.get('sort') : 'count';
    const o = p.get('only') ?? '';
    const list = rows
      .filter((r) => (!needle || r.t.template.toLowerCase().includes(needle)) && (o !== 'new' || r.isNew) && (o !== 'spike' || r.spike))
      .sort(SORTS[s]);
    const body = $('#tpl-body');
    const here = route().params; // for the rows' links, parsed once
    if (!list.length) {
      body.innerHTML = `<tr><td colspan="7" class="empty-row">No template ${needle ? `contains “${esc(needle)}”` : 'matches'}${o ? ` among the ${o === 'new' ? 'new ones' : 'spikes'}` : ''}. Clear the filter to see all ${num(rows.length)}.</td></tr>`;
    } else {
      body.innerHTML = list
        .slice(0, shown)
        .map((r) => {
          const t = r.t;
          return `<tr data-template-id="${t.template_id}">
        <td class="tpl"><a href="${href('template', t.template_id, { source }, here)}">${templateHtml(t.template)}</a>${r.isNew ? ' <span class="badge new">new</span>' : ''}${r.spike ? ' <span class="badge spike">spike</span>' : ''}</td>
        <td class="num" data-col="count" data-value="${t.count}">${num(t.count)}</td>
        <td class="share-cell"><meter min="0" max="1" value="${r.share.toFixed(4)}"></meter> <span>${(r.share * 100).toFixed(r.share >= 0.1 ? 0 : 1)}%</span></td>
        <td>${sparkline(thin(r.b, 60), { hot: r.spike })}</td>
        <td>${when(r.first)}</td><td>${when(r.last)}</td>
        <td class="num ${r.change > 0 ? 'up' : r.change < 0 ? 'down' : ''}">${r.change > 0 ? '+' : ''}${short(r.change)}</td></tr>`;
        })
        .join('');
    }
    $('#tpl-count').textContent = `${num(Math.min(shown, list.length))} of ${num(list.length)}${list.length !== rows.length ? ` (${num(rows.length)} in all)` : ''}`;
    const left = list.length - shown;
    $('#tpl-more').innerHTML = left > 0 ? `<button type="button" class="btn" id="tpl-more-btn">Show ${num(Math.min(PAGE, left))} more</button> <button type="button" class="btn" id="tpl-all-btn">Show all ${num(list.length)}</button>` : '';
  };
  const after = () => {
    drawChart('src-chart', [{ name: source, values: vol, cls: 'c0' }], axis, { height: 160, kind: 'bar' });
    fill();
    const input = $('#tpl-filter');
    input.addEventListener('input', () => {
      shown = PAGE;
      setParams({ q: input.value }, { rerender: false });
      fill();
    });
    $('#tpl-sort').addEventListener('change', (e) => {
      setParams({ sort: e.target.value === 'count' ? '' : e.target.value }, { rerender: false });
      fill();
    });
    $('#tpl-only').addEventListener('change', (e) => {
      setParams({ only: e.target.value }, { rerender: false });
      fill();
    });
    $('#tpl-more').addEventListener('click', (e) => {
      if (e.target.id === 'tpl-more-btn') shown += PAGE;
      else if (e.target.id === 'tpl-all-btn') shown = Infinity;
      else return;
      fill();
    });
  };
  return { html, after };
}

/** One template: series, examples, top values, merges, alerts. */
async function templateView(ctx) {
  const { range, arg: id, params } = ctx;
  if (!/^[0-9a-f]{16}$/.test(id ?? '')) throw new UserError(`“${id ?? ''}” is not a template id (16 hex digits): open a template from a source's table.`);
  const source = params.get('source') ?? undefined;
  const d = await api('/v1/templates/' + id, { source });
  if (d.templates.length > 1 && !source) {
    return `<div class="page-head"><h1>Template ${esc(id)}</h1></div>${emptyBox(
      'This id is in several sources',
      `<p>Pick one:</p><ul>${d.templates.map((t) => `<li><a href="${href('template', id, { source: t.source })}">${esc(t.source)}</a>: <code>${templateHtml(t.template)}</code></li>`).join('')}</ul>`,
    )}`;
  }
  const t = d.templates[0];
  const al = await api('/v1/alerts', { template_id: t.template_id, source: t.source, since: iso(range.since), until: iso(range.until), limit: 1000 });
  const axis = axisOf(range.since, range.until);
  const b = bucketize(t.series, axis);
  const inRange = b.reduce((a, v) => a + v, 0);
  const e = enrich(t, axis, range, 0);
  const merged = d.templates[0].merged_into
    ? `<p class="note">${esc(id)} was merged into this template (${esc(t.template_id)}).</p>`
    : '';
  const examples = t.examples.length
    ? `<ol class="examples">${t.examples.map((l) => `<li><code>${exampleHtml(l, t.template)}</code></li>`).join('')}</ol>`
    : '<p class="muted">No example kept.</p>';
  const slots = (t.template.match(/<\*>/g) ?? []).length;
  const vars = t.variables.length
    ? t.variables
        .map((v) => {
          const total = v.top.reduce((a, x) => a + x.count, 0) + v.other;
          return `<div class="var-block" data-position="${v.position}">
            <h3><span class="slot">&lt;*&gt;</span> #${v.position + 1} <span class="muted">${num(v.distinct_kept)} distinct kept${v.other ? `, ${num(v.other)} other` : ''}</span></h3>
            <table class="grid compact"><colgroup><col><col class="c-cnt"><col class="c-bar"></colgroup><tbody>${v.top
              .slice(0, 10)
              .map((x) => `<tr><td class="val"><code>${esc(x.value)}</code></td><td class="num" data-value="${x.count}">${num(x.count)}</td><td class="share-cell">${shareBar(total ? x.count / total : 0, 80)}</td></tr>`)
              .join('')}${v.top.length > 10 ? `<tr><td colspan="3" class="muted">${num(v.top.length - 10)} more values kept</td></tr>` : ''}</tbody></table></div>`;
        })
        .join('')
    : `<p class="muted">${slots ? 'No values kept yet.' : 'This template has no variables.'}</p>`;
  const history = t.merged_from.length
    ? `<table class="grid compact"><thead><tr><th>When</th><th>Template merged in</th><th>Id</th></tr></thead><tbody>${t.merged_from
        .map((m) => `<tr><td>${when(m.at)}</td><td class="tpl">${templateHtml(m.template)}</td><td><code>${esc(m.template_id)}</code></td></tr>`)
        .join('')}</tbody></table>`
    : '<p class="muted">No template was merged into this one.</p>';
  const html = `
    <nav class="crumbs" aria-label="Breadcrumb"><a href="${href('overview')}">Overview</a> › <a href="${href('source', t.source)}">${esc(t.source)}</a> › <span>template</span></nav>
    <div class="page-head tpl-head"><h1 class="tpl-title">${templateHtml(t.template)}</h1>${e.isNew ? '<span class="badge new">new</span>' : ''}${e.spike ? '<span class="badge spike">spike</span>' : ''}</div>
    <p class="meta"><code>${esc(t.template_id)}</code> · source <a href="${href('source', t.source)}">${esc(t.source)}</a> · ${esc(range.label)}</p>
    ${merged}
    <div class="cards">
      ${card('Lines in range', `<span data-value="${inRange}">${num(inRange)}</span>`, `${rate(inRange, range)} lines/s`)}
      ${card('Lines in all', `<span data-testid="template-count" data-value="${t.count}">${num(t.count)}</span>`, 'since it was first seen')}
      ${card('First seen', when(t.first_seen), '')}
      ${card('Last seen', when(t.last_seen), '')}
      ${card('Alerts', `<span data-value="${al.alerts.length}">${num(al.alerts.length)}</span>`, 'on its lines in the range')}
    </div>
    ${chartPanel(`Lines ${stepText(axis)}`, 'tpl-chart')}
    <div class="two">
      <section class="panel"><div class="panel-head"><h2>Example lines</h2></div><div class="pad">${examples}</div></section>
      <section class="panel" data-testid="variables"><div class="panel-head"><h2>Top values</h2></div><div class="pad">${vars}</div></section>
    </div>
    <section class="panel"><div class="panel-head"><h2>Merge history</h2></div><div class="pad">${history}</div></section>
    <section class="panel"><div class="panel-head"><h2>Alerts on this template</h2><a href="${href('alerts', null, { source: t.source })}">All alerts of ${esc(t.source)}</a></div>
      ${al.alerts.length ? alertsTable(al.alerts, false) : '<div class="pad muted">No alert on lines of this template in the range.</div>'}</section>`;
  return { html, after: () => drawChart('tpl-chart', [{ name: 'lines', values: b, cls: 'c0' }], axis, { height: 160, kind: 'bar' }) };
}

/** The fields the rule matched on; for keyword rules (none named), the line's own fields. */
function matchedHtml(a) {
  const m = a.alert?.matched ?? {};
  const keys = Object.keys(m);
  const kv = (k, v, cls = '') => `<span class="kv${cls}"><b>${esc(k)}</b>=${esc(v)}</span>`;
  let out = keys.map((k) => kv(k, m[k])).join(' ');
  if (a.alert?.correlation) out += ' ' + kv('correlation', a.alert.correlation);
  if (a.alert?.group) out += ' ' + Object.entries(a.alert.group).map(([k, v]) => kv(k, v)).join(' ');
  if (!out) {
    const f = Object.entries(a.fields ?? {}).filter(([k, v]) => v !== '' && k !== 'timestamp');
    out = f.length ? `<span class="muted">keywords; line fields:</span> ${f.map(([k, v]) => kv(k, v, ' field')).join(' ')}` : '<span class="muted">keywords</span>';
  }
  return out;
}

function alertsTable(alerts, withTemplate = true) {
  return `<div class="table-wrap"><table class="grid alerts" data-testid="alerts">
    <thead><tr><th>Level</th><th>Time</th><th>Rule</th><th>Source</th><th>Matched</th><th>Line</th>${withTemplate ? '<th>Template</th>' : ''}</tr></thead>
    <tbody>${alerts
      .map(
        (a) => `<tr data-alert-id="${a.id}" class="${levelClass(a.level)}-row">
      <td>${levelChip(a.level)}</td>
      <td>${when(a.at)}</td>
      <td><div class="rule-title">${esc(a.title)}</div><div class="rule-id"><a href="${href('alerts', null, { rule: a.rule_id })}" title="Only this rule"><code>${esc(a.rule_id)}</code></a></div></td>
      <td><a href="${href('alerts', null, { source: a.source })}">${esc(a.source)}</a></td>
      <td class="matched">${matchedHtml(a)}</td>
      <td class="line"><code>${esc(a.line)}</code></td>
      ${withTemplate ? `<td>${a.template_id ? `<a href="${href('template', a.template_id, { source: a.source })}">template</a>` : '<span class="muted">–</span>'}</td>` : ''}</tr>`,
      )
      .join('')}</tbody></table></div>`;
}

/** Alerts, filtered by level, rule and source. */
async function alertsView(ctx) {
  const { range, params } = ctx;
  const level = params.get('level') ?? '';
  const rule = params.get('rule') ?? '';
  const source = params.get('source') ?? '';
  const limit = 1000;
  const [al, src] = await Promise.all([
    api('/v1/alerts', { since: iso(range.since), until: iso(range.until), level, rule, source, limit }),
    api('/v1/sources'),
  ]);
  const byLevel = new Map();
  const rules = new Map();
  for (const a of al.alerts) {
    byLevel.set(a.level, (byLevel.get(a.level) ?? 0) + 1);
    rules.set(a.rule_id, a.title);
  }
  const sources = src.sources.map((s) => s.source);
  if (source && !sources.includes(source)) sources.push(source);
  const filtered = level || rule || source;
  const html = `
    <div class="page-head"><h1>Alerts</h1><span class="sub">${esc(range.label)}</span></div>
    <section class="panel">
      <form class="panel-head toolbar" id="alert-filters">
        <label>Level <select name="level" id="alert-level"><option value="">any</option>${LEVELS.map((l) => `<option${l === level ? ' selected' : ''}>${l}</option>`).join('')}</select></label>
        <label>Rule <input name="rule" id="alert-rule" list="rule-list" value="${esc(rule)}" placeholder="rule id or title" autocomplete="off" spellcheck="false"></label>
        <datalist id="rule-list">${[...rules].map(([id, title]) => `<option value="${esc(id)}">${esc(title)}</option>`).join('')}</datalist>
        <label>Source <select name="source" id="alert-source"><option value="">any</option>${sources.map((s) => `<option${s === source ? ' selected' : ''}>${esc(s)}</option>`).join('')}</select></label>
        <button class="btn" type="submit">Apply</button>
        ${filtered ? `<a class="btn" href="${href('alerts')}">Clear</a>` : ''}
        <span class="muted">${num(al.alerts.length)}${al.alerts.length >= limit ? ' (the newest 1,000)' : ''} · ${LEVELS.filter((l) => byLevel.get(l)).map((l) => levelChip(l, byLevel.get(l))).join(' ')}</span>
      </form>
      ${
        al.alerts.length
          ? alertsTable(al.alerts)
          : `<div class="pad">${emptyBox(
              filtered ? 'No alert matches these filters' : 'No alerts in this range',
              filtered
                ? `<p>Widen the range or <a href="${href('alerts')}">clear the filters</a>. The rule filter takes a rule's exact id or title.</p>`
                : '<p>Alerts appear when <code>logsieve serve</code> runs with <code>--rules DIR</code> (Sigma rules, e.g. <code>testdata/sigma-rules/rules/linux</code> with <code>--mapping linux</code>) and a rule matches a line. Choose a longer range if you expected some.</p>',
            )}</div>`
      }
    </section>`;
  const after = () => {
    const form = $('#alert-filters');
    const apply = () => {
      const f = new FormData(form);
      setParams({ level: f.get('level'), rule: String(f.get('rule')).trim(), source: f.get('source') }, { push: true });
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      apply();
    });
    for (const s of form.querySelectorAll('select')) s.addEventListener('change', apply);
  };
  return { html, after };
}

// ---------------------------------------------------------------- frame

const VIEWS = { overview, source: templatesView, template: templateView, alerts: alertsView };
let generation = 0;

function syncControls(params) {
  const r = params.get('range') || '1h';
  const sel = $('#range');
  sel.value = RANGES[r] || r === 'custom' ? r : '1h';
  $('#custom').hidden = sel.value !== 'custom';
  if (sel.value === 'custom') {
    const local = (ms) => {
      const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
      return d.toISOString().slice(0, 16);
    };
    const f = Date.parse(params.get('from') ?? '');
    const t = Date.parse(params.get('to') ?? '');
    if (Number.isFinite(f) && document.activeElement !== $('#from')) $('#from').value = local(f);
    if (Number.isFinite(t) && document.activeElement !== $('#to')) $('#to').value = local(t);
  }
  $('#refresh').value = ['10', '30', '60', '300'].includes(params.get('refresh')) ? params.get('refresh') : '0';
  const view = route().view;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.setAttribute('aria-current', a.dataset.nav === (view === 'alerts' ? 'alerts' : 'overview') ? 'page' : 'false');
    a.setAttribute('href', href(a.dataset.nav));
  }
}

/** Renders the view of the current URL; `quiet` keeps the old content until the new one is ready. */
async function render({ quiet = false } = {}) {
  const gen = ++generation;
  const r = route();
  syncControls(r.params);
  const main = $('#main');
  const fn = VIEWS[r.view];
  document.body.dataset.state = 'loading';
  // Keep the focus and caret of the field being used across a redraw.
  const active = document.activeElement;
  const keep = active && active.id && main.contains(active) ? { id: active.id, s: active.selectionStart, e: active.selectionEnd } : null;
  if (!quiet) main.innerHTML = skeleton(r.view);
  let out;
  try {
    if (!fn) throw new UserError(`There is no “${r.view}” view: the page has the overview, sources, templates and alerts.`);
    const range = timeRange(r.params);
    out = await fn({ ...r, range });
  } catch (err) {
    if (gen !== generation) return;
    if (!(err instanceof UserError) && !(err instanceof ApiError)) console.error(err);
    main.innerHTML = errorBox(err instanceof UserError || err instanceof ApiError ? err : new ApiError(-1, String(err?.message ?? err)));
    document.body.dataset.state = 'error';
    return;
  }
  if (gen !== generation) return;
  const { html, after } = typeof out === 'string' ? { html: out } : out;
  charts.clear();
  main.innerHTML = `<div class="view view-${r.view}">${html}</div>`;
  after?.();
  if (keep) {
    const el = document.getElementById(keep.id);
    if (el) {
      el.focus();
      try {
        el.setSelectionRange(keep.s, keep.e);
      } catch {
        /* not a text field */
      }
    }
  }
  const titles = { overview: 'Overview', source: r.arg, template: 'Template', alerts: 'Alerts' };
  document.title = `${titles[r.view] ?? ''} · logsieve`;
  document.body.dataset.state = 'ready';
  document.body.dataset.view = r.view;
  document.body.dataset.renders = String(Number(document.body.dataset.renders ?? 0) + 1);
  performance.mark('logsieve:rendered', { detail: r.view });
}

function skeleton(view) {
  const cards = '<div class="cards">' + '<div class="card skel"></div>'.repeat(5) + '</div>';
  const panel = '<section class="panel skel-panel"><div class="panel-head"><h2>&nbsp;</h2></div><div class="chart-box skel"></div></section>';
  const rows = '<section class="panel skel-panel"><div class="skel skel-table"></div></section>';
  return `<div class="view view-${esc(view)}" aria-busy="true"><div class="page-head"><h1 class="skel-text">Loading…</h1></div>${cards}${panel}${rows}</div>`;
}

let refreshTimer = 0;
function scheduleRefresh() {
  clearInterval(refreshTimer);
  const s = Number(route().params.get('refresh') || 0);
  if (s > 0)
    refreshTimer = setInterval(() => {
      if (!document.hidden && !$('#token-dialog').open) render({ quiet: true });
    }, s * 1000);
}

function init() {
  $('#range').addEventListener('change', (e) => {
    const v = e.target.value;
    if (v === 'custom') {
      const now = Date.now();
      const { since, until } = (() => {
        try {
          return timeRange(route().params);
        } catch {
          return { since: now - 3600e3, until: now };
        }
      })();
      setParams({ range: 'custom', from: iso(since), to: iso(until) }, { push: true });
    } else setParams({ range: v === '1h' ? '' : v, from: '', to: '' }, { push: true });
  });
  $('#custom').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = Date.parse($('#from').value);
    const t = Date.parse($('#to').value);
    if (!Number.isFinite(f) || !Number.isFinite(t) || f >= t) {
      $('#custom-error').textContent = 'start must be before end';
      return;
    }
    $('#custom-error').textContent = '';
    setParams({ range: 'custom', from: iso(f), to: iso(t) }, { push: true });
  });
  $('#refresh').addEventListener('change', (e) => {
    setParams({ refresh: e.target.value === '0' ? '' : e.target.value }, { rerender: false });
    scheduleRefresh();
    render({ quiet: true });
  });
  $('#reload').addEventListener('click', () => render({ quiet: true }));
  $('#forget-token').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    syncTokenButton();
    render();
  });
  $('#main').addEventListener('click', (e) => {
    if (e.target.closest('[data-action="token"]')) askToken(false).then((t) => t && render());
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement?.tagName ?? '')) {
      const f = $('#tpl-filter') ?? $('#alert-filters input[name=rule]');
      if (f) {
        e.preventDefault();
        f.focus();
      }
    }
  });
  // A new view moves the focus to its content (for keyboard and screen
  // readers); a filter change within a view leaves it where it is.
  let lastView = `${route().view}/${route().arg}`;
  window.addEventListener('hashchange', () => {
    scheduleRefresh();
    const v = `${route().view}/${route().arg}`;
    render({ quiet: v === lastView });
    if (v !== lastView) $('#main').focus({ preventScroll: true });
    lastView = v;
  });
  syncTokenButton();
  scheduleRefresh();
  render();
}

init();
