"""PDE problems: 1-D periodic Burgers and Korteweg-de Vries, solved by exponax.

Beyond the study's dimensions (all its problems have fewer than 15 inputs): the
input x in [-1, 1]^d sets an initial condition, a Fourier-spectral ETDRK solver
(exponax) runs it for a fixed time, and the output is the solution at 32 evenly
spaced points of the domain. Six built-in problems, `burgers_d8`, `burgers_d32`,
`burgers_d128`, `kdv_d8`, `kdv_d32`, `kdv_d128` (docs/pde.md).

Initial condition, the same for both dynamics and every d: on the periodic domain
[0, 2 pi), with m = d / 2 Fourier modes,

    u0(z) = sum_{j=1..m} (x_{2j-1} cos(j z) + x_{2j} sin(j z)) / j .

The 1/j decay keeps u0's energy bounded as d grows (sum 1/j^2 converges), so a
larger d adds finer detail rather than a larger signal, while every input still
enters u0. The gradient u0' grows like sqrt(d), so fronts steepen sooner at large
d: harder, not explosively so.

Dynamics (exponax's conventions, z the space coordinate):
- Burgers, dissipative with shocks: u_t + u u_z = nu u_zz, nu = 0.05. Viscosity
  erases the finest modes, so the last inputs of `burgers_d128` matter little.
- KdV, dispersive: u_t + (1/2) u u_z + a u_zzz = 0, a = 0.01, no added
  dissipation, so every mode's input persists to the output.

Both run to t = 1 on 256 grid points (2/3 dealiasing keeps modes up to 85, so the
64 modes of d = 128 are resolved) with ETDRK2: Burgers at dt = 0.01, KdV at
dt = 0.00125 with complex ETDRK coefficients (`etdrk2_coefficients`; exponax 0.2
keeps only their real part, which is first order for a dispersive equation).
Halving dt and doubling the grid changes each output by less than 1 % of the
outputs' range (tests/test_pde.py, experiments/pde_checks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jdal.problems.base import Problem
from jdal.problems.user_oracle import default_model

DOMAIN = 2.0 * np.pi  # periodic domain [0, 2 pi): mode j has wavenumber j
GRID = 256  # solver grid points
OUTPUT_POINTS = 32  # the outputs: u(z_i, HORIZON) at z_i = 2 pi i / 32
HORIZON = 1.0  # time the solver runs
DIMENSIONS = (8, 32, 128)  # d of the built-in problems (d / 2 Fourier modes)


class Dynamics(NamedTuple):
    """One PDE: how to build its exponax stepper, and its default time step.

    Attributes:
      name: problem-name prefix ("burgers", "kdv").
      stepper: (grid points, dt) -> an exponax stepper, f32[1, n] -> f32[1, n].
      dt: the time step the built-in problems use.
      description: the equation in words, for tables.
    """

    name: str
    stepper: Callable[[int, float], Callable[[jax.Array], jax.Array]]
    dt: float
    description: str


BURGERS_VISCOSITY = 0.05
KDV_CONVECTION = 0.5  # exponax writes b (1/2) (u^2)_z, so b = 0.5 is (1/2) u u_z
KDV_DISPERSION = 0.01


def _burgers(n_points: int, dt: float):
    import exponax  # imported on first use: equinox and exponax take a while

    return exponax.stepper.Burgers(
        1, DOMAIN, n_points, dt, diffusivity=BURGERS_VISCOSITY, order=2
    )


def _kdv(n_points: int, dt: float):
    import equinox
    import exponax

    stepper = exponax.stepper.KortewegDeVries(
        1,
        DOMAIN,
        n_points,
        dt,
        convection_scale=KDV_CONVECTION,
        dispersivity=KDV_DISPERSION,
        hyper_diffusivity=0.0,
        order=2,
    )
    # exponax 0.2 keeps only the real part of the ETDRK coefficients: exact for a
    # real (diffusive) linear operator, but for KdV's imaginary dispersion it drops
    # an O(dt) term and the scheme falls to first order (measured: the error halves
    # with dt at order 2 and 4 alike). Put the complex coefficients back.
    linear = stepper._build_linear_operator(  # exponax's hook for its equations
        exponax.spectral.build_derivative_operator(1, DOMAIN, n_points)
    )
    coefficients = etdrk2_coefficients(np.asarray(linear), dt)
    return equinox.tree_at(
        lambda s: (s._integrator._coef_1, s._integrator._coef_2),
        stepper,
        tuple(jnp.asarray(c, linear.dtype) for c in coefficients),
    )


def etdrk2_coefficients(
    linear: np.ndarray, dt: float, n_circle: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Cox-Matthews ETDRK2 coefficients dt phi1(L dt), dt phi2(L dt), complex128.

    phi1(z) = (e^z - 1) / z and phi2(z) = (e^z - 1 - z) / z^2 as means over a
    circle of radius 1 around z (Kassam and Trefethen 2005), which avoids their
    cancellation near z = 0; unlike exponax 0.2, the complex mean is kept, so an
    imaginary L (dispersion) gets its full coefficients.
    """
    roots = np.exp(2j * np.pi * (np.arange(n_circle) + 0.5) / n_circle)
    z = linear.astype(np.complex128)[..., None] * dt + roots
    phi1 = np.mean((np.exp(z) - 1) / z, axis=-1)
    phi2 = np.mean((np.exp(z) - 1 - z) / z**2, axis=-1)
    return dt * phi1, dt * phi2


DYNAMICS = {
    "burgers": Dynamics(
        "burgers", _burgers, 0.01, f"viscous Burgers, nu = {BURGERS_VISCOSITY}"
    ),
    "kdv": Dynamics(
        "kdv",
        _kdv,
        0.00125,
        f"Korteweg-de Vries, u_t + u u_z / 2 + {KDV_DISPERSION} u_zzz = 0",
    ),
}


def initial_condition(x: jax.Array, n_points: int) -> jax.Array:
    """u0 on the solver grid z_i = 2 pi i / n: f32[d] -> f32[n_points], d even."""
    n_modes = x.shape[0] // 2
    z = jnp.arange(n_points, dtype=x.dtype) * (DOMAIN / n_points)
    j = jnp.arange(1, n_modes + 1, dtype=x.dtype)
    phase = j[:, None] * z[None, :]  # [m, n]
    cosine, sine = x[0::2] / j, x[1::2] / j
    return cosine @ jnp.cos(phase) + sine @ jnp.sin(phase)


def solver(
    dynamics: Dynamics, n_points: int = GRID, dt: float | None = None
) -> Callable[[jax.Array], jax.Array]:
    """x f32[d] -> u(., HORIZON) f32[n_points] on the grid z_i = 2 pi i / n_points.

    `n_points` and `dt` are for convergence checks; the problems use the defaults.
    """
    import exponax

    dt = dynamics.dt if dt is None else dt
    n_steps = round(HORIZON / dt)
    if not np.isclose(n_steps * dt, HORIZON):
        raise ValueError(f"dt = {dt} does not divide the horizon {HORIZON}")
    advance = exponax.repeat(dynamics.stepper(n_points, dt), n_steps)

    def solve(x: jax.Array) -> jax.Array:
        # exponax broadcasts ranks implicitly; allow it here even where the
        # caller (jdal's tests) has made implicit rank promotion an error.
        with jax.numpy_rank_promotion("allow"):
            return advance(initial_condition(x, n_points)[None])[0]

    return solve


def oracle(
    dynamics: Dynamics, n_points: int = GRID, dt: float | None = None
) -> Callable[[jax.Array], jax.Array]:
    """The problem's oracle: f32[d] -> f32[OUTPUT_POINTS], the solution at the
    output points (every n_points / 32-th grid point)."""
    if n_points % OUTPUT_POINTS:
        raise ValueError(f"n_points must be a multiple of {OUTPUT_POINTS}")
    solve = solver(dynamics, n_points, dt)
    stride = n_points // OUTPUT_POINTS

    def pde_oracle(x: jax.Array) -> jax.Array:
        return solve(x)[::stride]

    return pde_oracle


def problem_name(dynamics: str, dim_x: int) -> str:
    return f"{dynamics}_d{dim_x}"


NAMES = tuple(
    problem_name(dynamics, dim_x) for dynamics in DYNAMICS for dim_x in DIMENSIONS
)


def make(dynamics: str, dim_x: int) -> Problem:
    """The built-in problem `<dynamics>_d<dim_x>`, with the default model of a
    user problem of its size (`default_model(d, 32)`), the same for every method."""
    spec = DYNAMICS[dynamics]
    return Problem(
        name=problem_name(dynamics, dim_x),
        dim_x=dim_x,
        dim_y=OUTPUT_POINTS,
        oracle=oracle(spec),
        model=default_model(dim_x, OUTPUT_POINTS),
        description=(
            f"{spec.description}: {dim_x // 2} Fourier modes of u0 -> "
            f"u(t = {HORIZON:g}) at {OUTPUT_POINTS} points ({dim_x} -> {OUTPUT_POINTS})"
        ),
    )
