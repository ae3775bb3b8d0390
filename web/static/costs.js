// Costs: what was spent (GET /report/costs) by cluster, user or team since
// a day, with where the figures come from, and the spend per day as an SVG
// bar chart; and the budgets this month (GET /report/budgets), where each
// stands. Who sees what is the API's business: the page shows what it is
// given.
import { $, h, s, clear, show, fmtTime, fmtMoney, badge } from './dom.js';
import { call, serverNow } from './api.js';

let ctx = null;
let bound = false;
let report = null;

const DAY = 24 * 3600 * 1000;
const NONE = { cluster: 'no cluster (job machines)', user: 'no user', team: 'no team' };
const SOURCE = {
  metered: 'metered: each cluster\'s and node group\'s runtime at its estimated hourly price (what it would cost on AWS)',
  cost_explorer: 'the bill (AWS Cost Explorer, a day or so behind)',
};

export function enter(c) {
  ctx = c;
  if (!bound) {
    bound = true;
    $('costs-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      load();
    });
    $('costs-chart-form').addEventListener('submit', (ev) => ev.preventDefault());
    $('costs-chart-of').addEventListener('change', drawChart);
    // This month on the server's clock: the API's own default, shown.
    const now = new Date(serverNow());
    $('costs-since').value = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().slice(0, 10);
  }
  load();
  loadBudgets();
}

async function load() {
  const q = new URLSearchParams({ by: $('costs-by').value });
  const since = $('costs-since').value;
  if (since) q.set('since', since);
  try {
    const { data } = await call('GET', `/report/costs?${q}`);
    report = data;
    render();
  } catch (e) {
    report = null;
    ctx.notify(`Costs: ${e.message}`, 'error');
    $('costs-about').textContent = '';
    show($('costs-table'), false);
    show($('costs-empty'), false);
    show($('costs-figure'), false);
  }
}

// loadBudgets shows the budgets the caller may see, or that there are
// none (the API answers an empty list when the operator set none), or
// why they cannot be shown, in the section itself.
async function loadBudgets() {
  show($('budgets-table'), false);
  show($('budgets-none'), false);
  $('budgets-about').textContent = '';
  let data;
  try {
    ({ data } = await call('GET', '/report/budgets'));
  } catch (e) {
    $('budgets-none').textContent = `Budgets cannot be shown: ${e.message}`;
    $('budgets-none').className = 'error';
    show($('budgets-none'), true);
    return;
  }
  const list = data.budgets || [];
  if (list.length === 0) {
    $('budgets-none').textContent = ctx.session && ctx.session.level === 'admin'
      ? 'No budgets are set on this provisioner: deploys are limited by nodes and TTL only.'
      : 'No budget covers you: none is set on this provisioner, or none for you or your teams.';
    $('budgets-none').className = 'hint';
    show($('budgets-none'), true);
    return;
  }
  const src = data.source ? ` Spent: ${SOURCE[data.source] || data.source}.` : '';
  $('budgets-about').textContent = `${data.month} (UTC), in ${data.currency}. Left is the allowance and what carried over, ` +
    `less what was spent this month and what the live clusters and node groups are estimated to cost until their destroy times (reserved).${src}`;
  $('budgets-caption').textContent = `Budgets of ${data.month}: allowance, carried over, spent, reserved and left, per scope`;
  const money = (v) => fmtMoney(v, data.currency);
  const body = clear($('budgets-body'));
  for (const b of list) {
    const kind = { ok: 'ok', warning: 'busy', exhausted: 'bad' }[b.state] || 'idle';
    body.append(h('tr', { 'data-scope': b.scope },
      cell('Scope', h('code', { text: b.scope })),
      cell('Policy', b.policy + (b.admins_exempt ? ' (administrators exempt)' : '')),
      cell('Allowance', money(b.monthly)),
      cell('Carried over', money(b.carried)),
      cell('Spent', money(b.spent)),
      cell('Reserved', money(b.reserved)),
      cell('Left', money(b.left)),
      cell('Used', `${Number(b.used_percent).toFixed(1)}%`),
      cell('Live', String(b.live)),
      cell('State', badge(b.state, kind),
        b.exhausted_at ? [' since ', h('time', { datetime: b.exhausted_at, text: fmtTime(b.exhausted_at) })] : null)));
  }
  show($('budgets-table'), true);
}

function keyName(k) {
  return k || `— ${NONE[report.by] || 'none'}`;
}

function cell(label, ...kids) {
  return h('td', { 'data-label': label }, ...kids);
}

function render() {
  const r = report;
  const groups = r.groups || [];
  const by = r.by.charAt(0).toUpperCase() + r.by.slice(1);
  $('costs-about').textContent = `${fmtMoney(r.total, r.currency)} in all since ${r.since} (UTC) until ${fmtTime(r.until)}. ` +
    `Source: ${SOURCE[r.source] || r.source}.`;
  $('costs-key-h').textContent = by;
  $('costs-caption').textContent = `Spend by ${r.by} since ${r.since}, largest first, then the total`;
  show($('costs-empty'), groups.length === 0);
  show($('costs-table'), groups.length > 0);
  const body = clear($('costs-body'));
  for (const g of groups) {
    const share = r.total > 0 ? `${((g.total / r.total) * 100).toFixed(1)}%` : '—';
    body.append(h('tr', { 'data-key': g.key },
      cell(by, g.key ? g.key : h('em', { text: keyName(g.key) })),
      cell('Total', fmtMoney(g.total, r.currency)),
      cell('Share', share),
      cell('Days with spend', String((g.days || []).length))));
  }
  body.append(h('tr', { class: 'total' },
    cell(by, 'Total'), cell('Total', fmtMoney(r.total, r.currency)), cell('Share', groups.length ? '100%' : '—'), cell('Days with spend', '')));

  const of = clear($('costs-chart-of'));
  of.append(h('option', { value: '*', text: `every ${r.by}` }));
  groups.forEach((g, i) => of.append(h('option', { value: String(i), text: keyName(g.key) })));
  show($('costs-figure'), groups.length > 0);
  drawChart();
}

// days lists the UTC days of the report, since to until, as YYYY-MM-DD.
function days(r) {
  const out = [];
  const end = Date.parse(r.until);
  for (let t = Date.parse(`${r.since}T00:00:00Z`); t <= end && out.length < 400; t += DAY) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

function drawChart() {
  const box = clear($('costs-chart'));
  const r = report;
  if (!r || !(r.groups || []).length) return;
  const pick = $('costs-chart-of').value;
  const groups = pick === '*' ? r.groups : [r.groups[Number(pick)]].filter(Boolean);
  const per = new Map(days(r).map((d) => [d, 0]));
  for (const g of groups) {
    for (const d of g.days || []) per.set(d.date, (per.get(d.date) || 0) + d.amount);
  }
  const rows = [...per.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  const what = pick === '*' ? `every ${r.by}` : keyName(groups[0].key);
  box.append(chart(rows, what, r.currency));
  const spent = rows.filter(([, v]) => v > 0).length;
  $('costs-chart-caption').textContent =
    `Spend per UTC day of ${what}, ${rows.length} days from ${r.since}: ${spent} with spend. Each bar's title has its amount.`;
}

// chart draws one bar per day, narrower the more days there are (each
// with its amount above it when there is room); on a narrow screen it
// shrinks to its box.
function chart(rows, what, currency) {
  const G = rows.length > 120 ? 1 : 3;
  const C = Math.max(3, Math.min(44, Math.floor(720 / rows.length) - G));
  const L = 64, B = 150, T = 22;
  const W = L + rows.length * (C + G) + 10;
  const H = T + B + 56;
  const max = Math.max(0, ...rows.map(([, v]) => v));
  const desc = rows.filter(([, v]) => v > 0).map(([d, v]) => `${d}: ${fmtMoney(v, currency)}`).join('; ') || 'no spend';
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-labelledby': 'cc-title cc-desc', class: 'history-svg costs-svg', preserveAspectRatio: 'xMinYMin meet' },
  s('title', { id: 'cc-title', text: `Daily spend of ${what}` }),
  s('desc', { id: 'cc-desc', text: desc }));
  svg.append(s('text', { x: L - 6, y: T + 4, 'text-anchor': 'end', class: 'axis', text: fmtMoney(max, currency) }));
  svg.append(s('text', { x: L - 6, y: T + B, 'text-anchor': 'end', class: 'axis', text: fmtMoney(0, currency) }));
  svg.append(s('line', { x1: L - 2, y1: T + B, x2: W - 6, y2: T + B, class: 'rule' }));
  const every = Math.max(1, Math.ceil(rows.length / 16)); // a label every so many days
  rows.forEach(([d, v], i) => {
    const x = L + i * (C + G);
    const bh = v > 0 && max > 0 ? Math.max(2, Math.round((v / max) * B)) : 0;
    svg.append(s('rect', { x, y: T + B - bh, width: C, height: bh, class: 'bar spend', 'data-day': d, 'data-amount': String(v) },
      s('title', { text: `${d}: ${fmtMoney(v, currency)}` })));
    if (C >= 40 && v > 0) {
      svg.append(s('text', { x: x + C / 2, y: T + B - bh - 4, 'text-anchor': 'middle', class: 'axis', text: fmtMoney(v, currency) }));
    }
    if (i % every === 0) {
      const xl = x + C / 2, yl = T + B + 10;
      svg.append(s('text', { x: xl, y: yl, class: 'axis', 'text-anchor': 'end', transform: `rotate(-55 ${xl} ${yl})`, text: d.slice(5) }));
    }
  });
  return svg;
}
