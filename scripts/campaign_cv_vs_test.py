"""How well a campaign's cross-validation estimate tracks the true test MSE.

    python scripts/campaign_cv_vs_test.py > docs/campaign_cv_vs_test.md

Campaigns on built-in oracles (labels from the oracle, as a lab would give them),
quick sizes, bait at γ 8, `cv_folds=5`; after every training the log's K-fold
estimate on the labelled rows is set against the test MSE of the same ensemble on
1000 uniform test points (targets unscaled on both sides). Markdown to stdout.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jdal import compile_cache, problems
from jdal.campaign import Campaign

PROBLEMS = ("robo", "bess")
SEEDS = (0, 1, 2)
SIZES = dict(k=40, n_initial=80, steps=10, gamma=8, method="bait")


def one_campaign(folder: Path, name: str, seed: int) -> list[tuple[int, float, float]]:
    problem = problems.get(name)
    label = jax.jit(problem.label)
    test_x = jax.random.uniform(
        jax.random.key(10_000 + seed), (1000, problem.dim_x), minval=-1.0
    )
    test_y = np.asarray(label(test_x))
    campaign = Campaign.create(
        folder, problem=name, preset_name="quick", seed=seed, initial="uniform",
        y_scaling="none", cv_folds=5, **SIZES,
    )  # fmt: skip
    rows = []
    for _ in range(SIZES["steps"] + 1):
        x = campaign.ask()
        campaign.tell(x, np.asarray(label(jnp.asarray(x, jnp.float32))))
        mean, _ = campaign.predict(np.asarray(test_x))
        entry = campaign.status()["log"][-1]
        test = float(np.mean((mean - test_y) ** 2))
        rows.append((int(entry["n_labelled"]), entry["cv_mse"], test))
    return rows


def main() -> int:
    compile_cache.enable()
    print("| problem | labels | CV MSE (5-fold) | test MSE | CV / test |")
    print("|---|---|---|---|---|")
    summary = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in PROBLEMS:
            runs = [one_campaign(Path(scratch) / f"{name}{s}", name, s) for s in SEEDS]
            n = [r[0] for r in runs[0]]
            cv = np.array([[r[1] for r in run] for run in runs])
            test = np.array([[r[2] for r in run] for run in runs])
            for i, labels in enumerate(n):
                if i % 2 and i != len(n) - 1:
                    continue
                ratio = cv[:, i] / test[:, i]
                print(
                    f"| {name} | {labels} | {cv[:, i].mean():.3g} | "
                    f"{test[:, i].mean():.3g} | {ratio.mean():.2f} "
                    f"[{ratio.min():.2f}, {ratio.max():.2f}] |"
                )
            log_cv, log_test = np.log(cv).ravel(), np.log(test).ravel()
            summary.append((name, np.corrcoef(log_cv, log_test)[0, 1]))
    print()
    print(f"Means over seeds {list(SEEDS)}; CV / test: mean [min, max] over seeds.")
    for name, rho in summary:
        print(f"Correlation of log CV MSE and log test MSE over steps and seeds, "
              f"{name}: {rho:.3f}.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
