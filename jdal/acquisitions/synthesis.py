"""Query synthesis: methods that return new points instead of pool indices.

NA-QBC (Ren et al. 2022, arXiv 2201.12632, code BensonRen/NAAL: QBC by the neural
adjoint method): start from k uniform points in [-1, 1]^d and run `cfg.naqbc_steps`
Adam steps (learning rate `cfg.naqbc_lr`) of gradient ascent on the ensemble
variance with respect to x, minus a box penalty
`cfg.naqbc_box_penalty · Σ_i relu(|x_i| − 1)²` that pulls points back into the box.
The points move independently (prediction uses BatchNorm running averages, so each
point's variance depends on that point only). The result is clipped to [-1, 1]^d.
No pool: the method ignores gamma.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jdal.acquisitions.base import AcqState, Acquisition, Context, member_variance


def make_naqbc(ctx: Context):
    """k points from `naqbc_steps` Adam ascent steps on the ensemble variance."""
    predict = ctx.ensemble.predict
    cfg = ctx.cfg
    dim_x = ctx.problem.dim_x
    optimizer = optax.adam(cfg.naqbc_lr)

    def select(key: jax.Array, pool_x: None, state: AcqState, k: int):
        del pool_x

        def objective(x):  # minimised: -variance + box penalty, summed over points
            variance = member_variance(predict(state.ensemble, x))
            outside = jnp.maximum(jnp.abs(x) - 1.0, 0.0)
            penalty = cfg.naqbc_box_penalty * jnp.sum(jnp.square(outside), axis=-1)
            return jnp.sum(penalty - variance)

        def step(carry, _):
            x, opt_state = carry
            updates, opt_state = optimizer.update(jax.grad(objective)(x), opt_state)
            return (optax.apply_updates(x, updates), opt_state), None

        x0 = jax.random.uniform(key, (k, dim_x), jnp.float32, -1.0, 1.0)
        (x, _), _ = jax.lax.scan(
            step, (x0, optimizer.init(x0)), None, length=cfg.naqbc_steps
        )
        return jnp.clip(x, -1.0, 1.0)

    return select


NAQBC = Acquisition(
    name="naqbc",
    make=make_naqbc,
    description=(
        "NA-QBC (Ren et al. 2022): query synthesis by Adam ascent on ensemble "
        "variance from k uniform points, box penalty"
    ),
    returns_points=True,
    uses_pool=False,
)
