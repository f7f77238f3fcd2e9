"""The PDE problems (jdal.problems.pde) against independent solutions.

Burgers is checked against the Cole-Hopf transform (an exact solution computed
here in NumPy, float64), KdV against a SciPy ODE solve of its Fourier modes; both
share nothing with exponax but the equation.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import problems
from jdal.problems import pde

scipy_integrate = pytest.importorskip("scipy.integrate")


def _inputs(dim_x: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, dim_x))


def _output_points(fine: np.ndarray) -> np.ndarray:
    """u at z_i = 2 pi i / 32 from a solution on a finer even grid."""
    return fine[:: fine.shape[0] // pde.OUTPUT_POINTS]


def _numpy_initial_condition(x: np.ndarray, n_points: int) -> np.ndarray:
    """u0(z) = sum_j (x_{2j-1} cos(jz) + x_{2j} sin(jz)) / j on n points, float64."""
    z = np.arange(n_points) * 2 * np.pi / n_points
    j = np.arange(1, x.shape[0] // 2 + 1)[:, None]
    phase = j * z  # [m, n]
    cosine, sine = x[0::2, None] / j, x[1::2, None] / j
    return np.sum(cosine * np.cos(phase) + sine * np.sin(phase), axis=0)


def _labelled(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n uniform inputs (seed d) of problem `name` and its oracle's outputs there."""
    problem = problems.get(name)
    xs = _inputs(problem.dim_x, n, seed=problem.dim_x)
    return xs, np.asarray(jax.vmap(problem.oracle)(jnp.asarray(xs, jnp.float32)))


def _within_one_percent(got: np.ndarray, want: np.ndarray) -> tuple[bool, float]:
    """Max |got - want| as a share of want's range, and whether it is below 1 %."""
    share = float(np.max(np.abs(got - want)) / np.ptp(want))
    return share < 0.01, share


# --- the registry -----------------------------------------------------------------


def test_the_six_problems_are_registered_apart_from_the_study():
    assert problems.pde_names() == list(pde.NAMES) == list(problems.PDE)
    assert not set(problems.PDE) & set(problems.names())
    problem = problems.get("burgers_d32")
    assert (problem.dim_x, problem.dim_y) == (32, pde.OUTPUT_POINTS)
    assert problem.model == problems.default_model(32, pde.OUTPUT_POINTS)


def test_a_user_cannot_take_a_pde_name():
    with pytest.raises(ValueError, match="'kdv_d8' is a built-in problem"):
        problems.oracle_problem("kdv_d8", lambda x: x, [-1.0], [1.0])


# --- the initial condition ---------------------------------------------------------


def test_initial_condition_is_the_decaying_fourier_sum():
    x = _inputs(8, 1)[0]
    want = _numpy_initial_condition(x, 64)
    got = np.asarray(pde.initial_condition(jnp.asarray(x, jnp.float32), 64))
    np.testing.assert_allclose(got, want, atol=1e-5)


# --- pure, jittable, vmappable, deterministic -----------------------------------------


@pytest.mark.parametrize("name", ["burgers_d8", "kdv_d32"])
def test_oracle_is_pure_under_jit_and_vmap(name):
    problem = problems.get(name)
    x = jnp.asarray(_inputs(problem.dim_x, 3), jnp.float32)
    batched = jax.jit(jax.vmap(problem.oracle))
    first, again = np.asarray(batched(x)), np.asarray(batched(x))
    np.testing.assert_array_equal(first, again)
    one_by_one = np.stack([np.asarray(jax.jit(problem.oracle)(row)) for row in x])
    np.testing.assert_allclose(first, one_by_one, rtol=1e-5, atol=1e-5)
    assert first.shape == (3, pde.OUTPUT_POINTS) and np.isfinite(first).all()


# --- Burgers against the Cole-Hopf transform ---------------------------------


def cole_hopf_burgers(x: np.ndarray, nu: float, t: float, n_points: int = 4096):
    """Exact u(z, t) of u_t + u u_z = nu u_zz on [0, 2 pi) for jdal's initial
    condition, float64. With U' = u0 and phi0 = exp(-U / (2 nu)), phi solves the
    heat equation and u = -2 nu phi_z / phi."""
    z = np.arange(n_points) * 2 * np.pi / n_points
    j = np.arange(1, x.shape[0] // 2 + 1)[:, None]
    potential = np.sum(
        (x[0::2, None] * np.sin(j * z) - x[1::2, None] * np.cos(j * z)) / j**2, 0
    )
    exponent = -potential / (2 * nu)
    phi0 = np.exp(exponent - exponent.max())  # a constant factor leaves u unchanged
    k = np.fft.rfftfreq(n_points, 1.0 / n_points)
    phi_hat = np.fft.rfft(phi0) * np.exp(-nu * k**2 * t)
    phi = np.fft.irfft(phi_hat, n_points)
    phi_z = np.fft.irfft(1j * k * phi_hat, n_points)
    return -2 * nu * phi_z / phi


@pytest.mark.parametrize("dim_x", pde.DIMENSIONS)
def test_burgers_matches_cole_hopf(dim_x):
    xs, got = _labelled(f"burgers_d{dim_x}", 3)
    for x, row in zip(xs, got, strict=True):
        exact = _output_points(cole_hopf_burgers(x, pde.BURGERS_VISCOSITY, pde.HORIZON))
        ok, share = _within_one_percent(row, exact)
        assert ok, f"burgers_d{dim_x}: {share:.2%} of the range off Cole-Hopf"
        assert np.ptp(exact) > 0.5  # not a flat solution


# --- KdV against a SciPy solve -----------------------------------------------


def scipy_kdv(x: np.ndarray, t: float, n_points: int = 512) -> np.ndarray:
    """u(z, t) of u_t + (b / 2)(u^2)_z + a u_zzz = 0 (exponax's form, b and a as in
    jdal.problems.pde) by an integrating-factor Fourier method and SciPy's DOP853,
    float64, 2/3 dealiasing."""
    b, a = pde.KDV_CONVECTION, pde.KDV_DISPERSION
    u0 = _numpy_initial_condition(x, n_points)
    k = np.fft.rfftfreq(n_points, 1.0 / n_points)
    keep = k < n_points / 3
    linear = 1j * a * k**3  # u_hat_t = linear * u_hat + nonlinear

    def rhs(time, v):
        u_hat = v * np.exp(linear * time)
        u = np.fft.irfft(u_hat * keep, n_points)
        nonlinear = -0.5 * b * 1j * k * np.fft.rfft(u * u) * keep
        return nonlinear * np.exp(-linear * time)

    done = scipy_integrate.solve_ivp(
        rhs,
        (0.0, t),
        np.fft.rfft(u0).astype(complex),
        method="DOP853",
        rtol=1e-9,
        atol=1e-9,
    )
    return np.fft.irfft(done.y[:, -1] * np.exp(linear * t), n_points)


@pytest.mark.parametrize("dim_x", pde.DIMENSIONS)
def test_kdv_matches_scipy(dim_x):
    xs, got = _labelled(f"kdv_d{dim_x}", 2)
    for x, row in zip(xs, got, strict=True):
        reference = _output_points(scipy_kdv(x, pde.HORIZON))
        ok, share = _within_one_percent(row, reference)
        assert ok, f"kdv_d{dim_x}: {share:.2%} of the range off SciPy"


def test_kdv_coefficients_are_second_order():
    """With exponax's real-part coefficients the KdV error halves with dt (first
    order); with jdal's complex ones it falls about four-fold (second order)."""
    x = _inputs(32, 1, seed=32)[0]
    reference = _output_points(scipy_kdv(x, pde.HORIZON))
    errors = []
    for dt in (0.01, 0.005):
        solve = pde.oracle(pde.DYNAMICS["kdv"], pde.GRID, dt)
        got = np.asarray(jax.jit(solve)(jnp.asarray(x, jnp.float32)))
        errors.append(np.max(np.abs(got - reference)))
    assert errors[0] / errors[1] > 3.0, errors


# --- resolution ----------------------------------------------------------------------


@pytest.mark.parametrize("dynamics", list(pde.DYNAMICS))
def test_halving_dt_and_doubling_the_grid_changes_less_than_one_percent(dynamics):
    """At d = 128, the hardest case (64 modes, steepest fronts)."""
    spec = pde.DYNAMICS[dynamics]
    x = jnp.asarray(_inputs(128, 8, seed=1), jnp.float32)
    default = np.asarray(jax.vmap(pde.oracle(spec))(x))
    finer = np.asarray(jax.vmap(pde.oracle(spec, 2 * pde.GRID, spec.dt / 2))(x))
    ok, share = _within_one_percent(default, finer)
    assert ok, f"{dynamics}: {share:.2%} of the range"


def test_pde_checks_relevance_shares_sum_to_one_by_band():
    """experiments/pde_checks.py (the numbers in docs/pde.md): on burgers_d32 the
    bands split the whole sensitivity and viscosity leaves the first modes most."""
    path = Path(__file__).parents[1] / "experiments" / "pde_checks.py"
    spec = importlib.util.spec_from_file_location("pde_checks", path)
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    x = jnp.asarray(_inputs(32, 2, seed=3), jnp.float32)
    shares = checks.relevance_by_band(pde.DYNAMICS["burgers"], x)
    assert list(shares) == ["modes 1-4", "modes 5-16"]
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-5)
    assert shares["modes 1-4"] > 0.9
