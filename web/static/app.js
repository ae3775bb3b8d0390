// The dashboard: sign-in, then the sections named in the URL's fragment.
import { $, show } from './dom.js';
import { call, setCSRF, signIn, whenSignedOut, noteClock } from './api.js';
import * as clusters from './clusters.js';
import * as jobs from './jobs.js';
import * as history from './history.js';
import * as costs from './costs.js';
import * as admin from './admin.js';

const views = { clusters, jobs, history, costs, admin };
let session = null;
let current = '';

// notify says something in the live region (read out by screen readers).
export function notify(text, kind) {
  const n = $('notice');
  n.textContent = text;
  n.className = `notice ${kind || ''}`;
}

function showOnly(id) {
  for (const el of document.querySelectorAll('.view')) show(el, el.id === id);
}

async function loadSession() {
  const res = await fetch('/ui/session', { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
  noteClock(res);
  if (!res.ok) throw new Error(`session: HTTP ${res.status}`);
  return res.json();
}

function signedOut(info) {
  session = null;
  setCSRF('');
  for (const v of Object.values(views)) if (v.leave) v.leave();
  current = '';
  show($('who'), false);
  show($('nav'), false);
  show($('github-box'), !!(info && info.github));
  show($('github-off'), !(info && info.github));
  showOnly('view-signin');
}

function signedIn(info) {
  session = info;
  setCSRF(info.csrf);
  $('who-name').textContent = info.login;
  $('who-level').textContent = info.level;
  show($('who'), true);
  show($('nav'), true);
  show($('nav-admin'), info.level === 'admin');
  route();
}

// fragment reads the URL's fragment: a section ("#jobs"), or a cluster
// ("#/clusters/NAME", the link in the notices before a destroy).
function fragment() {
  const f = location.hash.replace(/^#\/?/, '');
  const m = /^clusters\/([^/?&=#]+)\/?$/.exec(f);
  if (!m) return { name: f.split(/[=&/]/)[0], cluster: '' };
  try {
    return { name: 'clusters', cluster: decodeURIComponent(m[1]) };
  } catch {
    return { name: 'clusters', cluster: '' };
  }
}

// route shows the section the fragment names (clusters by default), and
// the cluster it names, if any.
function route() {
  if (!session) return;
  let { name, cluster } = fragment();
  if (!views[name] || (name === 'admin' && session.level !== 'admin')) name = 'clusters';
  if (name === 'clusters') clusters.reveal(cluster);
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (name === current) return;
  if (current && views[current].leave) views[current].leave();
  if (current) notify(''); // a result belongs to the view it came from
  current = name;
  showOnly(`view-${name}`);
  views[name].enter({ session, notify });
}

async function start() {
  const err = /signin-error=([A-Za-z0-9_]+)/.exec(location.hash);
  if (err) {
    notify(`Sign in with GitHub failed: ${err[1]}`, 'error');
    history_replace();
  }
  whenSignedOut(() => {
    notify('Your session ended: sign in again.', 'error');
    loadSession().then(signedOut, () => signedOut(null));
  });
  let info;
  try {
    info = await loadSession();
  } catch (e) {
    notify(`Cannot reach the provisioner: ${e.message}`, 'error');
    return;
  }
  if (info.signed_in) signedIn(info);
  else signedOut(info);
}

function history_replace() {
  window.history.replaceState(null, '', location.pathname);
}

$('token-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('token');
  const btn = ev.submitter || $('token-form').querySelector('button');
  btn.disabled = true;
  notify('Signing in…');
  try {
    const info = await signIn(input.value);
    input.value = '';
    notify(`Signed in as ${info.login}.`, 'ok');
    signedIn(info);
    $('main').focus();
  } catch (e) {
    notify(`Sign-in failed: ${e.message}`, 'error');
    input.focus();
  } finally {
    btn.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  try {
    await call('POST', '/ui/logout');
    notify('Signed out; the session is revoked.', 'ok');
  } catch (e) {
    notify(`Sign-out failed: ${e.message}`, 'error');
  }
  const info = await loadSession().catch(() => null);
  signedOut(info);
  $('token').focus();
});

window.addEventListener('hashchange', route);
start();
