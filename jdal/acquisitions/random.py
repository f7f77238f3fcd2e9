"""Random sampling: the baseline every method is scored against."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.acquisitions.base import AcqState, Acquisition, Context


def make_random(ctx: Context):
    """k pool indices drawn uniformly without replacement."""
    del ctx

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del state
        return jax.random.permutation(key, pool_x.shape[0])[:k].astype(jnp.int32)

    return select


RANDOM = Acquisition(
    name="random",
    make=make_random,
    description="Random sampling: k uniform points (ignores gamma)",
    uses_pool=False,
)
