"""How methods, problems and pool ratios are named and ordered in tables and plots."""

from __future__ import annotations

from collections.abc import Iterable

from jdal import acquisitions
from jdal.acquisitions.bmdal import KERNEL_METHODS

NO_GAMMA = "no γ"


def _is_reference(method: str) -> bool:
    """True for registered oracle references (e.g. `mse`); unknown methods are not."""
    found = acquisitions.ACQUISITIONS.get(method)
    return found is not None and found.reference


def method_order(methods: Iterable[str]) -> list[str]:
    """Registry order (random first, references last); unknown names after, sorted."""
    methods = set(methods)
    registered = [m for m in acquisitions.names() if m in methods]
    ordered = [m for m in registered if not _is_reference(m)]
    ordered += sorted(methods - set(registered))
    ordered += [m for m in registered if _is_reference(m)]
    if "random" in ordered:
        ordered.remove("random")
        ordered.insert(0, "random")
    return ordered


def method_label(method: str, reference: bool | None = None) -> str:
    """Display name: `mse (reference)`, `random (baseline)`, `naqbc (ignores γ)`."""
    if reference is None:
        reference = _is_reference(method)
    if reference:
        return f"{method} (reference)"
    if method == "random":
        return "random (baseline)"
    found = acquisitions.ACQUISITIONS.get(method)
    if found is not None and not found.uses_pool:
        return f"{method} (ignores γ)"
    return method


def method_groups(methods: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Panels of a figure with many methods: (title, methods in `method_order`).

    The study's methods, then the kernel batch methods of bmdal-reg; random and the
    oracle references appear in every panel, as the yardsticks of each.
    """
    ordered = method_order(methods)
    shared = [m for m in ordered if m == "random" or _is_reference(m)]
    kernel = [m for m in ordered if m in KERNEL_METHODS]
    study = [m for m in ordered if m not in shared and m not in kernel]
    groups = [("the study's methods", study), ("kernel batch methods", kernel)]
    return [
        (title, method_order([*shared, *members]))
        for title, members in groups
        if members
    ]


def gamma_key(gamma: int | None) -> str:
    """Column name of a pool ratio: `γ=8`, or NO_GAMMA for methods that ignore it."""
    return NO_GAMMA if gamma is None else f"γ={gamma}"
