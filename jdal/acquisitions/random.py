"""Random sampling: the baseline every method is scored against."""

from __future__ import annotations

import jax

from jdal.acquisitions.base import AcqState, Acquisition, Context, pool_mask, top_k
from jdal.rng import prefix_uniform


def make_random(ctx: Context):
    """k pool indices drawn uniformly without replacement."""
    del ctx

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        # The k largest of i.i.d. uniform scores: a uniform k-subset. Per-row
        # draws, so a padded pool picks what the unpadded one would.
        scores = prefix_uniform(key, pool_x.shape[0])
        return top_k(scores, k, pool_mask(pool_x, state))

    return select


RANDOM = Acquisition(
    name="random",
    make=make_random,
    description="Random sampling: k uniform points (ignores gamma)",
    uses_pool=False,
)
