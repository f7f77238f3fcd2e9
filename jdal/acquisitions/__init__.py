"""Acquisition functions: one registry of pure `(key, pool, state, k)` selectors.

Adding a method: write a file (or a few lines in a family file) defining an
`Acquisition`, and add it to `ACQUISITIONS` below. The run loop, the CLI, the sweep,
the tests and the plots pick it up from the registry with no other change.
"""

from __future__ import annotations

from jdal.acquisitions.bald import BALD
from jdal.acquisitions.base import (
    AcqState,
    Acquisition,
    Context,
    SelectFn,
    member_variance,
    minmax,
    top_k,
)
from jdal.acquisitions.committee import QBC, QBC_DIV, QBC_DIV_DEN
from jdal.acquisitions.emoc import EMOC
from jdal.acquisitions.greedy import GSX, GSXY, GSY
from jdal.acquisitions.learning_loss import LL
from jdal.acquisitions.random import RANDOM
from jdal.acquisitions.reference import MSE
from jdal.acquisitions.synthesis import NAQBC

ACQUISITIONS: dict[str, Acquisition] = {
    acquisition.name: acquisition
    for acquisition in (
        RANDOM,
        GSX,
        GSY,
        GSXY,
        QBC,
        QBC_DIV,
        QBC_DIV_DEN,
        BALD,
        EMOC,
        LL,
        NAQBC,
        MSE,
    )
}


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


__all__ = [
    "ACQUISITIONS",
    "AcqState",
    "Acquisition",
    "Context",
    "SelectFn",
    "get",
    "member_variance",
    "minmax",
    "names",
    "top_k",
]
