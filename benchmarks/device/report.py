"""The suite's report as Markdown: a header, the parts' status, one table each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from device.common import fmt_s
from jdal.shell.text import markdown_table


def markdown(report: dict[str, Any], parts_in_order: Sequence) -> list[str]:
    """The report as Markdown: a header, the parts' status, one table per part."""
    kind = "dry run (smoke sizes: checks the code path, not the numbers)"
    title = report["device"] + (f", {kind}" if report["dry_run"] else "")
    versions = report["versions"]
    cache = report["compilation_cache"]["dir"] or "off"
    lines = [
        f"# Device suite: {title}",
        "",
        f"{report['date']}; jax {versions.get('jax')}, jaxlib {versions.get('jaxlib')}"
        f", jdal {versions.get('jdal')}; {report['n_devices']} device(s); lanes "
        f"{report['lanes']}; persistent compilation cache: {cache}; budget "
        f"{report['budget_s']:.0f} s, elapsed {report['elapsed_s']:.0f} s.",
        "",
    ]
    parts = report["parts"]
    names = [part.name for part in parts_in_order]
    render = {part.name: part.render for part in parts_in_order}
    rows = [
        [
            name,
            parts[name].get("status", "not run"),
            fmt_s(parts[name].get("box_s")),
            fmt_s(parts[name].get("seconds")),
            parts[name].get("note", ""),
        ]
        for name in names
        if name in parts
    ]
    lines += markdown_table(["part", "status", "box s", "used s", "note"], rows) + [""]
    for name in names:
        entry = parts.get(name)
        if not entry or entry.get("status") in ("pending", "skipped"):
            continue
        try:
            body = render[name](report, entry)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
            # The Markdown must never stop the suite; the JSON has everything.
            body = [f"(nothing to show yet: {type(error).__name__}: {error})"]
        lines += [f"## {name}", "", *body, ""]
    return lines
