"""The benchmark's scores and the exact distances they rest on.

Scores, on plain host arrays (NumPy):

    nauc(method_mse f32[S, T+1], random_mse f32[S, T+1], n int[T+1]) -> float
    ndiv(method_div f32[S], random_div f32[S]) -> float
    score(cell, baseline) -> Score     (a result cell against random's)

Below 1 is better than random for nAUC; nDiv well below 1 signals mode collapse.

Distances, in JAX (jittable, vmappable), computed from differences: the one-matmul
form |a|^2 + |b|^2 - 2 a.b loses everything below about sqrt(eps |a|^2) ~ 1e-3 in
float32 (points 1e-4 apart come out at distance 0), which is exactly the scale of
near-duplicate picks that Div exists to detect and of late greedy picks in 1-D.

    nearest_distance(x f32[k, d], others f32[n, d], mask bool[k, n]) -> f32[k]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# Elements of one block of row differences: bounds the memory of the distance
# kernels (16 MiB of float32 per block, per vmapped run).
ROW_BLOCK_ELEMENTS = 1 << 22


def map_rows(fn: Callable, rows, elements_per_row: int):
    """`jax.vmap(fn)(*rows)` computed in blocks of rows (`lax.map` with a batch
    size) so that a block holds at most ROW_BLOCK_ELEMENTS temporaries.

    rows: a tuple of arrays sharing their leading axis; elements_per_row: the size
    of the largest temporary `fn` makes for one row.
    """
    n_rows = jax.tree.leaves(rows)[0].shape[0]
    batch = max(1, ROW_BLOCK_ELEMENTS // max(1, elements_per_row))
    if batch >= n_rows:
        return jax.vmap(fn)(*rows)
    return jax.lax.map(lambda row: fn(*row), rows, batch_size=batch)


def distances_to(points: jax.Array, point: jax.Array) -> jax.Array:
    """f32[n]: Euclidean distance of every row of `points` f32[n, c] to `point`
    f32[c], from differences."""
    return jnp.sqrt(jnp.sum(jnp.square(points - point[None, :]), axis=-1))


def nearest_distance(x: jax.Array, others: jax.Array, mask: jax.Array) -> jax.Array:
    """f32[k]: distance from each row of `x` f32[k, d] to its nearest row of
    `others` f32[n, d] among the pairs `mask` bool[k, n] (or broadcastable to it)
    lets count; inf where none does. Exact to float32 rounding of the difference."""
    mask = jnp.broadcast_to(mask, (x.shape[0], others.shape[0]))

    def nearest(point, allowed):
        return jnp.min(jnp.where(allowed, distances_to(others, point), jnp.inf))

    return map_rows(nearest, (x, mask), others.size)


def auc(curve: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Trapezoidal area under `curve` f32[..., T+1] over labelled-set sizes n[T+1]."""
    curve = np.asarray(curve, np.float64)
    n = np.asarray(n, np.float64)
    return np.sum(0.5 * (curve[..., 1:] + curve[..., :-1]) * np.diff(n), axis=-1)


def nauc(method_mse: np.ndarray, random_mse: np.ndarray, n: np.ndarray) -> float:
    """AUC of the seed-mean MSE curve over AUC of random's seed-mean curve."""
    method_mean = np.mean(np.asarray(method_mse, np.float64), axis=0)
    random_mean = np.mean(np.asarray(random_mse, np.float64), axis=0)
    return float(auc(method_mean, n) / auc(random_mean, n))


def nauc_per_seed(method_mse: np.ndarray, random_mse: np.ndarray, n) -> np.ndarray:
    """f64[S]: paired nAUC of each seed (same seed's random run as reference)."""
    return auc(method_mse, n) / auc(random_mse, n)


def ndiv(method_div: np.ndarray, random_div: np.ndarray) -> float:
    """Seed-mean Div of the method over seed-mean Div of random."""
    return float(np.mean(method_div) / np.mean(random_div))


def bootstrap_interval(
    per_seed: np.ndarray, level: float = 0.9, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-seed values."""
    values = np.asarray(per_seed, np.float64)
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (n_resamples, values.size), replace=True).mean(axis=1)
    tail = 50 * (1 - level)
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def is_robust(nauc_by_gamma: dict[int, float]) -> bool:
    """A method is robust on a problem when nAUC < 1 at every gamma."""
    return bool(nauc_by_gamma) and all(v < 1.0 for v in nauc_by_gamma.values())


def worst_nauc(nauc_by_gamma: dict[int, float]) -> float:
    """The highest nAUC over γ: what a method risks when γ is not known."""
    return max(nauc_by_gamma.values())


def best_gamma(nauc_by_gamma: dict[int, float]) -> int:
    """The gamma with the lowest nAUC."""
    return min(nauc_by_gamma, key=nauc_by_gamma.__getitem__)


BOOTSTRAP_LEVEL = 0.9


class Score(NamedTuple):
    """Metrics of one cell against random on the same problem (paired by seed)."""

    problem: str
    method: str
    gamma: int | None
    reference: bool
    final_mse_mean: float
    final_mse_std: float
    nauc: float
    nauc_per_seed: np.ndarray
    nauc_interval: tuple[float, float]
    ndiv: float


def score(cell: Any, baseline: Any) -> Score:
    """nAUC, paired per-seed nAUC with a bootstrap interval, nDiv and final MSE of a
    result cell (`jdal.results.Cell`) against random's cell on the same seeds."""
    mse, n = cell.arrays["mse"], cell.arrays["n_labelled"]
    per_seed = nauc_per_seed(mse, baseline.arrays["mse"], n)
    interval = (
        bootstrap_interval(per_seed, BOOTSTRAP_LEVEL)
        if per_seed.size > 1
        else (float(per_seed[0]), float(per_seed[0]))
    )
    final = mse[:, -1].astype(np.float64)
    return Score(
        problem=cell.problem,
        method=cell.method,
        gamma=cell.gamma,
        reference=cell.reference,
        final_mse_mean=float(final.mean()),
        final_mse_std=float(final.std()),
        nauc=nauc(mse, baseline.arrays["mse"], n),
        nauc_per_seed=per_seed,
        nauc_interval=interval,
        ndiv=ndiv(cell.arrays["div"], baseline.arrays["div"]),
    )


def masked_mean(values: jax.Array, mask: jax.Array, axis: int = 0) -> jax.Array:
    """Mean of `values` over the masked-in entries along `axis` (mask: bool[n]);
    0 when none is (the training losses' and the pool statistics' mean)."""
    shape = [1] * values.ndim
    shape[axis] = mask.shape[0]
    weight = mask.astype(values.dtype).reshape(shape)
    total = jnp.sum(values * weight, axis=axis)
    return total / jnp.maximum(jnp.sum(weight), 1.0)
