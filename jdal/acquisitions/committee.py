"""Query-by-committee family: the ensemble's disagreement (variance) as the score.

`qbc` ranks by variance alone; `qbc_div` and `qbc_div_den` (Kee, del Castillo &
Runger 2018) mix it with diversity (distance in x to labelled ∪ picked, greedy) and
density (similarity to the nearest neighbours in the remaining pool), each min-max
normalised.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    Pool,
    integer_option,
    member_variance,
    minmax,
    number_option,
    register,
    top_k_method,
)
from jdal.acquisitions.greedy import greedy_max_min, x_space
from jdal.metrics import distances_to, map_rows


def make_variance(ctx: Context):
    """score(key, pool, state) -> f32[P]: member variance of the predictions."""
    predict = ctx.ensemble.predict

    def variance(key: jax.Array, pool: Pool, state: AcqState) -> jax.Array:
        del key
        return member_variance(predict(state.ensemble, pool.x))

    return variance


class Neighbours(NamedTuple):
    """Each pool row's nearest other pool rows, nearest first.

    distance: f32[P, m] (inf past the last masked-in neighbour).
    index: int32[P, m] their rows.
    """

    distance: jax.Array
    index: jax.Array


def nearest_neighbours(pool: Pool, m: int) -> Neighbours:
    """The m nearest other masked-in rows of every pool row; distances from
    differences, a block of rows at a time."""
    rows = jnp.arange(pool.x.shape[0])

    def row_neighbours(point, row):
        others = pool.mask & (rows != row)
        distance = jnp.where(others, distances_to(pool.x, point), jnp.inf)
        negated, index = jax.lax.top_k(-distance, m)
        return Neighbours(-negated, index.astype(jnp.int32))

    return map_rows(row_neighbours, (pool.x, rows), pool.x.size)


def remaining_density(
    neighbours: Neighbours, n_neighbours: int, remaining: jax.Array
) -> jax.Array:
    """f32[P]: mean similarity 1 / (1 + ‖x − x'‖) to the `n_neighbours` nearest rows
    still `remaining` (bool[P]); the mean over fewer when fewer remain, 0 for none.

    `neighbours` must list at least n_neighbours + (number removed) per row. The
    similarity needs no bandwidth: every input lives in [-1, 1]^d, so distances
    have a fixed scale.
    """
    alive = jnp.isfinite(neighbours.distance) & remaining[neighbours.index]
    used = alive & (jnp.cumsum(alive, axis=1) <= n_neighbours)
    similarity = jnp.where(used, 1.0 / (1.0 + neighbours.distance), 0.0)
    count = jnp.sum(used, axis=1)
    return jnp.sum(similarity, axis=1) / jnp.maximum(count, 1)


def knn_density(pool: Pool, n_neighbours: int) -> jax.Array:
    """f32[P]: mean similarity 1 / (1 + ‖x − x'‖) to the `n_neighbours` nearest
    other masked-in rows; high in dense regions."""
    m = min(n_neighbours, pool.x.shape[0] - 1)
    return remaining_density(nearest_neighbours(pool, m), n_neighbours, pool.mask)


def make_qbc_div(ctx: Context):
    """QBC + diversity (Kee et al. 2018): greedy w·N(var) + (1 − w)·N(min x-distance).

    N(var) is normalised once over the whole pool (variance does not change between
    picks); N(distance) over the remaining pool at every pick, the distance being to
    labelled ∪ picked. w = `qbc_div.variance_weight` (0.5).
    """
    variance_of = make_variance(ctx)
    weight = ctx.options["variance_weight"]

    def select(key: jax.Array, pool: Pool, state: AcqState, k: int):
        fixed = weight * minmax(variance_of(key, pool, state), pool.mask)
        return greedy_max_min(
            k,
            pool.mask,
            x_space(ctx, pool, state),
            state.labelled_mask,
            lambda dist, remaining: fixed + (1.0 - weight) * minmax(dist, remaining),
        )

    return select


def make_qbc_div_den(ctx: Context):
    """QBC-div-den (Kee et al. 2018): 0.34 N(var) + 0.33 N(div) + 0.33 N(den).

    Density is the mean similarity 1 / (1 + distance) of a candidate to its
    `qbc_div_den.neighbours` (10) nearest neighbours among the *remaining* pool
    (picked points leave it). Variance is normalised once over the whole pool;
    diversity (as in `qbc_div`) and density are recomputed and re-normalised over
    the remaining pool at every pick. Each row's n + k − 1 nearest pool rows are
    found once per AL step, since at most k − 1 of them are picked away: a pick
    then costs O(P (n + k)), never a [P, P] matrix.
    """
    variance_of = make_variance(ctx)
    options = ctx.options
    n_neighbours = options["neighbours"]

    def select(key: jax.Array, pool: Pool, state: AcqState, k: int):
        fixed = options["variance_weight"] * minmax(
            variance_of(key, pool, state), pool.mask
        )
        m = min(n_neighbours + k - 1, pool.x.shape[0] - 1)
        neighbours = nearest_neighbours(pool, m)

        def score(dist, remaining):
            density = remaining_density(neighbours, n_neighbours, remaining)
            return (
                fixed
                + options["diversity_weight"] * minmax(dist, remaining)
                + options["density_weight"] * minmax(density, remaining)
            )

        return greedy_max_min(
            k, pool.mask, x_space(ctx, pool, state), state.labelled_mask, score
        )

    return select


QBC = register(
    Acquisition(
        name="qbc",
        make=top_k_method(make_variance),
        description=(
            "QBC (Seung et al. 1992; Burbidge et al. 2007): top-k member variance"
        ),
    )
)

QBC_DIV = register(
    Acquisition(
        name="qbc_div",
        make=make_qbc_div,
        description=(
            "QBC + diversity (Kee et al. 2018): greedy 0.5 N(var) + 0.5 N(dist x)"
        ),
        options={"variance_weight": number_option(0.5, 0.0, 1.0)},
    )
)

QBC_DIV_DEN = register(
    Acquisition(
        name="qbc_div_den",
        make=make_qbc_div_den,
        description=(
            "QBC + diversity + density (Kee et al. 2018): greedy "
            "0.34 N(var) + 0.33 N(dist x) + 0.33 N(kNN density of the remaining pool)"
        ),
        options={
            "variance_weight": number_option(0.34, 0.0),
            "diversity_weight": number_option(0.33, 0.0),
            "density_weight": number_option(0.33, 0.0),
            "neighbours": integer_option(10, 1),
        },
    )
)
