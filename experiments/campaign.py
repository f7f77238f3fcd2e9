"""Runs an active-learning campaign from the shell with CSV files (jdal.campaign.cli).

    python experiments/campaign.py init runs/wing --box "0:1,10:20" --inputs a,b
    python experiments/campaign.py ask runs/wing      # then fill in, tell, repeat

The same as `python -m jdal.campaign ...`; `--help` lists the commands.
"""

import sys

from jdal.campaign.cli import main

if __name__ == "__main__":
    sys.exit(main())
