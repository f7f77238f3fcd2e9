"""Query-by-committee family: the ensemble's disagreement (variance) as the score.

`qbc` ranks by variance alone; `qbc_div` and `qbc_div_den` (Kee, del Castillo &
Runger 2018) mix it with diversity (distance in x to labelled ∪ picked, greedy) and
density (similarity to the nearest neighbours in the remaining pool), each min-max
normalised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    greedy_picks,
    member_variance,
    minmax,
    pool_mask,
    top_k,
    valid_rows,
)
from jdal.acquisitions.greedy import distance_to_row
from jdal.metrics import distances_to, map_rows, nearest_distance


def make_qbc(ctx: Context):
    """Top-k ensemble variance (population variance over members, mean over outputs)."""
    predict = ctx.ensemble.predict

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        variance = member_variance(predict(state.ensemble, pool_x))
        return top_k(variance, k, pool_mask(pool_x, state))

    return select


class Neighbours(NamedTuple):
    """Each pool row's nearest other pool rows, nearest first.

    distance: f32[P, m] (inf past the last masked-in neighbour).
    index: int32[P, m] their rows.
    """

    distance: jax.Array
    index: jax.Array


def nearest_neighbours(pool_x: jax.Array, m: int, mask: jax.Array) -> Neighbours:
    """The m nearest other masked-in rows of every row of `pool_x` f32[P, d]
    (`mask` bool[P]); distances from differences, a block of rows at a time."""
    rows = jnp.arange(pool_x.shape[0])

    def row_neighbours(point, row):
        distance = jnp.where(mask & (rows != row), distances_to(pool_x, point), jnp.inf)
        negated, index = jax.lax.top_k(-distance, m)
        return Neighbours(-negated, index.astype(jnp.int32))

    return map_rows(row_neighbours, (pool_x, rows), pool_x.size)


def remaining_density(
    neighbours: Neighbours, n_neighbours: int, remaining: jax.Array
) -> jax.Array:
    """f32[P]: mean similarity 1 / (1 + ‖x − x'‖) to the `n_neighbours` nearest rows
    still `remaining` (bool[P]); the mean over fewer when fewer remain, 0 for none.

    `neighbours` must list at least n_neighbours + (number removed) per row.
    """
    alive = jnp.isfinite(neighbours.distance) & remaining[neighbours.index]
    used = alive & (jnp.cumsum(alive, axis=1) <= n_neighbours)
    similarity = jnp.where(used, 1.0 / (1.0 + neighbours.distance), 0.0)
    count = jnp.sum(used, axis=1)
    return jnp.sum(similarity, axis=1) / jnp.maximum(count, 1)


def knn_density(
    pool_x: jax.Array, n_neighbours: int, mask: jax.Array | None = None
) -> jax.Array:
    """f32[P]: mean similarity 1 / (1 + ‖x − x'‖) to the `n_neighbours` nearest
    other masked-in rows (`mask` bool[P], default all); high in dense regions.

    The similarity needs no bandwidth: every input lives in [-1, 1]^d, so
    distances have a fixed scale.
    """
    if mask is None:
        mask = jnp.ones(pool_x.shape[0], bool)
    m = min(n_neighbours, pool_x.shape[0] - 1)
    return remaining_density(nearest_neighbours(pool_x, m, mask), n_neighbours, mask)


def greedy_mixture(
    pool_x: jax.Array,
    state: AcqState,
    k: int,
    score: Callable[[jax.Array, jax.Array], jax.Array],
) -> jax.Array:
    """int32[k]: greedy argmax of `score(min_dist, remaining)`, min_dist f32[P] the
    x-distance of each candidate to labelled ∪ picked, remaining bool[P]."""
    return greedy_picks(
        k,
        nearest_distance(pool_x, state.labelled_x, valid_rows(state)),
        dist_to=lambda i: distance_to_row(pool_x, i),
        score=score,
        candidates=pool_mask(pool_x, state),
    )


def make_qbc_div(ctx: Context):
    """QBC + diversity (Kee et al. 2018): greedy 0.5·N(var) + 0.5·N(min x-distance).

    N(var) is normalised once over the whole pool (variance does not change between
    picks); N(distance) over the remaining pool at every pick, the distance being to
    labelled ∪ picked.
    """
    predict = ctx.ensemble.predict

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        variance = member_variance(predict(state.ensemble, pool_x))
        fixed = 0.5 * minmax(variance, pool_mask(pool_x, state))
        return greedy_mixture(
            pool_x,
            state,
            k,
            lambda dist, remaining: fixed + 0.5 * minmax(dist, remaining),
        )

    return select


def make_qbc_div_den(ctx: Context):
    """QBC-div-den (Kee et al. 2018): 0.34 N(var) + 0.33 N(div) + 0.33 N(den).

    Density is the mean similarity 1 / (1 + distance) of a candidate to its
    `cfg.density_neighbours` (10) nearest neighbours among the *remaining* pool
    (picked points leave it). Variance is normalised once over the whole pool;
    diversity (as in `qbc_div`) and density are recomputed and re-normalised over
    the remaining pool at every pick. Each row's n + k − 1 nearest pool rows are
    found once per AL step, since at most k − 1 of them are picked away: a pick
    then costs O(P (n + k)), never a [P, P] matrix.
    """
    predict = ctx.ensemble.predict
    n_neighbours = ctx.cfg.density_neighbours

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        mask = pool_mask(pool_x, state)
        variance = member_variance(predict(state.ensemble, pool_x))
        fixed = 0.34 * minmax(variance, mask)
        m = min(n_neighbours + k - 1, pool_x.shape[0] - 1)
        neighbours = nearest_neighbours(pool_x, m, mask)

        def score(dist, remaining):
            density = remaining_density(neighbours, n_neighbours, remaining)
            return (
                fixed
                + 0.33 * minmax(dist, remaining)
                + 0.33 * minmax(density, remaining)
            )

        return greedy_mixture(pool_x, state, k, score)

    return select


QBC = Acquisition(
    name="qbc",
    make=make_qbc,
    description="QBC (Seung et al. 1992; Burbidge et al. 2007): top-k member variance",
)

QBC_DIV = Acquisition(
    name="qbc_div",
    make=make_qbc_div,
    description="QBC + diversity (Kee et al. 2018): greedy 0.5 N(var) + 0.5 N(dist x)",
)

QBC_DIV_DEN = Acquisition(
    name="qbc_div_den",
    make=make_qbc_div_den,
    description=(
        "QBC + diversity + density (Kee et al. 2018): greedy "
        "0.34 N(var) + 0.33 N(dist x) + 0.33 N(kNN density)"
    ),
)
