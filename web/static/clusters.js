// Clusters: the ones the caller may see, with a TTL countdown on the
// server's clock; DEPLOY, EXTEND, SCHEDULE_DESTROY and DESTROY through the
// API, whose limits and errors are shown as they come; DEPLOY's dry run for
// the estimated cost before deploying; a budget's cut of the TTL asked in
// the answers and the estimate; a cluster named in the URL
// (#/clusters/NAME, the notices' link) scrolled to and marked.
import { $, h, clear, show, fmtTime, fmtLeft, fmtMoney, estimateSummary, badge, budgetCut } from './dom.js';
import { call, serverNow, waitOperation } from './api.js';

let ctx = null;
let tick = 0;
let refresh = 0;
let bound = false;
let eventsOf = '';
let active = false;
let linked = ''; // the cluster the URL names, marked on its card
let pending = false; // linked still to be scrolled to

export function enter(c) {
  ctx = c;
  active = true;
  if (!bound) bind();
  load();
  limits();
  tick = setInterval(countdown, 1000);
  refresh = setInterval(load, 15000);
}

export function leave() {
  active = false;
  clearInterval(tick);
  clearInterval(refresh);
}

function bind() {
  bound = true;
  $('clusters-refresh').addEventListener('click', load);
  $('events-close').addEventListener('click', () => {
    show($('events'), false);
    eventsOf = '';
  });
  $('deploy-form').addEventListener('submit', deploy);
  $('deploy-estimate-button').addEventListener('click', estimate);
  // An estimate is of the fields as they were: a change makes it stale.
  $('deploy-form').addEventListener('input', () => show($('deploy-estimate'), false));
}

// reveal marks the card of cluster (none: no card) and scrolls to it once
// the list shows it.
export function reveal(cluster) {
  linked = cluster || '';
  pending = !!linked;
  if (active) load();
}

// scrollToLinked brings the linked card into view and moves the focus to
// its heading, or says it is not there.
function scrollToLinked() {
  if (!pending) return;
  pending = false;
  const li = document.querySelector(`li[data-cluster="${CSS.escape(linked)}"]`);
  if (!li) {
    ctx.notify(`No cluster ${linked} among those you may see: it may be gone already.`, 'error');
    return;
  }
  li.scrollIntoView({ block: 'center' });
  li.querySelector('h2').focus({ preventScroll: true });
}

async function limits() {
  try {
    const { data } = await call('POST', '/info', {});
    $('limits').textContent = `Your limits: up to ${data.maxNodes} nodes per cluster, TTL up to ${data.maxTTL} minutes.`;
  } catch {
    $('limits').textContent = '';
  }
}

export async function load() {
  try {
    const { data } = await call('GET', '/clusters');
    render(data.clusters || []);
    scrollToLinked();
    if (eventsOf) events(eventsOf);
  } catch (e) {
    ctx.notify(`Cannot list clusters: ${e.message}`, 'error');
  }
}

function render(list) {
  const ul = clear($('clusters-list'));
  show($('clusters-empty'), list.length === 0);
  list.sort((a, b) => a.cluster.localeCompare(b.cluster));
  for (const c of list) ul.append(card(c));
  countdown();
}

// countdown redraws every timer from the server's clock.
function countdown() {
  const now = serverNow();
  $('server-time').textContent = fmtTime(new Date(now).toISOString());
  for (const el of document.querySelectorAll('.countdown')) {
    const at = Date.parse(el.dataset.at);
    if (Number.isNaN(at)) continue;
    const left = Math.max(0, Math.floor((at - now) / 1000));
    el.dataset.left = String(left);
    el.textContent = fmtLeft(left);
  }
}

function fact(label, value) {
  return h('div', null, h('dt', { text: label }), h('dd', null, value));
}

function card(c) {
  const name = c.cluster;
  const id = name.replace(/[^A-Za-z0-9_-]/g, '_');
  const at = c.destroy_at || c.expires_at || '';
  const timer = at
    ? h('span', { class: 'countdown', role: 'timer', 'data-at': at, 'aria-label': `time left for ${name}` })
    : h('span', { text: '—' });
  const live = c.state === 'running' || c.state === 'deploying';
  const busy = c.state === 'deploying' || c.state === 'destroying';
  const nodes = `${c.current_nodes} of ${c.node_capacity}`;

  const extend = h('form', { class: 'mini', 'aria-label': `Extend ${name}` },
    h('label', { for: `extend-${id}`, text: 'Keep for (minutes)' }),
    h('input', { id: `extend-${id}`, type: 'number', min: '1', value: '60', required: true }),
    h('button', { type: 'submit', class: 'secondary', text: 'Extend' }));
  extend.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(`Extend ${name}`, () => call('POST', '/extend', { cluster: name, ttl: Number(extend.elements[0].value) }), costNote);
  });

  const sched = h('form', { class: 'mini', 'aria-label': `Schedule the destroy of ${name}` },
    h('label', { for: `sched-${id}`, text: 'Destroy at (UTC)' }),
    h('input', { id: `sched-${id}`, type: 'datetime-local', step: '60', required: true,
      value: at ? new Date(Date.parse(at)).toISOString().slice(0, 16) : '' }),
    h('button', { type: 'submit', class: 'secondary', text: 'Schedule destroy' }));
  sched.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = sched.elements[0].value; // "2026-01-02T15:04", read as UTC
    act(`Schedule the destroy of ${name}`, () => call('POST', '/schedule_destroy', { cluster: name, time: `${v.length === 16 ? v + ':00' : v}Z` }));
  });

  const destroy = h('button', { type: 'button', class: 'danger', text: 'Destroy', 'data-action': 'destroy' });
  const confirm = h('button', { type: 'button', class: 'danger', text: `Confirm destroy of ${name}`, hidden: true, 'data-action': 'confirm-destroy' });
  const cancel = h('button', { type: 'button', class: 'secondary', text: 'Keep it', hidden: true });
  destroy.addEventListener('click', () => {
    show(destroy, false);
    show(confirm, true);
    show(cancel, true);
    confirm.focus();
  });
  cancel.addEventListener('click', () => {
    show(confirm, false);
    show(cancel, false);
    show(destroy, true);
    destroy.focus();
  });
  confirm.addEventListener('click', () => long(`Destroy ${name}`, () => call('POST', '/destroy', { cluster: name })));

  const evBtn = h('button', { type: 'button', class: 'secondary', text: 'Events', 'aria-label': `Events of ${name}` });
  evBtn.addEventListener('click', () => events(name, true));

  const est = c.estimated_cost;
  const marked = linked !== '' && name === linked;
  return h('li', { class: marked ? 'card cluster linked' : 'card cluster', 'data-cluster': name, 'aria-current': marked ? 'true' : null },
    h('div', { class: 'bar' }, h('h2', { text: name, tabindex: '-1' }), badge(c.state),
      c.is_public === 'true' ? h('span', { class: 'badge idle', text: 'public' }) : null,
      marked ? h('span', { class: 'badge link', text: 'linked' }) : null),
    h('dl', { class: 'facts' },
      fact('Nodes', nodes),
      fact('Version', c.version || '—'),
      fact('Owner', c.created_by || '—'),
      fact('Time left', timer),
      fact('Destroy at', h('time', { datetime: at, text: fmtTime(at) })),
      c.next_notice ? fact('Next notice', h('time', { class: 'next-notice', datetime: c.next_notice, text: fmtTime(c.next_notice) })) : null,
      est ? fact('Estimated cost', h('span', { class: 'estimated',
        text: `${fmtMoney(est.total, est.currency)} until destroyed (${fmtMoney(est.hourly, est.currency)} an hour)` })) : null),
    c.reason ? h('p', { class: 'reason', text: c.reason }) : null,
    h('div', { class: 'actions' }, evBtn, live && !busy ? [extend, sched] : null, c.state !== 'destroying' ? [destroy, confirm, cancel] : null));
}

// costNote is what an answer says of the cost, as a sentence ('' if
// nothing).
function costNote(data) {
  const e = data && data.estimated_cost;
  return e ? ` Estimated cost until its destroy time: ${estimateSummary(e)}; not included: ${e.excludes}.` : '';
}

// budgetNote is what an answer says of a budget's cut of the TTL, as
// sentences after a space ('' if none).
function budgetNote(data) {
  const b = budgetCut(data && data.budget);
  return b ? ` ${b}` : '';
}

// act runs a short request and shows its answer: what note says of it
// and a budget's cut of the TTL, which marks the notice as a warning.
async function act(what, fn, note) {
  ctx.notify(`${what}…`);
  try {
    const { data } = await fn();
    const cut = budgetNote(data);
    ctx.notify(`${what}: done.${cut}${note ? note(data) : ''}`, cut ? 'warn' : 'ok');
  } catch (e) {
    ctx.notify(`${what} failed: ${e.message}`, 'error');
  }
  load();
}

// long runs a DEPLOY or DESTROY, following its operation when it answers
// 202; the answer's estimated cost stays in the final notice.
async function long(what, fn) {
  ctx.notify(`${what}…`);
  try {
    const { status, data } = await fn();
    const cut = budgetNote(data);
    const cost = cut + costNote(data);
    load();
    if (status === 202 && data.operation) {
      ctx.notify(`${what}: in progress (operation ${data.operation.id}).${cost}`);
      await waitOperation(data.operation.id);
    }
    ctx.notify(`${what}: done.${cost}`, cut ? 'warn' : 'ok');
  } catch (e) {
    ctx.notify(`${what} failed: ${e.message}`, 'error');
  }
  load();
}

// deployBody is DEPLOY's request from the form.
function deployBody() {
  return {
    cluster: $('deploy-cluster').value.trim(),
    node_capacity: Number($('deploy-nodes').value),
    ttl: Number($('deploy-ttl').value),
    version: $('deploy-version').value.trim(),
    is_public: $('deploy-public').checked,
  };
}

async function deploy(ev) {
  ev.preventDefault();
  const f = ev.target;
  const body = deployBody();
  const btn = f.querySelector('button[type=submit]');
  btn.disabled = true;
  show($('deploy-estimate'), false);
  await long(`Deploy ${body.cluster}`, () => call('POST', '/deploy', body));
  btn.disabled = false;
}

// estimate asks DEPLOY's dry run, which checks the request as DEPLOY does
// and deploys nothing, and shows its estimate part by part.
async function estimate() {
  const f = $('deploy-form');
  if (!f.reportValidity()) return;
  const body = { ...deployBody(), dry_run: true };
  const btn = $('deploy-estimate-button');
  btn.disabled = true;
  show($('deploy-estimate'), false);
  ctx.notify(`Estimating ${body.cluster}…`);
  try {
    const { data } = await call('POST', '/deploy', body);
    const e = data.estimated_cost;
    $('deploy-estimate-h').textContent = `Estimated cost of ${data.cluster} (${data.state} now)`;
    $('deploy-estimate-summary').textContent = estimateSummary(e);
    const lines = clear($('deploy-estimate-lines'));
    const td = (label, v) => h('td', { 'data-label': label, text: v });
    // The fixed parts first, as the API lists them.
    for (const l of (e.lines || []).slice().sort((a, b) => Number(b.fixed) - Number(a.fixed))) {
      lines.append(h('tr', { class: l.fixed ? 'fixed' : 'per-node' },
        td('Part', l.part), td('Item', l.item), td('Market', l.market || '—'), td('Quantity', String(l.quantity)),
        td('Unit', l.unit), td('Unit price', String(l.unit_price)), td('Per hour', fmtMoney(l.hourly, e.currency)),
        td('Scales', l.fixed ? 'fixed' : 'per node')));
    }
    const cut = budgetCut(data.budget);
    $('deploy-estimate-budget-text').textContent = cut;
    show($('deploy-estimate-budget'), !!cut);
    $('deploy-estimate-note').textContent =
      `Fixed parts ${fmtMoney(e.fixed_hourly, e.currency)} an hour whatever the node count. Not included: ${e.excludes}. ` +
      'Nothing was deployed: this was a dry run.';
    show($('deploy-estimate'), true);
    ctx.notify(`Estimate for ${data.cluster}: ${estimateSummary(e)}. ${cut ? cut + ' ' : ''}Nothing was deployed.`, cut ? 'warn' : 'ok');
  } catch (e) {
    ctx.notify(`Estimate for ${body.cluster} failed: ${e.message}`, 'error');
  } finally {
    btn.disabled = false;
  }
}

async function events(name, focus) {
  eventsOf = name;
  $('events-h').textContent = `Events of ${name}`;
  const ol = $('events-list');
  try {
    const { data } = await call('POST', '/events', { cluster: name });
    clear(ol);
    const evs = (data.events || []).slice().reverse();
    if (evs.length === 0) ol.append(h('li', { class: 'hint', text: 'No events.' }));
    for (const e of evs) {
      ol.append(h('li', null,
        h('time', { datetime: e.time, text: fmtTime(e.time) }), ' ',
        h('code', { text: e.type }), e.actor ? ` by ${e.actor}` : '', e.message ? ` — ${e.message}` : ''));
    }
    show($('events'), true);
    if (focus) $('events-h').focus();
  } catch (e) {
    ctx.notify(`Events of ${name}: ${e.message}`, 'error');
  }
}
