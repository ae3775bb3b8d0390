// DOM helpers. Text from the API only ever becomes text nodes or
// attribute values set by name: never parsed as HTML.

// h builds an element: attrs by name ("text" sets textContent, "on…"
// adds a listener, true/false/null toggle an attribute), then children
// (nodes, or strings that become text nodes).
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

// s builds an SVG element the same way.
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
}

export const $ = (id) => document.getElementById(id);

// clear removes every child of el.
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function show(el, on) {
  el.hidden = !on;
}

// fmtTime is a time as "2026-01-02 15:04:05 UTC"; "—" for none.
export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 2) return '—';
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// fmtLeft is a remaining time in seconds as "1h 02m 03s".
export function fmtLeft(sec) {
  if (sec <= 0) return 'expired';
  sec = Math.floor(sec);
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  const p = (n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}h ${p(mm)}m ${p(ss)}s` : `${mm}m ${p(ss)}s`;
}

// fmtDuration is nanoseconds as "1m 05s" or "850 ms".
export function fmtDuration(ns) {
  const ms = ns / 1e6;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const sec = Math.round(ms / 1000);
  return sec >= 60 ? `${Math.floor(sec / 60)}m ${String(sec % 60).padStart(2, '0')}s` : `${sec}s`;
}

// badge is a state as a labelled pill; the word carries the meaning, the
// colour repeats it.
export function badge(state, kind) {
  kind = kind || {
    running: 'ok', passed: 'ok', success: 'ok', live: 'ok',
    failed: 'bad', error: 'bad', timed_out: 'bad',
    deploying: 'busy', destroying: 'busy', queued: 'busy', provisioning: 'busy', pending: 'busy',
  }[state] || 'idle';
  return h('span', { class: `badge ${kind}`, text: state || 'unknown' });
}

// fmtMoney is an amount as the CLI prints it: cents, or four decimals
// under a dollar (where an hour of a small part would read $0.00).
export function fmtMoney(v, currency) {
  const sign = !currency || currency === 'USD' ? '$' : `${currency} `;
  const n = Number(v) || 0;
  return sign + (n !== 0 && Math.abs(n) < 1 ? n.toFixed(4) : n.toFixed(2));
}

// fmtHours is a number of hours as 2h, 1h30m or 45m.
export function fmtHours(hours) {
  const m = Math.round(hours * 60);
  if (m >= 60) return m % 60 === 0 ? `${m / 60}h` : `${Math.floor(m / 60)}h${m % 60}m`;
  return `${m}m`;
}

// estimateSummary is an estimate in one line, as the CLI's: per hour, for
// its hours, and what it rests on.
export function estimateSummary(e) {
  const nodes = e.nodes === 1 ? '1 node' : `${e.nodes} nodes`;
  const asOf = e.prices_as_of ? `, prices of ${e.prices_as_of}` : '';
  return `${fmtMoney(e.hourly, e.currency)} an hour, ${fmtMoney(e.total, e.currency)} for ${fmtHours(e.hours)} (${nodes}, ${e.region}${asOf})`;
}

// budgetCut is what a budget note (DEPLOY's, its dry run's, EXTEND's or
// SCHEDULE_DESTROY's, when a budget cut the TTL asked) says, in one
// sentence, then the API's own account of the amounts; '' for none.
export function budgetCut(b) {
  if (!b) return '';
  const asked = fmtHours(b.ttl_asked / 60), got = fmtHours(b.ttl / 60);
  // The API's message begins with the cut the first sentence has said.
  const msg = String(b.message || '').replace(/^the TTL was cut from \S+ to \S+: /, '');
  return `Budget ${b.scope} covers only ${got} (${fmtMoney(b.left)} left): TTL cut from ${asked} to ${got}.` +
    (msg ? ` ${msg.charAt(0).toUpperCase()}${msg.slice(1)}.` : '');
}
