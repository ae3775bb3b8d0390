#!/usr/bin/env python3
"""A stand-in for a SlideRule node, to try local clusters without Docker.

`provisioner serve --cluster-command 'python3 examples/node.py'` starts one
per local cluster. It listens on $PORT and answers the paths a SlideRule
client touches first: /source/health, /source/version, and echoes what the
gateway says about the caller (x-sliderule-account, x-sliderule-org-roles).
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Node(BaseHTTPRequestHandler):
    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self):
        if self.path.startswith("/source/health"):
            return self._json(200, {"healthy": True})
        if self.path.startswith("/source/version"):
            return self._json(200, {"server": {"version": os.environ.get("VERSION", "latest")},
                                    "cluster": os.environ.get("CLUSTER", "")})
        return self._json(200, {"cluster": os.environ.get("CLUSTER", ""), "path": self.path,
                                "account": self.headers.get("X-Sliderule-Account", ""),
                                "org_roles": self.headers.get("X-Sliderule-Org-Roles", "")})

    do_GET = _answer
    do_POST = _answer

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Node).serve_forever()
