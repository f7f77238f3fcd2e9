"""Random draws that do not depend on how many rows are drawn.

`jax.random.uniform(key, (n, ...))` gives different numbers for different n, so a
buffer of another capacity (a size bucket) or a pool of another size (another γ)
would see other draws. Here row i is drawn from `fold_in(key, i)` alone: the draw
for n rows is a prefix of the draw for any larger n.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def prefix_uniform(
    key: jax.Array,
    n: int,
    shape: tuple[int, ...] = (),
    minval: float = 0.0,
    maxval: float = 1.0,
) -> jax.Array:
    """f32[n, *shape] uniform on [minval, maxval); row i depends on (key, i) only."""

    def row(i):
        return jax.random.uniform(
            jax.random.fold_in(key, i), shape, jnp.float32, minval, maxval
        )

    return jax.vmap(row)(jnp.arange(n))
