// Test history: a branch's last finished TESTs (GET /report/tests) drawn
// as an SVG chart — each run's duration as a bar, then the per-step grid
// (passed ✓, failed ✗, not reached –, the symbol and the colour saying the
// same) — and the flaky and failing tests the history flags.
import { $, h, s, clear, show, fmtTime, fmtDuration } from './dom.js';
import { call } from './api.js';

let ctx = null;
let bound = false;

export function enter(c) {
  ctx = c;
  if (!bound) {
    bound = true;
    $('history-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      load();
    });
  }
  load();
}

async function load() {
  const branch = $('history-branch').value.trim() || 'main';
  try {
    const { data } = await call('GET', `/report/tests?branch=${encodeURIComponent(branch)}&limit=30`);
    render(data);
  } catch (e) {
    ctx.notify(`Test history of ${branch}: ${e.message}`, 'error');
    show($('history-figure'), false);
  }
}

function flags(ul, list, none) {
  clear(ul);
  if (!list || list.length === 0) {
    ul.append(h('li', { class: 'hint', text: none }));
    return;
  }
  for (const f of list) {
    ul.append(h('li', null, f.test ? h('code', { text: f.test }) : h('em', { text: 'the step itself' }),
      ' in ', h('strong', { text: f.step }), ': ', f.evidence));
  }
}

function render(d) {
  const runs = (d.runs || []).slice().reverse(); // oldest first, left to right
  show($('history-empty'), runs.length === 0);
  show($('history-figure'), runs.length > 0);
  flags($('flaky-list'), d.flaky, 'No flaky tests.');
  flags($('failing-list'), d.failing, 'No failing tests.');
  const box = clear($('history-chart'));
  if (runs.length === 0) return;
  box.append(chart(d.branch, runs));
  const passed = runs.filter((r) => r.result === 'passed').length;
  $('history-caption').textContent =
    `${runs.length} finished TEST runs of ${d.branch}, oldest on the left: ${passed} passed, ${runs.length - passed} did not. ` +
    `Bars are each run's total step time; the grid is each step's result.`;
}

const COLOR = { passed: '#1a7f37', failed: '#cf222e', skipped: '#6e7781' };
const GLYPH = { passed: '✓', failed: '✗', skipped: '–' };

function total(run) {
  return (run.steps || []).reduce((n, st) => n + (st.duration_ns || 0), 0);
}

// chart draws the SVG at its natural size; on a narrow screen it shrinks
// to its box (viewBox, max-width), so a phone shows it whole.
function chart(branch, runs) {
  const steps = [];
  for (const r of runs.slice().reverse()) { // the newest run's order first
    for (const st of r.steps || []) if (!steps.includes(st.name)) steps.push(st.name);
  }
  const L = 150, C = 26, G = 3, B = 70, T = 8;
  const W = L + runs.length * (C + G) + 10;
  const gridTop = T + B + 12;
  const rows = ['result', ...steps];
  const H = gridTop + rows.length * (C + G) + 46;
  const max = Math.max(1, ...runs.map(total));

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-labelledby': 'hc-title hc-desc', class: 'history-svg', preserveAspectRatio: 'xMinYMin meet' },
  s('title', { id: 'hc-title', text: `Test history of ${branch}` }),
  s('desc', { id: 'hc-desc', text: runs.map((r) => `${fmtTime(r.date)} ${r.version}: ${r.result}`).join('; ') }));

  svg.append(s('text', { x: L - 8, y: T + 12, 'text-anchor': 'end', class: 'axis', text: `max ${fmtDuration(max)}` }));
  svg.append(s('line', { x1: L - 4, y1: T + B, x2: W - 6, y2: T + B, class: 'rule' }));
  runs.forEach((r, i) => {
    const x = L + i * (C + G);
    const bh = Math.max(2, Math.round((total(r) / max) * B));
    svg.append(s('rect', { x, y: T + B - bh, width: C, height: bh, fill: COLOR[r.result] || COLOR.failed, class: 'bar' },
      s('title', { text: `${fmtTime(r.date)} ${r.version}${r.commit ? ' ' + r.commit.slice(0, 7) : ''}: ${r.result}, ${fmtDuration(total(r))}` })));
  });

  rows.forEach((name, j) => {
    const y = gridTop + j * (C + G);
    const label = name === 'result' ? 'Run result' : name;
    svg.append(s('text', { x: L - 8, y: y + C / 2 + 5, 'text-anchor': 'end', class: name === 'result' ? 'label strong' : 'label',
      text: label.length > 20 ? label.slice(0, 19) + '…' : label }, s('title', { text: label })));
    runs.forEach((r, i) => {
      const x = L + i * (C + G);
      let status, tip;
      if (name === 'result') {
        status = r.result === 'passed' ? 'passed' : 'failed';
        tip = `${fmtTime(r.date)} ${r.version}: ${r.result}${r.reason ? ' — ' + r.reason : ''}`;
      } else {
        const st = (r.steps || []).find((x) => x.name === name);
        if (!st) return;
        status = COLOR[st.status] ? st.status : 'failed';
        tip = `${name} on ${fmtTime(r.date)}: ${st.status}, ${fmtDuration(st.duration_ns || 0)}` +
          (st.tests ? `, ${st.tests} tests, ${st.failures || 0} failures` : '') +
          (st.failed_tests && st.failed_tests.length ? ` (${st.failed_tests.join(', ')})` : '');
      }
      svg.append(s('g', { class: `cell ${status}` },
        s('title', { text: tip }),
        s('rect', { x, y, width: C, height: C, rx: 3, fill: COLOR[status] }),
        s('text', { x: x + C / 2, y: y + C / 2 + 5, 'text-anchor': 'middle', class: 'glyph', text: GLYPH[status] })));
    });
  });

  const yl = gridTop + rows.length * (C + G) + 8;
  runs.forEach((r, i) => {
    const x = L + i * (C + G) + C / 2;
    const d = fmtTime(r.date).slice(5, 10);
    svg.append(s('text', { x, y: yl, class: 'axis', 'text-anchor': 'end', transform: `rotate(-55 ${x} ${yl})`, text: d }));
  });
  return svg;
}
