"""One frozen config holding every protocol setting, plus size presets.

`paper()` is BENCHMARK.md exactly. The smaller presets change sizes only (steps,
gradient steps, members, widths, test points) so that a CPU can run them; their names
say so. Problem-dependent model settings default to `None`, meaning "the spec table's
value for this problem" (see `jdal.problems.ModelSpec`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

GAMMAS = (2, 4, 8, 16, 32, 64)
# Raised whenever a change of the code changes what a config computes (2: the
# fidelity pass: joint training, PyTorch initialisation, exact Div, ...). It is part
# of every config hash, so result cells of an older protocol read as stale.
PROTOCOL_VERSION = 2
PRECISIONS = ("fp32", "tf32", "bf16")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of one active-learning cell (problem, method, gamma)."""

    problem: str = "robo"
    method: str = "random"
    gamma: int = 16  # pool ratio: pool size = k * gamma, fresh pool every step
    # Protocol (BENCHMARK.md section 3).
    n_initial: int = 80
    k: int = 40
    steps: int = 50
    n_test: int = 4000
    # Ensemble training (section 2). None = the problem's spec value.
    train_steps: int = 500
    n_members: int | None = None
    max_width: int | None = None  # caps every hidden width (smaller presets only)
    learning_rate: float | None = None
    weight_decay: float | None = None
    batch_size: int | None = None
    plateau_factor: float = 0.8
    plateau_patience: int = 10
    plateau_threshold: float = 1e-4
    bn_momentum: float = 0.1
    # Acquisition settings the spec fixes, and choices it leaves open.
    bald_passes: int = 25
    bald_dropout: float = 0.5
    ll_margin: float = 1.0
    ll_weight: float = 1.0
    ll_detach_fraction: float = 0.4  # last 40 % of gradient steps: no grad to backbone
    density_neighbours: int = 10
    naqbc_steps: int = 1000
    naqbc_lr: float = 0.005
    naqbc_box_penalty: float = 1.0  # weight of the linear penalty sum relu(|x| - 1)
    # Performance knobs: they never change the protocol.
    train_buckets: int = 6  # static labelled-set size buckets (1 = full buffer always)
    precision: str = "fp32"

    @property
    def pool_size(self) -> int:
        return self.k * self.gamma

    @property
    def n_final(self) -> int:
        """Labelled-set size after the last acquisition, N0 + T k."""
        return self.n_initial + self.steps * self.k

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Stable short hash of every field and the protocol version; results carry
        it to detect changes."""
        record = {**self.to_dict(), "protocol_version": PROTOCOL_VERSION}
        blob = json.dumps(record, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def validate(self) -> Config:
        """Raises ValueError naming the field and its allowed values; returns self."""
        from jdal import acquisitions, problems

        def fail(field: str, allowed: str) -> None:
            value = getattr(self, field)
            raise ValueError(f"Config.{field}={value!r} is invalid: {allowed}")

        if self.problem not in problems.PROBLEMS:
            fail("problem", f"must be one of {', '.join(problems.PROBLEMS)}")
        if self.method not in acquisitions.ACQUISITIONS:
            fail("method", f"must be one of {', '.join(acquisitions.ACQUISITIONS)}")
        if not isinstance(self.gamma, int) or self.gamma < 1:
            fail("gamma", "the pool ratio must be an integer >= 1")
        for field in ("n_initial", "k", "steps", "n_test", "train_steps"):
            if not isinstance(getattr(self, field), int) or getattr(self, field) < 1:
                fail(field, "must be an integer >= 1")
        if self.k > self.pool_size:
            fail("k", f"must be <= the pool size k * gamma = {self.pool_size}")
        for field in ("n_members", "max_width", "batch_size"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value < 1):
                fail(field, "must be None (problem default) or an integer >= 1")
        if self.learning_rate is not None and not self.learning_rate > 0:
            fail("learning_rate", "must be None or > 0")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            fail("weight_decay", "must be None or >= 0")
        if not 0 < self.plateau_factor < 1:
            fail("plateau_factor", "must lie in (0, 1)")
        if self.plateau_patience < 0:
            fail("plateau_patience", "must be >= 0")
        if not 0 <= self.bald_dropout < 1:
            fail("bald_dropout", "must lie in [0, 1)")
        if not 0 <= self.ll_detach_fraction <= 1:
            fail("ll_detach_fraction", "must lie in [0, 1]")
        if self.bald_passes < 1 or self.naqbc_steps < 0:
            fail("bald_passes", "bald_passes >= 1 and naqbc_steps >= 0")
        if self.density_neighbours < 1 or self.density_neighbours >= self.pool_size:
            fail("density_neighbours", f"must lie in [1, pool size {self.pool_size})")
        if not isinstance(self.train_buckets, int) or self.train_buckets < 1:
            fail("train_buckets", "must be an integer >= 1")
        if self.precision not in PRECISIONS:
            fail("precision", f"must be one of {', '.join(PRECISIONS)}")
        return self


def paper(**changes: Any) -> Config:
    """BENCHMARK.md exactly: N0 80, k 40, T 50, 4000 test points, 500 steps."""
    return Config(**changes)


def quick(**changes: Any) -> Config:
    """CPU-sized: 15 steps, 200 gradient steps, 5 members, widths <= 64.

    NA-QBC's ascent steps scale with the gradient steps (1000 x 200 / 500 = 400).
    """
    base = dict(
        steps=15,
        train_steps=200,
        n_members=5,
        max_width=64,
        n_test=1000,
        naqbc_steps=400,
    )
    return Config(**{**base, **changes})


def smoke(**changes: Any) -> Config:
    """Seconds-sized, for tests and a first look: 3 steps, 50 gradient steps
    (NA-QBC: 1000 x 50 / 500 = 100 ascent steps)."""
    base = dict(
        steps=3,
        train_steps=50,
        n_members=3,
        max_width=32,
        n_test=256,
        naqbc_steps=100,
        bald_passes=5,
    )
    return Config(**{**base, **changes})


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


def preset(name: str, **changes: Any) -> Config:
    """Returns the named preset with `changes` applied; lists presets on a miss."""
    if name not in PRESETS:
        raise ValueError(
            f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}"
        )
    return PRESETS[name](**changes)
