// The API client: same-origin fetches that carry the session cookie (the
// browser adds it; the page never sees it) and, on state-changing calls,
// the session's CSRF token. It also keeps the server's clock.

let csrf = '';
let onSignedOut = () => {};

export function setCSRF(token) {
  csrf = token || '';
}

export function whenSignedOut(fn) {
  onSignedOut = fn;
}

// The server's clock: its time at our last answer, and when (on the
// page's monotonic clock) that answer came. serverNow() goes on from it, so
// a countdown follows the server's time, not the browser's.
let clock = { server: Date.now(), at: performance.now() };

export function noteClock(res) {
  const v = res.headers.get('X-Provisioner-Now');
  const t = v ? Date.parse(v) : NaN;
  if (!Number.isNaN(t)) clock = { server: t, at: performance.now() };
}

export function serverNow() {
  return clock.server + (performance.now() - clock.at);
}

export class APIError extends Error {
  constructor(status, body) {
    const code = (body && body.error) || `HTTP ${status}`;
    const text = (body && (body.error_description || body.description)) || '';
    super(text ? `${code}: ${text}` : code);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// call sends a JSON request and returns {status, data}; an error answer
// throws an APIError (a 401 also tells the page the session is gone).
export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Provisioner-CSRF'] = csrf;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  noteClock(res);
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new APIError(res.status, data);
    if (res.status === 401 && !path.startsWith('/ui/')) onSignedOut(err);
    throw err;
  }
  return { status: res.status, data };
}

// waitOperation polls a long request's operation until it is done.
export async function waitOperation(id, progress) {
  for (;;) {
    const { status, data } = await call('GET', `/operations/${encodeURIComponent(id)}?wait=25s`);
    if (status !== 202 && data.status !== 'pending') {
      if (data.status === 'failure') throw new APIError(409, data);
      return data;
    }
    if (progress) progress(data);
  }
}

// signIn posts a token once; the server answers with the session and
// sets the cookie.
export async function signIn(token) {
  const res = await fetch('/ui/session', {
    method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Provisioner-CSRF': 'sign-in' },
    body: JSON.stringify({ token }),
  });
  noteClock(res);
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}
