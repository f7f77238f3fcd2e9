"""Campaigns: active learning whose labels come from outside the program.

    c = jdal.Campaign.create("runs/wing", box=(lower, upper), method="bait", k=20)
    x = c.ask(); c.tell(x, y); c.predict(x_new); c.status()
    jdal.campaign.simulate(c, f, batches)    # f: any Python function of a batch

`campaign` is the user-facing class, `engine` the benchmark's compiled pieces one
step at a time, `store` the folder on disk; `python -m jdal.campaign` is the
command line (`jdal.campaign.cli`).
"""

from jdal.campaign.campaign import (
    DEFAULT_GAMMA,
    DEFAULT_METHOD,
    Campaign,
    simulate,
)
from jdal.campaign.store import CampaignError, CampaignInUseError

__all__ = [
    "DEFAULT_GAMMA",
    "DEFAULT_METHOD",
    "Campaign",
    "CampaignError",
    "CampaignInUseError",
    "simulate",
]
