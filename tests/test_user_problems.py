"""Your own problem (jdal.problems.user_oracle, user_data, files; the shell's
problem_spec): user oracles, finite data sets, loading from import paths and
files, the finite-pool protocol of the run, and the errors.

The finite-pool checks run every method except query synthesis, plus a recording
probe method, on a 20-row CSV in one compiled program (compiling dominates). The
sizes exhaust the data: N0 8 + T 2 x k 4 = 16 rows to label plus 4 test rows
(20 %), so pools shrink at every step (12 -> 8 -> 4 candidates) and the last pick
is forced.
"""

import argparse
import functools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny_runs import compile_fast, tiny_config

from jdal import acquisitions, config, loop, problems
from jdal.acquisitions import AcqState, Acquisition, Pool, register, top_k
from jdal.problems import user_data
from jdal.shell import flags, problem_spec, run, sweep

ROOT = Path(__file__).resolve().parent.parent


N_ROWS, D = 20, 3
N_TEST = 4  # min(n_test 8, 20 % of 20 rows)
FINITE_METHODS = [
    m for m in acquisitions.names() if not acquisitions.get(m).returns_points
]
SYNTHESIS = [m for m in acquisitions.names() if acquisitions.get(m).returns_points]
PROBE = "test_probe"
RECORDS: list = []


def table(rows: np.ndarray, header: str | None = "a,b,c,y") -> str:
    lines = [header] if header else []
    lines += [",".join(f"{v:.6f}" for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def tiny_rows(n: int = N_ROWS, seed: int = 0) -> np.ndarray:
    """f64[n, 4]: three distinct-valued inputs and a smooth target."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 5.0, (n, D))
    return np.column_stack([x, np.sin(x[:, 0]) + x[:, 1] * x[:, 2]])


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def row_of(data_x: np.ndarray, points: np.ndarray) -> np.ndarray:
    """int[n]: the data row each point is (exactly), asserting it is one."""
    same = np.all(points[:, None, :] == data_x[None, :, :], axis=-1)
    assert np.all(same.sum(axis=1) == 1), "a point is not exactly one data row"
    return np.argmax(same, axis=1)


# ---------------------------------------------------------------------------
# User oracles.


def borehole_reference(u: np.ndarray) -> np.ndarray:
    """The borehole flow (Morris et al. 1993), textbook formula in float64."""
    rw, r, tu, hu, tl, hl, length, kw = np.asarray(u, np.float64).T
    log_ratio = np.log(r / rw)
    return (
        2 * np.pi * tu * (hu - hl)
        / (log_ratio * (1 + 2 * length * tu / (log_ratio * rw**2 * kw) + tu / tl))
    )  # fmt: skip


def test_borehole_example_matches_the_textbook_formula():
    name = flags.problem_name("examples/borehole.py:problem")
    problem = problems.get(name)
    assert (name, problem.dim_x, problem.dim_y) == ("borehole", 8, 1)
    lower = np.array([0.05, 100, 63070, 990, 63.1, 700, 1120, 9855])
    upper = np.array([0.15, 50000, 115600, 1110, 116, 820, 1680, 12045])
    x = np.concatenate(
        [
            np.zeros((1, 8)),  # the box centre
            -np.ones((1, 8)),
            np.ones((1, 8)),
            np.random.default_rng(1).uniform(-1, 1, (16, 8)),
        ]
    )
    u = lower + (x + 1) / 2 * (upper - lower)
    flow = borehole_reference(u)
    # The example maps the flow range on the box, at its monotone corners, to [-1, 1].
    up = np.array([1, 0, 1, 1, 1, 0, 0, 1], bool)
    low, high = (
        borehole_reference(np.stack([np.where(up, lower, upper)]))[0],
        (borehole_reference(np.stack([np.where(up, upper, lower)]))[0]),
    )
    assert low <= flow.min() and flow.max() <= high
    assert 70.0 < flow[0] < 72.0  # the centre: 70.87 m^3/yr
    expected = 2 * (flow - low) / (high - low) - 1
    got = np.asarray(problem.label(jnp.asarray(x, jnp.float32)))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5)
    # Outputs reach -1 and 1 at the corners where the flow is extreme.
    corners = jnp.asarray(np.stack([np.where(up, -1.0, 1.0), np.where(up, 1.0, -1.0)]))
    np.testing.assert_allclose(problem.label(corners)[:, 0], [-1, 1], atol=1e-5)


def test_oracle_problem_maps_the_box_and_registers():
    def f(u):
        return jnp.stack([u[0] * u[1], u[1] - u[0]])

    problem = problems.oracle_problem("mine", f, [2.0, -10.0], [4.0, 10.0])
    assert problems.get("mine") is problem
    assert "mine" in problems.names()
    assert (problem.dim_x, problem.dim_y) == (2, 2)
    np.testing.assert_allclose(problem.oracle(jnp.array([-1.0, 1.0])), [20, 8])
    np.testing.assert_allclose(problem.oracle(jnp.array([0.0, 0.0])), [0, -3])
    # The default model follows the documented rule: 4 x 50 (d + dy), in [100, 500].
    assert problem.model == problems.default_model(2, 2)
    assert problem.model.hidden == (200,) * 4
    assert problems.default_model(1, 1).hidden == (100,) * 4
    assert problems.default_model(20, 5).hidden == (500,) * 4
    # A scalar output is dy = 1; a given model wins.
    spec = problems.ModelSpec((7,), 3, 1e-2, 0.0)
    scalar = problems.oracle_problem("s", lambda u: u[0] ** 2, [0], [3], model=spec)
    assert scalar.dim_y == 1 and scalar.model == spec
    np.testing.assert_allclose(scalar.label(jnp.array([[1.0]])), [[9.0]])


@pytest.mark.parametrize(
    "oracle, lower, upper, expected",
    [
        (lambda u: float(u[0]), [0], [1], "cannot be traced by jax.jit"),
        (lambda u: np.asarray(u) * 2, [0], [1], "cannot be traced by jax.jit"),
        (lambda u: jnp.ones((2, 2)), [0], [1], "got shape (2, 2)"),
        (lambda u: (u, u), [0], [1], "one vector f32[dy]"),
        (lambda u: jnp.zeros(0), [0], [1], "one vector f32[dy]"),
        (lambda u: u.astype(jnp.int32), [0], [1], "must return floats"),
        (lambda u: jnp.log(u), [0.0], [1.0], "not finite) at x = [0.0]"),
        (lambda u: 1.0 / (u - 0.5), [0.0], [1.0], "not finite) at x = [0.5]"),
        (lambda u: u, [0, 1], [1], "give one lower and one upper bound"),
        (lambda u: u, [1], [0], "input 0 has bounds [1.0, 0.0]"),
        (lambda u: u, [0], [np.inf], "need finite lower < upper"),
    ],
)
def test_bad_oracle_is_refused_in_one_line(oracle, lower, upper, expected):
    with pytest.raises(ValueError) as error:
        problems.oracle_problem("bad_one", oracle, lower, upper)
    message = str(error.value)
    assert "\n" not in message
    assert "'bad_one'" in message and expected in message, message
    assert "bad_one" not in problems.PROBLEMS  # refused before registering


def test_problem_names_are_checked():
    with pytest.raises(ValueError, match="'robo' is a built-in problem"):
        problems.oracle_problem("robo", lambda u: u, [0], [1])
    with pytest.raises(ValueError, match="letters, digits"):
        problems.oracle_problem("a/b", lambda u: u, [0], [1])
    with pytest.raises(ValueError, match="letters, digits"):
        problems.data_problem("x,y", np.eye(3), np.arange(3.0))


# ---------------------------------------------------------------------------
# Finite data: reading, scaling and the errors.


def test_csv_rows_are_read_scaled_and_registered(tmp_path):
    rows = tiny_rows()
    path = write(tmp_path / "tiny data.csv", table(rows))
    problem = problems.get(flags.problem_name(path))
    assert problem.name == "tiny_data"
    data = problem.data
    assert (problem.dim_x, problem.dim_y, data.n_rows) == (3, 1, N_ROWS)
    assert data.x_names == ("a", "b", "c") and data.y_names == ("y",)
    for scaled, raw in ((data.x, rows[:, :3]), (data.y, rows[:, 3:])):
        low, high = raw.min(axis=0), raw.max(axis=0)
        np.testing.assert_allclose(
            scaled, 2 * (raw - low) / (high - low) - 1, atol=1e-6
        )
    np.testing.assert_allclose(data.x_min, rows[:, :3].min(axis=0), atol=1e-6)
    # The oracle (for the mse reference) is exact at every row.
    np.testing.assert_array_equal(problem.label(data.x), data.y)
    # No header, whitespace separated, other target columns by index or name.
    path = write(tmp_path / "plain.dat", table(rows, None).replace(",", "\t"))
    plain = problems.file_problem(path)
    assert plain.data.x_names == ("column 0", "column 1", "column 2")
    two = problems.file_problem(path, target=[0, -1], name="two")
    assert two.dim_x == 2 and two.dim_y == 2
    named = problem_spec.load(str(tmp_path / "tiny data.csv") + ":target=a,c")
    assert named.data.y_names == ("a", "c") and named.data.x_names == ("b", "y")
    assert named.name == "tiny_data_a_c"  # a chosen target is part of the name
    assert flags.problem_list(f"sine,{tmp_path / 'plain.dat'}:target=0,1,robo") == [
        "sine",
        "plain_column_0_column_1",
        "robo",
    ]
    plain = problems.get("plain_column_0_column_1")
    assert plain.data.y_names == ("column 0", "column 1")


def test_npz_and_arrays(tmp_path):
    rows = tiny_rows()
    np.savez(tmp_path / "set.npz", x=rows[:, :3], y=rows[:, 3])
    problem = problem_spec.load(str(tmp_path / "set.npz"))
    assert problem.name == "set" and problem.dim_y == 1
    same = problems.data_problem("arrays", rows[:, :3], rows[:, 3:])
    np.testing.assert_array_equal(problem.data.x, same.data.x)
    np.testing.assert_array_equal(problem.data.y, same.data.y)


def test_nearest_row_oracle_averages_duplicate_inputs():
    x = jnp.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    y = jnp.array([[1.0], [5.0], [3.0]])
    oracle = user_data.nearest_row_oracle(x, y)
    np.testing.assert_allclose(oracle(jnp.array([0.1, 0.0])), [2.0])
    np.testing.assert_allclose(oracle(jnp.array([1.0, 1.0])), [5.0])


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda lines: lines.__setitem__(3, "1,abc,3,4"), ["line 4, column 2 ('b')",
                                                          "not a number: 'abc'"]),
        (lambda lines: lines.__setitem__(5, "1,,3,4"), ["line 6, column 2", "empty"]),
        (lambda lines: lines.__setitem__(2, "1,2,3"), ["line 3 has 3 fields",
                                                     "expected 4"]),
        (lambda lines: lines.__setitem__(7, "1,2,nan,4"), ["line 8, column 3 ('c')",
                                                         "not finite"]),
        (lambda lines: lines.__setitem__(9, "1,2,3,-inf"), ["line 10, column 4 ('y')",
                                                          "not finite"]),
        (lambda lines: lines[1:].__len__() and lines.__setitem__(
            slice(1, None), [f"{i},7,{i * i},{i}" for i in range(len(lines) - 1)]),
         ["input column 'b' is constant (7 in every row)"]),
    ],
)  # fmt: skip
def test_bad_csv_names_file_row_and_column(tmp_path, edit, expected):
    lines = table(tiny_rows()).splitlines()
    edit(lines)
    path = write(tmp_path / "bad.csv", "\n".join(lines) + "\n")
    with pytest.raises(ValueError) as error:
        problems.file_problem(path)
    message = str(error.value)
    assert path in message and "\n" not in message
    for text in expected:
        assert text in message, message


def test_bad_arrays_and_npz_name_row_and_column(tmp_path):
    x = tiny_rows()[:, :3]
    bad = x.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"\(arrays\): x row 5, column 2 is nan"):
        problems.data_problem("bad", bad, x[:, 0])
    with pytest.raises(ValueError, match="x has 20 rows and y 19"):
        problems.data_problem("bad", x, x[1:, 0])
    np.savez(tmp_path / "bad.npz", x=x, y=np.where(np.arange(20) == 3, np.inf, 1.0))
    with pytest.raises(ValueError, match=r"bad.npz\): y row 3, column 0 is inf"):
        problems.file_problem(tmp_path / "bad.npz")
    np.savez(tmp_path / "nokey.npz", inputs=x)
    with pytest.raises(ValueError, match="missing array 'x', 'y'.*found 'inputs'"):
        problems.file_problem(tmp_path / "nokey.npz")
    path = write(tmp_path / "t.csv", table(tiny_rows()))
    with pytest.raises(ValueError, match="target column 'z' is neither"):
        problems.file_problem(path, target="z")
    with pytest.raises(ValueError, match="target column 9 is out of range"):
        problems.file_problem(path, target=9)


def test_finite_set_refuses_synthesis_and_too_few_rows(tmp_path, capsys):
    problem = problems.file_problem(write(tmp_path / "t.csv", table(tiny_rows())))
    for method in SYNTHESIS:
        cfg = tiny_config("t", method, uses_pool=False)
        with pytest.raises(ValueError, match=f"method '{method}' synthesises points"):
            loop.setup(cfg)
    cfg = tiny_config("t", "random", uses_pool=False)
    loop.check_problem(problem, cfg, acquisitions.get("random"))  # exactly fits
    with pytest.raises(ValueError) as error:
        loop.setup(cfg.replace(steps=3))
    message = str(error.value)
    assert "t.csv" in message and "20 rows are too few" in message
    assert "8 + 3 * 4 = 20 rows to label plus 4 test rows = 24 needed" in message
    assert "lower steps to 2 or less" in message
    # From the shell: a parser error (exit 2) before anything compiles.
    argv = ["--problem", str(tmp_path / "t.csv"), "--gamma", "2", "--preset", "smoke"]
    small = ["--steps", "2", "--set", "n_initial=8", "--set", "k=4"]
    for extra, expected in [
        # smoke's N0 80, k 40 are scaled down (the small-data rule), but 20 steps
        # cannot fit in half of the 16 rows not held out.
        (["--steps", "20"], "too few for 20 steps"),
        ([*small, "--methods", SYNTHESIS[0]], "synthesises points"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            run.main([*argv, *extra])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert "error:" in error and expected in error, error


# ---------------------------------------------------------------------------
# Loading from import paths.


MODULE = """
import jax.numpy as jnp
from jdal import problems

def flow(u):
    return jnp.sum(u) ** 2
flow.lower, flow.upper = [0.0, 1.0], [2.0, 3.0]

def make():
    return problems.oracle_problem("made", lambda u: u * 2, [0], [1], register=False)

problem = problems.oracle_problem("from_module", jnp.sin, [0, 0], [1, 1],
                                  register=False)
number = 3
"""


def test_import_paths_load_a_problem_a_factory_or_an_oracle(tmp_path, monkeypatch):
    write(tmp_path / "user_problem_module.py", MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert flags.problem_name("user_problem_module:problem") == "from_module"
    assert problems.get("from_module").dim_y == 2
    assert flags.problem_name("user_problem_module:make") == "made"
    file = str(tmp_path / "user_problem_module.py")
    assert flags.problem_name(f"{file}:flow") == "flow"
    np.testing.assert_allclose(
        problems.get("flow").oracle(jnp.array([-1.0, 1.0])),
        [9],  # (0 + 3)^2
    )
    for spec, expected in [
        (f"{file}:nope", "has no attribute 'nope'"),
        (f"{file}:number", "'number' is a int; expected a Problem"),
        ("no_such_module_xyz:problem", "cannot import"),
        (f"{tmp_path}/none.py:problem", "no such Python file"),
        (f"{tmp_path}/none.csv", "no such data file"),
        ("mars", "unknown problem 'mars'; valid: sine"),
    ]:
        with pytest.raises(Exception) as error:
            flags.problem_name(spec)
        assert expected in str(error.value), str(error.value)
    with pytest.raises(ValueError, match="needs its input box"):
        problem_spec._from_object("jnp_sin", jnp.sin)


# ---------------------------------------------------------------------------
# The finite-pool protocol.


def test_finite_pool_draws_unused_rows_that_nest_and_shrink():
    key = jax.random.key(3)
    used = jnp.zeros(50, bool).at[jnp.arange(0, 50, 3)].set(True)  # 17 used
    rows, available = loop.finite_pool(key, used, 20)
    assert bool(jnp.all(available)) and not bool(jnp.any(used[rows]))
    assert len(set(np.asarray(rows).tolist())) == 20
    small, _ = loop.finite_pool(key, used, 7)
    np.testing.assert_array_equal(rows[:7], small)  # pools nest across γ
    again, _ = loop.finite_pool(key, used, 20)
    np.testing.assert_array_equal(rows, again)
    # Fewer unused rows than the pool: all of them come first, the rest is masked.
    used = jnp.ones(50, bool).at[jnp.array([4, 9, 44])].set(False)
    rows, available = loop.finite_pool(key, used, 8)
    np.testing.assert_array_equal(available, [True] * 3 + [False] * 5)
    assert sorted(np.asarray(rows[:3]).tolist()) == [4, 9, 44]
    rng = np.random.default_rng(0)
    data = problems.data_problem(
        "split_probe", rng.normal(size=(50, 2)), rng.normal(size=50), register=False
    ).data
    test, initial, used = loop.finite_split(key, data, 10, 20)
    split = set(np.asarray(test).tolist()) | set(np.asarray(initial).tolist())
    assert len(split) == 30
    assert set(np.flatnonzero(np.asarray(used)).tolist()) == split


def make_probe(ctx):
    """A method that picks random candidates and records what it sees."""
    del ctx

    def record(*arrays):
        RECORDS.append(tuple(np.asarray(a) for a in arrays))

    def select(key, pool: Pool, state: AcqState, k: int):
        jax.debug.callback(
            record, state.labelled_x, state.labelled_y, state.n_labelled, pool.x,
            pool.mask, ordered=True,
        )  # fmt: skip
        return top_k(jax.random.uniform(key, pool.mask.shape), k, pool.mask)

    return select


def finite_config(name: str, method: str) -> config.Config:
    """The tiny run on a finite set; the probe method (registered only while its
    program is built) uses a pool."""
    return tiny_config(name, method, uses_pool=True if method == PROBE else None)


@functools.cache
def finite_results(csv_folder: str):
    """(problem, {key seed: {method: RunResult}}, probe records of seed 0) for every
    method except synthesis on a 20-row CSV: one compiled program, run per key."""
    path = write(Path(csv_folder) / "finite.csv", table(tiny_rows()))
    problem = problems.get(flags.problem_name(path))
    probe = Acquisition(name=PROBE, make=make_probe, description="test probe")
    register(probe)
    try:
        methods = [*FINITE_METHODS, PROBE]
        runs = {m: loop.make_run(finite_config(problem.name, m)) for m in methods}
    finally:
        del acquisitions.ACQUISITIONS[PROBE]

    def program(key):
        return {m: run(key) for m, run in runs.items()}

    key0 = jax.random.key(0)
    compiled = compile_fast(program, key0)
    out, records = {}, {}
    for seed in (0, 1, 0):
        RECORDS.clear()
        result = jax.device_get(compiled(jax.random.key(seed)))
        jax.effects_barrier()
        if seed in out:
            out["again"] = result
        else:
            out[seed], records[seed] = result, list(RECORDS)
    return problem, out, records


@pytest.fixture(scope="module")
def finite(tmp_path_factory):
    return finite_results(str(tmp_path_factory.mktemp("finite")))


# The finite-pool tests share one compiled program: keep them on one xdist worker.
ONE_PROGRAM = pytest.mark.xdist_group("user-finite")


@ONE_PROGRAM
@pytest.mark.parametrize("method", FINITE_METHODS)
def test_every_pool_method_labels_distinct_unused_rows(finite, method):
    problem, out, _ = finite
    data_x = np.asarray(problem.data.x)
    cfg = finite_config(problem.name, method)
    for seed in (0, 1):
        result = out[seed][method]
        assert np.all(np.isfinite(result.mse)) and np.isfinite(result.div)
        assert int(result.n_nonfinite_labels) == 0
        picked = row_of(data_x, result.picked_x.reshape(-1, D))
        test, initial, _ = loop.finite_split(
            jax.random.fold_in(jax.random.key(seed), 1),
            problem.data,
            N_TEST,
            cfg.n_initial,
        )
        labelled = [*np.asarray(initial).tolist(), *picked.tolist()]
        assert len(set(labelled)) == cfg.n_final  # no row labelled twice
        assert not set(labelled) & set(np.asarray(test).tolist())  # none a test row
        # The data are used up exactly: labelled and test rows are all rows.
        assert len(set(labelled)) + N_TEST == N_ROWS
    # The same seed gives the same rows (and the same run); another seed others.
    np.testing.assert_array_equal(
        out["again"][method].picked_x, out[0][method].picked_x
    )
    np.testing.assert_array_equal(out["again"][method].mse, out[0][method].mse)


@ONE_PROGRAM
def test_labels_are_the_data_and_pools_shrink(finite):
    problem, out, records = finite
    data_x, data_y = np.asarray(problem.data.x), np.asarray(problem.data.y)
    # The probe is registered only while its program is built: read the sizes
    # from a pool method's config, which are the probe's.
    cfg = finite_config(problem.name, "gsx")
    test, initial, _ = loop.finite_split(
        jax.random.fold_in(jax.random.key(0), 1), problem.data, N_TEST, cfg.n_initial
    )
    test = set(np.asarray(test).tolist())
    assert len(records[0]) == cfg.steps
    for t, (buffer_x, buffer_y, n, pool_x, pool_mask) in enumerate(records[0]):
        n = int(n)
        assert n == cfg.n_initial + t * cfg.k
        rows = row_of(data_x, buffer_x[:n])
        np.testing.assert_array_equal(buffer_y[:n], data_y[rows])  # true labels
        if t == 0:
            np.testing.assert_array_equal(rows, np.asarray(initial))
        assert len(set(rows.tolist())) == n and not set(rows.tolist()) & test
        # Candidates: every unused row, and only those (12 wanted, fewer left).
        remaining = N_ROWS - N_TEST - n
        assert int(pool_mask.sum()) == min(cfg.pool_size, remaining)
        candidates = set(row_of(data_x, pool_x[pool_mask]).tolist())
        assert candidates == set(range(N_ROWS)) - test - set(rows.tolist())
    final = row_of(data_x, out[0][PROBE].picked_x[-1])
    assert set(final.tolist()) == candidates  # the last pool is exactly k rows
    assert not np.array_equal(out[1]["random"].picked_x, out[0]["random"].picked_x)


def test_methods_left_out_on_finite_data_are_named(tmp_path):
    name = flags.problem_name(write(tmp_path / "rows.csv", table(tiny_rows())))
    note = flags.left_out_note(name)
    assert note.startswith(f"left out on {name}: naqbc (they synthesise points")
    assert flags.left_out_note("robo") is None


def test_run_cli_on_a_csv(tmp_path, capsys):
    path = write(tmp_path / "cli.csv", table(tiny_rows()))
    code = run.main(
        [
            "--problem", path, "--gamma", "2", "--methods", "random", "--seeds", "1",
            "--preset", "smoke", "--steps", "2", "--out", str(tmp_path / "out"),
            "--set", "n_initial=8", "--set", "k=4", "--set", "n_test=8",
            "--set", "train_steps=2", "--set", "n_members=2", "--set", "max_width=8",
        ]
    )  # fmt: skip
    assert code == 0
    meta_path = tmp_path / "out" / "cli" / "random" / "gamma_any" / "meta.json"
    meta = json.loads(meta_path.read_text())
    # n_test = 8 caps the 20 % of the rows; the summary says held-out rows.
    assert (meta["test_points"], meta["finite_rows"]) == (min(8, N_ROWS // 5), N_ROWS)
    assert "cli" in capsys.readouterr().out


def test_gamma_grid_on_finite_data_matches_separate_runs(tmp_path):
    """Pools nest across γ on a finite set too: the grid's padded, masked pool at
    γ = 2 picks what a run at γ = 2 alone picks (60 rows: pools stay full)."""
    path = write(tmp_path / "grid.csv", table(tiny_rows(60, seed=2)))
    name = flags.problem_name(path)
    cfg = finite_config(name, "gsx")
    key = jax.random.key(4)
    grid = jax.jit(loop.make_grid_run(cfg, [2, 3]))(key, jnp.int32(2))
    alone = jax.jit(loop.make_run(cfg.replace(gamma=2)))(key)
    np.testing.assert_array_equal(grid.picked_x, alone.picked_x)
    np.testing.assert_allclose(grid.mse, alone.mse, rtol=1e-5)


def test_bad_output_bounds_are_refused():
    for y_bounds in [(1.0, 0.0), ([0, 0], [1, 1]), (0.0,)]:
        with pytest.raises(ValueError, match="y_bounds must be"):
            problems.oracle_problem("yb", lambda u: u[0], [0], [1], y_bounds=y_bounds)


def test_sweep_plans_a_csv_without_synthesis(tmp_path, capsys):
    path = write(tmp_path / "planned.csv", table(tiny_rows()))
    code = sweep.main(
        [
            "--problems", f"sine,{path}", "--gammas", "2", "--dry-run",
            "--preset", "smoke", "--steps", "2", "--out", str(tmp_path / "out"),
            "--set", "n_initial=8", "--set", "k=4", "--set", "n_test=8",
        ]
    )  # fmt: skip
    assert code == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    planned = {(row[0], row[1]) for row in rows if len(row) > 2}
    assert ("planned", "gsx") in planned and ("sine", SYNTHESIS[0]) in planned
    assert ("planned", SYNTHESIS[0]) not in planned


def test_an_edited_problem_never_reuses_old_cells(tmp_path):
    """The config hash of a user problem covers its data (or oracle values) and
    model, so a results folder never pairs cells of an edited file under the same
    name; built-in problems' hashes are unchanged by the field."""
    rows = tiny_rows(300)  # enough for the smoke preset
    path = write(tmp_path / "edit.csv", table(rows))
    parser = run.build_parser()
    args = parser.parse_args(["--problem", path, "--gamma", "2", "--preset", "smoke"])
    first = flags.make_config(parser, args, "edit", "qbc", 2)
    assert first.problem_fingerprint == problems.get("edit").fingerprint is not None
    rows[5, 3] += 1.0  # one label changes
    write(tmp_path / "edit.csv", table(rows))
    problems.get.cache_clear()
    args = parser.parse_args(["--problem", path, "--gamma", "2", "--preset", "smoke"])
    second = flags.make_config(parser, args, "edit", "qbc", 2)
    assert second.problem_fingerprint != first.problem_fingerprint
    assert second.hash() != first.hash()
    with pytest.raises(ValueError, match="problem changed since this config"):
        loop.setup(first)
    # Another model for the same rows is another problem too.
    other = problems.file_problem(path, name="edit", model=problems.default_model(3, 2))
    assert other.fingerprint != second.problem_fingerprint
    # Built-in problems: no fingerprint, and it is not part of their hash.
    robo = config.quick(problem="robo", method="qbc", gamma=4)
    assert problems.get("robo").fingerprint is None
    assert "problem_fingerprint" not in robo.to_dict()


HAND_BUILT = """
import jax.numpy as jnp
from jdal.problems import ModelSpec, Problem

hand = Problem("hand", 1, 1, lambda x: jnp.cos(3 * x), ModelSpec((8,), 2, 1e-3, 0.0))
broken = Problem("broken", 1, 1, lambda x: jnp.log(x), ModelSpec((8,), 2, 1e-3, 0.0))
"""


def test_a_hand_built_problem_is_checked_and_fingerprinted(tmp_path):
    """A `Problem` made by hand gets the same oracle check and a fingerprint of its
    probe values, so its cells are keyed to what it computes."""
    path = write(tmp_path / "hand_built.py", HAND_BUILT)
    first = problem_spec.load(f"{path}:hand")
    assert first.fingerprint is not None
    write(tmp_path / "hand_built.py", HAND_BUILT.replace("3 * x", "4 * x"))
    assert problem_spec.load(f"{path}:hand").fingerprint != first.fingerprint
    with pytest.raises(ValueError, match="problem 'broken'.*not finite"):
        problem_spec.load(f"{path}:broken")


def test_uci_data_extension_reads_and_unknown_extension_says_so(tmp_path):
    """`.data` (UCI's extension) is a whitespace table; another extension of an
    existing file is refused with the extensions to use, not 'unknown problem'."""
    rows = np.random.default_rng(0).uniform(size=(30, 3))
    text = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rows)
    (tmp_path / "t.data").write_text(text)
    (tmp_path / "t.xyz").write_text(text)
    problem = problem_spec.load(str(tmp_path / "t.data"))
    assert (problem.dim_x, problem.dim_y, problem.data.n_rows) == (2, 1, 30)
    with pytest.raises(argparse.ArgumentTypeError, match="unsupported extension"):
        flags.problem_name(str(tmp_path / "t.xyz"))
