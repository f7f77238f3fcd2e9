"""Runs every method on one problem at one pool ratio and compares them with random.

The command lives in `jdal.shell.run` (`python experiments/run.py --help`).
"""

import sys

from jdal.shell.run import main

if __name__ == "__main__":
    sys.exit(main())
