"""Finite data sets at their edges: pools larger than the table, γ capped by the
rows left, two targets of one file, duplicate inputs, too few rows, and the
small-data rule that fits the protocol's sizes to a table."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny_runs import compile_fast, tiny_config  # noqa: E402

from jdal import config, loop, problems, results, scoring
from jdal.shell import flags


def rows(n: int, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n, d))
    return x, np.sin(3 * x[:, 0]) + x[:, 1]


def finite(name: str, n: int, **options):
    return problems.data_problem(name, *rows(n), register=True, **options)


# ---------------------------------------------------------------------------
# Pools larger than the table (k γ > rows) and the pool sizes a run records.


def test_a_pool_larger_than_the_table_is_padded_and_masked():
    used = jnp.zeros(20, bool).at[jnp.arange(5)].set(True)
    pool_rows, available = loop.finite_pool(jax.random.key(0), used, 32)
    assert pool_rows.shape == (32,) and available.shape == (32,)
    assert int(available.sum()) == 15  # every unused row, once
    assert set(np.asarray(pool_rows[available]).tolist()) == set(range(5, 20))
    # The padded pool starts with the same rows as a pool that fits.
    fits, _ = loop.finite_pool(jax.random.key(0), used, 15)
    np.testing.assert_array_equal(pool_rows[:15], fits)


def test_a_run_whose_pool_exceeds_the_table_runs_and_records_its_pools():
    """24 rows, 4 held out, N0 8, k 4, T 2; γ 8 asks for pools of 32 rows: the
    run uses every unused row (12, then 8) and says so in `pool_sizes`."""
    finite("wide_pool", 24)
    cfg = tiny_config("wide_pool", "qbc").replace(gamma=8)
    result = compile_fast(loop.make_run(cfg), jax.random.key(0))(jax.random.key(0))
    assert np.all(np.isfinite(np.asarray(result.mse)))
    np.testing.assert_array_equal(np.asarray(result.pool_sizes), [12, 8])
    assert loop.unused_rows_at_start(loop.setup(cfg).problem, cfg) == 12


def test_oracle_runs_record_the_nominal_pool():
    cfg = tiny_config("sine", "qbc")
    result = compile_fast(loop.make_run(cfg), jax.random.key(1))(jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(result.pool_sizes), [12, 12])


def test_a_capped_gamma_warns_once(capsys):
    finite("capped_warning", 40)
    parser = flags.argparse.ArgumentParser()
    args = flags.argparse.Namespace(settings=[], steps=None, preset="smoke")
    for method in ("qbc", "gsx"):
        flags.make_config(parser, args, "capped_warning", method, 64)
    err = capsys.readouterr().err
    assert err.count("warning: capped_warning, γ=64") == 1
    assert "effective γ" in err


def capped_cell(tmp_path, method, gamma, first_pool, k=4):
    # Cells written by hand: the problem needs no registry entry.
    cfg = config.sized(
        "smoke", problem="capped_report", method=method, gamma=gamma, k=k
    )
    s, t = 2, 3
    arrays = {
        "mse": np.ones((s, t + 1), np.float32),
        "n_labelled": np.arange(t + 1, dtype=np.int32) * k + 8,
        "train_loss": np.ones((s, t + 1), np.float32),
        "div": np.ones(s, np.float32),
        "div_per_step": np.ones((s, t), np.float32),
        "picked_x": np.zeros((s, t, k, 1), np.float32),
        "seeds": np.arange(s),
        "pool_sizes": np.full((s, t), first_pool, np.int32),
    }
    return results.load_cell(results.save_cell(tmp_path, cfg, arrays))


def test_the_report_counts_a_capped_gamma_once(tmp_path):
    """γ 16 and 32 both capped at the 40 unused rows: one experiment, kept once;
    γ 2 (pool 8) is distinct. The summary states the effective γ."""
    baseline = capped_cell(tmp_path, "random", None, 4)
    cells = [capped_cell(tmp_path, "qbc", g, min(4 * g, 40)) for g in (2, 16, 32)]
    scored = scoring.score_cells([baseline, *cells])
    assert sorted(s.gamma for s in scored.scores_by_problem["capped_report"]) == [
        2,
        16,
    ]
    assert any("γ=32 is the same experiment as γ=16" in r for r in scored.skipped)
    assert scoring.effective_gammas(cells) == {16: 10.0, 32: 10.0}


# ---------------------------------------------------------------------------
# Files and rows.


def test_two_targets_of_one_file_are_two_problems(tmp_path):
    x, y = rows(30)
    path = tmp_path / "t.csv"
    lines = ["a,b,c,y1,y2"] + [
        ",".join(f"{v:.6f}" for v in (*xi, yi, 2 * yi))
        for xi, yi in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    first = problems.file_problem(path, "y1", register=False)
    second = problems.file_problem(path, "y2", register=False)
    assert (first.name, second.name) == ("t_y1", "t_y2")
    # Every column that is not a target is an input: y1 is an input of t_y2.
    assert second.data.x_names == ("a", "b", "c", "y1")
    assert problems.file_problem(path, register=False).name == "t"  # default target


def test_a_one_row_file_has_too_few_rows(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b,y\n1,2,3\n")
    with pytest.raises(ValueError, match=r"too few rows \(1\)"):
        problems.file_problem(path, register=False)


def test_identical_inputs_stay_on_one_side_of_the_test_split():
    """40 rows in 10 groups of 4 identical inputs (different labels): every seed's
    test inputs are never among the initial rows or any later pool."""
    x, y = rows(10)
    x = np.repeat(x, 4, axis=0)
    y = np.repeat(y, 4) + np.tile([0.0, 0.1, 0.2, 0.3], 10)
    data = problems.data_problem("groups", x, y, register=False).data
    assert data.largest_group == 4
    for seed in range(20):
        test, initial, used = loop.finite_split(jax.random.key(seed), data, 7, 8)
        groups = np.asarray(data.input_groups)
        test_groups = set(groups[np.asarray(test)].tolist())
        unused = np.flatnonzero(~np.asarray(used))
        assert not test_groups & set(groups[np.asarray(initial)].tolist())
        assert not test_groups & set(groups[unused].tolist())
        assert len(set(np.asarray(test).tolist())) == 7
        assert len(set(np.asarray(initial).tolist())) == 8


def test_rows_without_duplicates_split_as_before():
    """No duplicate inputs: the split is the plain permutation (cells unchanged)."""
    data = problems.data_problem("distinct", *rows(30), register=False).data
    assert data.input_groups is None
    key = jax.random.key(3)
    test, initial, used = loop.finite_split(key, data, 6, 10)
    order = jax.random.permutation(key, 30)
    np.testing.assert_array_equal(test, order[:6])
    np.testing.assert_array_equal(initial, order[6:16])
    assert int(used.sum()) == 16


# ---------------------------------------------------------------------------
# The small-data rule.


def test_the_small_data_rule_fits_the_budget_in_half_the_rows():
    """308 rows (yacht's size), quick sizes: 61 test rows, 247 left; the budget
    N0 + T k must stay <= 123; T is kept, N0 and k scaled by one factor."""
    problem = finite("yacht_sized", 308)
    cfg = config.quick(problem="yacht_sized", method="qbc", gamma=2)
    fitted = loop.fit_to_rows(problem, cfg)
    assert fitted.steps == cfg.steps
    assert fitted.n_final <= (308 - 61) // 2
    assert (fitted.n_initial, fitted.k) == (14, 7)
    assert "small-data rule" in fitted.size_rule
    assert fitted.hash() != cfg.replace(n_initial=14, k=7).hash()


def test_the_small_data_rule_leaves_a_fitting_protocol_alone():
    problem = finite("big_enough", 2000)
    cfg = config.quick(problem="big_enough", method="qbc", gamma=2)
    assert loop.fit_to_rows(problem, cfg) is cfg
    assert loop.fit_to_rows(problems.get("robo"), cfg) is cfg  # an oracle


def test_the_small_data_rule_refuses_a_table_too_small_for_the_steps():
    problem = finite("tiny_table", 12)
    with pytest.raises(ValueError, match="too few for 15 steps"):
        loop.fit_to_rows(problem, config.quick(problem="tiny_table", method="qbc"))


def test_test_inputs_draws_the_oracles_test_points_from_a_tables_rows():
    """Config.test_inputs: an oracle's test points are distinct rows of the table
    (here foil's forest tested at the measured airfoil inputs), labelled by the
    oracle; the pools and initial points stay uniform in the box."""
    cfg = config.smoke(problem="foil", method="random", gamma=None)
    cfg = cfg.replace(test_inputs="airfoil")
    problem = problems.get("foil")
    keys = loop.run_keys(jax.random.key(0))
    start = loop.make_source(problem, cfg).start(keys.test, keys.initial)
    rows = np.asarray(problems.get("airfoil").data.x)
    test_x = np.asarray(start.test_x)
    assert test_x.shape == (cfg.n_test, 5)
    matches = (test_x[:, None, :] == rows[None, :, :]).all(-1)
    assert matches.any(1).all() and len(np.unique(test_x, axis=0)) == cfg.n_test
    np.testing.assert_array_equal(start.test_y, problem.label(start.test_x))
    uniform = loop.make_source(problem, cfg.replace(test_inputs=None))
    np.testing.assert_array_equal(
        start.initial_x, uniform.start(keys.test, keys.initial).initial_x
    )
    assert (
        cfg.replace(test_inputs=None).hash()
        == config.smoke(problem="foil", method="random", gamma=None).hash()
    )
    with pytest.raises(ValueError, match="has 5 inputs, problem 'robo' has 4"):
        loop.test_rows_of(problems.get("robo"), cfg)


def test_the_decomposition_problems_change_one_factor_each():
    """experiments/decomposition.py: foil_rows is the airfoil rows (scaled as the
    forest's training data) labelled by the forest (min-max scaled over the rows, as
    every table's targets are); airfoil_foil_model the same rows
    with their measured labels. At the quick sizes foil's model and airfoil's
    default are both capped to 4 x 64 with 5 members, so setting 4 is setting 5
    (the sweep skips it), while hydr's 6 x 50 stays apart from yacht's 4 x 64."""
    from jdal.models import ensemble
    from jdal.shell import problem_spec

    spec = "experiments/decomposition.py:"
    airfoil, foil = problems.get("airfoil"), problems.get("foil")
    foil_rows = problem_spec.load(spec + "foil_rows")
    measured = problem_spec.load(spec + "airfoil_foil_model")
    np.testing.assert_array_equal(foil_rows.data.x, airfoil.data.x)
    forest = np.asarray(foil.label(airfoil.data.x), np.float64)
    low, high = forest.min(), forest.max()
    np.testing.assert_allclose(
        foil_rows.data.y, 2 * (forest - low) / (high - low) - 1, atol=1e-5
    )
    np.testing.assert_array_equal(measured.data.x, airfoil.data.x)
    np.testing.assert_array_equal(measured.data.y, airfoil.data.y)
    assert not np.allclose(foil_rows.data.y, airfoil.data.y)

    def quick_model(problem, name):
        cfg = config.quick(problem=name, method="random", gamma=None)
        module = ensemble.make_module(problem, cfg)
        return module.hidden, ensemble.resolved_model_settings(problem, cfg)

    (hidden, settings), (hidden_5, settings_5) = (
        quick_model(measured, "airfoil"),
        quick_model(airfoil, "airfoil"),
    )
    assert hidden == hidden_5 == (64,) * 4
    assert settings.pop("batch_size") is None  # full batch; and 2000 is more than
    cfg = config.quick(problem="airfoil", method="random", gamma=None)
    assert settings_5.pop("batch_size") >= cfg.n_initial + cfg.steps * cfg.k
    assert settings == settings_5  # the rows a quick run ever labels: full batch too
    yacht_hydr = problem_spec.load(spec + "yacht_hydr_model")
    yacht = problems.get("yacht")
    assert quick_model(yacht_hydr, "yacht")[0] == (50,) * 6
    assert quick_model(yacht, "yacht")[0] == (64,) * 4
