"""Query-by-committee family: the ensemble's disagreement (variance) as the score."""

from __future__ import annotations

import jax

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    member_variance,
    top_k,
)


def make_qbc(ctx: Context):
    """Top-k ensemble variance (population variance over members, mean over outputs)."""
    predict = ctx.ensemble.predict

    def select(key: jax.Array, pool_x: jax.Array, state: AcqState, k: int):
        del key
        return top_k(member_variance(predict(state.ensemble, pool_x)), k)

    return select


QBC = Acquisition(
    name="qbc",
    make=make_qbc,
    description="QBC (Seung et al. 1992; Burbidge et al. 2007): top-k ensemble variance",
)
