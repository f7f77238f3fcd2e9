"""The benchmark's protocol for a simulator that JAX cannot trace.

A scientist's simulator (a SciPy ODE solve, a wrapper around a Fortran code) is
a plain Python function of a batch. `labeller_run` runs one seed of the study's
protocol on it through a campaign (one host round trip per step) and returns
the same record as the compiled run (`jdal.loop.RunResult`), so `jdal.results`
cells, `experiments/report.py` and its nAUC / nDiv tables work unchanged
(`examples/projectile.py`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jdal import acquisitions
from jdal.campaign.campaign import Campaign
from jdal.config import Config
from jdal.loop import RunResult

# Config fields a campaign takes from the cell's config as they are.
_OWN_FIELDS = ("problem", "method", "gamma", "k", "n_initial", "options")


def labeller_run(
    cfg: Config,
    box: tuple[Any, Any],
    f: Callable[[np.ndarray], Any],
    seed: int,
    test_x: np.ndarray,
    test_y: np.ndarray,
    folder: str | Path | None = None,
) -> RunResult:
    """One run of `cfg` (method, γ, k, N0, T steps, model) labelled by `f`.

    box: (lower, upper) of the inputs in f's units; f: x f64[n, d] -> y [n, dy].
    test_x, test_y: a test set in the same units (labelled once, by the caller).
    The initial set is the run's uniform draw for `seed`; targets are min-max
    scaled by the initial labels' range; test MSE is in f's units.
    folder: where the campaign lives (a temporary folder if None).
    """
    fields = {k: v for k, v in cfg.to_dict().items() if k not in _OWN_FIELDS}
    with tempfile.TemporaryDirectory() as scratch:
        campaign = Campaign.create(
            Path(folder or scratch) / f"{cfg.method}_g{cfg.gamma}_s{seed}",
            box=box,
            method=cfg.method,
            gamma=cfg.gamma,
            k=cfg.k,
            n_initial=cfg.n_initial,
            seed=seed,
            initial="uniform",
            cv_folds=0,
            options=dict(cfg.options),
            **fields,
        )
        test_y = np.asarray(test_y, np.float64).reshape(len(test_x), -1)
        mse, picked = [], []
        for step in range(cfg.steps + 1):
            x = campaign.ask()
            if step:
                picked.append(campaign._to_unit(x))
            campaign.tell(x, np.asarray(f(x), np.float64).reshape(len(x), -1))
            mean, _ = campaign.predict(test_x)
            mse.append(np.mean((mean - test_y) ** 2))
        log = campaign.status()["log"]
    method = acquisitions.get(cfg.method)
    div = np.array([entry["batch_div"] for entry in log[1:]], np.float32)
    pool = 0 if method.returns_points else cfg.pool_size
    return RunResult(
        mse=np.asarray(mse, np.float32),
        n_labelled=cfg.n_initial + cfg.k * np.arange(cfg.steps + 1, dtype=np.int32),
        train_loss=np.array([entry["train_mse"] for entry in log], np.float32),
        div_per_step=div,
        div=np.float32(np.mean(div)),
        picked_x=np.stack(picked),
        n_nonfinite_labels=np.int32(0),
        pool_sizes=np.full(cfg.steps, pool, np.int32),
    )
