"""Figures and a Markdown summary from a results folder (run.py or sweep.py output).

The command lives in `jdal.shell.report` (`python experiments/report.py --help`).
"""

import sys

from jdal.shell.report import main

if __name__ == "__main__":
    sys.exit(main())
