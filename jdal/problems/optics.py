"""Thin-film optics problems: the graphene/Si3N4 stack and the ADM metasurface.

Both use the characteristic-matrix method at normal incidence (Macleod, *Thin-Film
Optical Filters*), in complex64 inside and float32 at the boundary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jdal.problems.base import ModelSpec, Problem

# --- stack -------------------------------------------------------------------------

# Impedance of free space (ohm); admittances are n / Z0.
Z0 = 376.730313
STACK_N_SUBSTRATE = 1.46
STACK_N_AIR = 1.0
STACK_N_SI3N4 = 2.0
STACK_N_GRAPHENE = 3.306459758 + 3.152632723j
STACK_GRAPHENE_NM = 0.35
STACK_N_PAIRS = 5


def stack_wavelengths() -> np.ndarray:
    """The 256 Chebyshev (second kind) wavelengths on [240, 2000] nm, ascending."""
    j = np.arange(256)
    return 1120.0 + 880.0 * np.cos(np.pi * (j / 255.0 - 1.0))


def _layer_matrix(n: complex, d_nm: float, wavelengths: np.ndarray) -> np.ndarray:
    """Characteristic matrix of one fixed layer, float64 host side: c128[4, n_wl]."""
    eta = n / Z0
    delta = -2.0 * np.pi * n * d_nm / wavelengths
    cos, sin = np.cos(delta), np.sin(delta)
    return np.stack([cos, 1j * sin / eta, 1j * eta * sin, cos])


_STACK_WL = stack_wavelengths()
# The graphene layers do not depend on x: build their matrix once, in float64.
_GRAPHENE_M = _layer_matrix(STACK_N_GRAPHENE, STACK_GRAPHENE_NM, _STACK_WL).astype(
    np.complex64
)
_STACK_K = (2.0 * np.pi / _STACK_WL).astype(np.float32)


def _matmul2(a, b):
    """Elementwise product of 2x2 matrices stored as 4-tuples (m00, m01, m10, m11)."""
    a00, a01, a10, a11 = a
    b00, b01, b10, b11 = b
    return (
        a00 * b00 + a01 * b10,
        a00 * b01 + a01 * b11,
        a10 * b00 + a11 * b10,
        a10 * b01 + a11 * b11,
    )


def stack_oracle(x: jax.Array) -> jax.Array:
    """Absorptance of the graphene/Si3N4 stack: f32[5] -> f32[256].

    Si3N4 thicknesses t_i = 22.5 x_i + 27.5 nm; layers from the incidence side:
    substrate (n = 1.46) | [graphene 0.35 nm | Si3N4 t_i] x 5 | air. Output is
    A(lambda_j) on the 256 wavelengths of `stack_wavelengths()`.
    """
    thickness = 22.5 * x.astype(jnp.float32) + 27.5
    graphene = tuple(jnp.asarray(m) for m in _GRAPHENE_M)
    eta_si3n4 = STACK_N_SI3N4 / Z0
    k = jnp.asarray(_STACK_K)
    total = graphene
    for i in range(STACK_N_PAIRS):
        if i > 0:
            total = _matmul2(total, graphene)
        delta = -STACK_N_SI3N4 * thickness[i] * k
        cos = jnp.cos(delta).astype(jnp.complex64)
        isin = 1j * jnp.sin(delta).astype(jnp.complex64)
        total = _matmul2(total, (cos, isin / eta_si3n4, isin * eta_si3n4, cos))
    m00, m01, m10, m11 = total
    eta_in = STACK_N_SUBSTRATE / Z0
    eta_out = STACK_N_AIR / Z0
    b = m00 + m01 * eta_out
    c = m10 + m11 * eta_out
    numerator = 4.0 * eta_in * jnp.real(b * jnp.conj(c) - eta_out)
    denominator = jnp.abs(eta_in * b + c) ** 2
    return (numerator / denominator).astype(jnp.float32)


def make_stack() -> Problem:
    """The `stack` problem: 5 Si3N4 thicknesses -> 256-point absorptance spectrum."""
    return Problem(
        name="stack",
        dim_x=5,
        dim_y=256,
        oracle=stack_oracle,
        model=ModelSpec(
            hidden=(700,) * 9,
            n_members=10,
            learning_rate=1e-3,
            weight_decay=0.0,
            batch_size=2000,
        ),
        description="graphene/Si3N4 stack absorptance, transfer matrix (5 -> 256)",
    )


# --- adm ---------------------------------------------------------------------------

C_UM_THZ = 299.792458  # speed of light in um * THz
ADM_N_RESONATOR = 3.5
ADM_N_SUBSTRATE = 1.45
ADM_FREQUENCIES = np.linspace(100.0, 500.0, 2000)  # THz


def adm_modes(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Geometry and Lorentz modes of the metasurface: f32[14] -> (h, f0, F, gamma).

    Returns the layer height h (um, scalar) and, for the twelve modes (electric
    dipole along a, along b, magnetic dipole, for each of the four resonators),
    the resonance frequency f0 (THz), oscillator strength F and damping gamma (THz),
    each f32[12].
    """
    x = x.astype(jnp.float32)
    h = 0.3 + 0.15 * (x[0] + 1.0)
    p = 1.0 + 0.25 * (x[1] + 1.0)
    radii = 0.1 + 0.05 * (x[2:10] + 1.0)
    theta = (jnp.pi / 4.0) * x[10:14]
    a, b = radii[0::2], radii[1::2]
    fill = jnp.pi * a * b / p**2
    n2m1 = ADM_N_RESONATOR**2 - 1.0
    size = a + b
    sqrt_ab = jnp.sqrt(a * b)

    retard_e = jnp.sqrt(1.0 + size / (2.0 * h))
    f0_ea = C_UM_THZ / (2.0 * ADM_N_RESONATOR * a) / retard_e
    f0_eb = C_UM_THZ / (2.0 * ADM_N_RESONATOR * b) / retard_e
    strength_ea = 2.0 * fill * n2m1 * jnp.cos(theta) ** 2
    strength_eb = 2.0 * fill * n2m1 * jnp.sin(theta) ** 2
    q_e = 4.0 + 10.0 * h / size

    f0_m = C_UM_THZ / (jnp.pi * ADM_N_RESONATOR * sqrt_ab) / jnp.sqrt(1.0 + sqrt_ab / h)
    strength_m = 0.5 * fill * n2m1 * h / p
    q_m = 10.0 + 30.0 * h / size

    f0 = jnp.concatenate([f0_ea, f0_eb, f0_m])
    strength = jnp.concatenate([strength_ea, strength_eb, strength_m])
    q = jnp.concatenate([q_e, q_e, q_m])
    gamma = f0 / q + 0.01 * f0
    return h, f0, strength, gamma


def adm_absorptance(x: jax.Array) -> jax.Array:
    """Unclipped A = 1 - R - T of the Lorentz metasurface: f32[14] -> f32[2000].

    One homogeneous layer (thickness h, permittivity from twelve Lorentz modes)
    between air (incidence side) and a substrate of n = 1.45, on `ADM_FREQUENCIES`
    (100..500 THz).
    """
    h, f0, strength, gamma = adm_modes(x)
    freq = jnp.asarray(ADM_FREQUENCIES, dtype=jnp.float32)[:, None]  # [2000, 1]
    f0, strength, gamma = f0[None, :], strength[None, :], gamma[None, :]
    lorentz = (strength * f0**2).astype(jnp.complex64) / (
        (f0**2 - freq**2) - 1j * (freq * gamma)
    )
    eps = 1.0 + jnp.sum(lorentz, axis=-1)  # [2000]
    # Principal root has Im >= 0 since Im eps >= 0; N = n - ik (Macleod's sign).
    n_layer = jnp.conj(jnp.sqrt(eps))
    delta = 2.0 * jnp.pi * n_layer * h * freq[:, 0] / C_UM_THZ
    # Im(delta) <= 0, so cos and sin grow like exp(|Im delta|); scaling the matrix
    # by exp(-i delta) keeps every entry O(1) and leaves r unchanged.
    decay = jnp.exp(-2j * delta)  # |decay| <= 1
    cos_s = 0.5 * (1.0 + decay)  # cos(delta) exp(-i delta)
    isin_s = 0.5 * (1.0 - decay)  # i sin(delta) exp(-i delta)
    eta_s = ADM_N_SUBSTRATE
    b = cos_s + isin_s * eta_s / n_layer
    c = isin_s * n_layer + cos_s * eta_s
    r = (b - c) / (b + c)
    t_scaled = 2.0 / (b + c)  # t = t_scaled * exp(-i delta)
    reflect = jnp.abs(r) ** 2
    transmit = eta_s * jnp.abs(t_scaled) ** 2 * jnp.exp(2.0 * jnp.imag(delta))
    return (1.0 - reflect - transmit).astype(jnp.float32)


def adm_oracle(x: jax.Array) -> jax.Array:
    """Absorptance of the Lorentz metasurface, in [0, 1]: f32[14] -> f32[2000]."""
    # 0 <= A <= 1 exactly (the layer is passive); the clip only removes float32
    # rounding, so tests check the unclipped `adm_absorptance` instead.
    return jnp.clip(adm_absorptance(x), 0.0, 1.0).astype(jnp.float32)


def make_adm() -> Problem:
    """The `adm` problem: 14 metasurface geometry parameters -> 2000-point spectrum."""
    return Problem(
        name="adm",
        dim_x=14,
        dim_y=2000,
        oracle=adm_oracle,
        model=ModelSpec(
            hidden=(1500,) * 6,
            n_members=5,
            learning_rate=5e-3,
            weight_decay=0.0,
            batch_size=500,
            head="adm_conv",
        ),
        description="all-dielectric metasurface absorptance, Lorentz (14 -> 2000)",
    )
