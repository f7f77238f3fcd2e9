"""Config validation and presets."""

import dataclasses

import pytest

from jdal import config
from jdal.loop import size_segments

# The only fields a smaller preset may change: sizes, never the protocol.
SIZE_FIELDS = {
    "steps",
    "train_steps",
    "n_members",
    "max_width",
    "n_test",
    "naqbc_steps",
    "bald_passes",
}


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
    small.validate()


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(gamma=0), "gamma"),
        (dict(n_initial=0), "n_initial"),
        (dict(steps=0), "steps"),
        (dict(problem="nope"), "problem"),
        (dict(method="nope"), "method"),
        (dict(gamma=1, k=40, density_neighbours=5), None),
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


def test_unknown_problem_lists_valid_ones():
    with pytest.raises(ValueError, match="sine, robo"):
        config.paper(problem="nope").validate()


def test_unknown_preset():
    with pytest.raises(ValueError, match="paper, quick, smoke"):
        config.preset("huge")


def test_hash_changes_with_any_field():
    cfg = config.paper()
    assert cfg.hash() == config.paper().hash()
    assert cfg.hash() != cfg.replace(train_steps=499).hash()


@pytest.mark.parametrize("buckets", [1, 2, 6, 60])
def test_size_segments_cover_every_step(buckets):
    """Steps 0..T (step T trains the final model) in order; last capacity N0 + T k."""
    cfg = config.paper(train_buckets=buckets)
    segments = size_segments(cfg)
    assert len(segments) <= buckets
    step = 0
    for segment in segments:
        assert segment.first_step == step
        last_n = cfg.n_initial + (step + segment.n_steps - 1) * cfg.k
        assert segment.capacity == last_n  # no padding beyond the segment's last size
        step += segment.n_steps
    assert step == cfg.steps + 1
    assert segments[-1].capacity == cfg.n_final


def test_hash_changes_with_the_protocol_version(monkeypatch):
    """Cells computed by an older protocol (same fields) must read as stale."""
    cfg = config.quick()
    before = cfg.hash()
    monkeypatch.setattr(config, "PROTOCOL_VERSION", config.PROTOCOL_VERSION + 1)
    assert cfg.hash() != before
