// Jobs: TEST and RELEASE jobs, and a job's log followed live
// (GET /jobs/{id}/log?follow=1&offset=N, reconnecting until the job ends).
import { $, h, clear, show, fmtTime, badge } from './dom.js';
import { call, noteClock } from './api.js';

let ctx = null;
let bound = false;
let refresh = 0;
let following = null; // the AbortController of the log being followed

const FINAL = new Set(['passed', 'failed', 'error', 'cancelled', 'timed_out']);

export function enter(c) {
  ctx = c;
  if (!bound) {
    bound = true;
    $('jobs-refresh').addEventListener('click', load);
    $('log-close').addEventListener('click', closeLog);
  }
  load();
  refresh = setInterval(load, 15000);
}

export function leave() {
  clearInterval(refresh);
  closeLog();
}

async function load() {
  try {
    const { data } = await call('GET', '/jobs?limit=50');
    render(data.jobs || []);
  } catch (e) {
    ctx.notify(`Cannot list jobs: ${e.message}`, e.status === 403 ? '' : 'error');
    render([]);
  }
}

function cell(label, ...kids) {
  return h('td', { 'data-label': label }, ...kids);
}

function render(list) {
  const body = clear($('jobs-body'));
  show($('jobs-empty'), list.length === 0);
  show($('jobs-table'), list.length > 0);
  for (const j of list) {
    const btn = h('button', { type: 'button', class: 'secondary', text: 'Open log', 'aria-label': `Open log of job ${j.id.slice(0, 8)}`, 'data-job': j.id });
    btn.addEventListener('click', () => openLog(j));
    body.append(h('tr', null,
      cell('Job', h('code', { text: j.id.slice(0, 8), title: j.id })),
      cell('Kind', j.kind),
      cell('Cluster', j.cluster),
      cell('Version', j.version),
      cell('State', badge(j.state)),
      cell('By', j.requested_by),
      cell('Created', fmtTime(j.created_at)),
      cell('Log', btn)));
  }
}

function closeLog() {
  if (following) following.abort();
  following = null;
  show($('log'), false);
}

async function openLog(j) {
  closeLog();
  const ctl = new AbortController();
  following = ctl;
  const pre = clear($('log-text'));
  $('log-h').textContent = `Log of ${j.kind} ${j.id.slice(0, 8)} (${j.cluster}, ${j.version})`;
  setState(j.state);
  show($('log'), true);
  $('log-h').focus();
  try {
    await follow(j.id, pre, ctl.signal);
    load(); // the job ended: its row says so too
  } catch (e) {
    if (ctl.signal.aborted) return;
    ctx.notify(`Log of ${j.id.slice(0, 8)}: ${e.message}`, 'error');
  }
}

function setState(state) {
  const b = badge(state);
  const el = $('log-state');
  el.className = b.className;
  el.textContent = b.textContent;
}

// follow appends the log as it grows: each request follows for up to 25 s
// from the offset already shown; when the job has ended, one last read
// takes what is left.
async function follow(id, pre, signal) {
  let offset = 0;
  const dec = new TextDecoder();
  for (let last = false; ;) {
    const res = await fetch(`/jobs/${encodeURIComponent(id)}/log?${last ? '' : 'follow=1&'}offset=${offset}`,
      { signal, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/plain' } });
    noteClock(res);
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new Error((body && body.error_description) || `HTTP ${res.status}`);
    }
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      offset += value.length;
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(document.createTextNode(dec.decode(value, { stream: true })));
      if (stick) pre.scrollTop = pre.scrollHeight;
    }
    if (last) return;
    const { data } = await call('GET', `/jobs/${encodeURIComponent(id)}`);
    setState(data.job.state);
    if (FINAL.has(data.job.state)) last = true;
  }
}
