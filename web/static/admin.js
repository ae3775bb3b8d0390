// Admin: users (from the audit log, or any login looked up), their
// sessions and revoking them, and the audit log.
import { $, h, clear, show, fmtTime, badge } from './dom.js';
import { call, serverNow } from './api.js';

let ctx = null;
let bound = false;
let selected = '';
let armed = false;

export function enter(c) {
  ctx = c;
  if (!bound) bind();
  audit();
}

function bind() {
  bound = true;
  $('user-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessions($('user-login').value.trim());
  });
  $('audit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    audit();
  });
  $('revoke').addEventListener('click', revoke);
}

function cell(label, ...kids) {
  return h('td', { 'data-label': label }, ...kids);
}

async function audit() {
  const q = new URLSearchParams({ limit: '200' });
  const actor = $('audit-actor').value.trim();
  const action = $('audit-action').value.trim();
  if (actor) q.set('actor', actor);
  if (action) q.set('action', action);
  try {
    const { data } = await call('GET', `/audit?${q}`);
    const entries = data.entries || [];
    const body = clear($('audit-body'));
    for (const e of entries) {
      body.append(h('tr', null,
        cell('Time', fmtTime(e.time)),
        cell('Actor', e.actor || 'anonymous'),
        cell('Action', h('code', { text: e.action })),
        cell('Target', e.target || ''),
        cell('Result', badge(e.result, e.result === 'success' ? 'ok' : 'bad')),
        cell('Source', e.source || ''),
        cell('Detail', (e.count ? `${e.count}× ` : '') + (e.detail || ''))));
    }
    if (!actor && !action) users(entries);
  } catch (e) {
    ctx.notify(`Audit log: ${e.message}`, 'error');
  }
}

// users lists the people who logged in, from the audit entries, latest
// first.
function users(entries) {
  const seen = new Map();
  for (const e of entries) {
    if (e.actor && e.action.startsWith('login') && !seen.has(e.actor)) seen.set(e.actor, e);
  }
  const ul = clear($('users-list'));
  if (seen.size === 0) ul.append(h('li', { class: 'hint', text: 'Nobody yet.' }));
  for (const [login, e] of seen) {
    const b = h('button', { type: 'button', class: 'chip', text: login, 'aria-label': `Sessions of ${login} (last seen ${fmtTime(e.time)})` });
    b.addEventListener('click', () => {
      $('user-login').value = login;
      sessions(login);
    });
    ul.append(h('li', null, b));
  }
}

async function sessions(login) {
  if (!login) return;
  selected = login;
  disarm();
  try {
    const { data } = await call('GET', `/users/${encodeURIComponent(login)}/sessions`);
    const now = serverNow();
    $('sessions-h').textContent = `Sessions of ${login}`;
    const body = clear($('sessions-body'));
    const list = data.sessions || [];
    if (list.length === 0) body.append(h('tr', null, h('td', { colspan: '6', text: 'No sessions.' })));
    for (const x of list) {
      const live = !x.revoked_at && Date.parse(x.expires) > now;
      const state = x.revoked_at ? `revoked ${fmtTime(x.revoked_at)}${x.reason ? ' (' + x.reason + ')' : ''}` : live ? 'live' : 'expired';
      body.append(h('tr', null,
        cell('Session', h('code', { text: x.id.slice(0, 10), title: x.id })),
        cell('Via', x.via || ''),
        cell('Level', String(x.level)),
        cell('Created', fmtTime(x.created)),
        cell('Expires', fmtTime(x.expires)),
        cell('State', live ? badge('live') : state)));
    }
    $('revoke').textContent = `Revoke every session of ${login}`;
    show($('sessions'), true);
  } catch (e) {
    ctx.notify(`Sessions of ${login}: ${e.message}`, 'error');
  }
}

function disarm() {
  armed = false;
  $('revoke').textContent = selected ? `Revoke every session of ${selected}` : 'Revoke every session';
}

// revoke asks once more before revoking.
async function revoke() {
  if (!selected) return;
  if (!armed) {
    armed = true;
    $('revoke').textContent = `Confirm: revoke every session of ${selected}`;
    return;
  }
  const login = selected;
  disarm();
  try {
    const { data } = await call('POST', `/users/${encodeURIComponent(login)}/revoke`);
    ctx.notify(`Revoked ${data.revoked} live session(s) of ${login}.`, 'ok');
  } catch (e) {
    ctx.notify(`Revoking ${login}: ${e.message}`, 'error');
  }
  sessions(login);
  audit();
}
