"""Query synthesis: methods that return new points instead of pool indices.

NA-QBC (Ren et al. 2022, arXiv 2201.12632, code BensonRen/NAAL): query by committee
with the neural adjoint method, i.e. candidates synthesised by gradient ascent on the
ensemble's disagreement instead of drawn from a pool.

- Start: k points uniform in [-1, 1]^d, drawn from the first of two keys split off
  the select key (the second draws the box fix-up below, so no key is reused).
- Objective, minimised: the mean over the k points of
  `-variance(x_i) + naqbc.box_penalty · Σ_j relu(|x_ij| − 1)`, where variance
  is `member_variance` (population variance over members, mean over outputs). The
  penalty is linear (the spec's Σ ReLU(|x| − 1)): outside the box its gradient is
  a constant ±weight per coordinate however far the point has gone, and zero
  inside, where the ascent is free. Mean rather than sum over points only rescales
  the objective by 1/k; Adam is invariant to that rescaling up to its eps (1e-8,
  which matters only for gradients that small).
- Optimiser: `optax.adam(naqbc.lr)` (0.005, PyTorch's defaults otherwise) for
  `naqbc.steps` steps (1000 in `paper`). The points move independently:
  prediction uses BatchNorm running averages, so a point's variance depends on that
  point only, and its gradient on nothing else.
- Best iterate: the batch-mean variance of every iterate (the start points, each
  intermediate one and the final one: naqbc.steps + 1 in all) is tracked, and the
  iterate with the highest one is kept (the first on ties). It is carried in the
  scan, so memory stays O(k d) whatever the number of steps.
- Box fix-up: a coordinate of the kept iterate outside [-1, 1] is put back just
  inside, to sign(x) · (1 − 0.005 u) with u ~ U[0, 1) drawn per coordinate (capped
  at the largest float32 below 1 so that it lands in [0.995, 1), strictly inside).
  Clipping would instead put every escaped coordinate exactly on the boundary and
  could make returned points coincide; coordinates inside stay as they are.

No pool: the method ignores gamma. The result is f32[k, d] within [-1, 1]^d.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    integer_option,
    member_variance,
    number_option,
    register,
)

# The box fix-up puts an escaped coordinate within this distance of the boundary.
BOX_MARGIN = 0.005
# Largest float32 below 1: 1 − BOX_MARGIN · u rounds to 1.0 for tiny u.
ONE_BELOW = float(np.nextafter(np.float32(1.0), np.float32(0.0)))


def box_excess(x: jax.Array) -> jax.Array:
    """Linear box penalty per point, Σ_j relu(|x_ij| − 1): f32[k, d] -> f32[k]."""
    return jnp.sum(jnp.maximum(jnp.abs(x) - 1.0, 0.0), axis=-1)


def naqbc_objective(x: jax.Array, variance: jax.Array, penalty: float) -> jax.Array:
    """Minimised objective f32[]: mean_i(penalty · box_excess(x)_i − variance_i).

    x: f32[k, d] points; variance: f32[k] their ensemble variance (computed from x
    by the caller, so that gradients flow through it).
    """
    return jnp.mean(penalty * box_excess(x) - variance)


def put_back_in_box(key: jax.Array, x: jax.Array) -> jax.Array:
    """f32[k, d] -> f32[k, d]: coordinates outside [-1, 1] -> sign(x)(1 − 0.005 u)."""
    u = jax.random.uniform(key, x.shape, jnp.float32)
    inside = jnp.minimum(1.0 - BOX_MARGIN * u, ONE_BELOW)
    return jnp.where(jnp.abs(x) > 1.0, jnp.sign(x) * inside, x)


def synthesise(
    key: jax.Array,
    variance_fn: Callable[[jax.Array], jax.Array],
    k: int,
    dim_x: int,
    steps: int,
    learning_rate: float,
    penalty: float,
) -> jax.Array:
    """f32[k, d]: NA-QBC's points for `variance_fn` (f32[k, d] -> f32[k]).

    Adam on `naqbc_objective` from k uniform points, keeps the iterate with the
    highest batch-mean variance, then `put_back_in_box`.
    """
    key_start, key_box = jax.random.split(key)
    optimizer = optax.adam(learning_rate)

    def objective(x):
        variance = variance_fn(x)
        return naqbc_objective(x, variance, penalty), jnp.mean(variance)

    def keep_best(best_x, best_variance, x, variance):
        # Strict '>': the first iterate wins ties, and a NaN variance never wins.
        better = variance > best_variance
        return jnp.where(better, x, best_x), jnp.where(better, variance, best_variance)

    def step(carry, _):
        x, opt_state, best_x, best_variance = carry
        (_, variance), grad = jax.value_and_grad(objective, has_aux=True)(x)
        best_x, best_variance = keep_best(best_x, best_variance, x, variance)
        updates, opt_state = optimizer.update(grad, opt_state)
        return (optax.apply_updates(x, updates), opt_state, best_x, best_variance), None

    x0 = jax.random.uniform(key_start, (k, dim_x), jnp.float32, -1.0, 1.0)
    carry = (x0, optimizer.init(x0), x0, jnp.float32(-jnp.inf))
    (x, _, best_x, best_variance), _ = jax.lax.scan(step, carry, None, length=steps)
    # The final iterate has not been scored inside the scan.
    best_x, _ = keep_best(best_x, best_variance, x, jnp.mean(variance_fn(x)))
    return put_back_in_box(key_box, best_x)


def make_naqbc(ctx: Context):
    """k points from `naqbc.steps` Adam ascent steps on the ensemble variance."""
    predict = ctx.ensemble.predict
    options = ctx.options
    dim_x = ctx.problem.dim_x

    def select(key: jax.Array, pool: None, state: AcqState, k: int):
        del pool

        def variance_fn(x):
            return member_variance(predict(state.ensemble, x))

        return synthesise(
            key,
            variance_fn,
            k,
            dim_x,
            options["steps"],
            options["lr"],
            options["box_penalty"],
        )

    return select


NAQBC = register(
    Acquisition(
        name="naqbc",
        make=make_naqbc,
        description=(
            "NA-QBC (Ren et al. 2022): query synthesis by Adam ascent on ensemble "
            "variance from k uniform points, linear box penalty, best iterate kept"
        ),
        options={
            "steps": integer_option(1000, 0),
            "lr": number_option(0.005, 0.0),
            "box_penalty": number_option(1.0, 0.0),
        },
        returns_points=True,
        uses_pool=False,
    )
)
