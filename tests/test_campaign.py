"""Campaigns (jdal.campaign): the same picks as the compiled run, a folder that
survives interruption, and a one-line error for every bad input."""

from __future__ import annotations

import multiprocessing
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import config, loop, problems
from jdal.campaign import Campaign, CampaignError, CampaignInUseError, simulate, store

# Tiny sizes: the equivalence holds at any size, and every case compiles twice.
SIZES = dict(steps=2, train_steps=20, n_members=2, n_test=64, n_initial=12, k=6)
EQUIVALENCE_METHODS = ["random", "gsx", "qbc", "bait", "bald"]


def table_problem():
    """A 240-row table with distinct inputs, registered once."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-2.0, 3.0, size=(240, 3))
    y = np.sin(x @ np.array([1.0, -0.5, 0.3]))[:, None] + 0.1 * x[:, :1] ** 2
    return problems.data_problem("campaign_table", x, y)


def run_and_test_set(cfg: config.Config, seed: int):
    """The compiled run's result and its test set, initial rows, taken rows."""
    result = jax.jit(loop.make_run(cfg))(jax.random.key(seed))
    problem = problems.get(cfg.problem)
    keys = loop.run_keys(jax.random.key(seed))
    start = loop.make_source(problem, cfg).start(keys.test, keys.initial)
    return result, start


def drive(campaign: Campaign, label, steps: int, test_x) -> list[np.ndarray]:
    """ask/tell `steps` batches (after the initial labels); the ensemble's mean
    at the test points after every training."""

    def mean_at_test_points():
        return campaign.predict(campaign._to_user(np.asarray(test_x)))[0]

    predictions = [mean_at_test_points()]
    for _ in range(steps):
        x = campaign.ask()
        campaign.tell(x, label(x))
        predictions.append(mean_at_test_points())
    return predictions


@pytest.mark.parametrize("method", EQUIVALENCE_METHODS)
def test_box_campaign_picks_what_the_run_picks(tmp_path, method):
    seed = 3
    gamma = None if method == "random" else 4
    cfg = config.smoke(problem="robo", method=method, gamma=gamma, **SIZES)
    result, start = run_and_test_set(cfg, seed)
    oracle = jax.jit(problems.get("robo").label)

    def label(x):
        return np.asarray(oracle(jnp.asarray(x, jnp.float32)))

    campaign = Campaign.create(
        tmp_path / "c", problem="robo", method=method, gamma=gamma, seed=seed,
        preset_name="smoke", initial="uniform", y_scaling="none", cv_folds=0, **SIZES,
    )  # fmt: skip
    first = campaign.ask()
    np.testing.assert_array_equal(first.astype(np.float32), start.initial_x)
    campaign.tell(first, label(first))
    predictions = drive(campaign, label, cfg.steps, start.test_x)
    x, _ = campaign.labelled
    picked = np.asarray(result.picked_x).reshape(-1, 4)
    np.testing.assert_array_equal(x[cfg.n_initial :].astype(np.float32), picked)
    mse = [np.mean((p - np.asarray(start.test_y)) ** 2) for p in predictions]
    np.testing.assert_allclose(mse, np.asarray(result.mse), rtol=1e-5)


@pytest.mark.parametrize("method", EQUIVALENCE_METHODS)
def test_table_campaign_picks_what_the_run_picks(tmp_path, method):
    seed = 5
    problem = table_problem()
    data = problem.data
    gamma = None if method == "random" else 4
    cfg = config.smoke(problem=problem.name, method=method, gamma=gamma, **SIZES)
    cfg = cfg.replace(problem_fingerprint=problem.fingerprint)
    result, start = run_and_test_set(cfg, seed)
    keys = loop.run_keys(jax.random.key(seed))
    n_test = data.n_test_rows(cfg.n_test)
    test_rows, initial_rows, _ = loop.finite_split(
        keys.test, data, n_test, cfg.n_initial
    )
    table_y = np.asarray(data.y)

    campaign = Campaign.create(
        tmp_path / "c", candidates=np.asarray(data.x), method=method, gamma=gamma,
        seed=seed, preset_name="smoke", y_scaling="none",
        held_out=np.asarray(test_rows).tolist(), cv_folds=0, **SIZES,
    )  # fmt: skip
    campaign.tell(
        np.asarray(data.x)[initial_rows],
        table_y[initial_rows],
        ids=np.asarray(initial_rows).tolist(),
        allow_extra=True,
    )

    def label(x):
        rows, found = campaign._nearest(x, campaign.candidates)
        assert found.all()
        return table_y[rows]

    predictions = drive(campaign, label, cfg.steps, start.test_x)
    x, y = campaign.labelled
    picked = np.asarray(result.picked_x).reshape(-1, problem.dim_x)
    np.testing.assert_array_equal(x[cfg.n_initial :].astype(np.float32), picked)
    assert not set(campaign._ids.tolist()) & set(np.asarray(test_rows).tolist())
    mse = [np.mean((p - np.asarray(start.test_y)) ** 2) for p in predictions]
    np.testing.assert_allclose(mse, np.asarray(result.mse), rtol=1e-5)


# ---------------------------------------------------------------------------
# A folder that survives, and bad input.

SMALL = dict(preset_name="smoke", steps=3, train_steps=5, n_members=2, n_initial=6, k=3)


def box_campaign(folder, **changes):
    return Campaign.create(
        folder,
        box=([0.0, 10.0], [1.0, 20.0]),
        **{"method": "random", "x_names": ["a", "b"], **SMALL, **changes},
    )


def f(x):
    return np.sin(x[:, :1]) + x[:, 1:] / 10.0


def test_ask_is_stable_until_told_and_reopen_keeps_everything(tmp_path):
    c = box_campaign(tmp_path / "c")
    first = c.ask()
    assert first.shape == (6, 2)
    assert np.all((first >= [0, 10]) & (first <= [1, 20]))
    np.testing.assert_array_equal(c.ask(), first)
    np.testing.assert_array_equal(Campaign.open(tmp_path / "c").ask(), first)
    c.tell(first, f(first))
    second = c.ask()
    again = Campaign.open(tmp_path / "c")
    np.testing.assert_array_equal(again.ask(), second)
    np.testing.assert_array_equal(again.labelled[1], f(first))
    status = again.status()
    assert status["n_labelled"] == 6 and status["pending"] == 3
    assert len(status["log"]) == 1


def test_reopening_between_every_call_changes_nothing(tmp_path):
    """A campaign reopened before every ask and tell (as the command line does)
    picks and trains exactly as one kept open."""
    kept = simulate(box_campaign(tmp_path / "kept", method="gsx", gamma=2), f, 3)
    box_campaign(tmp_path / "reopened", method="gsx", gamma=2)
    for _ in range(3):
        x = Campaign.open(tmp_path / "reopened").ask()
        Campaign.open(tmp_path / "reopened").tell(x, f(x))
    reopened = Campaign.open(tmp_path / "reopened")
    np.testing.assert_array_equal(reopened.labelled[0], kept.labelled[0])
    assert [e["step"] for e in reopened.status()["log"]] == [0, 1, 2]
    np.testing.assert_array_equal(reopened.ask(), kept.ask())


def test_interrupted_tell_recovers(tmp_path):
    """Killed after labelled.csv was written but before the model and pending
    were updated: reopening gives what an uninterrupted campaign gives."""
    whole = box_campaign(tmp_path / "whole")
    simulate(whole, f, 2)
    cut = box_campaign(tmp_path / "cut")
    simulate(cut, f, 1)
    batch = cut.ask()
    shutil.copy(cut.folder / store.MODEL, tmp_path / "model_before")
    shutil.copy(cut.folder / store.PENDING, tmp_path / "pending_before")
    cut.tell(batch, f(batch))
    # Roll model and pending back, as if the process died right after labelled.csv.
    shutil.copy(tmp_path / "model_before", cut.folder / store.MODEL)
    shutil.copy(tmp_path / "pending_before", cut.folder / store.PENDING)
    reopened = Campaign.open(tmp_path / "cut")
    assert reopened.pending is None
    np.testing.assert_array_equal(reopened.ask(), whole.ask())


def test_simulate_with_a_plain_numpy_function(tmp_path):
    c = simulate(box_campaign(tmp_path / "c"), f, 3)
    x, y = c.labelled
    assert x.shape == (12, 2) and y.shape == (12, 1)
    mean, spread = c.predict(x)
    assert mean.shape == (12, 1) and np.all(spread >= 0)
    # The ensemble learned something in the user's units.
    assert np.mean((mean - y) ** 2) < np.var(y)


@pytest.mark.parametrize(
    "x, y, message",
    [
        ("asked", [np.nan], "not finite"),
        ("asked", "two outputs", "outputs"),
        ("outside", None, "lies outside"),
        ("other", None, "was not asked"),
    ],
)
def test_bad_tell_is_refused_and_nothing_is_stored(tmp_path, x, y, message):
    c = box_campaign(tmp_path / "c")
    simulate(c, f, 1)
    asked = c.ask()
    rows = {"asked": asked, "outside": asked + [5.0, 0.0], "other": asked * 0.99}[x]
    labels = f(rows)
    if isinstance(y, list):
        labels = labels.copy()
        labels[0, 0] = y[0]
    elif y == "two outputs":
        labels = np.hstack([labels, labels])
    before = (c.folder / store.LABELLED).read_bytes()
    with pytest.raises(CampaignError, match=message):
        c.tell(rows, labels)
    assert (c.folder / store.LABELLED).read_bytes() == before
    np.testing.assert_array_equal(c.ask(), asked)


def test_row_told_twice_and_extra_rows(tmp_path):
    c = box_campaign(tmp_path / "c")
    first = c.ask()
    c.tell(first, f(first))
    with pytest.raises(CampaignError, match="already labelled"):
        c.tell(first[:1], f(first[:1]), allow_extra=True)
    extra = np.array([[0.5, 15.0]])
    c.tell(extra, f(extra), allow_extra=True)
    assert c.status()["n_labelled"] == 7


def test_candidate_table_errors_and_exhaustion(tmp_path):
    table = np.stack([np.linspace(0, 1, 12), np.linspace(0, 1, 12) ** 2], axis=1)
    with pytest.raises(CampaignError, match="larger than"):
        Campaign.create(tmp_path / "big", candidates=table, method="gsx", k=20)
    c = Campaign.create(
        tmp_path / "c", candidates=table, method="gsx", gamma=2,
        **{**SMALL, "n_initial": 3},
    )  # fmt: skip
    first = c.ask()
    with pytest.raises(CampaignError, match="does not exist"):
        c.tell(first, first[:, :1], ids=[0, 1, 99])
    c.tell(first, first[:, :1])
    for _ in range(3):
        batch = c.ask()
        c.tell(batch, batch[:, :1])
    with pytest.raises(CampaignError, match="exhausted"):
        c.ask()


def test_create_errors(tmp_path):
    with pytest.raises(CampaignError, match="exactly one"):
        Campaign.create(tmp_path / "a")
    with pytest.raises(CampaignError, match="upper"):
        Campaign.create(tmp_path / "a", box=([0, 1], [1, 1]))
    with pytest.raises(ValueError, match="unknown"):
        Campaign.create(tmp_path / "a", box=([0], [1]), method="nope")
    with pytest.raises(CampaignError, match="oracle reference"):
        Campaign.create(tmp_path / "a", box=([0], [1]), method="mse")
    box_campaign(tmp_path / "b")
    with pytest.raises(CampaignError, match="already holds"):
        box_campaign(tmp_path / "b")
    with pytest.raises(CampaignError, match="no campaign"):
        Campaign.open(tmp_path / "nothing")


def test_folder_from_another_version_or_edited_by_hand(tmp_path):
    c = box_campaign(tmp_path / "c")
    simulate(c, f, 1)
    settings = store.read_json(c.folder / store.SETTINGS)
    store.save_json(c.folder / store.SETTINGS, {**settings, "format": 99})
    with pytest.raises(CampaignError, match="format 99"):
        Campaign.open(c.folder)
    store.save_json(c.folder / store.SETTINGS, settings)
    text = (c.folder / store.LABELLED).read_text().replace("id,batch", "id,lot")
    (c.folder / store.LABELLED).write_text(text)
    with pytest.raises(CampaignError, match="header"):
        Campaign.open(c.folder)


def _hold_lock(folder, ready, release):
    with store.locked(folder):
        ready.set()
        release.wait(30)


def test_a_second_process_gets_in_use(tmp_path):
    c = box_campaign(tmp_path / "c")
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(c.folder, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(CampaignInUseError, match="in use"):
            c.ask()
    finally:
        release.set()
        holder.join(30)
    assert c.ask().shape == (6, 2)


def test_cross_validation_tells_signal_from_noise(tmp_path):
    """The K-fold estimate in the log is lower when the labels are a function of
    the inputs than when the same labels are shuffled across rows."""
    rng = np.random.default_rng(0)
    x = rng.uniform([0.0, 10.0], [1.0, 20.0], size=(40, 2))
    y = f(x) * 3.0
    estimates = []
    for name, labels in (("signal", y), ("shuffled", rng.permutation(y))):
        c = box_campaign(tmp_path / name, cv_folds=4, train_steps=200, n_members=3)
        c.tell(x, labels, allow_extra=True)
        (entry,) = c.status()["log"]
        assert np.isfinite(entry["cv_mse"]) and entry["cv_mse"] > 0
        estimates.append(entry["cv_mse"])
    assert estimates[0] < 0.5 * estimates[1]


def test_labeller_run_gives_a_run_record(tmp_path):
    """A plain Python labeller through `labeller_run`: the compiled run's record
    shapes, and the example simulator agrees with the drag-free range formula."""
    import importlib.util
    from pathlib import Path

    from jdal.campaign.simulated import labeller_run

    path = Path(__file__).parents[1] / "examples" / "projectile.py"
    spec = importlib.util.spec_from_file_location("projectile", path)
    projectile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(projectile)
    v0, angle = 30.0, 35.0
    exact = v0**2 * np.sin(np.radians(2 * angle)) / projectile.GRAVITY
    assert projectile.flight_range(v0, angle, 0.0) == pytest.approx(exact, rel=1e-6)
    assert projectile.flight_range(v0, angle, 0.02) < exact  # drag shortens it

    cfg = config.sized("smoke", problem="projectile", method="gsx", gamma=2, steps=2,
                       train_steps=5, n_members=2, n_initial=6, k=3)  # fmt: skip
    test_x = np.random.default_rng(0).uniform(projectile.LOWER, projectile.UPPER,
                                              size=(16, 3))  # fmt: skip
    test_y = projectile.simulate_batch(test_x)
    box = (projectile.LOWER, projectile.UPPER)
    run = labeller_run(cfg, box, projectile.simulate_batch, 0, test_x, test_y)
    assert run.mse.shape == (3,) and np.all(np.isfinite(run.mse))
    assert run.picked_x.shape == (2, 3, 3) and np.all(np.abs(run.picked_x) <= 1)
    assert run.div_per_step.shape == (2,) and np.all(run.div_per_step > 0)
