// End-to-end test of the logsieve serve web page in headless Debian chromium
// (playwright-core, never a downloaded browser). Started by
// crates/cli/tests/web.rs, which runs logsieve serve, sends the lines and
// passes what it sent; can also be run by hand against a running service:
//
//   LOGSIEVE_URL=http://127.0.0.1:7470 [LOGSIEVE_TOKEN=...] E2E_OUT=target/web-e2e \
//   E2E_EXPECT='{...}' node scripts/web/e2e.mjs --mode main|perf|screenshots
//
// Modes:
//   main         the views, counts, badges, top values, alerts, deep links, the token (E2E_EXPECT)
//   perf         the templates table of a source with many templates: navigation → table rendered
//   screenshots  overview, a template detail and the alerts view, for docs/img (E2E_EXPECT names them)
// Screenshots go to E2E_OUT. Exits non-zero with a message on the first failed check.

import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const mode = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'main';
const base = process.env.LOGSIEVE_URL;
const token = process.env.LOGSIEVE_TOKEN ?? '';
const out = process.env.E2E_OUT ?? 'target/web-e2e';
const expect = JSON.parse(process.env.E2E_EXPECT ?? '{}');
if (!base) {
  console.error('e2e.mjs: set LOGSIEVE_URL to the service, e.g. http://127.0.0.1:7470');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

let step = 'start';
const log = (...a) => console.log(`[e2e ${mode}]`, ...a);
function check(cond, what) {
  if (!cond) throw new Error(`check failed at "${step}": ${what}`);
  log('ok:', what);
}

const problems = []; // console errors, page errors, CSP violations, failed requests

async function newPage(browser, { width = 1280, height = 800, withToken = false } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1, colorScheme: 'light' });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  if (withToken && token) await page.addInitScript((t) => sessionStorage.setItem('logsieve.token', t), token);
  return page;
}

/** Waits until the page has rendered `view` (or shows an error, which fails). */
async function ready(page, view) {
  await page.waitForSelector(`body[data-state=ready][data-view=${view}], body[data-state=error]`, { timeout: 30000 });
  const state = await page.getAttribute('body', 'data-state');
  if (state === 'error') throw new Error(`at "${step}": the page shows an error: ${await page.textContent('#main')}`);
}

/** Opens `url` (maybe only a new hash in the same document) and waits until `view` is drawn anew. */
async function open(page, url, view) {
  await page.evaluate(() => document.body && (document.body.dataset.state = 'stale'));
  await page.goto(url);
  await ready(page, view);
}

/** Runs `action`, then waits until the page has drawn `view` again. */
async function redrawn(page, view, action) {
  const before = Number((await page.getAttribute('body', 'data-renders')) ?? 0);
  await action();
  await page.waitForFunction((n) => Number(document.body.dataset.renders ?? 0) > n, before, { timeout: 30000 });
  await ready(page, view);
}

async function shot(page, name, fullPage = false) {
  const path = join(out, name);
  await page.screenshot({ path, fullPage });
  log('screenshot', path);
}

/** Answers the token dialog; returns whether it was shown. */
async function answerToken(page, value) {
  const dlg = page.locator('#token-dialog');
  await dlg.waitFor({ state: 'visible', timeout: 15000 });
  await page.fill('#token-input', value);
  await page.press('#token-input', 'Enter');
  return true;
}

const dataValue = async (loc) => Number(await loc.getAttribute('data-value'));

async function main(browser) {
  const { sources, newTemplate, split, detail, alert } = expect;
  // ---- overview, through the token dialog (a wrong token first)
  step = 'overview with token';
  const page = await newPage(browser);
  await page.goto(`${base}/#/?range=1h`);
  if (token) {
    await answerToken(page, 'not-the-token');
    await page.waitForSelector('#token-error:not([hidden])', { timeout: 15000 });
    check(true, 'a refused token asks again and says so');
    await answerToken(page, token);
  }
  await ready(page, 'overview');
  if (token) check((await page.evaluate(() => sessionStorage.getItem('logsieve.token'))) === token, 'the token is kept in sessionStorage');
  for (const [name, lines] of Object.entries(sources)) {
    const row = page.locator(`tr[data-source="${name}"]`);
    check((await row.count()) === 1, `source ${name} is listed`);
    check((await dataValue(row.locator('td[data-col=lines]'))) === lines, `source ${name} shows ${lines} lines, the lines sent`);
  }
  const total = Object.values(sources).reduce((a, b) => a + b, 0);
  check((await dataValue(page.locator('[data-testid=total-lines]'))) === total, `the overview counts ${total} lines in all`);
  check((await page.locator('#ov-chart svg.chart').count()) === 1, 'the overview draws its chart');
  const chip = page.locator(`tr[data-source="${alert.source}"] .chip.lv-${alert.level}`);
  check((await chip.count()) === 1 && (await chip.textContent()).includes('1'), `the overview shows the ${alert.level} alert of ${alert.source}`);
  await shot(page, 'overview.png');

  // ---- templates of the source that gained a template half-way, from the first send on
  step = 'templates, new badge';
  await page.click(`tr[data-source="${newTemplate.source}"] a`);
  await ready(page, 'source');
  const counts = await page.locator('#tpl-body td[data-col=count]').evaluateAll((tds) => tds.map((td) => Number(td.dataset.value)));
  check(counts.reduce((a, b) => a + b, 0) === sources[newTemplate.source], `the templates of ${newTemplate.source} add up to the lines sent`);
  // From just after the first half: only the template of the second half is new.
  await open(page, `${base}/#/source/${encodeURIComponent(newTemplate.source)}?range=custom&from=${encodeURIComponent(split)}&to=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}`, 'source');
  const newRows = await page.locator('#tpl-body tr:has(.badge.new)').evaluateAll((trs) => trs.map((tr) => tr.dataset.templateId));
  check(newRows.length === 1 && newRows[0] === newTemplate.id, `exactly the template sent half-way (${newTemplate.id}) has the "new" badge (got ${JSON.stringify(newRows)})`);
  check((await page.locator('#tpl-body .slot').count()) > 0, 'variables are shown as <*> slots');
  await shot(page, 'templates.png');

  // ---- filter, sort, and the deep link that reopens them
  step = 'filter and deep link';
  await page.fill('#tpl-filter', newTemplate.filter);
  await page.waitForFunction((q) => new URLSearchParams(location.hash.split('?')[1] ?? '').get('q') === q, newTemplate.filter);
  const filtered = await page.locator('#tpl-body tr[data-template-id]').count();
  check(filtered >= 1, `the filter "${newTemplate.filter}" keeps ${filtered} row(s)`);
  const texts = await page.locator('#tpl-body td.tpl a').allTextContents();
  check(texts.every((t) => t.toLowerCase().includes(newTemplate.filter.toLowerCase())), 'every row left contains the filter text');
  await page.selectOption('#tpl-sort', 'first');
  const link = page.url();
  check(link.includes('sort=first'), 'the sort is in the URL');
  const fresh = await newPage(browser, { withToken: true });
  await open(fresh, link, 'source');
  check((await fresh.inputValue('#tpl-filter')) === newTemplate.filter, 'the deep link reopens the filter');
  check((await fresh.inputValue('#tpl-sort')) === 'first', 'the deep link reopens the sort');
  check((await fresh.locator('#tpl-body tr[data-template-id]').count()) === filtered, 'the deep link shows the same rows');
  check((await fresh.inputValue('#range')) === 'custom', 'the deep link reopens the custom range');
  await shot(fresh, 'deeplink.png');
  await fresh.context().close();

  // ---- a template's detail with its top values
  step = 'template detail';
  await open(page, `${base}/#/source/${encodeURIComponent(detail.source)}?range=1h`, 'source');
  await page.click(`#tpl-body tr[data-template-id="${detail.id}"] td.tpl a`);
  await ready(page, 'template');
  check(page.url().includes(`#/template/${detail.id}`), 'the template link opens its detail');
  check((await dataValue(page.locator('[data-testid=template-count]'))) === detail.count, `the detail counts ${detail.count} lines`);
  const block = page.locator(`.var-block[data-position="${detail.top.position}"]`);
  const firstValue = (await block.locator('td.val').first().textContent()).trim();
  const firstCount = await dataValue(block.locator('td.num').first());
  check(firstValue === detail.top.value && firstCount === detail.top.count, `top value of slot ${detail.top.position}: ${detail.top.value} × ${detail.top.count} (got ${firstValue} × ${firstCount})`);
  check((await page.locator('.examples mark.var').count()) > 0, 'example lines highlight their variable parts');
  await shot(page, 'template.png', true);

  // ---- the alert: on its template's detail, then in the alerts view
  step = 'alerts';
  await open(page, `${base}/#/template/${alert.template_id}?source=${encodeURIComponent(alert.source)}&range=1h`, 'template');
  check((await page.locator(`[data-testid=alerts] tr:has-text("${alert.title}")`).count()) >= 1, `the template detail lists the alert "${alert.title}"`);
  await page.click('nav[aria-label=Views] a[data-nav=alerts]');
  await ready(page, 'alerts');
  const row = page.locator('[data-testid=alerts] tbody tr').filter({ hasText: alert.title });
  check((await row.count()) >= 1, `the alerts view lists "${alert.title}"`);
  check((await row.first().locator(`.chip.lv-${alert.level}`).count()) === 1, `the alert has the ${alert.level} colour`);
  check((await row.first().textContent()).includes(alert.rule_id), 'the alert shows its rule id');
  await page.focus('#alert-level');
  await redrawn(page, 'alerts', () => page.selectOption('#alert-level', alert.level));
  check(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('level') === alert.level, 'the level filter is in the URL');
  check((await page.inputValue('#alert-level')) === alert.level && (await page.evaluate(() => document.activeElement?.id)) === 'alert-level', 'the redrawn filter keeps its value and the focus');
  const levels = await page.locator('[data-testid=alerts] tbody .chip').allTextContents();
  check(levels.length >= 1 && levels.every((l) => l.trim() === alert.level), `the level filter leaves only ${alert.level} alerts`);
  await shot(page, 'alerts.png');
  await page.locator('[data-testid=alerts] tbody tr').filter({ hasText: alert.title }).first().locator('a:has-text("template")').click();
  await ready(page, 'template');
  check(page.url().includes(`#/template/${alert.template_id}`), "the alert links to its line's template");

  // ---- Refresh and auto-refresh show lines that arrive later
  step = 'refresh';
  const send = async (n) => {
    const body = Array.from({ length: n }, (_, i) => `late line ${i} arrived`).join('\n') + '\n';
    const r = await fetch(`${base}/v1/ingest?source=late`, { method: 'POST', body, headers: token ? { Authorization: `Bearer ${token}` } : {} });
    if (!r.ok) throw new Error(`sending lines for the refresh check: HTTP ${r.status} ${await r.text()}`);
  };
  await open(page, `${base}/#/?range=1h`, 'overview');
  check((await page.locator('tr[data-source="late"]').count()) === 0, 'no source "late" yet');
  await send(5);
  await redrawn(page, 'overview', () => page.click('#reload'));
  check((await dataValue(page.locator('tr[data-source="late"] td[data-col=lines]'))) === 5, 'Refresh shows the 5 lines sent since');
  await redrawn(page, 'overview', () => page.selectOption('#refresh', '10'));
  check(new URL(page.url()).hash.includes('refresh=10'), 'the auto-refresh period is in the URL');
  await send(5);
  await page.waitForFunction(() => document.querySelector('tr[data-source="late"] td[data-col=lines]')?.dataset.value === '10', null, { timeout: 30000 });
  check(true, 'auto-refresh shows the next 5 lines without a click');
  await redrawn(page, 'overview', () => page.selectOption('#refresh', '0'));

  // ---- narrow, keyboard, back
  step = 'narrow and keyboard';
  const narrow = await newPage(browser, { width: 420, height: 800, withToken: true });
  await open(narrow, `${base}/#/?range=1h`, 'overview');
  await narrow.keyboard.press('Tab'); // skip link
  await narrow.keyboard.press('Tab'); // brand
  await narrow.keyboard.press('Tab'); // Overview
  await narrow.keyboard.press('Tab'); // Alerts
  check((await narrow.evaluate(() => document.activeElement?.dataset.nav)) === 'alerts', 'the views are reached with Tab');
  await narrow.keyboard.press('Enter');
  await ready(narrow, 'alerts');
  check(true, 'Enter on a focused link opens the view');
  await narrow.goBack();
  await ready(narrow, 'overview');
  check(true, 'Back returns to the overview');
  await shot(narrow, 'narrow-overview.png', true);
  await narrow.context().close();
  await page.context().close();
}

async function perf(browser) {
  const { source, templates } = expect;
  const runs = [];
  let allRows = 0;
  let allMs = 0;
  for (let i = 0; i < 4; i++) {
    step = `load ${i}`;
    const page = await newPage(browser, { withToken: true });
    const t0 = Date.now();
    await page.goto(`${base}/#/source/${encodeURIComponent(source)}?range=1h`);
    await page.waitForSelector('body[data-state=ready][data-view=source] #tpl-body tr[data-template-id]', { timeout: 60000 });
    const wall = Date.now() - t0;
    const mark = await page.evaluate(() => performance.getEntriesByName('logsieve:rendered').at(-1)?.startTime ?? null);
    const cls = await page.evaluate(
      () =>
        new Promise((resolve) => {
          let sum = 0;
          new PerformanceObserver((l) => {
            for (const e of l.getEntries()) if (!e.hadRecentInput) sum += e.value;
          }).observe({ type: 'layout-shift', buffered: true });
          setTimeout(() => resolve(Math.round(sum * 1000) / 1000), 50);
        }),
    );
    const apiMs = await page.evaluate(() => {
      const e = performance.getEntriesByType('resource').filter((r) => r.name.includes('/v1/templates')).at(-1);
      return e ? Math.round(e.responseEnd - e.startTime) : null;
    });
    const count = await page.textContent('#tpl-count');
    check(count.includes(`of ${templates.toLocaleString('en-US')}`), `the table counts ${templates} templates ("${count}")`);
    if (i > 0) runs.push({ wall_ms: wall, navigation_to_rendered_ms: mark === null ? null : Math.round(mark), api_templates_ms: apiMs, layout_shift: cls });
    if (i === 3) {
      step = 'show all';
      const t1 = await page.evaluate(() => performance.now());
      await page.click('#tpl-all-btn');
      await page.waitForFunction((n) => document.querySelectorAll('#tpl-body tr[data-template-id]').length === n, templates, { timeout: 60000 });
      allMs = Math.round((await page.evaluate(() => performance.now())) - t1);
      allRows = await page.locator('#tpl-body tr[data-template-id]').count();
      check(allRows === templates, `"Show all" renders all ${templates} rows`);
      await shot(page, 'perf-templates.png');
    }
    await page.context().close();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const report = {
    source,
    templates,
    first_page_rows: 500,
    runs,
    median_navigation_to_rendered_ms: median(runs.map((r) => r.navigation_to_rendered_ms ?? r.wall_ms)),
    median_wall_ms: median(runs.map((r) => r.wall_ms)),
    median_api_templates_ms: median(runs.map((r) => r.api_templates_ms ?? 0)),
    max_layout_shift: Math.max(...runs.map((r) => r.layout_shift)),
    show_all_rows: allRows,
    show_all_ms: allMs,
    note: 'navigation_to_rendered: performance mark when the table is in the DOM, from navigation start (includes the API call); wall: goto() until the rows are visible; layout_shift: cumulative layout shift score (Chromium). Reported, not asserted.',
  };
  writeFileSync(join(out, 'perf.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(`PERF 5000-template page load: median ${report.median_navigation_to_rendered_ms} ms navigation → table rendered (wall ${report.median_wall_ms} ms, of which GET /v1/templates ${report.median_api_templates_ms} ms); show all ${allRows} rows: ${allMs} ms`);
}

async function screenshots(browser) {
  const { detail, range = '15m' } = expect;
  step = 'docs overview';
  let page = await newPage(browser, { width: 1280, height: 800, withToken: true });
  await open(page, `${base}/#/?range=${range}`, 'overview');
  await shot(page, 'web-overview.png');
  step = 'docs template';
  await open(page, `${base}/#/template/${detail.id}?source=${encodeURIComponent(detail.source)}&range=${range}`, 'template');
  await shot(page, 'web-template.png');
  step = 'docs templates';
  await open(page, `${base}/#/source/${encodeURIComponent(detail.source)}?range=${range}`, 'source');
  await shot(page, 'web-templates.png');
  step = 'docs alerts';
  await open(page, `${base}/#/alerts?range=${range}`, 'alerts');
  await shot(page, 'web-alerts.png');
  await page.context().close();
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true }).catch((e) => {
  console.error(`e2e.mjs: cannot start ${CHROMIUM}: ${e.message}\nRun: bash scripts/web/setup.sh`);
  process.exit(3);
});
let code = 0;
try {
  if (mode === 'main') await main(browser);
  else if (mode === 'perf') await perf(browser);
  else if (mode === 'screenshots') await screenshots(browser);
  else throw new Error(`unknown --mode ${mode}: main, perf or screenshots`);
  if (problems.length) throw new Error(`the page logged problems:\n  ${problems.join('\n  ')}`);
  log('passed');
} catch (e) {
  console.error(`[e2e ${mode}] FAILED: ${e.message}`);
  for (const ctx of browser.contexts())
    for (const p of ctx.pages()) {
      try {
        await p.screenshot({ path: join(out, `failure-${step.replace(/\W+/g, '-')}.png`) });
        console.error(`[e2e ${mode}] page text: ${(await p.textContent('#main'))?.slice(0, 800)}`);
      } catch {
        /* the page is gone */
      }
    }
  code = 1;
}
await browser.close();
process.exit(code);
