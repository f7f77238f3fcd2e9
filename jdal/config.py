"""One frozen config holding every protocol setting, plus size presets.

`paper()` is the protocol of docs/protocol.md exactly. The smaller presets change
sizes only (steps, gradient steps, members, widths, test points, and the methods'
own size options) so that a CPU can run them; their names say so. Problem-dependent
model settings default to `None`, meaning "the problem's value" (see
`jdal.problems.ModelSpec`).

Settings that belong to one acquisition method live with that method (its
`Acquisition.options`, e.g. `bald.passes`); `Config.options` overrides them by
"<method>.<option>" name. This module checks ranges only; which problem, method
and option names exist is the registries' business (`jdal.problems.get`,
`jdal.acquisitions.get`, `Acquisition.resolve_options`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

GAMMAS = (2, 4, 8, 16, 32, 64)
# Raised whenever a change of the code changes what a config computes (2: the
# fidelity pass: joint training, PyTorch initialisation, exact Div, ...). It is part
# of every config hash, so result cells of an older protocol read as stale.
PROTOCOL_VERSION = 2
# Raised for one method when a change of its code changes what its cells compute,
# so only that method's cells read as stale (2: the kernel batch methods follow
# bmdal-reg's ReLU variants: σ = 1e-3 in float64, a sketch per member, exact ll).
# Part of the method's config hashes; methods not listed hash as before.
METHOD_REVISIONS = {"lcmd": 2, "maxdist": 2, "kmeanspp": 2, "maxdet": 2, "bait": 2}
PRECISIONS = ("fp32", "tf32", "bf16")
OptionValue = int | float | str | bool
OptionPairs = tuple[tuple[str, OptionValue], ...]


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of one active-learning cell (problem, method, gamma).

    `gamma` is None for a method that ignores the pool ratio (random sampling,
    query synthesis): such a method runs once per problem, its pool (random's) has
    k points. `options` maps "<method>.<option>" to a value and is kept as sorted
    (name, value) pairs, so configs stay hashable; pass a dict or pairs.
    """

    problem: str = "robo"
    method: str = "random"
    gamma: int | None = 16  # pool ratio: pool size = k * gamma, fresh pool every step
    # Protocol (docs/protocol.md section 3).
    n_initial: int = 80
    k: int = 40
    steps: int = 50
    n_test: int = 4000
    # Ensemble training (section 2). None = the problem's value.
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
    # Method settings by "<method>.<option>"; defaults live with each method.
    options: Any = ()
    # A user problem's digest (`Problem.fingerprint`: its data or oracle values,
    # box and model), so cells of an edited problem under the same name are
    # recomputed; None for built-in problems, and then left out of the hash.
    problem_fingerprint: str | None = None
    # How a finite data set's sizes were derived when the preset's did not fit
    # (`jdal.loop.fit_to_rows`); None otherwise, and then left out of the hash.
    size_rule: str | None = None
    # An oracle problem's test points: None = uniform in the box (the study), or
    # the name of a finite problem of the same inputs whose rows are the test
    # points (labelled by the oracle); left out of the hash when None.
    test_inputs: str | None = None
    # Performance knobs: they never change the protocol.
    train_buckets: int = 6  # static labelled-set size buckets (1 = full buffer always)
    precision: str = "fp32"

    def __post_init__(self):
        object.__setattr__(self, "options", option_pairs(self.options))

    @property
    def pool_size(self) -> int:
        """Pool points per step, k gamma (k when the method ignores gamma)."""
        return self.k * (1 if self.gamma is None else self.gamma)

    @property
    def n_final(self) -> int:
        """Labelled-set size after the last acquisition, N0 + T k."""
        return self.n_initial + self.steps * self.k

    def option(self, name: str) -> OptionValue:
        """The value of option "<method>.<option>" `name`: the one in `options`,
        else the default the method declares (ValueError for an unknown one)."""
        if name in dict(self.options):
            return dict(self.options)[name]
        from jdal import acquisitions  # it imports this module

        method, _, option = name.partition(".")
        declared = acquisitions.get(method).options
        if option not in declared:
            raise ValueError(
                f"{name} is not an option of {method!r}; its options: "
                + ", ".join(f"{method}.{o}" for o in declared)
            )
        return declared[option].default

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def with_options(self, **options: OptionValue) -> Config:
        """A copy with options added or changed, e.g. `**{"bald.passes": 50}`."""
        return self.replace(options={**dict(self.options), **options})

    def to_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["options"] = dict(self.options)
        for field in ("problem_fingerprint", "size_rule", "test_inputs"):
            if record[field] is None:  # built-in problems: hashes stay as before
                del record[field]
        return record

    def hash(self) -> str:
        """Stable short hash of every field and the protocol version; results carry
        it to detect changes."""
        record = {**self.to_dict(), "protocol_version": PROTOCOL_VERSION}
        if self.method in METHOD_REVISIONS:
            record["method_revision"] = METHOD_REVISIONS[self.method]
        blob = json.dumps(record, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def validate(self) -> Config:
        """Raises ValueError naming the field and its allowed values; returns self."""

        def fail(field: str, allowed: str) -> None:
            value = getattr(self, field)
            raise ValueError(f"Config.{field}={value!r} is invalid: {allowed}")

        def is_int(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if self.gamma is not None and (not is_int(self.gamma) or self.gamma < 1):
            fail("gamma", "the pool ratio must be an integer >= 1 (or None for a "
                 "method that ignores it)")  # fmt: skip
        for field in ("n_initial", "k", "steps", "n_test", "train_steps"):
            if not is_int(getattr(self, field)) or getattr(self, field) < 1:
                fail(field, "must be an integer >= 1")
        for field in ("n_members", "max_width", "batch_size"):
            value = getattr(self, field)
            if value is not None and (not is_int(value) or value < 1):
                fail(field, "must be None (problem default) or an integer >= 1")
        if self.learning_rate is not None and not self.learning_rate > 0:
            fail("learning_rate", "must be None or > 0")
        if self.weight_decay is not None and not self.weight_decay >= 0:
            fail("weight_decay", "must be None or >= 0")
        if not 0 < self.plateau_factor < 1:
            fail("plateau_factor", "must lie in (0, 1)")
        if not is_int(self.plateau_patience) or self.plateau_patience < 0:
            fail("plateau_patience", "must be an integer >= 0")
        if not 0 < self.bn_momentum <= 1:
            fail("bn_momentum", "must lie in (0, 1]")
        for name, value in self.options:
            method, dot, option = str(name).partition(".")
            if not (dot and method and option) or not isinstance(value, OptionValue):
                fail("options", f"entry {name!r}: {value!r} must be "
                     "'<method>.<option>': a number, string or bool")  # fmt: skip
        if not is_int(self.train_buckets) or self.train_buckets < 1:
            fail("train_buckets", "must be an integer >= 1")
        if self.precision not in PRECISIONS:
            fail("precision", f"must be one of {', '.join(PRECISIONS)}")
        return self


# What each preset changes (sizes only); `paper` is the protocol as it is.
PRESET_SIZES: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": dict(
        steps=15,
        train_steps=200,
        n_members=5,
        max_width=64,
        n_test=1000,
        options={"naqbc.steps": 400},
    ),
    "smoke": dict(
        steps=3,
        train_steps=50,
        n_members=3,
        max_width=32,
        n_test=256,
        options={"naqbc.steps": 100, "bald.passes": 5},
    ),
}


def paper(**changes: Any) -> Config:
    """The protocol exactly: N0 80, k 40, T 50, 4000 test points, 500 steps."""
    return _known(sized("paper", **changes))


def quick(**changes: Any) -> Config:
    """CPU-sized: 15 steps, 200 gradient steps, 5 members, widths <= 64.

    NA-QBC's ascent steps scale with the gradient steps (1000 x 200 / 500 = 400).
    """
    return _known(sized("quick", **changes))


def smoke(**changes: Any) -> Config:
    """Seconds-sized, for tests and a first look: 3 steps, 50 gradient steps
    (NA-QBC: 1000 x 50 / 500 = 100 ascent steps)."""
    return _known(sized("smoke", **changes))


def option_pairs(options: Any) -> OptionPairs:
    """Options as sorted (name, value) pairs, from a mapping or pairs."""
    pairs = options.items() if isinstance(options, Mapping) else options
    return tuple(sorted(tuple(pair) for pair in pairs))


def sized(name: str, **changes: Any) -> Config:
    """The config of preset `name` with `changes` (which win; their options add to
    the preset's), its names not checked: for a problem bound apart, such as a
    campaign's (`loop.setup(cfg, problem)`), which no registry holds. `preset`
    and the preset functions check them."""
    _check_preset(name)
    base = dict(PRESET_SIZES[name])
    options = dict(option_pairs(base.pop("options", ())))
    options.update(option_pairs(changes.pop("options", ())))
    return Config(**{**base, **changes, "options": options})


def _known(cfg: Config) -> Config:
    """A preset's config whose problem and method the registries know: a misspelt
    name fails where the config is made, not later at `make_run` (ValueError
    listing the valid names). A bare `Config(...)` is not checked, so a problem may
    be registered after its config is written."""
    from jdal import acquisitions, problems  # both import this module

    problems.registry.check_known(cfg.problem)
    acquisitions.get(cfg.method)
    return cfg


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


def _check_preset(name: str) -> None:
    if name not in PRESET_SIZES:
        raise ValueError(
            f"unknown preset {name!r}; valid presets: {', '.join(PRESET_SIZES)}"
        )


def preset(name: str, **changes: Any) -> Config:
    """Returns the named preset with `changes` applied; lists presets on a miss."""
    return _known(sized(name, **changes))
