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
    min_dist_to_rows,
    valid_rows,
)


def distance_to_row(points: jax.Array, index: jax.Array) -> jax.Array:
    """f32[P]: Euclidean distance from every row of `points` f32[P, c] to row `index`."""
    return jnp.sqrt(jnp.sum(jnp.square(points - points[index]), axis=-1))


def make_gsx(ctx: Context):
    """GSx / core-set greedy k-centre: argmax of min distance in x to labelled ∪ picked."""
    del ctx

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        min_dist = min_dist_to_rows(pool_x, state.labelled_x, valid_rows(state))
        return greedy_picks(
            k,
            min_dist,
            dist_to=lambda i: distance_to_row(pool_x, i),
            score=lambda dist, remaining: dist,
        )

    return select


GSX = Acquisition(
    name="gsx",
    make=make_gsx,
    description="GSx (Wu et al. 2019; core-set k-centre): greedy max-min distance in x",
)
