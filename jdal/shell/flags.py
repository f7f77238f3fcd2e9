"""Command-line flags -> a validated Config; the persistent compilation cache flag.

`--problem` / `--problems` take a registered name or your own problem
(`problem_spec.load`): a data file (`path/to/data.csv`, `data.csv:target=4,5`,
`data.npz`) or an import path (`package.module:attribute`,
`path/to/file.py:attribute`). It is loaded and registered while the flags are
parsed, so the rest of the shell sees one more registered name.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jdal import acquisitions, compile_cache, config, loop, parallel, problems, results
from jdal.problems import files

from . import problem_spec
from .text import comma_parts

# Not settable with --set: the cell coordinates have their own flags, and method
# options are set one by one, as <method>.<option>.
COORDINATES = results.COORDINATES
# Set by the commands themselves, never by hand: a user problem's digest and the
# size rule of a small data set.
INTERNAL = ("problem_fingerprint", "size_rule")
NOT_SETTABLE = (*COORDINATES, "options", *INTERNAL)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 1, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def name_list(kind: str, valid: Callable[[], Sequence[str]]) -> Callable[[str], list]:
    """argparse type: comma-separated names from `valid()`, duplicates dropped."""

    def parse(text: str) -> list[str]:
        names = comma_parts(text)
        if not names:
            raise argparse.ArgumentTypeError(f"expected a comma-separated {kind} list")
        allowed = list(valid())
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(allowed)}"
            )
        return list(dict.fromkeys(names))

    return parse


def problem_name(text: str) -> str:
    """argparse type: a registered problem, or one loaded and registered from a
    data file or an import path (`problem_spec.load`); returns its name."""
    text = text.strip()
    if text in problems.PROBLEMS:
        return text
    is_data = Path(text).suffix.lower() in files.DATA_SUFFIXES or Path(text).is_file()
    if ":" not in text and not is_data:
        raise argparse.ArgumentTypeError(
            f"unknown problem {text!r}; valid: {', '.join(problems.names())}; "
            f"measured data sets: {', '.join(problems.measured_names())}; "
            f"PDE problems: {', '.join(problems.pde_names())}; or "
            f"your own: a data file ({', '.join(files.DATA_SUFFIXES)}) or an import "
            "path package.module:attribute or path/to/file.py:attribute"
        )
    try:
        return problem_spec.load(text).name
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def problem_list(text: str) -> list[str]:
    """argparse type: comma-separated problems (`problem_name` each), duplicates
    dropped. A data file's `:target=4,5` keeps its commas: items after it that
    look like column indices or names (no ':' or '.', not a problem) join it."""
    items: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        joins = (
            items
            and ":target=" in items[-1]
            and not any(c in part for c in ":./")
            and part not in problems.PROBLEMS
        )
        if joins:
            items[-1] += f",{part}"
        else:
            items.append(part)
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated problem list")
    return list(dict.fromkeys(problem_name(item) for item in items))


def method_applies(problem: str, method: str) -> bool:
    """False for a method that synthesises points on a finite data set (it would
    need labels the data does not have)."""
    finite = problems.get(problem).data is not None
    return not (finite and acquisitions.get(method).returns_points)


def left_out_note(problem: str) -> str | None:
    """The line that says which registered methods do not apply to `problem`
    (`method_applies`), or None when all do."""
    left_out = [m for m in acquisitions.names() if not method_applies(problem, m)]
    if not left_out:
        return None
    return (
        f"left out on {problem}: {', '.join(left_out)} (they synthesise points, and "
        "a finite data set has labels only for its rows)"
    )


def int_list(text: str) -> list[int]:
    """argparse type: comma-separated integers >= 1, sorted, duplicates dropped."""
    return sorted({positive_int(part) for part in comma_parts(text)})


def parse_setting(text: str) -> tuple[str, Any]:
    """argparse type for --set: `field=value` (a Config field) or
    `method.option=value` (a method's option), the value typed accordingly."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    if "." in key:
        return key, _option_value(key, value)
    if key in COORDINATES:
        raise argparse.ArgumentTypeError(
            f"{key!r} is a cell coordinate; use its own flag (--{key}...)"
        )
    fields = {field.name: field for field in dataclasses.fields(config.Config)}
    if key not in fields or key in NOT_SETTABLE:
        settable = [name for name in fields if name not in NOT_SETTABLE]
        raise argparse.ArgumentTypeError(
            f"unknown config field {key!r}; valid fields: {', '.join(settable)}, "
            "or a method option as <method>.<option>"
        )
    annotation = str(fields[key].type)
    if value.lower() == "none" and "None" in annotation:
        return key, None
    kind = annotation.split("|")[0].strip()
    parse = {"int": int, "float": float}.get(kind, str)
    try:
        return key, parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{key} expects {annotation}, got {value!r}"
        ) from None


def _option_value(key: str, text: str) -> config.OptionValue:
    """The value of method option `key`, typed like the option's default."""
    method, _, name = key.partition(".")
    if method not in acquisitions.ACQUISITIONS:
        raise argparse.ArgumentTypeError(
            f"unknown method {method!r} in {key!r}; valid methods: "
            f"{', '.join(acquisitions.names())}"
        )
    options = acquisitions.get(method).options
    if name not in options:
        valid = ", ".join(f"{method}.{option}" for option in options) or "none"
        raise argparse.ArgumentTypeError(
            f"{key!r} is not an option of {method!r}; its options: {valid}"
        )
    kind = type(options[name].default)
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise argparse.ArgumentTypeError(
                f"{key} expects true or false, got {text!r}"
            )
        return text.lower() == "true"
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{key} expects {kind.__name__}, got {text!r}"
        ) from None


def add_config_flags(parser: argparse.ArgumentParser, default_out: str) -> None:
    """Adds --seeds --steps --preset --set --out --lanes --compilation-cache."""
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=5,
        help="number of seeds 0..S-1, run together in one compiled call "
        "(default 5; --lanes says how)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="AL steps T (default: the preset's)",
    )
    parser.add_argument(
        "--preset",
        choices=list(config.PRESETS),
        default="quick",
        help="config size preset; 'paper' is docs/protocol.md exactly, 'quick' is "
        "CPU-sized, 'smoke' takes seconds (default quick)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        metavar="KEY=VALUE",
        type=parse_setting,
        action="append",
        default=[],
        help="override a Config field, e.g. --set train_steps=100 ('none' for "
        "problem defaults), or a method option, e.g. --set bald.passes=50 "
        "(repeatable; every cell gets it, so cells stay comparable)",
    )
    parser.add_argument(
        "--out", default=default_out, help=f"results folder (default {default_out})"
    )
    parser.add_argument(
        "--lanes",
        choices=parallel.LANES,
        default="auto",
        help="how the runs of one call are batched: vmap (vectorised, fast on "
        "accelerators), map (one after another, each bit-for-bit its run alone, "
        "whatever else shares the call), auto (map on one CPU device, else vmap; "
        "default)",
    )
    compile_cache.add_flag(parser)  # --compilation-cache, as the benchmarks have it


def enable_compilation_cache(args: argparse.Namespace) -> None:
    """Turns on the persistent compilation cache of --compilation-cache; call it
    before anything compiles (JAX opens the cache at the first compile)."""
    compile_cache.enable(args.compilation_cache)


def make_config(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    problem: str,
    method: str,
    gamma: int | None,
) -> config.Config:
    """The validated config of one cell; gamma None for a method that ignores it.

    A bad config is a parser error naming the field or option (exit 2).
    """
    changes = {key: value for key, value in args.settings if "." not in key}
    options = {key: value for key, value in args.settings if "." in key}
    if args.steps is not None:
        changes["steps"] = args.steps
    try:
        if not acquisitions.get(method).uses_pool:
            gamma = None
        cfg = config.preset(
            args.preset,
            problem=problem,
            method=method,
            gamma=gamma,
            options=options,
            problem_fingerprint=problems.get(problem).fingerprint,
            **changes,
        ).validate()
        acquisitions.check_options(cfg.options)
        problem_spec = problems.get(cfg.problem)
        cfg = loop.fit_to_rows(problem_spec, cfg)
        loop.check_problem(problem_spec, cfg, acquisitions.get(method))
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    warn_capped_pool(problem_spec, cfg)
    return cfg


_WARNED: set[tuple[str, int | None, int]] = set()


def warn_capped_pool(problem: problems.Problem, cfg: config.Config) -> None:
    """One line on stderr (once per problem and γ) when a finite data set has
    fewer unused rows at step 0 than the pool k γ: that γ is then capped."""
    rows = loop.unused_rows_at_start(problem, cfg)
    key = (cfg.problem, cfg.gamma, cfg.k)
    if rows is None or cfg.gamma is None or cfg.pool_size <= rows or key in _WARNED:
        return
    _WARNED.add(key)
    print(
        f"warning: {cfg.problem}, γ={cfg.gamma}: the pool k γ = {cfg.pool_size} is "
        f"larger than the {rows} unused rows at step 0, so every pool is all unused "
        f"rows (effective γ {rows / cfg.k:.1f} at step 0); a larger γ repeats this "
        "experiment",
        file=sys.stderr,
    )
