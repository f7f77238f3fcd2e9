"""Runs the benchmark grid problem x method x γ, resumably.

The command lives in `jdal.shell.sweep` (`python experiments/sweep.py --help`).
"""

import sys

from jdal.shell.sweep import main

if __name__ == "__main__":
    sys.exit(main())
