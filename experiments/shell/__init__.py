"""The host shell of run.py, sweep.py and report.py, one job per module.

    flags    command-line flags -> validated Config
    cells    computing cells (compiled and run apart, timed) and caching them on disk
    timing   seconds of an AL step's training and acquisition, apart
    tables   method order and labels, printed tables, summary.md and cells.csv
    plots    figures

The pure core (`jdal`) never prints or writes files; this package does.
"""

import sys
from pathlib import Path

try:
    import jdal  # noqa: F401
except ImportError:  # not pip-installed: run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
