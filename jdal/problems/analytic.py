"""Closed-form toy problems: the 1-D sine and the robotic arm."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jdal.problems.base import ModelSpec, Problem


def sine_oracle(x: jax.Array) -> jax.Array:
    """y = x sin(3 sin(30 x)): f32[1] -> f32[1]."""
    return x * jnp.sin(3.0 * jnp.sin(30.0 * x))


# Link lengths of the three arm segments.
ROBO_LINKS = (0.5, 0.5, 1.0)


def robo_oracle(x: jax.Array) -> jax.Array:
    """Planar arm forward kinematics: f32[4] -> f32[2] end-effector position.

    x0 is the vertical offset of the base; x1..x3 map to absolute (not cumulative)
    joint angles theta_i = (pi / 2) x_i.
    """
    links = jnp.asarray(ROBO_LINKS, dtype=x.dtype)
    theta = (jnp.pi / 2) * x[1:]
    y0 = jnp.sum(links * jnp.cos(theta))
    y1 = x[0] + jnp.sum(links * jnp.sin(theta))
    return jnp.stack([y0, y1])


def make_sine() -> Problem:
    return Problem(
        name="sine",
        dim_x=1,
        dim_y=1,
        oracle=sine_oracle,
        model=ModelSpec(
            hidden=(20,) * 9, n_members=10, learning_rate=1e-4, weight_decay=0.0
        ),
        description="1-D sine, y = x sin(3 sin(30x))",
    )


def make_robo() -> Problem:
    return Problem(
        name="robo",
        dim_x=4,
        dim_y=2,
        oracle=robo_oracle,
        model=ModelSpec(
            hidden=(500,) * 4, n_members=10, learning_rate=1e-3, weight_decay=1e-4
        ),
        description="robotic arm forward kinematics (4 -> 2)",
    )
