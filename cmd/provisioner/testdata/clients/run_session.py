"""Runs calls of the released ``sliderule.session`` client and prints JSON.

Usage: python run_session.py '<json>' where the JSON is
    {"session": {kwargs of sliderule.session.Session},
     "calls": [{"call": "provisioner.deploy", "args": [...], "kwargs": {...}}, ...]}

The client is imported unchanged; its hosts reach local servers through
reroute.py (sitecustomize.py on PYTHONPATH, SLIDERULE_REROUTE in the
environment). A PAT comes the client's own way: SLIDERULE_GITHUB_TOKEN.

Prints one JSON line last on stdout:
    {"token": ..., "metadata": ..., "service": ...,
     "results": [{"call": ..., "value": ...} or {"call": ..., "exception": ...}]}
A call's exception is recorded and the next call still runs.
"""

import json
import sys

from sliderule import session as sr


def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if isinstance(v, tuple):
        return list(v)
    return repr(v)


def main():
    spec = json.loads(sys.argv[1])
    s = sr.Session(**(spec.get("session") or {}))
    results = []
    for c in spec.get("calls") or []:
        target = s
        for part in c["call"].split("."):
            target = getattr(target, part)
        try:
            value = target(*c.get("args", []), **c.get("kwargs", {}))
            results.append({"call": c["call"], "value": value})
        except Exception as e:  # recorded for the test to assert on
            results.append({"call": c["call"], "exception": f"{type(e).__name__}: {e}"})
    out = {"token": s.ps_access_token, "metadata": s.ps_metadata, "service": s.service, "results": results}
    sys.stdout.flush()
    print(json.dumps(out, default=jsonable))


if __name__ == "__main__":
    main()
