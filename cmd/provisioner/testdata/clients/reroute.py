"""Reroutes production's released SlideRule clients to local test servers.

The clients (``sliderule.session``, ``sliderule-provisioner``, ...) hard-code
``https://login.<domain>``, ``https://provisioner.<domain>`` and
``https://<cluster>.<domain>``, use ``requests`` sessions with
``trust_env=False`` and trust only certifi. This module rewrites their requests
inside the Python process, at the transport layer, so the installed client
runs unchanged: no /etc/hosts, no port 443, tests can run in parallel.

It wraps ``requests.Session.send``, which every request goes through (also
``requests.get`` and redirects), and for a mapped host swaps scheme, host and
port for the local base URL, keeping method, path, query, headers and body.
The ``Host`` header keeps the production name (what the service or the ILB
would see behind DNS). A request to any other host that is not loopback fails
with ``requests.ConnectionError``, so nothing leaves the machine.

Environment (read by ``install_from_env``, which ``sitecustomize.py`` in this
directory calls at interpreter start when this directory is on PYTHONPATH):

SLIDERULE_REROUTE      JSON object, host name (or host:port) -> base URL, e.g.
                       {"login.example.org": "http://127.0.0.1:8080",
                        "provisioner.example.org": "http://127.0.0.1:8080",
                        "demo.example.org": "http://127.0.0.1:9000"}
SLIDERULE_REROUTE_LOG  optional file: one JSON line per request, with the
                       method, original URL, local URL, status, and the
                       Authorization header as "<scheme> sha256:<16 hex>"
                       (never the token itself).
SLIDERULE_REROUTE_CA   optional CA bundle for base URLs that are https (a
                       local server with a test certificate).
"""

import hashlib
import json
import os
import sys
import threading
import urllib.parse

ENV_ROUTES = "SLIDERULE_REROUTE"
ENV_LOG = "SLIDERULE_REROUTE_LOG"
ENV_CA = "SLIDERULE_REROUTE_CA"

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_lock = threading.Lock()
_installed = False


def _auth_digest(value):
    if not value:
        return ""
    scheme, _, cred = value.partition(" ")
    return f"{scheme} sha256:{hashlib.sha256(cred.encode()).hexdigest()[:16]}"


def install(routes, log_path=None, ca_bundle=None):
    """Patch requests so that hosts in ``routes`` go to their base URLs."""
    global _installed
    import requests

    table = {}
    for host, base in routes.items():
        b = urllib.parse.urlsplit(base)
        if b.scheme not in ("http", "https") or not b.netloc:
            raise ValueError(f"{ENV_ROUTES}: {host!r} -> {base!r} is not an http(s) base URL")
        table[host.lower()] = b

    if _installed:
        raise RuntimeError("reroute already installed")
    _installed = True
    original_send = requests.Session.send

    def send(self, request, **kwargs):
        u = urllib.parse.urlsplit(request.url)
        host = (u.hostname or "").lower()
        base = table.get(f"{host}:{u.port}") if u.port else None
        base = base or table.get(host)
        original_url = request.url
        status = None
        if base is not None:
            path = base.path.rstrip("/") + (u.path or "/")
            request.url = urllib.parse.urlunsplit((base.scheme, base.netloc, path, u.query, u.fragment))
            request.headers["Host"] = u.netloc
            if base.scheme == "https" and ca_bundle:
                kwargs["verify"] = ca_bundle
        try:
            if base is None and host not in _LOOPBACK:
                raise requests.exceptions.ConnectionError(
                    f"reroute: no route for {host!r} (known: {sorted(table)}); nothing leaves this machine",
                    request=request)
            response = original_send(self, request, **kwargs)
            status = response.status_code
            return response
        finally:
            if log_path:
                to = request.url if base is not None or host in _LOOPBACK else ""
                entry = {"method": request.method, "url": original_url, "to": to, "status": status,
                         "authorization": _auth_digest(request.headers.get("Authorization"))}
                with _lock, open(log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")

    send.__wrapped__ = original_send
    requests.Session.send = send


def install_from_env():
    """Install from SLIDERULE_REROUTE; do nothing when it is unset."""
    raw = os.environ.get(ENV_ROUTES)
    if not raw:
        return
    try:
        routes = json.loads(raw)
        if not isinstance(routes, dict):
            raise ValueError("must be a JSON object of host -> base URL")
        install(routes, os.environ.get(ENV_LOG) or None, os.environ.get(ENV_CA) or None)
    except Exception as e:  # a broken harness must fail loudly, never reach the real hosts
        sys.stderr.write(f"reroute: {ENV_ROUTES}: {e}\n")
        sys.stderr.flush()
        os._exit(97)
