"""Config validation and presets."""

import dataclasses

import pytest

from jdal import acquisitions, config, problems
from jdal.loop import setup, size_buckets

# The only fields and options a smaller preset may change: sizes, never the protocol.
SIZE_FIELDS = {"steps", "train_steps", "n_members", "max_width", "n_test", "options"}
SIZE_OPTIONS = {"naqbc.steps", "bald.passes"}


def test_paper_is_the_spec():
    cfg = config.paper()
    assert (cfg.n_initial, cfg.k, cfg.steps, cfg.n_test, cfg.train_steps) == (
        80,
        40,
        50,
        4000,
        500,
    )
    assert (cfg.plateau_factor, cfg.plateau_patience, cfg.plateau_threshold) == (
        0.8,
        10,
        1e-4,
    )
    assert cfg.n_final == 2080
    assert cfg.precision == "fp32"


@pytest.mark.parametrize("name", ["quick", "smoke"])
def test_small_presets_only_shrink_sizes(name):
    small, paper = config.preset(name), config.paper()
    changed = {
        f.name
        for f in dataclasses.fields(paper)
        if getattr(small, f.name) != getattr(paper, f.name)
    }
    assert changed <= SIZE_FIELDS
    assert {name for name, _ in small.options} <= SIZE_OPTIONS
    small.validate()
    acquisitions.check_options(small.options)


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(gamma=0), "gamma"),
        (dict(n_initial=0), "n_initial"),
        (dict(steps=0), "steps"),
        (dict(gamma=None), None),  # a method that ignores γ
        (dict(options={"bald": 3}), "options"),
        (dict(options={"bald.passes": [1]}), "options"),
        (dict(precision="fp8"), "precision"),
        (dict(train_buckets=0), "train_buckets"),
    ],
)
def test_validate_names_the_field(changes, field):
    cfg = config.paper(**changes)
    if field is None:
        cfg.validate()
        return
    with pytest.raises(ValueError, match=rf"Config\.{field}=.*invalid"):
        cfg.validate()


def test_k_larger_than_pool_is_rejected():
    # gamma >= 1 always gives a pool of at least k; a float gamma is refused.
    with pytest.raises(ValueError, match="gamma"):
        config.paper(gamma=0.5).validate()


def test_names_are_the_registries_business():
    """Config checks ranges only; the registries name what exists."""
    config.Config(problem="nope", method="nope").validate()
    with pytest.raises(ValueError, match="sine, robo"):
        problems.get("nope")
    with pytest.raises(ValueError, match="random, gsx"):
        setup(config.Config(method="nope"))


@pytest.mark.parametrize("name", ["paper", "quick", "smoke"])
def test_presets_refuse_unknown_problems_and_methods_at_once(name):
    """A misspelt name fails where the preset is made, listing the valid ones."""
    with pytest.raises(ValueError, match="unknown problem 'nosuch'; valid.*sine"):
        config.preset(name, problem="nosuch")
    with pytest.raises(ValueError, match="unknown method 'qbcc'; valid.*random"):
        config.preset(name, method="qbcc")
    assert config.preset(name, problem="yacht", method="bait").problem == "yacht"


@pytest.mark.parametrize(
    "options, match",
    [
        ({"bald.nope": 1}, "bald.nope is not an option of 'bald'; its options: "
         "bald.passes, bald.dropout"),
        ({"nope.passes": 1}, "unknown method 'nope'"),
        ({"bald.passes": 0}, r"bald.passes=0 is invalid: must be an integer >= 1"),
        ({"bald.dropout": 1.0}, r"bald.dropout=1.0 is invalid: must be a number in "
         r"\[0.0, 1.0\)"),
        ({"naqbc.steps": 2.5}, "naqbc.steps=2.5 is invalid"),
    ],
)  # fmt: skip
def test_method_options_are_checked_by_name_and_value(options, match):
    with pytest.raises(ValueError, match=match):
        acquisitions.check_options(config.smoke(options=options).options)


def test_options_are_sorted_pairs_and_part_of_the_hash():
    cfg = config.smoke(options={"naqbc.steps": 5, "bald.passes": 7})
    assert cfg.options == (("bald.passes", 7), ("naqbc.steps", 5))
    # Set, else the method's declared default.
    assert cfg.option("bald.passes") == 7
    assert cfg.option("ll.margin") == acquisitions.get("ll").options["margin"].default
    with pytest.raises(ValueError, match="bald.nope is not an option of 'bald'"):
        cfg.option("bald.nope")
    assert cfg.hash() != cfg.with_options(**{"bald.passes": 8}).hash()
    assert cfg.to_dict()["options"] == {"bald.passes": 7, "naqbc.steps": 5}
    assert hash(cfg) == hash(config.smoke(options={"bald.passes": 7, "naqbc.steps": 5}))


def test_a_pool_method_needs_a_pool_ratio():
    with pytest.raises(ValueError, match="gamma=None is invalid for method 'gsx'"):
        setup(config.smoke(method="gsx", gamma=None))


def test_unknown_preset():
    with pytest.raises(ValueError, match="paper, quick, smoke"):
        config.preset("huge")


def test_hash_changes_with_any_field():
    cfg = config.paper()
    assert cfg.hash() == config.paper().hash()
    assert cfg.hash() != cfg.replace(train_steps=499).hash()


@pytest.mark.parametrize("buckets", [1, 2, 6, 60])
def test_size_buckets_cover_every_step(buckets):
    """Steps 0..T (step T trains the final model) in order; last capacity N0 + T k."""
    cfg = config.paper(train_buckets=buckets)
    sized = size_buckets(cfg)
    assert len(sized) <= buckets
    step = 0
    for bucket in sized:
        assert bucket.first_step == step
        last_n = cfg.n_initial + (step + bucket.n_steps - 1) * cfg.k
        assert bucket.capacity == last_n  # no padding beyond the bucket's last size
        step += bucket.n_steps
    assert step == cfg.steps + 1
    assert sized[-1].capacity == cfg.n_final


def test_hash_changes_with_the_protocol_version(monkeypatch):
    """Cells computed by an older protocol (same fields) must read as stale."""
    cfg = config.quick()
    before = cfg.hash()
    monkeypatch.setattr(config, "PROTOCOL_VERSION", config.PROTOCOL_VERSION + 1)
    assert cfg.hash() != before
