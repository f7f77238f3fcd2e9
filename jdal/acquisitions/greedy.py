"""Greedy-sampling family (Wu, Lin & Huang 2019): diversity in x, y or both.

Every method picks one candidate at a time, adds it to the labelled set and updates
a running minimum distance of the remaining candidates (O(P) per pick, never an
O(P^2) matrix per pick).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    greedy_picks,
    pool_mask,
    valid_rows,
)
from jdal.metrics import distances_to, map_rows, nearest_distance


def distance_to_row(points: jax.Array, index: jax.Array) -> jax.Array:
    """f32[P]: Euclidean distance of every row of `points` f32[P, c] to row `index`."""
    return distances_to(points, points[index])


def make_gsx(ctx: Context):
    """GSx / core-set greedy k-centre: argmax of min x-distance to labelled ∪ picked."""
    del ctx

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        min_dist = nearest_distance(pool_x, state.labelled_x, valid_rows(state))
        return greedy_picks(
            k,
            min_dist,
            dist_to=lambda i: distance_to_row(pool_x, i),
            score=lambda dist, remaining: dist,
            candidates=pool_mask(pool_x, state),
        )

    return select


def ensemble_mean(ctx: Context, state: AcqState, pool_x: jax.Array) -> jax.Array:
    """f32[P, dy]: the ensemble's prediction (member mean) on the pool."""
    return jnp.mean(ctx.ensemble.predict(state.ensemble, pool_x), axis=0)


def make_gsy(ctx: Context):
    """GSy: greedy argmax of min distance in y to labelled (true y) ∪ picked (ŷ).

    A candidate's output is the ensemble mean ŷ. The labelled rows contribute their
    true labels; a picked candidate has no label yet, so it joins with its predicted
    ŷ (Wu, Lin & Huang 2019 label one point at a time; this is the batch version).
    """

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        pool_y = ensemble_mean(ctx, state, pool_x)
        min_dist = nearest_distance(pool_y, state.labelled_y, valid_rows(state))
        return greedy_picks(
            k,
            min_dist,
            dist_to=lambda i: distance_to_row(pool_y, i),
            score=lambda dist, remaining: dist,
            candidates=pool_mask(pool_x, state),
        )

    return select


def make_gsxy(ctx: Context):
    """iGS / GSxy: greedy argmax of min over labelled ∪ picked of ‖x − xl‖ · ‖ŷ − yl‖.

    ŷ is the ensemble mean; yl is the true label of a labelled row and the predicted
    ŷ of a picked candidate (as in `gsy`). The product is taken per pair, then the
    minimum, exactly iGS of Wu, Lin & Huang (2019). Distances come from
    differences, a block of pool rows at a time (`jdal.metrics.map_rows`).
    """

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        pool_y = ensemble_mean(ctx, state, pool_x)
        valid = valid_rows(state)

        def min_product(x, y):
            product = distances_to(state.labelled_x, x) * distances_to(
                state.labelled_y, y
            )
            return jnp.min(jnp.where(valid, product, jnp.inf))

        labelled_size = state.labelled_x.size + state.labelled_y.size
        return greedy_picks(
            k,
            map_rows(min_product, (pool_x, pool_y), labelled_size),
            dist_to=lambda i: distance_to_row(pool_x, i) * distance_to_row(pool_y, i),
            score=lambda dist, remaining: dist,
            candidates=pool_mask(pool_x, state),
        )

    return select


GSX = Acquisition(
    name="gsx",
    make=make_gsx,
    description="GSx (Wu et al. 2019; core-set k-centre): greedy max-min distance in x",
)

GSY = Acquisition(
    name="gsy",
    make=make_gsy,
    description="GSy (Wu et al. 2019): greedy max-min distance in predicted y",
)

GSXY = Acquisition(
    name="gsxy",
    make=make_gsxy,
    description="iGS / GSxy (Wu et al. 2019): greedy max-min of ‖Δx‖·‖Δy‖",
)
