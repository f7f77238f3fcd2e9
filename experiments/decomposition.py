"""Why measured rows and their forest oracles disagree: one factor at a time.

`foil` and `hydr` are random forests fitted to the airfoil and yacht rows and
queried anywhere in the box; `airfoil` and `yacht` are the rows themselves. Between
the two, four things change at once. This module defines the problems that
change them one by one, so a sweep over the chain says which one moves each
method's nAUC:

| setting | pool | test points | labels | model |
|---|---|---|---|---|
| 1 `foil` | box | box | forest | foil's |
| 2 `foil` with `--set test_inputs=airfoil` | box | rows | forest | foil's |
| 3 `foil_rows` | rows | rows | forest at the rows | foil's |
| 4 `airfoil_foil_model` | rows | rows | measured | foil's |
| 5 `airfoil` | rows | rows | measured | user-table default |

1 → 2 is the test distribution, 2 → 3 the pool distribution, 3 → 4 the label
noise (what the forest does not reproduce), 4 → 5 the model. For airfoil, 4 and 5
are the same runs: at the quick sizes foil's model and airfoil's default both cap
to 4 × 64 with 5 members and train full batch (tests/test_finite_data.py), so the
`airfoil` cells serve as both and `airfoil_foil_model` is not swept. For yacht the
depth differs (hydr's 6 × 50 against 4 × 64), so `yacht_hydr_model` is swept. The
same chain holds for `hydr` / `hydr_rows` / `yacht_hydr_model` / `yacht`. Rows are
scaled exactly as the forests' training data were (min-max over all rows), so a
row's point is the point the forest was fitted at; the targets of `foil_rows` and
`hydr_rows` are min-max scaled over the rows as every table's are (nAUC is a ratio
to random in the same setting, so the scale of the targets mostly cancels).

Settings 1 (`foil`, `hydr`) are the study's sweep (`figures/data/sweep_quick`) and
5 the measured sweep (`figures/data/measured`); the others run as

    python experiments/sweep.py --problems experiments/decomposition.py:foil_rows,\
experiments/decomposition.py:hydr_rows,experiments/decomposition.py:yacht_hydr_model \
        --gammas 2,8,32 --seeds 5 --preset quick --out results/decomposition
    python experiments/sweep.py --problems foil --set test_inputs=airfoil \
        --gammas 2,8,32 --seeds 5 --preset quick --out results/decomposition_foil_test
    python experiments/sweep.py --problems hydr --set test_inputs=yacht \
        --gammas 2,8,32 --seeds 5 --preset quick --out results/decomposition_hydr_test

(settings 2 write cells of the problems `foil` and `hydr`, so they need their own
folders). Run as a script, this file writes the table (`jdal.shell.decomposition`):

    python experiments/decomposition.py --oracles figures/data/sweep_quick \
        --measured figures/data/measured --rows figures/data/decomposition \
        --foil-test figures/data/decomposition_foil_test \
        --hydr-test figures/data/decomposition_hydr_test \
        --out figures/data/decomposition/summary.md
"""

from __future__ import annotations

import sys

import jax
import numpy as np

from jdal import problems
from jdal.problems import measured


def _rows(table: str, oracle: str, name: str, forest_labels: bool):
    """Table `table`'s rows under `name` with oracle `oracle`'s model; targets the
    forest's at the rows (`forest_labels`) or the measured ones."""
    rows = measured.rows(table)
    forest = problems.get(oracle)
    x = rows[:, :-1]
    if forest_labels:
        scaled = problems.get(table).data.x  # the forest's input scaling
        y = np.asarray(jax.vmap(forest.oracle)(scaled), np.float64)
    else:
        y = rows[:, -1:]
    labels = f"{oracle} forest at the rows" if forest_labels else "measured"
    return problems.data_problem(
        name,
        x,
        y,
        model=forest.model,
        source=f"{table} rows, {labels}",
        description=f"{table} inputs, {labels} targets, {oracle}'s model",
        register=False,
    )


def foil_rows():
    return _rows("airfoil", "foil", "foil_rows", forest_labels=True)


def hydr_rows():
    return _rows("yacht", "hydr", "hydr_rows", forest_labels=True)


def airfoil_foil_model():
    return _rows("airfoil", "foil", "airfoil_foil_model", forest_labels=False)


def yacht_hydr_model():
    return _rows("yacht", "hydr", "yacht_hydr_model", forest_labels=False)


if __name__ == "__main__":
    from jdal.shell.decomposition import main

    sys.exit(main())
