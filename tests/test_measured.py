"""The six shipped measured data sets (jdal/problems/measured.py): built-in finite
problems with short names, read from gzip files inside the package, listed apart
from the study's eight, and run exactly like a user's table."""

import hashlib
import subprocess
import sys

import jax
import numpy as np
import pytest
from tiny_runs import compile_fast  # noqa: E402

from jdal import config, loop, problems
from jdal.problems import forests, measured
from jdal.shell import flags

STUDY = ["sine", "robo", "stack", "adm", "foil", "hydr", "bess", "damp"]
# name -> (rows, inputs), one target each (jdal/problems/data/README.md).
SHAPES = {
    "airfoil": (1503, 5),
    "yacht": (308, 6),
    "concrete": (1030, 8),
    "energy": (768, 8),
    "kin8nm": (8192, 8),
    "ccpp": (9568, 4),
}
# sha256 of each uncompressed file, as recorded in jdal/problems/data/README.md.
SHA256 = {
    "airfoil": "74c75fd71783f1e6b71f8a622b993dc592897a97cd689c5090a07147a1b097b3",
    "yacht": "00dfecc0fc01ddd4c90b558a3ac11b246df8ebcfea130724223475a9a67f0ea1",
    "concrete": "43d290fd2c2a399ad7e62c45cab5337ba94ece69ebdcf5875aa668cb886243de",
    "energy": "7f8bf024cea437267d56be99b7af7bb3faebec8a7bccfbb20d06d52d9372a950",
    "kin8nm": "a694ce0c7a21390f2bd2a205c36f2482cd974637a207038696716e22f3bbe810",
    "ccpp": "daebd20c408dfc5c4979604f240e891be162c3a5d00d662380aa669044a1fb31",
}
MEASURED = list(SHAPES)


# ---------------------------------------------------------------------------
# The files and the problems built from them.


@pytest.mark.parametrize("name", MEASURED)
def test_shipped_file_is_the_recorded_one(name):
    assert hashlib.sha256(measured.raw_bytes(name)).hexdigest() == SHA256[name]


@pytest.mark.parametrize("forest, name", [("foil", "airfoil"), ("hydr", "yacht")])
def test_forests_were_built_from_the_shipped_files(forest, name):
    """`data_sha256` in a forest's npz is of the uncompressed data file."""
    with forests.forest_path(forest).open("rb") as handle, np.load(handle) as npz:
        assert str(npz["data_sha256"]) == SHA256[name]
        rows = measured.rows(name)
        np.testing.assert_array_equal(npz["x_min"], rows[:, :-1].min(axis=0))
        np.testing.assert_array_equal(npz["y_max"], rows[:, -1].max())


@pytest.mark.parametrize("name", MEASURED)
def test_each_loads_as_a_finite_problem_of_its_size(name):
    n, d = SHAPES[name]
    problem = problems.get(name)
    data = problem.data
    assert (problem.name, problem.dim_x, problem.dim_y) == (name, d, 1)
    assert data.x.shape == (n, d) and data.y.shape == (n, 1)
    assert len(data.x_names) == d and len(data.y_names) == 1
    assert not any(label.startswith("column ") for label in data.x_names)
    assert data.source.endswith("(shipped)") and "/" not in data.source
    assert problem.model == problems.default_model(d, 1)
    assert problem.fingerprint is not None
    for scaled in (np.asarray(data.x), np.asarray(data.y)):
        np.testing.assert_array_equal(scaled.min(axis=0), -1.0)
        np.testing.assert_array_equal(scaled.max(axis=0), 1.0)


@pytest.mark.parametrize("name", MEASURED)
def test_scaled_rows_map_back_to_the_file(name):
    raw = measured.rows(name)
    data = problems.get(name).data
    for i in (0, 1, raw.shape[0] // 2, raw.shape[0] - 1):
        x = data.x_min + (np.asarray(data.x[i]) + 1) / 2 * (data.x_max - data.x_min)
        y = data.y_min + (np.asarray(data.y[i]) + 1) / 2 * (data.y_max - data.y_min)
        span = np.append(data.x_max - data.x_min, data.y_max - data.y_min)
        # float32 scaled values: exact to ~1e-7 of each column's range
        assert np.all(np.abs(np.append(x, y) - raw[i]) <= 1e-6 * span)


def test_a_measured_set_is_a_users_table():
    """The same rows given to `data_problem` by hand: the same scaled data, model
    and fingerprint (so the same split, pools and results)."""
    raw = measured.rows("yacht")
    mine = problems.data_problem("my_yacht", raw[:, :-1], raw[:, -1], register=False)
    shipped = problems.get("yacht")
    np.testing.assert_array_equal(mine.data.x, shipped.data.x)
    np.testing.assert_array_equal(mine.data.y, shipped.data.y)
    assert mine.model == shipped.model and mine.fingerprint == shipped.fingerprint


def test_airfoil_example_builds_the_built_in_airfoil_by_hand():
    name = flags.problem_name("examples/airfoil.py:problem")
    mine, shipped = problems.get(name), problems.get("airfoil")
    assert name == "my_airfoil" and mine.fingerprint == shipped.fingerprint
    np.testing.assert_array_equal(mine.data.x, shipped.data.x)


# ---------------------------------------------------------------------------
# Properties from the data sets' published descriptions (UCI pages, papers).


def test_airfoil_matches_the_nasa_tests():
    """Frequencies 200 Hz to 20 kHz; chords of 1, 2, 4, 6, 9 and 12 inches; four
    tunnel speeds; angles of attack 0 to 22.2 degrees."""
    rows = measured.rows("airfoil")
    assert (rows[:, 0].min(), rows[:, 0].max()) == (200, 20000)
    np.testing.assert_allclose(
        np.unique(rows[:, 2]), 0.0254 * np.array([1, 2, 4, 6, 9, 12]), rtol=1e-9
    )
    assert set(np.unique(rows[:, 3])) == {31.7, 39.6, 55.5, 71.3}
    assert (rows[:, 1].min(), rows[:, 1].max()) == (0, 22.2)


def test_yacht_froude_numbers_are_the_tested_series():
    """Froude numbers 0.125 to 0.450 in steps of 0.025, for 22 hull forms."""
    rows = measured.rows("yacht")
    np.testing.assert_allclose(np.unique(rows[:, 5]), 0.125 + 0.025 * np.arange(14))
    assert len(np.unique(rows[:, :5], axis=0)) == 22
    assert np.all(rows[:, 6] > 0)


def test_concrete_ages_are_whole_days_up_to_a_year():
    rows = measured.rows("concrete")
    age = rows[:, 7]
    assert np.array_equal(age, np.round(age))
    assert (age.min(), age.max()) == (1, 365)
    assert np.all(rows[:, :7] >= 0)
    assert (rows[:, 8].min(), rows[:, 8].max()) == (2.33, 82.6)  # MPa


def test_energy_inputs_take_the_simulated_values():
    """Orientations 2 to 5 (north, east, south, west), glazing 0, 10, 25 or 40 %
    of the floor area in 6 distributions, two heights: 12 shapes x 64 = 768."""
    rows = measured.rows("energy")
    assert set(np.unique(rows[:, 5])) == {2, 3, 4, 5}
    assert set(np.unique(rows[:, 6])) == {0.0, 0.1, 0.25, 0.4}
    assert set(np.unique(rows[:, 7])) == {0, 1, 2, 3, 4, 5}
    assert set(np.unique(rows[:, 4])) == {3.5, 7.0}
    assert len(np.unique(rows[:, 0])) == 12


def test_kin8nm_joint_angles_lie_within_a_half_turn():
    rows = measured.rows("kin8nm")
    assert np.all(np.abs(rows[:, :8]) <= np.pi / 2)
    assert np.all(rows[:, 8] > 0)  # a distance


def test_ccpp_ranges_are_the_published_ones():
    rows = measured.rows("ccpp")
    published = [
        (1.81, 37.11),  # ambient temperature, C
        (25.36, 81.56),  # exhaust vacuum, cm Hg
        (992.89, 1033.30),  # ambient pressure, mbar
        (25.56, 100.16),  # relative humidity, %
        (420.26, 495.76),  # net electrical output, MW
    ]
    for j, (low, high) in enumerate(published):
        assert (rows[:, j].min(), rows[:, j].max()) == (low, high)


# ---------------------------------------------------------------------------
# The registry.


def test_names_are_still_the_studys_eight_and_the_measured_apart():
    assert problems.names() == STUDY == list(problems.STUDY)
    assert problems.measured_names() == MEASURED == list(problems.MEASURED)
    assert problems.BUILT_IN == (*STUDY, *MEASURED, *problems.PDE)
    assert all(name in problems.PROBLEMS for name in MEASURED)


def test_unknown_problem_lists_both_groups():
    with pytest.raises(ValueError, match="measured data sets: airfoil, yacht"):
        problems.get("no-such-problem")
    with pytest.raises(Exception, match="measured data sets: airfoil") as info:
        flags.problem_name("no-such-problem")
    assert "damp" in str(info.value)
    assert flags.problem_name("ccpp") == "ccpp"


def test_a_user_cannot_take_a_measured_name():
    x = np.random.default_rng(0).uniform(size=(20, 2))
    with pytest.raises(ValueError, match="'ccpp' is a built-in problem"):
        problems.data_problem("ccpp", x, x[:, 0])
    assert problems.get("ccpp").data.source.startswith("UCI Combined Cycle")


def test_import_jdal_reads_no_data():
    """The data sets are read only when a measured problem is first asked for."""
    code = (
        "import sys, jdal; jdal.problems.names(); jdal.problems.measured_names(); "
        "jdal.problems.pde_names(); "
        "print('jdal.problems.measured' in sys.modules, 'exponax' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False False"


# ---------------------------------------------------------------------------
# End to end.


def test_yacht_smoke_run_finishes_with_finite_mse():
    problem = problems.get("yacht")
    # train_buckets=1: one training shape, compiles faster
    cfg = config.smoke(problem="yacht", method="random", gamma=2, train_buckets=1)
    cfg = loop.fit_to_rows(problem, cfg)  # 308 rows: the small-data rule
    assert cfg.size_rule is not None
    out = compile_fast(loop.make_run(cfg), jax.random.key(0))(jax.random.key(0))
    mse = np.asarray(out.mse)
    assert mse.shape[-1] == cfg.steps + 1 and np.all(np.isfinite(mse))
