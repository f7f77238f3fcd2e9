"""Numbers and tables as text: compact numbers, aligned and Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jdal import metrics


def fmt(value: float, digits: int = 3) -> str:
    """Compact number: fixed for moderate magnitudes, scientific otherwise."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if value != 0 and not 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str] | None]) -> str:
    """Plain-text table with aligned columns; a row of None draws a rule."""
    widths = [len(h) for h in headers]
    for row in rows:
        if row is not None:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    rule = "  ".join("-" * w for w in widths)
    body = [rule if row is None else line(row) for row in rows]
    return "\n".join([line(headers), rule, *body])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def comma_parts(text: str) -> list[str]:
    """The non-empty parts of a comma-separated list, stripped of spaces."""
    return [part.strip() for part in text.split(",") if part.strip()]


# Fewest seeds whose bootstrap interval is printed: resampling two seeds gives
# three possible means, not an interval worth reading.
MIN_SEEDS_FOR_INTERVAL = 3


def interval(score: metrics.Score) -> tuple[float, float] | None:
    """The cell's bootstrap interval of nAUC; None below MIN_SEEDS_FOR_INTERVAL."""
    if score.nauc_per_seed.size < MIN_SEEDS_FOR_INTERVAL:
        return None
    low, high = score.nauc_interval
    return low, high


def clearly_below_one(score: metrics.Score) -> bool:
    """Better than random beyond the seed-to-seed spread: interval below 1."""
    bounds = interval(score)
    return bounds is not None and bounds[1] < 1.0


def clearly_above_one(score: metrics.Score) -> bool:
    """Worse than random beyond the seed-to-seed spread: interval above 1."""
    bounds = interval(score)
    return bounds is not None and bounds[0] > 1.0


def nauc_text(score: metrics.Score) -> str:
    """nAUC with its bootstrap interval (none below MIN_SEEDS_FOR_INTERVAL seeds)."""
    bounds = interval(score)
    if bounds is None:
        return f"{score.nauc:.3f}"
    return f"{score.nauc:.3f} [{bounds[0]:.2f}, {bounds[1]:.2f}]"
