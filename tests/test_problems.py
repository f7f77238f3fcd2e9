"""Tests for the problem registry and every oracle, against independent references."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.signal
import scipy.special

import jdal.problems as problems
from jdal.problems import forests, optics, physics

NAMES = problems.names()


@functools.cache
def batched(name):
    """One jitted, vmapped oracle per problem, shared by all tests."""
    return jax.jit(jax.vmap(problems.get(name).oracle))


def uniform_box(key, n, dim):
    """n uniform points in [-1, 1]^dim plus the two extreme corners and the centre."""
    x = jax.random.uniform(key, (n, dim), jnp.float32, -1.0, 1.0)
    edges = jnp.stack([-jnp.ones(dim), jnp.ones(dim), jnp.zeros(dim)])
    return jnp.concatenate([x, edges])


# --- registry-wide properties ------------------------------------------------------


def test_registry_lists_the_spec_problems():
    assert NAMES == ["sine", "robo", "stack", "adm", "foil", "hydr", "bess", "damp"]


def test_unknown_name_raises_with_valid_names():
    with pytest.raises(ValueError, match="unknown problem") as info:
        problems.get("no-such-problem")
    for name in NAMES:
        assert name in str(info.value)


# (dim_x, dim_y, hidden, M, lr, weight decay, batch, head): docs/protocol.md, 1-2.
SPEC_TABLE = {
    "sine": (1, 1, (20,) * 9, 10, 1e-4, 0.0, None, "dense"),
    "robo": (4, 2, (500,) * 4, 10, 1e-3, 1e-4, None, "dense"),
    "stack": (5, 256, (700,) * 9, 10, 1e-3, 0.0, 2000, "dense"),
    "adm": (14, 2000, (1500,) * 6, 5, 5e-3, 0.0, 500, "adm_conv"),
    "foil": (5, 1, (200,) * 4, 10, 1e-3, 1e-4, None, "dense"),
    "hydr": (6, 1, (50,) * 6, 10, 1e-3, 1e-4, None, "dense"),
    "bess": (2, 1, (200,) * 4, 10, 1e-3, 1e-4, None, "dense"),
    "damp": (3, 100, (500,) * 4, 10, 1e-3, 1e-4, None, "dense"),
}


@pytest.mark.parametrize("name", NAMES)
def test_problem_matches_spec_table(name):
    problem = problems.get(name)
    dim_x, dim_y, hidden, n_members, lr, wd, batch, head = SPEC_TABLE[name]
    assert (problem.name, problem.dim_x, problem.dim_y) == (name, dim_x, dim_y)
    assert problem.model == problems.ModelSpec(hidden, n_members, lr, wd, batch, head)


@pytest.mark.parametrize("name", NAMES)
def test_oracle_shape_and_dtype(name, key):
    problem = problems.get(name)
    x = jax.random.uniform(key, (problem.dim_x,), jnp.float32, -1.0, 1.0)
    y = jax.jit(problem.oracle)(x)
    assert y.shape == (problem.dim_y,)
    assert y.dtype == jnp.float32


@pytest.mark.parametrize("name", NAMES)
def test_oracle_finite_over_the_box(name, key):
    problem = problems.get(name)
    x = uniform_box(key, 1000, problem.dim_x)
    y = batched(name)(x)
    assert y.shape == (x.shape[0], problem.dim_y)
    assert y.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(y)))


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(name, key):
    problem = problems.get(name)
    x = jax.random.uniform(key, (problem.dim_x,), jnp.float32, -1.0, 1.0)
    eager = problem.oracle(x)
    jitted = jax.jit(problem.oracle)(x)
    np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_matches_loop(name, key):
    problem = problems.get(name)
    x = uniform_box(key, 5, problem.dim_x)
    single = jax.jit(problem.oracle)
    looped = jnp.stack([single(point) for point in x])
    np.testing.assert_allclose(batched(name)(x), looped, rtol=1e-5, atol=1e-6)


# --- sine and robo: hand-computed values -------------------------------------------


def test_sine_hand_values():
    # y = x sin(3 sin(30 x)).
    cases = [
        # x = 0: y = 0.
        (0.0, 0.0),
        # x = pi/60: sin(30x) = sin(pi/2) = 1; y = (pi/60) sin(3)
        #   = 0.05235988 * 0.14112001 = 0.00738903.
        (np.pi / 60, 0.00738903),
        # x = -pi/60: sin(30x) = -1; y = (-pi/60) sin(-3) = 0.00738903 (even).
        (-np.pi / 60, 0.00738903),
        # x = 0.1: sin(3) = 0.14112001, 3 * 0.14112001 = 0.42336002,
        #   sin(0.42336002) = 0.41082615; y = 0.04108261.
        (0.1, 0.04108261),
        # x = 1: sin(30) = -0.98803162, 3 * that = -2.96409487,
        #   sin(-2.96409487) = -sin(pi - 2.96409487) = -sin(0.17749778) = -0.17656722.
        (1.0, -0.17656722),
    ]
    oracle = problems.get("sine").oracle
    for x, expected in cases:
        y = oracle(jnp.array([x], jnp.float32))
        np.testing.assert_allclose(y, [expected], atol=2e-6, err_msg=f"x={x}")


def test_robo_hand_values():
    # L = (0.5, 0.5, 1.0), theta_i = (pi/2) x_i absolute;
    # y0 = sum L_i cos(theta_i), y1 = x0 + sum L_i sin(theta_i).
    cases = [
        # All angles 0: y0 = 0.5 + 0.5 + 1 = 2, y1 = 0.
        ((0.0, 0.0, 0.0, 0.0), (2.0, 0.0)),
        # All angles pi/2: cosines 0; y1 = 0 + 0.5 + 0.5 + 1 = 2.
        ((0.0, 1.0, 1.0, 1.0), (0.0, 2.0)),
        # theta = (pi/2, -pi/2, 0): y0 = 0 + 0 + 1 = 1; y1 = 0.5 + 0.5 - 0.5 + 0 = 0.5.
        ((0.5, 1.0, -1.0, 0.0), (1.0, 0.5)),
        # theta = (pi/4, pi/4, -pi/4): y0 = (0.5 + 0.5 + 1) sqrt(2)/2 = 1.41421356;
        #   y1 = -1 + (0.5 + 0.5 - 1) sqrt(2)/2 = -1.
        ((-1.0, 0.5, 0.5, -0.5), (1.41421356, -1.0)),
    ]
    oracle = problems.get("robo").oracle
    for x, expected in cases:
        y = oracle(jnp.array(x, jnp.float32))
        np.testing.assert_allclose(y, expected, atol=1e-6, err_msg=f"x={x}")


# --- stack: the spec's reference table ---------------------------------------------


STACK_TABLE = {  # x (all five inputs equal) -> A at wavelength indices 0, 128, 255
    0.0: (0.36264432, 0.0838017, 0.07249971),
    -1.0: (0.33367336, 0.16142091, 0.09968542),
    1.0: (0.36398937, 0.10464389, 0.04776647),
}


def test_stack_matches_spec_table():
    x = jnp.array([[v] * 5 for v in STACK_TABLE], jnp.float32)
    absorptance = np.asarray(batched("stack")(x))[:, [0, 128, 255]]
    expected = np.array(list(STACK_TABLE.values()))
    # Measured max error 3.5e-7 (float32/complex64 vs the float64 table).
    np.testing.assert_allclose(absorptance, expected, atol=1e-6, rtol=0)


def test_stack_is_a_valid_absorptance(key):
    y = batched("stack")(uniform_box(key, 200, 5))
    assert bool(jnp.all((y >= 0.0) & (y <= 1.0)))


# --- adm -----------------------------------------------------------------------------


def test_adm_absorptance_in_unit_interval(key):
    # The oracle clips to [0, 1], so this only checks shape and finiteness; the
    # physics is checked on the unclipped `adm_absorptance` below.
    y = batched("adm")(uniform_box(key, 2000, 14))
    assert y.shape == (2003, 2000)
    assert bool(jnp.all(jnp.isfinite(y)))
    assert bool(jnp.all((y >= 0.0) & (y <= 1.0)))


ADM_C = 299.792458  # speed of light, um * THz
# Fixed inputs shared by the float64 check and the raw-range check.
ADM_X = np.random.default_rng(7).uniform(-1.0, 1.0, (24, 14)).astype(np.float32)


def adm_reference(x):
    """The adm spec in float64 NumPy, textbook matrix: f64[n, 14] -> f64[n, 2000]."""
    x = np.asarray(x, np.float64)[:, :, None]  # [n, 14, 1], frequencies on axis 2
    f = np.linspace(100.0, 500.0, 2000)  # THz
    n_d, n_s = 3.5, 1.45
    h = 0.3 + 0.15 * (x[:, 0] + 1.0)  # [n, 1]
    p = 1.0 + 0.25 * (x[:, 1] + 1.0)
    eps = 1.0 + 0j
    for i in range(1, 5):
        a = 0.1 + 0.05 * (x[:, 2 * i] + 1.0)  # r_(2i-1) = x_(2i)
        b = 0.1 + 0.05 * (x[:, 2 * i + 1] + 1.0)  # r_(2i) = x_(2i+1)
        theta = np.pi / 4.0 * x[:, 9 + i]
        fill = np.pi * a * b / p**2
        # Electric dipoles along a and along b, then the magnetic dipole.
        retard = np.sqrt(1.0 + (a + b) / (2.0 * h))
        f0_m = ADM_C / (np.pi * n_d * np.sqrt(a * b)) / np.sqrt(1 + np.sqrt(a * b) / h)
        q_e, q_m = 4.0 + 10.0 * h / (a + b), 10.0 + 30.0 * h / (a + b)
        strength_e = 2.0 * fill * (n_d**2 - 1.0)
        modes = [  # (f0, F, Q)
            (ADM_C / (2 * n_d * a) / retard, strength_e * np.cos(theta) ** 2, q_e),
            (ADM_C / (2 * n_d * b) / retard, strength_e * np.sin(theta) ** 2, q_e),
            (f0_m, 0.5 * fill * (n_d**2 - 1.0) * h / p, q_m),
        ]
        for f0, strength, q in modes:
            gamma = f0 / q + 0.01 * f0
            eps = eps + strength * f0**2 / (f0**2 - f**2 - 1j * f * gamma)
    assert np.all(np.sqrt(eps).imag >= 0.0)
    n = np.conj(np.sqrt(eps))
    delta = 2.0 * np.pi * n * h * f / ADM_C
    m00, m01 = np.cos(delta), 1j * np.sin(delta) / n
    m10, m11 = 1j * n * np.sin(delta), np.cos(delta)
    b_, c_ = m00 + m01 * n_s, m10 + m11 * n_s
    reflect = np.abs((b_ - c_) / (b_ + c_)) ** 2
    transmit = n_s * np.abs(2.0 / (b_ + c_)) ** 2
    return 1.0 - reflect - transmit


def test_adm_matches_float64_reference():
    raw = np.asarray(jax.jit(jax.vmap(optics.adm_absorptance))(jnp.asarray(ADM_X)))
    assert raw.shape == (24, 2000) and raw.dtype == np.float32
    err = np.abs(raw - adm_reference(ADM_X))
    # Measured max error 2.2e-6 here (4.8e-6 over 2500 inputs incl. 500 corners).
    assert err.max() <= 1e-4, (err.max(), np.unravel_index(err.argmax(), err.shape))


def test_adm_unclipped_absorptance_is_physical(key):
    x = jnp.concatenate([jnp.asarray(ADM_X), uniform_box(key, 400, 14)])
    raw = jax.jit(jax.vmap(optics.adm_absorptance))(x)
    assert bool(jnp.all(jnp.isfinite(raw)))
    # Passive layer: 0 <= A <= 1 exactly, so only float32 rounding may step out.
    assert float(raw.min()) >= -1e-4 and float(raw.max()) <= 1.0 + 1e-4


def test_adm_spectra_show_several_resonances(key):
    spectra = np.asarray(batched("adm")(uniform_box(key, 100, 14)))
    counts = np.array(
        [len(scipy.signal.find_peaks(s, prominence=0.01)[0]) for s in spectra]
    )
    # Spec: a typical spectrum shows 6-11 resonances (some modes merge or fall
    # outside 100-500 THz, so individual spectra may show fewer).
    assert 5 <= np.median(counts) <= 11
    assert np.mean(counts >= 3) > 0.9


# --- bess: scipy.special.jv ----------------------------------------------------------


def test_bess_matches_scipy_on_dense_grid():
    # nu in [0, 10], z in [0, 20], edges included; plus integer orders and the
    # series/integral switch at z = 3.
    x0 = np.concatenate([np.linspace(-1, 1, 201), np.arange(11) / 5 - 1])
    z_extra = np.array([2.999, 3.0, 3.001, 1e-3, 1e-6])
    x1 = np.concatenate([np.linspace(-1, 1, 401), z_extra / 10 - 1])
    grid = np.stack(np.meshgrid(x0, x1, indexing="ij"), -1).reshape(-1, 2)
    x = grid.astype(np.float32)
    y = np.asarray(batched("bess")(jnp.asarray(x)))[:, 0]
    nu = 5.0 * (x[:, 0].astype(np.float64) + 1.0)
    z = 10.0 * (x[:, 1].astype(np.float64) + 1.0)
    expected = scipy.special.jv(nu, z)
    # Measured max error ~1e-6.
    assert np.max(np.abs(y - expected)) <= 1e-5


def test_bessel_jv_at_the_origin():
    # J_0(0) = 1; J_nu(0) = 0 for nu > 0.
    nu = jnp.array([0.0, 1e-3, 0.5, 1.0, 10.0])
    values = jax.vmap(physics.bessel_jv, in_axes=(0, None))(nu, 0.0)
    np.testing.assert_array_equal(values, [1.0, 0.0, 0.0, 0.0, 0.0])


# --- damp: scipy.integrate.solve_ivp ------------------------------------------------


def solve_oscillator(zeta, omega0, v0):
    """Reference trajectory by DOP853 in float64: [100]."""

    def rhs(_, state):
        u, du = state
        return [du, -2.0 * zeta * omega0 * du - omega0**2 * u]

    times = physics.DAMP_TIMES
    solution = scipy.integrate.solve_ivp(
        rhs,
        (times[0], times[-1]),
        [1.0, v0],
        method="DOP853",
        t_eval=times,
        rtol=1e-10,
        atol=1e-12,
    )
    return solution.y[0]


W_SLOW, W_FAST = 2 * np.pi * 0.5, 2 * np.pi * 2.0  # omega0 range


@pytest.mark.parametrize(
    "zeta",
    [1.0, 1.0 - 1e-4, 1.0 + 1e-4, 1.0 - 1e-6, 1.0 + 1e-3, 0.05, 0.3, 0.9, 1.2, 1.5],
)
def test_damp_matches_ode(zeta):
    damped = jax.jit(physics.damped_oscillator)
    errors = []
    for omega0 in (W_SLOW, 7.0, W_FAST):
        for v_ratio in (-1.0, 0.0, 1.0):
            params = np.array([zeta, omega0, v_ratio * omega0], np.float32)
            u = np.asarray(damped(*params))
            # The reference uses exactly the float32 parameters the oracle saw.
            expected = solve_oscillator(*params.astype(np.float64))
            errors.append(np.max(np.abs(u - expected)))
    # Measured max error ~1e-6.
    assert max(errors) <= 1e-5


def test_damp_oracle_matches_ode_at_random_points(key):
    x = np.asarray(jax.random.uniform(key, (10, 3), jnp.float32, -1.0, 1.0))
    y = np.asarray(batched("damp")(jnp.asarray(x)))
    for point, u in zip(x.astype(np.float64), y, strict=True):
        zeta = 0.05 + 0.725 * (point[0] + 1.0)
        omega0 = 2.0 * np.pi * (0.5 + 0.75 * (point[1] + 1.0))
        expected = solve_oscillator(zeta, omega0, omega0 * point[2])
        assert np.max(np.abs(u - expected)) <= 1e-5


def test_damp_continuous_through_critical_damping():
    zeta = jnp.linspace(1.0 - 1e-3, 1.0 + 1e-3, 2001)
    u = jax.jit(jax.vmap(physics.damped_oscillator, in_axes=(0, None, None)))(
        zeta, W_FAST, W_FAST
    )
    # d u / d zeta is O(1) here, so neighbours (1e-6 apart) may differ by ~1e-6 plus
    # rounding; a branch mismatch would show as a jump.
    assert float(jnp.max(jnp.abs(jnp.diff(u, axis=0)))) < 1e-5


# --- foil, hydr: the shipped sklearn forests ------------------------------------------


@pytest.mark.parametrize("name", ["foil", "hydr"])
def test_forest_matches_sklearn_predictions(name):
    with forests.forest_path(name).open("rb") as handle, np.load(handle) as npz:
        check_x, check_y = npz["check_x"], npz["check_y"]
        r2 = float(npz["r2_test"])
        threshold_dtype = npz["threshold"].dtype
        assert str(npz["sklearn_version"])
    assert check_x.shape == (10_000, problems.get(name).dim_x)
    assert threshold_dtype == np.float32
    y = np.asarray(batched(name)(jnp.asarray(check_x)))[:, 0]
    # Measured max diff ~1.5e-7 (float32 mean over 50 trees).
    assert np.max(np.abs(y - check_y)) <= 1e-5
    assert 0.5 < r2 <= 1.0
