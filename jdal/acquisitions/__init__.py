"""Acquisition functions: one registry of pure `(key, pool, state, k)` selectors.

Adding a method: write one file in this folder that defines an `Acquisition` and
passes it to `register` (a score-ranking method is ~20 lines with `top_k_method`).
Importing `jdal.acquisitions` imports every module here, the built-in families
first, so the run loop, the CLI, the sweep, the tests and the plots pick the new
method up with no other change.
"""

from __future__ import annotations

import importlib
import pkgutil

from jdal.acquisitions.base import (
    ACQUISITIONS,
    AcqState,
    Acquisition,
    Context,
    Option,
    Pool,
    SelectFn,
    full_pool,
    member_variance,
    minmax,
    register,
    top_k,
    top_k_method,
)
from jdal.config import OptionPairs

# The built-in families, in the order the study lists their methods; any other
# module in this folder registers after them, in name order.
FAMILIES = (
    "random",
    "greedy",
    "committee",
    "bald",
    "emoc",
    "learning_loss",
    "synthesis",
    "reference",
)


def _import_families() -> None:
    found = {m.name for m in pkgutil.iter_modules(__path__)} - {"base"}
    for name in [f for f in FAMILIES if f in found] + sorted(found - set(FAMILIES)):
        importlib.import_module(f"{__name__}.{name}")


_import_families()


def names(include_references: bool = True) -> list[str]:
    """Registered method ids (references such as `mse` last, or left out)."""
    methods = [n for n, a in ACQUISITIONS.items() if not a.reference]
    references = [n for n, a in ACQUISITIONS.items() if a.reference]
    return methods + (references if include_references else [])


def get(name: str) -> Acquisition:
    """Returns the acquisition called `name`; raises ValueError listing valid ones."""
    if name not in ACQUISITIONS:
        raise ValueError(
            f"unknown method {name!r}; valid methods are: {', '.join(ACQUISITIONS)}"
        )
    return ACQUISITIONS[name]


def check_options(options: OptionPairs) -> None:
    """ValueError unless every "<method>.<option>" of `options` (`Config.options`)
    names a registered method and one of its options, with an allowed value."""
    for method in dict.fromkeys(name.partition(".")[0] for name, _ in options):
        get(method).resolve_options(options)


__all__ = [
    "ACQUISITIONS",
    "AcqState",
    "Acquisition",
    "Context",
    "Option",
    "Pool",
    "SelectFn",
    "check_options",
    "full_pool",
    "get",
    "member_variance",
    "minmax",
    "names",
    "register",
    "top_k",
    "top_k_method",
]
