"""`python -m jdal.campaign COMMAND ...`: the campaign command line (`cli`)."""

import sys

from jdal.campaign.cli import main

if __name__ == "__main__":
    sys.exit(main())
