"""Random sampling: the baseline every method is scored against."""

from __future__ import annotations

import jax

from jdal.acquisitions.base import AcqState, Acquisition, Context, top_k


def make_random(ctx: Context):
    """k pool indices drawn uniformly without replacement."""
    del ctx

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del state
        # The k largest of i.i.d. uniform scores: a uniform k-subset.
        return top_k(jax.random.uniform(key, (pool_x.shape[0],)), k)

    return select


RANDOM = Acquisition(
    name="random",
    make=make_random,
    description="Random sampling: k uniform points (ignores gamma)",
    uses_pool=False,
)
