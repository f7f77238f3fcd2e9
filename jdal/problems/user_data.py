"""A finite data set as a problem: rows whose labels stay hidden until queried.

    data_problem("table", x, y)                   # rows f32[N, d], f32[N, dy]

Every column is min-max scaled to [-1, 1] over the whole data set, inputs and
targets, as the built-in UCI problems foil and hydr are (so test MSE is in scaled
target units). Bad data is refused with a ValueError naming the row and column.
The run (`jdal.loop`) labels only the rows a method picks; the problem's `oracle`
is only for the `mse` reference, which peeks at the labels of pool points: the
target of the nearest row (averaged over rows with the same inputs), exact at
every data row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jdal.problems.base import FiniteData, ModelSpec, Problem
from jdal.problems.user_oracle import (
    check_name,
    default_model,
    fingerprint,
    register_if,
)


def nearest_row_oracle(x_rows: jax.Array, y_rows: jax.Array) -> Callable:
    """`oracle(x f32[d]) -> f32[dy]`: the target of the row nearest to x, averaged
    over the rows with the same inputs (exact at every row). Only the `mse`
    reference queries it, at pool points, which are rows."""

    def oracle(x: jax.Array) -> jax.Array:
        distance = jnp.sum(jnp.square(x_rows - x[None, :]), axis=1)
        weight = (distance <= jnp.min(distance)).astype(jnp.float32)
        return jnp.sum(y_rows * weight[:, None], axis=0) / jnp.sum(weight)

    return oracle


def _min_max(values: np.ndarray, names: Sequence[str], where: str, kind: str):
    """(scaled f32[N, c], min f64[c], max f64[c]); ValueError on a constant column."""
    low, high = values.min(axis=0), values.max(axis=0)
    for j in np.flatnonzero(~(high > low)):
        raise ValueError(
            f"{where}: {kind} column {names[j]!r} is constant ({low[j]:g} in every "
            "row); drop it (it cannot be scaled to [-1, 1] and tells nothing)"
        )
    scaled = 2.0 * (values - low) / (high - low) - 1.0
    return scaled.astype(np.float32), low, high


def first_not_finite(array: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first entry of f[N, c] that is not finite, or None:
    what user tables and a campaign's told labels are refused for."""
    bad = np.argwhere(~np.isfinite(array))
    return None if bad.size == 0 else (int(bad[0][0]), int(bad[0][1]))


def _as_rows(values, key: str, where: str) -> np.ndarray:
    """f64[N, c] from an array of rows (1-D means one column); ValueError naming the
    first non-numeric or non-finite entry by row and column (0-based)."""
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{where}: {key} has shape {array.shape}; expected rows [N, columns]"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        try:
            return _as_rows(array.astype(np.float64), key, where)
        except (TypeError, ValueError):
            for (i, j), value in np.ndenumerate(array):
                try:
                    float(value)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{where}: {key} row {i}, column {j} is not a number: {value!r}"
                    ) from None
            raise
    array = array.astype(np.float64)
    if (bad := first_not_finite(array)) is not None:
        i, j = bad
        raise ValueError(
            f"{where}: {key} row {i}, column {j} is {array[i, j]} (not finite); "
            "remove or fill that row"
        )
    return array


# Fewest rows of a finite data set: test rows, initial rows and pools for a few steps.
MIN_ROWS = 10


def input_groups(x: np.ndarray) -> np.ndarray | None:
    """int32[N]: each row's group of identical inputs x [N, d] (the index of the
    group's first row), or None when every row is distinct."""
    _, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    if len(first) == len(x):
        return None
    return first[inverse.reshape(-1)].astype(np.int32)


def data_problem(
    name: str,
    x,
    y,
    *,
    model: ModelSpec | None = None,
    test_fraction: float = 0.2,
    x_names: Sequence[str] | None = None,
    y_names: Sequence[str] | None = None,
    source: str = "arrays",
    description: str = "",
    register: bool = True,
) -> Problem:
    """A problem from a finite data set: rows x [N, d], targets y [N, dy] (1-D
    arrays are one column), labels hidden until the run queries them.

    Every column is min-max scaled to [-1, 1] over all N rows (the inputs as the
    run's points, the targets as the UCI problems foil and hydr are). The run holds
    out `test_fraction` of the rows per seed for testing (or `Config.n_test` rows
    if fewer) and labels each row at most once (`jdal.loop`).

    ValueError naming `source`, row and column on a non-numeric, missing or
    non-finite value, unequal row counts, or a constant column.
    """
    check_name(name)
    where = f"problem {name!r} ({source})"
    x = _as_rows(x, "x", where)
    y = _as_rows(y, "y", where)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{where}: x has {x.shape[0]} rows and y {y.shape[0]}; need one target "
            "row per input row"
        )
    if not 0 < test_fraction < 1:
        raise ValueError(f"{where}: test_fraction={test_fraction} must lie in (0, 1)")
    x_names = tuple(x_names or (f"column {j}" for j in range(x.shape[1])))
    y_names = tuple(y_names or (f"target {j}" for j in range(y.shape[1])))
    if x.shape[0] < MIN_ROWS:
        raise ValueError(
            f"{where}: too few rows ({x.shape[0]}): a finite data set needs at least "
            f"{MIN_ROWS} rows (held-out test rows, initial rows and pools)"
        )
    x_scaled, x_min, x_max = _min_max(x, x_names, where, "input")
    y_scaled, y_min, y_max = _min_max(y, y_names, where, "target")
    data = FiniteData(
        x=jnp.asarray(x_scaled),
        y=jnp.asarray(y_scaled),
        source=source,
        x_min=x_min,
        x_max=x_max,
        y_min=y_min,
        y_max=y_max,
        x_names=x_names,
        y_names=y_names,
        test_fraction=float(test_fraction),
        input_groups=input_groups(x),
    )
    dim_x, dim_y = x.shape[1], y.shape[1]
    model = model or default_model(dim_x, dim_y)
    return register_if(
        Problem(
            name=name,
            dim_x=dim_x,
            dim_y=dim_y,
            oracle=nearest_row_oracle(data.x, data.y),
            model=model,
            description=description
            or f"finite data {source}, {x.shape[0]} rows ({dim_x} -> {dim_y})",
            data=data,
            fingerprint=fingerprint(x, y, test_fraction, model),
        ),
        register,
    )
