# Loaded by Python at start when this directory is on PYTHONPATH: installs
# the reroute of reroute.py (when SLIDERULE_REROUTE is set) before any client
# code runs, then runs the interpreter's own sitecustomize, if it has one.
import importlib.machinery
import importlib.util
import os
import sys

import reroute

reroute.install_from_env()

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _spec is not None and _spec.loader is not None:
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
