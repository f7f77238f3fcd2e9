"""Special-function and ODE problems: the Bessel function and the damped oscillator.

The study (Ren et al., arXiv 2302.00098) names `bess` and `damp` but does not publish
their parameter ranges; the definitions here are jdal's own (docs/protocol.md,
section 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from jdal.problems.base import ModelSpec, Problem

# --- bess --------------------------------------------------------------------------

# Below this argument J_nu(z) comes from its power series; above it, from Schlaefli's
# integral. At z = 3 the series terms stay below ~3 in magnitude (no float32
# cancellation) and the integral's exp(-z sinh t) tail is below 1e-20 at t = 3.5.
BESSEL_SERIES_MAX_Z = 3.0
BESSEL_SERIES_TERMS = 14  # (z^2/4)^k / (k!)^2 < 1e-11 at k = 14, z = 3
BESSEL_THETA_NODES = 64  # Gauss-Legendre on [0, pi]; exact to ~3e-7 for nu, z <= 20
BESSEL_TAIL_NODES = 32  # Gauss-Legendre on [0, BESSEL_TAIL_T]
BESSEL_TAIL_T = 3.5


def _gauss_legendre(n: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [lo, hi], as float32."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    half = 0.5 * (hi - lo)
    return (
        (lo + half * (nodes + 1.0)).astype(np.float32),
        (half * weights).astype(np.float32),
    )


_THETA, _THETA_W = _gauss_legendre(BESSEL_THETA_NODES, 0.0, np.pi)
_TAIL, _TAIL_W = _gauss_legendre(BESSEL_TAIL_NODES, 0.0, BESSEL_TAIL_T)


def _bessel_series(nu: jax.Array, z: jax.Array) -> jax.Array:
    """J_nu(z) = (z/2)^nu / Gamma(nu+1) sum_k (-z^2/4)^k / (k! (nu+1)_k), small z."""
    ratio = -0.25 * z * z
    term = jnp.ones_like(z)
    total = term
    for k in range(1, BESSEL_SERIES_TERMS):
        term = term * ratio / (k * (nu + k))
        total = total + term
    safe_z = jnp.where(z > 0, z, 1.0)
    prefactor = jnp.exp(nu * jnp.log(0.5 * safe_z) - gammaln(nu + 1.0))
    # (z/2)^nu at z = 0 is 1 for nu = 0 and 0 otherwise.
    prefactor = jnp.where(z > 0, prefactor, jnp.where(nu == 0, 1.0, 0.0))
    return prefactor * total


def _bessel_integral(nu: jax.Array, z: jax.Array) -> jax.Array:
    """Schlaefli's integral for J_nu(z), valid for z > 0.

    J_nu(z) = (1/pi) int_0^pi cos(nu t - z sin t) dt
              - (sin(nu pi)/pi) int_0^inf exp(-z sinh t - nu t) dt.
    """
    theta, theta_w = jnp.asarray(_THETA), jnp.asarray(_THETA_W)
    tail, tail_w = jnp.asarray(_TAIL), jnp.asarray(_TAIL_W)
    oscillating = jnp.sum(theta_w * jnp.cos(nu * theta - z * jnp.sin(theta)))
    # sin(nu pi) from the fractional part, so it is exactly 0 at integer orders.
    whole = jnp.floor(nu)
    sign = 1.0 - 2.0 * jnp.mod(whole, 2.0)
    sin_nu_pi = sign * jnp.sin(jnp.pi * (nu - whole))
    decaying = jnp.sum(tail_w * jnp.exp(-z * jnp.sinh(tail) - nu * tail))
    return (oscillating - sin_nu_pi * decaying) / jnp.pi


def bessel_jv(nu: jax.Array, z: jax.Array) -> jax.Array:
    """Bessel function of the first kind J_nu(z) for real nu in [0, 10], z in [0, 20].

    Float32 throughout, accurate to ~1e-6 absolute on that box (power series for
    z < 3, Gauss-Legendre quadrature of Schlaefli's integral above). Scalars in,
    scalar out; batch with `jax.vmap`.
    """
    nu = jnp.asarray(nu, jnp.float32)
    z = jnp.asarray(z, jnp.float32)
    use_series = z < BESSEL_SERIES_MAX_Z
    # Clamp each branch's argument into its own range so neither produces NaN.
    z_series = jnp.minimum(z, BESSEL_SERIES_MAX_Z)
    z_integral = jnp.maximum(z, BESSEL_SERIES_MAX_Z)
    return jnp.where(
        use_series, _bessel_series(nu, z_series), _bessel_integral(nu, z_integral)
    )


def bess_oracle(x: jax.Array) -> jax.Array:
    """Bessel oracle y = J_nu(z): f32[2] -> f32[1].

    nu = 5 (x0 + 1) in [0, 10] (real), z = 10 (x1 + 1) in [0, 20].
    """
    x = x.astype(jnp.float32)
    nu = 5.0 * (x[0] + 1.0)
    z = 10.0 * (x[1] + 1.0)
    return bessel_jv(nu, z)[None]


def make_bess() -> Problem:
    """The `bess` problem (jdal's definition; the study's ranges are not public)."""
    return Problem(
        name="bess",
        dim_x=2,
        dim_y=1,
        oracle=bess_oracle,
        model=ModelSpec(
            hidden=(200,) * 4, n_members=10, learning_rate=1e-3, weight_decay=1e-4
        ),
        description="Bessel J_nu(z), nu in [0, 10], z in [0, 20] (2 -> 1)",
    )


# --- damp --------------------------------------------------------------------------

DAMP_TIMES = np.linspace(0.0, 5.0, 100)  # s
# Where |s t| < 1 (s^2 = w0^2 (zeta^2 - 1)), cosh(st) and sinh(st)/s come from their
# Taylor series: the closed forms divide by s, which vanishes at zeta = 1.
DAMP_SERIES_TERMS = 10  # 1 / (2k+1)! < 1e-19 at k = 10


def damped_oscillator(zeta: jax.Array, omega0: jax.Array, v0: jax.Array) -> jax.Array:
    """u(t) on `DAMP_TIMES` for u'' + 2 zeta w0 u' + w0^2 u = 0, u(0)=1, u'(0)=v0.

    Scalars in, f32[100] out. u = exp(-a t) [cosh(s t) + (v0 + a) sinh(s t) / s] with
    a = zeta w0 and s = w0 sqrt(zeta^2 - 1) (imaginary when under-damped). The
    formulation is continuous through zeta = 1 and never overflows: in the
    over-damped case the growing and decaying exponents are combined first.
    """
    zeta = jnp.asarray(zeta, jnp.float32)
    omega0 = jnp.asarray(omega0, jnp.float32)
    v0 = jnp.asarray(v0, jnp.float32)
    t = jnp.asarray(DAMP_TIMES, jnp.float32)
    decay = zeta * omega0
    slope = v0 + decay
    zeta2m1 = (zeta - 1.0) * (zeta + 1.0)  # zeta^2 - 1 without cancellation
    s2t2 = omega0 * omega0 * zeta2m1 * t * t

    # Near critical damping: Taylor series of cosh(st) and sinh(st)/s in s^2 t^2.
    near_critical = jnp.abs(s2t2) < 1.0
    x = jnp.where(near_critical, s2t2, 0.0)
    cosh_term = jnp.ones_like(t)
    sinhc_term = jnp.ones_like(t)
    cosh_sum, sinhc_sum = cosh_term, sinhc_term
    for k in range(1, DAMP_SERIES_TERMS):
        cosh_term = cosh_term * x / ((2 * k - 1) * (2 * k))
        sinhc_term = sinhc_term * x / ((2 * k) * (2 * k + 1))
        cosh_sum = cosh_sum + cosh_term
        sinhc_sum = sinhc_sum + sinhc_term
    envelope = jnp.exp(-decay * t)
    u_critical = envelope * (cosh_sum + slope * t * sinhc_sum)

    # Under-damped: s = i w_d.
    omega_d = omega0 * jnp.sqrt(jnp.where(zeta2m1 < 0, -zeta2m1, 1.0))
    u_under = envelope * (jnp.cos(omega_d * t) + slope * jnp.sin(omega_d * t) / omega_d)

    # Over-damped: exp(-a t) cosh(s t) = (exp(-(a - s) t) + exp(-(a + s) t)) / 2,
    # with a - s = w0 / (zeta + sqrt(zeta^2 - 1)) to avoid cancellation.
    root = jnp.sqrt(jnp.where(zeta2m1 > 0, zeta2m1, 1.0))
    s = omega0 * root
    slow = jnp.exp(-(omega0 / (zeta + root)) * t)
    fast = jnp.exp(-(decay + s) * t)
    u_over = 0.5 * (slow + fast) + slope * (slow - fast) / (2.0 * s)

    return jnp.where(near_critical, u_critical, jnp.where(zeta2m1 < 0, u_under, u_over))


def damp_oracle(x: jax.Array) -> jax.Array:
    """Damped-oscillator trajectory u(t), t = linspace(0, 5, 100) s: f32[3] -> f32[100].

    zeta = 0.05 + 0.725 (x0 + 1) in [0.05, 1.5], w0 = 2 pi (0.5 + 0.75 (x1 + 1)) rad/s,
    v0 = w0 x2, u(0) = 1.
    """
    x = x.astype(jnp.float32)
    zeta = 0.05 + 0.725 * (x[0] + 1.0)
    omega0 = 2.0 * jnp.pi * (0.5 + 0.75 * (x[1] + 1.0))
    return damped_oscillator(zeta, omega0, omega0 * x[2])


def make_damp() -> Problem:
    """The `damp` problem (jdal's definition; the study's ranges are not public)."""
    return Problem(
        name="damp",
        dim_x=3,
        dim_y=100,
        oracle=damp_oracle,
        model=ModelSpec(
            hidden=(500,) * 4, n_members=10, learning_rate=1e-3, weight_decay=1e-4
        ),
        description="damped oscillator u(t), zeta in [0.05, 1.5] (3 -> 100)",
    )
