"""experiments/: metrics, CLI flags, resumable sweeps, reports, one real run.

Most tests swap the run builders (`jdal.loop.make_run`, and `make_grid_run` as the
real `jdal.parallel.GridRunner` calls it) for a tiny analytic fake that compiles in
milliseconds, and the per-step timing for fixed numbers, so the host logic and the
real runners are tested without training networks; one subprocess runs the real
`run.py` end to end on a tiny config.
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import (
    acquisitions,
    config,
    loop,
    metrics,
    parallel,
    problems,
    results,
    scoring,
)
from jdal.loop import RunResult
from jdal.shell import cells, flags, names, plots, report, run, summary, sweep, timing

ROOT = Path(__file__).resolve().parent.parent

SCALES = {"gsx": 0.5, "qbc": 2.0}  # fake MSE curves: a multiple of random's
TINY = ["--preset", "smoke", "--steps", "3", "--seeds", "2"]
FAKE_TRAIN_S, FAKE_ACQUIRE_S = 0.5, 0.01  # fake step timings: acquire grows with t
REFERENCES = [m for m in acquisitions.names() if acquisitions.get(m).reference]


class FakeRuns:
    """Stands in for jdal.loop.make_run: MSE = scale(method) x a seed-dependent
    curve."""

    def __init__(self, nonfinite=0, interrupt_after=None):
        self.made = []
        self.nonfinite = nonfinite
        self.interrupt_after = interrupt_after

    def __call__(self, cfg, timed=False):
        if self.interrupt_after is not None and len(self.made) == self.interrupt_after:
            raise KeyboardInterrupt
        self.made.append(cfg)
        steps, k = cfg.steps, cfg.k
        d = problems.get(cfg.problem).dim_x
        scale = SCALES.get(cfg.method, 1.0)
        nonfinite = self.nonfinite

        def fake_run(key):
            u = jax.random.uniform(key, (steps + 1,))
            mse = scale * (1.0 + u) / (1.0 + jnp.arange(steps + 1))
            return RunResult(
                mse=mse,
                n_labelled=cfg.n_initial + k * jnp.arange(steps + 1, dtype=jnp.int32),
                train_loss=mse / 2,
                div_per_step=jnp.full((steps,), scale),
                div=jnp.float32(scale),
                picked_x=jnp.zeros((steps, k, d)),
                n_nonfinite_labels=jnp.int32(nonfinite),
                pool_sizes=jnp.full((steps,), cfg.pool_size, jnp.int32),
                clock=fake_clock(steps) if timed else (),
            )

        return fake_run

    def grid(self, cfg, gammas, timed=False):
        """Stands in for jdal.loop.make_grid_run: each γ's fake run, γ traced."""
        runs = []
        for gamma in gammas:  # one made cell per γ, in order
            runs.append(self(cfg.replace(gamma=gamma), timed))

        def fake_grid_run(key, gamma):
            # Every fake run of one (problem, method) is the same curve; the
            # pools are each γ's own.
            result = runs[0](key)
            pools = jnp.full_like(result.pool_sizes, cfg.k) * gamma
            return result._replace(pool_sizes=pools.astype(jnp.int32))

        return fake_grid_run

    def install(self, monkeypatch):
        monkeypatch.setattr(loop, "make_run", self)
        monkeypatch.setattr(parallel, "make_grid_run", self.grid)  # GridRunner's
        return self


def fake_clock(steps: int) -> jax.Array:
    """Stamps (`RunResult.clock`) of FAKE_TRAIN_S per training and
    FAKE_ACQUIRE_S (1 + t) per acquisition of step t (step T: evaluation only)."""
    gaps = []
    for t in range(steps + 1):
        gaps += [FAKE_TRAIN_S, FAKE_ACQUIRE_S * (1 + t)]
    times = 100.0 + np.concatenate([[0.0], np.cumsum(gaps)])
    seconds = np.floor(times)
    micros = np.round((times - seconds) * 1e6)
    return jnp.asarray(np.stack([seconds, micros], axis=-1), jnp.uint32)


@pytest.fixture
def fake_runs(monkeypatch):
    return FakeRuns().install(monkeypatch)


@pytest.fixture(autouse=True)
def no_compilation_cache(monkeypatch):
    """In-process commands leave JAX's persistent cache off (it is process-wide)."""
    monkeypatch.setenv("JDAL_COMPILATION_CACHE", "off")


# ---------------------------------------------------------------------------
# Metrics.


def test_nauc_of_random_against_itself_is_exactly_one():
    rng = np.random.default_rng(0)
    random_mse, n = rng.random((5, 11)) + 0.1, 80 + 40 * np.arange(11)
    assert metrics.nauc(random_mse, random_mse, n) == 1.0
    np.testing.assert_array_equal(metrics.nauc_per_seed(random_mse, random_mse, n), 1)


def test_half_of_random_has_nauc_one_half():
    rng = np.random.default_rng(1)
    random_mse, n = rng.random((3, 6)) + 0.1, 80 + 40 * np.arange(6)
    assert metrics.nauc(random_mse / 2, random_mse, n) == pytest.approx(0.5, abs=1e-12)


def test_nauc_per_seed_is_paired():
    n = np.array([0.0, 1.0, 2.0])
    random_mse = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    method_mse = np.array([[0.5, 0.5, 0.5], [4.0, 4.0, 4.0]])
    np.testing.assert_allclose(
        metrics.nauc_per_seed(method_mse, random_mse, n), [0.5, 2.0]
    )
    # nAUC of the seed means: (0.5 + 4) / (1 + 2) = 1.5, not the mean of 0.5 and 2.
    assert metrics.nauc(method_mse, random_mse, n) == pytest.approx(1.5)
    low, high = metrics.bootstrap_interval(np.array([0.5, 2.0]))
    assert 0.5 <= low <= high <= 2.0


def test_is_robust_and_best_gamma():
    assert metrics.is_robust({2: 0.9, 8: 0.99, 64: 0.5})
    assert not metrics.is_robust({2: 0.9, 8: 1.0})
    assert not metrics.is_robust({})
    assert metrics.is_robust({None: 0.8})  # gamma-free methods: their one value
    assert metrics.best_gamma({2: 0.9, 8: 0.7, 64: 1.2}) == 8
    assert metrics.ndiv(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 1.0


# ---------------------------------------------------------------------------
# Flags.


@pytest.mark.parametrize(
    "main, argv, expected",
    [
        (run.main, ["--problem", "nope", "--gamma", "4"], ["--problem", "robo"]),
        (run.main, ["--problem", "sine", "--gamma", "0"], ["--gamma", ">= 1"]),
        (run.main, ["--problem", "sine", "--gamma", "x"], ["--gamma", "integer"]),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--methods", "qbc,nope"],
            ["--methods", "'nope'", "random"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--preset", "huge"],
            ["--preset", "smoke"],
        ),
        (run.main, ["--problem", "sine", "--gamma", "4", "--steps", "0"], ["--steps"]),
        (run.main, ["--problem", "sine", "--gamma", "4", "--seeds", "0"], ["--seeds"]),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "nope=1"],
            ["--set", "'nope'", "train_steps"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "k=abc"],
            ["--set", "k expects int"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "method=qbc"],
            ["--set", "--method"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "options=x"],
            ["--set", "'options'", "<method>.<option>"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "plateau_factor=2"],
            ["Config.plateau_factor=2.0", "(0, 1)"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "bald.nope=1"],
            ["--set", "'bald.nope' is not an option of 'bald'", "bald.passes"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "nope.passes=1"],
            ["--set", "unknown method 'nope'", "random, gsx"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "bald.passes=x"],
            ["--set", "bald.passes expects int"],
        ),
        (
            run.main,
            ["--problem", "sine", "--gamma", "4", "--set", "bald.passes=0"],
            ["bald.passes=0 is invalid", "an integer >= 1"],
        ),
        (sweep.main, ["--gammas", "2,0"], ["--gammas", ">= 1"]),
        (sweep.main, ["--problems", "sine,mars"], ["--problems", "'mars'", "robo"]),
        (sweep.main, ["--seeds", "-1"], ["--seeds"]),
        (report.main, ["/no/such/folder"], ["out", "not a folder"]),
        (report.main, ["results", "--formats", "png,xyz"], ["--formats", "pdf"]),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(main, argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in error
    for text in expected:
        assert text in error


def test_bad_flag_from_the_shell_has_no_traceback():
    done = subprocess.run(
        [sys.executable, "experiments/run.py", "--problem", "mars", "--gamma", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "argument --problem: unknown problem 'mars'" in done.stderr


def test_set_overrides_are_typed():
    assert flags.parse_setting("train_steps=7") == ("train_steps", 7)
    assert flags.parse_setting("learning_rate=1e-3") == ("learning_rate", 1e-3)
    assert flags.parse_setting("n_members=none") == ("n_members", None)
    assert flags.parse_setting("precision=bf16") == ("precision", "bf16")
    # Method options take the type of the option's default.
    assert flags.parse_setting("bald.passes=50") == ("bald.passes", 50)
    assert flags.parse_setting("bald.dropout=0.25") == ("bald.dropout", 0.25)
    setting = flags.parse_setting("qbc_div.variance_weight=1")
    assert setting == ("qbc_div.variance_weight", 1.0)
    assert isinstance(setting[1], float)


def test_set_neither_takes_nor_lists_internal_fields():
    for internal in flags.INTERNAL:
        with pytest.raises(argparse.ArgumentTypeError) as error:
            flags.parse_setting(f"{internal}=x")
        assert internal not in str(error.value).partition("valid fields:")[2]
    with pytest.raises(argparse.ArgumentTypeError, match="valid fields: .*test_inputs"):
        flags.parse_setting("nope=1")


def test_set_method_option_reaches_every_cell_config_and_hash(tmp_path, fake_runs):
    argv = ["--problems", "sine", "--methods", "bald", "--gammas", "2", *TINY]
    assert sweep.main([*argv, "--out", str(tmp_path), "--set", "bald.passes=50"]) == 0
    assert {c.method for c in fake_runs.made} == {"random", "bald"}
    for cfg in fake_runs.made:  # random's too, so the cells stay comparable
        assert cfg.option("bald.passes") == 50
        assert cfg.hash() != cfg.with_options(**{"bald.passes": 25}).hash()
    for cell in results.load(tmp_path):
        assert cell.config["options"]["bald.passes"] == 50
        cfg = next(c for c in fake_runs.made if c.method == cell.method)
        assert cell.meta["config_hash"] == cfg.hash()
    assert sweep.main([*argv, "--out", str(tmp_path)]) == 0  # default passes: stale
    assert len(fake_runs.made) == 4


@pytest.mark.parametrize("method", ["random", "naqbc"])
def test_methods_that_ignore_gamma_have_none(method, tmp_path, fake_runs):
    argv = ["--problem", "sine", "--gamma", "4", "--methods", method, *TINY]
    assert run.main([*argv, "--out", str(tmp_path)]) == 0
    made = [cfg for cfg in fake_runs.made if cfg.method == method]
    assert len(made) == 1 and made[0].gamma is None
    assert results.cell_folder(tmp_path, made[0]).name == "gamma_any"
    (cell,) = [c for c in results.load(tmp_path) if c.method == method]
    assert cell.gamma is None and cell.config["gamma"] is None
    assert cell.meta["method_uses_pool"] is False
    assert cell.meta["method_reference"] is False


def test_compilation_cache_is_enabled_before_anything_compiles(
    tmp_path, fake_runs, monkeypatch
):
    calls = []

    def enable(where):
        calls.append((where, len(fake_runs.made)))

    monkeypatch.setattr(flags.compile_cache, "enable", enable)
    argv = ["--problem", "sine", "--gamma", "4", "--methods", "random", *TINY]
    argv += ["--out", str(tmp_path / "out")]
    assert run.main([*argv, "--compilation-cache", str(tmp_path / "cache")]) == 0
    assert run.main([*argv, "--compilation-cache", "off"]) == 0
    assert sweep.main(["--problems", "sine", "--methods", "random", *argv[6:]]) == 0
    assert calls == [(str(tmp_path / "cache"), 0), ("off", 1), (None, 1)]


# ---------------------------------------------------------------------------
# Step timing (shapes only: the real timing runs in the end-to-end test).


@pytest.mark.parametrize("method", ["qbc", "naqbc"])
def test_step_parts_have_the_shapes_of_the_run_at_that_step(method):
    gamma = None if method == "naqbc" else 2
    cfg = config.preset(
        "smoke", problem="sine", method=method, gamma=gamma, steps=6, train_buckets=3
    )
    buckets = loop.size_buckets(cfg)
    capacities = []
    for step in (0, cfg.steps // 2, cfg.steps - 1):
        parts = timing.make_step_parts(cfg, step)
        key = jax.random.key(0)
        state, labelled_x, labelled_y, pool_x = jax.eval_shape(parts.inputs, key)
        (capacity,) = [
            b.capacity for b in buckets if 0 <= step - b.first_step < b.n_steps
        ]
        capacities.append(capacity)
        assert labelled_x.shape == labelled_y.shape == (capacity, 1)
        picked = jax.eval_shape(
            parts.select, key, pool_x, state, labelled_x, labelled_y
        )
        if method == "naqbc":  # query synthesis: no pool, returns points
            assert pool_x is None
            assert picked.shape == (cfg.k, 1)
        else:
            assert pool_x.shape == (cfg.pool_size, 1)
            assert picked.shape == (cfg.k,) and picked.dtype == jnp.int32
    assert len(set(capacities)) == 3  # each timed step in its own size bucket
    parts = timing.make_step_parts(cfg, 3)
    labelled_x, _, _ = jax.jit(lambda key: parts.inputs(key)[1:])(jax.random.key(0))
    n = cfg.n_initial + 3 * cfg.k
    assert np.all(labelled_x[:n] != 0) and np.all(labelled_x[n:] == 0)
    for step in (-1, cfg.steps):
        with pytest.raises(ValueError, match="not an AL step"):
            timing.make_step_parts(cfg, step)


# ---------------------------------------------------------------------------
# Sweeps (fake runs).


def sweep_args(out, *extra):
    return [
        "--problems",
        "sine,robo",
        "--methods",
        "gsx,qbc",
        "--gammas",
        "2,8",
        *TINY,
        "--out",
        str(out),
        *extra,
    ]


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_sweep_runs_each_cell_once_and_resumes(tmp_path, fake_runs, capsys):
    assert sweep.main(sweep_args(tmp_path)) == 0
    # 2 problems x (random once + gsx and qbc at 2 gammas) = 10 cells.
    assert len(fake_runs.made) == 10
    assert last_line(capsys).startswith("ran 10 cells, skipped 0 (already done) of 10")
    random_cells = [c for c in fake_runs.made if c.method == "random"]
    assert len(random_cells) == 2
    assert all(c.gamma is None for c in random_cells)
    assert all(
        results.cell_folder(tmp_path, c).name == "gamma_any" for c in random_cells
    )
    for cell in results.load(tmp_path):  # from the registry, for the report
        assert cell.meta["method_uses_pool"] == (cell.method != "random")
        assert cell.meta["method_reference"] is False

    assert sweep.main(sweep_args(tmp_path)) == 0
    assert len(fake_runs.made) == 10
    assert last_line(capsys).startswith("ran 0 cells, skipped 10 (already done) of 10")


def test_gamma_grid_auto_follows_the_lanes():
    assert sweep.use_gamma_grid("on", "vmap") and not sweep.use_gamma_grid("off", "map")
    assert sweep.use_gamma_grid("auto", "map")
    # vmap lanes on a CPU: the padded grid measured slower, so one call per γ.
    assert sweep.use_gamma_grid("auto", "vmap") == (jax.default_backend() != "cpu")


def test_lanes_choice_is_used_and_recorded(tmp_path, fake_runs):
    assert sweep.main(sweep_args(tmp_path, "--lanes", "map", "--gamma-grid", "on")) == 0
    cells = results.load(tmp_path)
    assert len(cells) == 10
    assert all(cell.meta["batch"]["lanes"] == "map" for cell in cells)


@pytest.mark.parametrize("grid", [True, False])
def test_sweep_computes_the_gammas_of_a_method_together(
    tmp_path, fake_runs, monkeypatch, grid
):
    programs = []  # (method, γ) of each compiled program

    def spy_grid(cfg, gammas, timed=False):
        programs.append((cfg.method, list(gammas)))
        return fake_runs.grid(cfg, gammas, timed)

    def spy_run(cfg, timed=False):
        programs.append((cfg.method, [cfg.gamma]))
        return fake_runs(cfg, timed)

    monkeypatch.setattr(parallel, "make_grid_run", spy_grid)
    monkeypatch.setattr(loop, "make_run", spy_run)
    extra = ["--gamma-grid", "on" if grid else "off"]
    assert sweep.main(sweep_args(tmp_path, *extra)) == 0
    pool_methods = sorted(gammas for method, gammas in programs if method != "random")
    assert pool_methods == ([[2, 8]] * 4 if grid else [[2]] * 4 + [[8]] * 4)
    for cell in results.load(tmp_path):
        steps = cell.meta["timing"]["steps"]  # every step, from the run's stamps
        assert steps["step"] == [0, 1, 2, 3]
        assert steps["train_s"] == pytest.approx([FAKE_TRAIN_S] * 4)
        acquire = [FAKE_ACQUIRE_S * (1 + t) for t in range(4)]
        assert steps["acquire_s"] == pytest.approx(acquire, abs=2e-6)
        if cell.method == "random" or not grid:
            assert "grid" not in cell.meta
        else:
            assert cell.meta["grid"]["gammas"] == [2, 8]
            grid_run_s = cell.meta["grid"]["run_s"]
            assert cell.meta["timing"]["run_s"] == pytest.approx(grid_run_s / 2)


def test_sweep_killed_midway_keeps_finished_cells(tmp_path, monkeypatch, capsys):
    fake = FakeRuns(interrupt_after=3).install(monkeypatch)
    assert sweep.main(sweep_args(tmp_path)) == 130
    assert "interrupted: 3 cells finished" in capsys.readouterr().err
    assert len(results.load(tmp_path)) == 3
    fake.interrupt_after = None
    assert sweep.main(sweep_args(tmp_path)) == 0
    assert last_line(capsys).startswith("ran 7 cells, skipped 3")
    assert len(results.load(tmp_path)) == 10


def test_config_change_recomputes_stale_cells(tmp_path, fake_runs, capsys):
    argv = ["--problems", "sine", "--methods", "qbc", "--gammas", "2"]
    argv += [*TINY, "--out", str(tmp_path)]
    assert sweep.main([*argv, "--set", "train_steps=7"]) == 0
    assert sweep.main([*argv, "--set", "train_steps=8"]) == 0
    out = capsys.readouterr().out
    assert "2 stale (config changed)" in out and "ran 2 cells, skipped 0" in out
    cells = results.load(tmp_path)
    assert len(cells) == 2
    assert all(c.config["train_steps"] == 8 for c in cells)  # nothing mixed
    assert len(fake_runs.made) == 4
    for cfg in fake_runs.made[2:]:
        assert results.cell_status(tmp_path, cfg, seeds=[0, 1]) == "done"


def test_more_seeds_run_only_the_seeds_a_saved_cell_lacks(
    tmp_path, fake_runs, monkeypatch, capsys
):
    """A sweep asked for 3 seeds where 2 are saved runs seed 2 alone and saves
    cells equal to a sweep that ran all 3 at once; the calls are recorded."""
    seeds_run = []
    compute = cells.compute_cells

    def spy(cfgs, seeds, lanes="auto"):
        seeds_run.append(list(seeds))
        return compute(cfgs, seeds, lanes)

    monkeypatch.setattr(cells, "compute_cells", spy)
    argv = ["--problems", "sine", "--methods", "qbc", "--gammas", "2,8"]
    argv += ["--preset", "smoke", "--steps", "3"]
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    assert sweep.main([*argv, "--seeds", "2", "--out", str(grown)]) == 0
    before = {cell.folder: cell for cell in results.load(grown)}
    capsys.readouterr()
    seeds_run.clear()
    assert sweep.main([*argv, "--seeds", "3", "--out", str(grown)]) == 0
    out = capsys.readouterr().out
    assert out.count("fewer seeds, will add seeds [2]") == 3  # random, γ 2 and 8
    assert seeds_run == [[2], [2]]  # random; the two γ of qbc in one call
    assert sweep.main([*argv, "--seeds", "3", "--out", str(fresh)]) == 0
    for cell in results.load(grown):
        assert cell.seeds == [0, 1, 2]
        np.testing.assert_array_equal(
            cell.arrays["mse"][:2], before[cell.folder].arrays["mse"]
        )
        relative = cell.folder.relative_to(grown)
        alone = results.load_cell(fresh / relative)
        assert set(cell.arrays) == set(alone.arrays)
        for name, value in cell.arrays.items():
            np.testing.assert_array_equal(value, alone.arrays[name], err_msg=name)
        batches = cell.meta["seed_batches"]
        assert [batch["seeds"] for batch in batches] == [[0, 1], [2]]
        run_s = sum(batch["timing"]["run_s"] for batch in batches)
        assert cell.meta["timing"]["run_s"] == pytest.approx(run_s)
        steps = cell.meta["timing"]["steps"]
        assert steps["train_s"] == pytest.approx([FAKE_TRAIN_S] * 4)
    # Fewer seeds than saved: the cell is recomputed with exactly those seeds.
    assert sweep.main([*argv, "--seeds", "2", "--out", str(grown)]) == 0
    assert all(cell.seeds == [0, 1] for cell in results.load(grown))


def test_seeds_are_added_to_cells_saved_before_pool_sizes_were_recorded(
    tmp_path, fake_runs
):
    """Cells saved before `pool_sizes` existed get the new runs' row for their
    seeds (the pool size never depends on the seed) and grow like newer cells."""
    argv = ["--problems", "sine", "--methods", "qbc", "--gammas", "8"]
    argv += ["--preset", "smoke", "--steps", "3", "--out", str(tmp_path)]
    assert sweep.main([*argv, "--seeds", "2"]) == 0
    for cfg in fake_runs.made:  # rewritten as an older jdal wrote them
        cell = results.saved_cell(tmp_path, cfg)
        old = {n: v for n, v in cell.arrays.items() if n != "pool_sizes"}
        results.save_cell(tmp_path, cfg, old, {"timing": cell.meta["timing"]})
    assert all("pool_sizes" not in c.arrays for c in results.load(tmp_path))
    assert sweep.main([*argv, "--seeds", "3"]) == 0
    for cell in results.load(tmp_path):
        assert cell.seeds == [0, 1, 2]
        sizes = cell.arrays["pool_sizes"]
        assert sizes.shape == (3, 3) and np.all(sizes == sizes[:1])
        if cell.gamma is not None:
            assert np.all(sizes == cell.config["k"] * cell.gamma)


def test_cells_lacking_an_unfillable_array_are_recomputed_not_merged(
    tmp_path, fake_runs, capsys
):
    """A saved cell without an array that only a run can give its seeds is
    recomputed whole, decided before anything is computed (not refused at the
    merge after the new seeds ran)."""
    argv = ["--problems", "sine", "--methods", "qbc", "--gammas", "8"]
    argv += ["--preset", "smoke", "--steps", "3", "--out", str(tmp_path)]
    assert sweep.main([*argv, "--seeds", "2"]) == 0
    for cfg in fake_runs.made:
        cell = results.saved_cell(tmp_path, cfg)
        old = {n: v for n, v in cell.arrays.items() if n != "n_nonfinite_labels"}
        results.save_cell(tmp_path, cfg, old, {"timing": cell.meta["timing"]})
        assert cells.unfillable_arrays(results.saved_cell(tmp_path, cfg)) == [
            "n_nonfinite_labels"
        ]
        assert cells.seeds_to_run(tmp_path, cfg, [0, 1, 2]) == [0, 1, 2]
    capsys.readouterr()
    assert sweep.main([*argv, "--seeds", "3"]) == 0
    assert "stale, will recompute" in capsys.readouterr().out
    for cell in results.load(tmp_path):
        assert cell.seeds == [0, 1, 2]
        assert cell.arrays["n_nonfinite_labels"].shape == (3,)
        assert len(cell.meta.get("seed_batches") or [None]) == 1


def test_run_adds_seeds_to_its_saved_cells(tmp_path, fake_runs, capsys):
    argv = ["--problem", "sine", "--gamma", "2", "--methods", "qbc"]
    argv += ["--preset", "smoke", "--steps", "3", "--out", str(tmp_path)]
    assert run.main([*argv, "--seeds", "2"]) == 0
    assert run.main([*argv, "--seeds", "3"]) == 0
    assert "adding seeds [2] to the saved cell" in capsys.readouterr().out
    assert all(cell.seeds == [0, 1, 2] for cell in results.load(tmp_path))


def test_corrupt_cell_is_reported_and_recomputed(tmp_path, fake_runs, capsys):
    assert sweep.main(sweep_args(tmp_path)) == 0
    npz = tmp_path / "robo" / "qbc" / "gamma_8" / "results.npz"
    npz.write_bytes(npz.read_bytes()[:64])
    capsys.readouterr()
    assert sweep.main(sweep_args(tmp_path)) == 0
    out = capsys.readouterr().out
    assert f"corrupt, will recompute: {npz}" in out
    assert "ran 1 cells, skipped 9" in out
    assert results.cell_status(tmp_path, fake_runs.made[-1], seeds=[0, 1]) == "done"


def test_run_interrupted_says_one_line_and_keeps_its_cells(
    tmp_path, monkeypatch, capsys
):
    FakeRuns(interrupt_after=2).install(monkeypatch)
    argv = ["--problem", "sine", "--gamma", "2", "--methods", "qbc,gsx", *TINY]
    assert run.main([*argv, "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"interrupted; 2 of 3 cells kept under {tmp_path}, run the same command "
        "again to resume"
    )
    assert len(results.load(tmp_path)) == 2


def test_nonfinite_labels_are_an_error(tmp_path, monkeypatch, capsys):
    FakeRuns(nonfinite=3).install(monkeypatch)
    argv = ["--problem", "sine", "--gamma", "2", "--methods", "random", *TINY]
    assert run.main([*argv, "--out", str(tmp_path)]) == 1
    assert "6 non-finite labels" in capsys.readouterr().err
    assert results.load(tmp_path) == []


# ---------------------------------------------------------------------------
# Report (fake runs).


def test_report_writes_beside_the_results_by_default(tmp_path, fake_runs):
    out = tmp_path / "results"
    argv = sweep_args(out)
    argv[argv.index("--methods") + 1] = "gsx"
    assert sweep.main(argv) == 0
    assert report.main([str(out), "--formats", "png"]) == 0
    assert (out / "figures" / "summary.md").is_file()
    assert not (tmp_path / "figures").exists()


def test_report_sets_another_sweeps_robustness_beside(tmp_path, fake_runs):
    """--beside: the other sweep's robustness table and, per method, its overall
    worst nAUC in both, whether it is below 1 on both and whether it is never
    clearly worse than random (3 seeds, so the cells have intervals)."""
    here, there = tmp_path / "measured", tmp_path / "oracles"
    argv = sweep_args(here, "--seeds", "3")
    argv[argv.index("--problems") + 1] = "sine"
    assert sweep.main(argv) == 0
    argv = sweep_args(there, "--seeds", "3")
    argv[argv.index("--problems") + 1] = "robo"
    assert sweep.main(argv) == 0
    figures = tmp_path / "figures"
    argv = [str(here), "--beside", str(there), "--figures", str(figures)]
    assert report.main([*argv, "--formats", "png"]) == 0
    text = (figures / "summary.md").read_text()
    assert f"## Beside {there}" in text
    section = text[text.index(f"## Beside {there}") :]
    assert "| rank | method | robo | overall worst |" in section
    assert "| clearly | clearly worse |" in section
    rows = {
        line.split(" | ")[0][2:]: line.split(" | ")[1:]
        for line in section.splitlines()
        if line.startswith("| ") and line.endswith(("yes |", "no |", "– |"))
    }
    # Fake curves: gsx is half of random's MSE everywhere, qbc twice.
    assert rows["gsx"][2:] == ["yes", "yes |"]
    assert rows["qbc"][2:] == ["no", "no |"]  # its intervals lie above 1
    assert rows["random (baseline)"] == ["1.000", "1.000", "–", "– |"]
    with pytest.raises(SystemExit):
        report.main([str(here), "--beside", str(tmp_path / "none")])


def test_report_writes_figures_and_summary(tmp_path, fake_runs, capsys):
    out, figures = tmp_path / "results", tmp_path / "figures"
    methods = ",".join(["gsx", "qbc", *REFERENCES])
    argv = sweep_args(out)
    argv[argv.index("--methods") + 1] = methods
    assert sweep.main(argv) == 0
    assert report.main([str(out), "--figures", str(figures)]) == 0
    names = {p.name for p in figures.iterdir()}
    for stem in [
        "mse_curves_sine",
        "mse_curves_robo",
        "nauc_heatmap_sine",
        "nauc_heatmap_robo",
        "nauc_vs_ndiv",
    ]:
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    summary = (figures / "summary.md").read_text()
    assert "| gsx | 0.500" in summary  # half of random's curve at every gamma
    assert "Robust methods (nAUC < 1 at every γ): gsx" in summary
    assert "Robust on every problem (sine, robo): gsx" in summary
    assert "| qbc | γ=2 (2.000) | γ=2 (2.000) |" in summary
    for reference in REFERENCES:
        assert f"{reference} (reference)" in summary
    # Fake timings: first and last timed step (0 and 2 of T = 3).
    assert "| random (baseline) | 0.500 / 0.010 → 0.500 / 0.030 |" in summary
    rows = (figures / "cells.csv").read_text().splitlines()
    # 2 problems x (random + 2 gammas x (gsx, qbc, references)) x 2 seeds, + header.
    assert len(rows) == 1 + 2 * (1 + 2 * (2 + len(REFERENCES))) * 2


def test_cells_without_step_timings_still_report(tmp_path, fake_runs, capsys):
    """Cells written before every cell was timed per step: old keys, or none."""
    out, figures = tmp_path / "results", tmp_path / "figures"
    argv = ["--problems", "sine", "--methods", "gsx", "--gammas", "2"]
    assert sweep.main([*argv, *TINY, "--out", str(out)]) == 0
    old = {"step_train_s": 0.25, "step_acquire_s": 0.002}
    for folder, times in [("random/gamma_any", old), ("gsx/gamma_2", {})]:
        path = out / "sine" / folder / "meta.json"
        meta = json.loads(path.read_text())
        meta["timing"] = {"compile_s": 1.0, "run_s": 3.0, "total_s": 4.5, **times}
        path.write_text(json.dumps(meta))
    assert report.main([str(out), "--figures", str(figures), "--formats", "png"]) == 0
    summary = (figures / "summary.md").read_text()
    # Old records timed both seeds in one call: per run, half of it.
    assert "| random (baseline) | 0.125 / 0.001 → n/a / n/a |" in summary
    assert "| gsx | n/a / n/a → n/a / n/a |" in summary
    argv = ["--problem", "sine", "--gamma", "2", "--methods", "gsx", *TINY]
    assert run.main([*argv, "--out", str(out)]) == 0
    assert "0 computed, 2 reused" in capsys.readouterr().out


def summary_cells(text: str) -> set[tuple[str, str, str]]:
    """(problem, method, gamma) of random and of every nAUC entry in summary.md
    (the sections of its own problems: the "## Beside" tables are another's)."""
    cells, problem = set(), None
    lines = iter(text.split("\n## Beside ")[0].splitlines())
    for line in lines:
        if line in ("## All problems", "## By input dimension"):
            problem = None  # tables over problems, not a problem's own cells
        elif line.startswith("## "):
            problem = line.removeprefix("## ")
            cells.add((problem, "random", ""))  # the baseline of every score
        elif line.startswith("nAUC (method"):
            next(lines)
            header = [c.strip() for c in next(lines).strip("|").split("|")]
            next(lines)
            for row in lines:
                if not row.startswith("|"):
                    break
                entries = [c.strip() for c in row.strip("|").split("|")]
                method = entries[0].split(" (")[0]
                for column, entry in zip(header[1:], entries[1:], strict=True):
                    gamma = "" if column == names.NO_GAMMA else column[2:]
                    if entry:
                        cells.add((problem, method, gamma))
    return cells


def csv_cells(text: str) -> set[tuple[str, str, str]]:
    """(problem, method, gamma) of every row of cells.csv."""
    rows = csv.DictReader(text.splitlines())
    return {(row["problem"], row["method"], row["gamma"]) for row in rows}


def test_report_tables_hold_the_same_cells(tmp_path, fake_runs):
    out, other, figures = (tmp_path / name for name in ("out", "other", "figures"))
    assert sweep.main(sweep_args(out)) == 0
    # A problem with random only, and a cell whose seeds differ from random's.
    argv = ["--problems", "hydr", "--methods", "random", *TINY, "--out", str(out)]
    assert sweep.main(argv) == 0
    argv = ["--problems", "sine", "--methods", "qbc", "--gammas", "8"]
    assert sweep.main([*argv, *TINY, "--seeds", "3", "--out", str(other)]) == 0
    odd = Path("sine", "qbc", "gamma_8")
    shutil.rmtree(out / odd)
    shutil.copytree(other / odd, out / odd)

    assert report.main([str(out), "--figures", str(figures), "--formats", "png"]) == 0
    summary = (figures / "summary.md").read_text()
    in_summary = summary_cells(summary)
    in_csv = csv_cells((figures / "cells.csv").read_text())
    assert in_summary == in_csv
    assert ("sine", "qbc", "8") not in in_csv and ("sine", "qbc", "2") in in_csv
    assert not any(problem == "hydr" for problem, _, _ in in_csv)
    assert f"- {out / odd}: seeds [0, 1, 2] differ from random's [0, 1]" in summary
    # 2 problems x (random + gsx and qbc at 2 gammas), less the odd cell.
    assert len(in_csv) == 2 * 5 - 1


@pytest.mark.parametrize(
    "cells_folder, figures_folder, beside",
    [
        ("figures/data/sweep_quick", "figures", None),
        ("figures/data/airfoil", "figures/airfoil", None),
        ("figures/data/projectile", "figures/projectile", None),
        ("figures/data/measured", "figures/measured", "figures/data/sweep_quick"),
        ("figures/data/pde", "figures/pde", None),
        ("figures/data/pde_budget", "figures/pde_budget", None),
    ],
)
def test_committed_tables_match_the_committed_cells(
    tmp_path, monkeypatch, cells_folder, figures_folder, beside
):
    """Each committed summary.md and cells.csv is exactly what report.py makes of
    the raw cells beside it (regenerate: python experiments/report.py
    <cells_folder> --figures <figures_folder> [--beside <beside>])."""
    monkeypatch.chdir(ROOT)
    out, figures = Path(cells_folder), ROOT / figures_folder
    others = (
        [] if beside is None else [(beside, scoring.score_cells(results.load(beside)))]
    )
    summary.write_tables(out, tmp_path, scoring.score_cells(results.load(out)), others)
    for name in ("summary.md", "cells.csv"):
        same = (tmp_path / name).read_bytes() == (figures / name).read_bytes()
        assert same, f"{figures_folder}/{name} differs from the report of {out}"
    committed = summary_cells((figures / "summary.md").read_text())
    assert committed == csv_cells((figures / "cells.csv").read_text())


# ---------------------------------------------------------------------------
# End to end (real training, tiny).


def test_run_end_to_end_and_reuse(tmp_path):
    argv = [
        sys.executable,
        "experiments/run.py",
        "--problem",
        "sine",
        "--gamma",
        "2",
        "--preset",
        "smoke",
        "--steps",
        "3",
        "--seeds",
        "2",
        "--methods",
        "random,qbc",
        "--set",
        "train_buckets=1",
        "--set",
        "train_steps=5",
        "--set",
        "n_test=64",
        "--out",
        str(tmp_path),
        "--compilation-cache",
        str(tmp_path / "jax_cache"),
    ]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "random (baseline)" in done.stdout and "qbc" in done.stdout
    assert f"devices: {jax.default_backend()}: " in done.stdout
    assert any((tmp_path / "jax_cache").iterdir())  # compiled once per machine
    assert "nAUC" in done.stdout and "nDiv" in done.stdout
    assert "2 computed, 0 reused" in done.stdout
    folder = tmp_path / "sine" / "qbc" / "gamma_2"
    with np.load(folder / "results.npz", allow_pickle=False) as data:
        assert data["mse"].shape == (2, 4) and np.all(np.isfinite(data["mse"]))
        assert data["picked_x"].shape == (2, 3, 40, 1)
    for cell in ["random/gamma_any", "qbc/gamma_2"]:
        meta = json.loads((tmp_path / "sine" / cell / "meta.json").read_text())
        times, cfg = meta["timing"], meta["config"]
        for key in ("compile_s", "run_s", "total_s"):
            assert times[key] > 0
        # Every cell times training and acquisition at every step, in the run.
        steps = times["steps"]
        assert steps["step"] == list(range(cfg["steps"] + 1))
        assert all(s > 0 for s in steps["train_s"] + steps["acquire_s"])
        # The steps are parts of the run: together no longer than it.
        assert sum(steps["train_s"] + steps["acquire_s"]) < times["run_s"]
        assert steps["how"] == timing.TIMING_HOW
    assert (tmp_path / "sine" / "random" / "gamma_any" / "meta.json").exists()
    assert (tmp_path / "sine_gamma2_mse.png").stat().st_size > 0

    again = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "0 computed, 2 reused" in again.stdout


def test_a_config_that_cannot_fit_is_refused_with_one_line(tmp_path, capsys):
    """`--set k=100000` compiles, asks XLA for the memory of one run, and stops
    with the estimate and the size fields instead of an allocation traceback."""
    argv = ["--problem", "robo", "--gamma", "4", "--methods", "random"]
    argv += [*TINY, "--set", "k=100000", "--out", str(tmp_path)]
    assert run.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: one run needs about") and "GiB" in err
    assert "k=100000" in err and "n_test=" in err
    assert not any(tmp_path.iterdir())  # nothing saved


def test_robustness_table_ranks_methods_by_their_worst_gamma():
    """The study's question in one table: a method's worst nAUC over γ per problem
    and overall, ranked; random is the 1.000 line; references come last."""

    def score(problem, method, gamma, nauc, reference=False):
        return metrics.Score(
            problem, method, gamma, reference, 0.0, 0.0, nauc, np.ones(1), (0, 0), 1.0
        )

    scores = {
        "sine": [
            score("sine", "gsx", 2, 0.7), score("sine", "gsx", 8, 0.9),
            score("sine", "qbc", 2, 0.5), score("sine", "qbc", 8, 1.4),
            score("sine", "naqbc", None, 0.95),
            score("sine", "mse", 2, 0.3, reference=True),
        ],
        "robo": [
            score("robo", "gsx", 2, 0.8), score("robo", "qbc", 2, 0.6),
            score("robo", "naqbc", None, 0.99),
        ],
    }  # fmt: skip
    rows = [line.split(" | ") for line in summary.robustness_table(scores, {"mse"})[2:]]
    names = [row[1] for row in rows]
    assert names == [
        "gsx", "naqbc (ignores γ)", "random (baseline)", "qbc", "mse (reference)"
    ]  # fmt: skip
    gsx = rows[0]
    assert gsx[0] == "| 1" and gsx[2:6] == ["0.900", "0.800", "0.900", "2 of 2"]
    assert gsx[6] == "0 of 2"  # one seed: no interval, so never clearly robust
    assert gsx[7] == "0 of 3 |"  # nor clearly worse
    assert rows[3][2:5] == ["1.400", "0.600", "1.400"]  # qbc: worst is sine's γ 8
    assert rows[-1][0] == "| "  # references are not ranked


def test_diversity_table_shows_collapse_and_where_the_losses_are():
    """Mode collapse in numbers: per method, median nDiv at the smallest and the
    largest γ over problems, its lowest nDiv, and the nDiv of the cells clearly
    worse than random; methods that ignore γ have no row."""

    def score(problem, method, gamma, nauc, interval, ndiv):
        return metrics.Score(
            problem, method, gamma, False, 0.0, 0.0, nauc, np.ones(5), interval, ndiv
        )

    scores = {
        "sine": [
            score("sine", "qbc", 2, 0.8, (0.7, 0.9), 1.0),
            score("sine", "qbc", 32, 2.0, (1.5, 2.5), 0.3),
            score("sine", "gsx", 2, 0.8, (0.7, 0.9), 1.2),
            score("sine", "gsx", 32, 0.6, (0.5, 0.7), 1.5),
            score("sine", "naqbc", None, 0.9, (0.8, 1.0), 0.9),
        ],
        "robo": [
            score("robo", "qbc", 2, 0.9, (0.8, 1.0), 1.0),
            score("robo", "qbc", 32, 1.1, (0.9, 1.3), 0.7),
            score("robo", "gsx", 2, 0.9, (0.8, 1.0), 1.1),
            score("robo", "gsx", 32, 0.8, (0.7, 0.9), 1.4),
        ],
    }  # fmt: skip
    lines = summary.diversity_table(scores, set())
    assert lines[0].startswith("| method | nDiv γ=2 | nDiv γ=32 | lowest nDiv")
    rows = {row.split(" | ")[0][2:]: row.split(" | ")[1:] for row in lines[2:]}
    assert set(rows) == {"gsx", "qbc"}
    assert rows["qbc"] == ["1.00", "0.50", "0.30 (sine, γ=32)", "1 of 4", "0.30 |"]
    assert rows["gsx"] == ["1.15", "1.45", "1.10 (robo, γ=2)", "0 of 4", "– |"]


def test_robustness_table_shows_intervals_and_counts_only_clear_wins():
    """With 3 or more seeds each worst cell shows its bootstrap interval; a
    problem counts as clearly robust only when every γ's interval is below 1, a
    cell as clearly worse only when its interval is above 1."""

    def score(problem, gamma, nauc, interval):
        return metrics.Score(
            problem, "gsx", gamma, False, 0.0, 0.0, nauc, np.ones(5), interval, 1.0
        )

    scores = {
        "sine": [
            score("sine", 2, 0.7, (0.6, 0.8)), score("sine", 8, 0.9, (0.8, 0.95)),
        ],
        "robo": [
            score("robo", 2, 0.8, (0.7, 0.9)), score("robo", 8, 0.95, (0.85, 1.05)),
        ],
        "bess": [
            score("bess", 2, 0.98, (0.95, 1.05)), score("bess", 8, 1.2, (1.1, 1.3)),
        ],
    }  # fmt: skip
    rows = [line.split(" | ") for line in summary.robustness_table(scores, set())[2:]]
    gsx = next(row for row in rows if row[1] == "gsx")
    assert gsx[2:5] == [
        "0.900 [0.80, 0.95]", "0.950 [0.85, 1.05]", "1.200 [1.10, 1.30]"
    ]  # fmt: skip
    # robo's γ 8 is unresolved (robust, not clearly); bess's γ 8 is clearly worse
    # and its γ 2, with an interval over 1, is not
    assert gsx[5:] == ["1.200", "2 of 3", "1 of 3", "1 of 6 |"]
    random = next(row for row in rows if row[1] == "random (baseline)")
    assert random[2:] == ["1.000", "1.000", "1.000", "1.000", "–", "–", "– |"]


def test_problems_list_the_study_first_then_others_by_their_numbers():
    """Summaries and figures list the study's problems in registry order, then the
    others with d read as a number (burgers_d8 before burgers_d32 before _d128)."""
    shuffled = ["kdv_d128", "burgers_d32", "robo", "kdv_d8", "sine", "burgers_d128"]
    shuffled += ["airfoil", "burgers_d8", "kdv_d32"]
    assert scoring.problem_order(shuffled) == [
        "sine",
        "robo",
        "airfoil",
        "burgers_d8",
        "burgers_d32",
        "burgers_d128",
        "kdv_d8",
        "kdv_d32",
        "kdv_d128",
    ]


def test_dimension_table_and_figure_follow_problems_named_by_d(tmp_path):
    """Problems named <family>_d<d> (the PDE problems) get a worst-nAUC table by
    method and d, and the nAUC-against-d figure; other problems are not a family."""

    def score(problem, method, gamma, nauc, reference=False, interval=None):
        seeds = np.ones(1 if interval is None else 5)  # one seed: no interval
        return metrics.Score(
            problem, method, gamma, reference, 0.0, 0.0, nauc, seeds, interval, 1.0
        )

    scores = {
        "kdv_d8": [
            score("kdv_d8", "gsx", 2, 0.8, interval=(0.7, 0.9)),
            score("kdv_d8", "gsx", 8, 0.9, interval=(0.85, 1.02)),
        ],
        "kdv_d128": [
            score("kdv_d128", "gsx", 2, 1.1), score("kdv_d128", "bait", 8, 0.7),
            score("kdv_d128", "mse", 2, 0.5, reference=True),
        ],
        "robo": [score("robo", "gsx", 2, 0.6)],
        "burgers_d8": [score("burgers_d8", "gsx", 2, 0.9)],
    }  # fmt: skip
    grid = summary.nauc_grid(scores)
    families = summary.dimension_families(grid)
    assert families == {"kdv": {8: "kdv_d8", 128: "kdv_d128"}}  # burgers: one d
    rows = summary.dimension_table(scores, families["kdv"], {"mse"})
    assert rows[0] == "| method | d = 8 | d = 128 |"
    by_method = {row.split(" | ")[0][2:]: row.split(" | ")[1:] for row in rows[2:]}
    # the worst γ's cell, with its interval where it has 3 seeds or more
    assert by_method["gsx"] == ["0.900 [0.85, 1.02]", "1.100 |"]
    assert by_method["bait"] == ["", "0.700 |"]
    assert by_method["random (baseline)"] == ["1.000", "1.000 |"]
    assert by_method["mse (reference)"] == ["", "0.500 |"]
    worst = {"kdv": summary.worst_by_dimension(scores, families["kdv"])}
    assert set(worst["kdv"]) == {"gsx", "bait", "mse"}  # random: the line at 1
    assert worst["kdv"]["gsx"][8].gamma == 8  # the worst γ's cell
    written = plots.dimension_figure(worst, {"mse"}, ["png"], tmp_path)
    assert written == [tmp_path / "nauc_vs_dimension.png"]
    assert written[0].stat().st_size > 0


def test_mse_curves_from_python_takes_run_results(fake_runs):
    """The README's IPython plot: seed-batched RunResults, one curve per method,
    each the seed mean."""
    cfg = config.smoke(problem="sine", method="qbc", gamma=2, steps=3)
    keys = loop.seed_keys([0, 1, 2])
    result = jax.vmap(fake_runs(cfg))(keys)
    random = jax.vmap(fake_runs(cfg.replace(method="random", gamma=None)))(keys)
    fig = plots.mse_curves({"qbc": result, "random": random}, "sine, γ = 2")
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["random (baseline)", "qbc"]  # random first, whatever the order
    qbc_line = ax.get_lines()[1]
    np.testing.assert_allclose(qbc_line.get_xdata(), np.asarray(result.n_labelled[0]))
    np.testing.assert_allclose(qbc_line.get_ydata(), np.mean(result.mse, axis=0))
    assert ax.get_ylabel() == "test MSE"  # a RunResult does not say its units


def test_every_method_has_its_own_marker_and_colour():
    """The nAUC–nDiv scatter colours by problem, so its methods differ by marker
    only: no two registered methods may share one, nor take the references' "x".
    (random, the black baseline, is never in the scatter: its nAUC is 1.)"""
    methods = [n for n, a in acquisitions.ACQUISITIONS.items() if not a.reference]
    methods.remove("random")
    styles = [plots.method_style(m) for m in methods]
    markers = [style["marker"] for style in styles]
    assert len(set(markers)) == len(methods)
    assert "x" not in markers
    colours = {style["color"] for style in styles}
    assert len(colours) == len(methods)
    assert plots.method_style("random")["color"] not in colours


def test_readme_run_example_lists_every_registered_method():
    """The README prints run.py's smoke table; its method rows must be the
    registry's methods in the table's order (regenerate the example when not)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("robo, γ = 16, preset smoke:", 1)[1].split("```", 1)[0]
    lines = block.splitlines()[3:]  # after the header line, devices, column names
    labels = [
        line.split("  ")[0].strip()
        for line in lines
        if line and not line.startswith(("-", "nAUC:", "cells:"))
    ]
    expected = [names.method_label(m) for m in names.method_order(acquisitions.names())]
    assert labels == expected


def test_decomposition_table_names_the_step_that_moves_each_method():
    """experiments/decomposition.py's table: worst nAUC over γ per setting, the
    step with the largest move (resolved only when the intervals are apart), per
    step how often it is the largest, and the methods that reverse."""
    from jdal.shell import decomposition

    def score(method, gamma, nauc, interval, reference=False):
        return metrics.Score(
            "p", method, gamma, reference, 0.0, 0.0, nauc, np.ones(5), interval, 1.0
        )

    settings = decomposition.CHAINS["foil"]
    scores = [
        [score("gsx", 2, 0.8, (0.7, 0.9)), score("gsx", 8, 0.7, (0.6, 0.8)),
         score("qbc", 2, 0.9, (0.8, 1.0)), score("mse", 2, 0.5, (0.4, 0.6), True)],
        [score("gsx", 2, 0.85, (0.75, 0.95)), score("qbc", 2, 0.92, (0.8, 1.0))],
        None,  # not run
        [score("gsx", 2, 1.3, (1.2, 1.4)), score("qbc", 2, 0.95, (0.85, 1.05)),
         score("mse", 2, 0.6, (0.5, 0.7), True)],
    ]  # fmt: skip
    lines = decomposition.chain_lines(settings, scores)
    rows = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in lines[2:6]}
    assert rows["gsx"][:4] == [
        "0.800 [0.70, 0.90]", "0.850 [0.75, 0.95]", "not run", "1.300 [1.20, 1.40]"
    ]  # fmt: skip
    # 3 is not run, so only the test-distribution step is measured.
    assert rows["gsx"][4] == "test distribution (+0.050, inside the spread) |"
    assert rows["qbc"][4] == "test distribution (+0.020, inside the spread) |"
    assert rows["mse (reference)"][4] == " |"  # references are not counted
    steps = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in lines[8:11]}
    assert steps["test distribution"] == ["0.035", "2 methods (0 resolved) |"]
    assert steps["pool distribution"] == ["not run", "0 methods (0 resolved) |"]
    assert lines[-3] == "Below 1 in the first setting, not in the last: gsx."
    # the reversing method's largest move, with whether it is resolved
    assert (
        lines[-1] == "Their largest move: test distribution for gsx (0 of 1 resolved)."
    )
    causes = decomposition.reversal_causes(
        ["gsx", "qbc", "ll"],
        {"gsx": ("pool distribution", True), "qbc": ("test distribution", False),
         "ll": ("pool distribution", False)},
        ["test distribution", "pool distribution", "label noise"],
    )  # fmt: skip
    assert causes == (
        "test distribution for qbc (0 of 1 resolved); "
        "pool distribution for gsx, ll (1 of 2 resolved)"
    )
    assert decomposition.apart(scores[0][0], scores[3][0])
    assert not decomposition.apart(scores[0][2], scores[3][1])
