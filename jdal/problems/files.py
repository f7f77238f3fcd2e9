"""Data files as problems: text tables (.csv .tsv .txt .dat .data) and .npz.

    file_problem("path/to/data.csv")              # the last column is the target
    file_problem("data.csv", target=["y1", "y2"]) # by header name or index

The one place of the core that reads user files; it never writes any. Columns
that are not targets are inputs. Bad files are refused with a ValueError naming
the file, row and column.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jdal.problems.base import Problem
from jdal.problems.user_data import data_problem
from jdal.problems.user_oracle import one_line

# Text tables (`read_table`) and arrays (`load_npz`).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".data")  # .data: UCI's
DATA_SUFFIXES = (*TABLE_SUFFIXES, ".npz")


def _delimiter(line: str) -> str | None:
    """',' ';' or tab when the line has one, else None: split on whitespace."""
    return next((sep for sep in (",", ";", "\t") if sep in line), None)


def is_number(text: str) -> bool:
    """True when `text` parses as a float (a header line has no such field)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(
    path: str | os.PathLike, target: int | str | Sequence[int | str] | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Reads a text table: (x f64[N, d], y f64[N, dy], input names, target names).

    Comma, semicolon or tab separated, else whitespace separated (.dat). The first
    line is a header when none of its fields is a number. `target` picks the
    target columns by 0-based index (negative counts from the end) or header name;
    default the last column. ValueError naming the file, line and column on a
    missing or non-numeric value, a short row or a non-finite value.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read the file ({one_line(error)})") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"{path}: the file has no rows")
    sep = _delimiter(lines[0][1])

    def fields(line: str) -> list[str]:
        if sep is None:
            return line.split()
        return [field.strip() for field in next(csv.reader([line], delimiter=sep))]

    first = fields(lines[0][1])
    header = not any(is_number(field) for field in first if field)
    names = first if header else [f"column {j}" for j in range(len(first))]
    rows = lines[1:] if header else lines
    width = len(names)
    values = np.empty((len(rows), width), np.float64)
    for i, (number, line) in enumerate(rows):
        row = fields(line)
        if len(row) != width:
            raise ValueError(
                f"{path}: line {number} has {len(row)} fields, expected {width} "
                "(a missing value?)"
            )
        for j, field in enumerate(row):
            if not field:
                raise ValueError(
                    f"{path}: line {number}, column {j + 1} ({names[j]!r}) is "
                    "empty (a missing value)"
                )
            try:
                values[i, j] = float(field)
            except ValueError:
                raise ValueError(
                    f"{path}: line {number}, column {j + 1} ({names[j]!r}) is not "
                    f"a number: {field!r}"
                ) from None
            if not math.isfinite(values[i, j]):
                raise ValueError(
                    f"{path}: line {number}, column {j + 1} ({names[j]!r}) is "
                    f"{field} (not finite); remove or fill that row"
                )
    if not rows:
        raise ValueError(f"{path}: the file has a header but no rows")
    targets = _target_columns(path, names, target)
    inputs = [j for j in range(width) if j not in targets]
    if not inputs:
        raise ValueError(f"{path}: every column is a target; need at least one input")
    return (
        values[:, inputs],
        values[:, targets],
        tuple(names[j] for j in inputs),
        tuple(names[j] for j in targets),
    )


def _target_columns(path: Path, names: Sequence[str], target) -> list[int]:
    """0-based target column indices from `target` (see `read_table`)."""
    if target is None:
        target = [-1]
    elif isinstance(target, int | str):
        target = [target]
    columns = []
    for item in target:
        if isinstance(item, str) and item in names:
            columns.append(list(names).index(item))
            continue
        try:
            index = int(item)
        except (TypeError, ValueError):
            raise ValueError(
                f"{path}: target column {item!r} is neither a column index nor a "
                f"header name; columns: {', '.join(map(repr, names))}"
            ) from None
        if not -len(names) <= index < len(names):
            raise ValueError(
                f"{path}: target column {index} is out of range; the file has "
                f"{len(names)} columns (0-based indices, negative from the end)"
            )
        columns.append(index % len(names))
    return list(dict.fromkeys(columns))


def load_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) arrays of an .npz with keys `x` [N, d] and `y` [N, dy] (or [N])."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in ("x", "y") if key not in npz.files]
            if missing:
                raise ValueError(
                    f"{path}: missing array {', '.join(map(repr, missing))}; an .npz "
                    f"problem needs arrays 'x' [N, d] and 'y' [N, dy], found "
                    f"{', '.join(map(repr, npz.files)) or 'none'}"
                )
            return npz["x"], npz["y"]
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: cannot read the .npz ({one_line(error)})") from None


def _identifier(text: str) -> str:
    """`text` as a problem id: characters other than letters, digits, '_', '.' and
    '-' replaced by '_', no leading '.', '_' or '-'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip("._-")


def problem_name_of(path: str | os.PathLike) -> str:
    """A problem id from a file name: its stem, other characters replaced by '_'."""
    return _identifier(Path(path).stem) or "data"


def file_problem(
    path: str | os.PathLike,
    target: int | str | Sequence[int | str] | None = None,
    *,
    name: str | None = None,
    register: bool = True,
    **options,
) -> Problem:
    """A finite-data problem read from a .npz (`load_npz`) or a text table
    (`read_table`; `target` picks its target columns, every other column is an
    input). Named after the file's stem, plus the target columns' names when
    `target` is given (`t.csv` with target y1 is `t_y1`, so two targets of one file
    are two problems), unless `name` is given; `options` go to `data_problem`
    (model, test_fraction, description)."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if target is not None:
            raise ValueError(f"{path}: an .npz has its targets in 'y'; drop target")
        x, y = load_npz(path)
        x_names = y_names = None
    elif path.suffix.lower() in TABLE_SUFFIXES:
        x, y, x_names, y_names = read_table(path, target)
    else:
        raise ValueError(
            f"{path}: unknown data file type {path.suffix!r}; use "
            f"{', '.join(DATA_SUFFIXES)}"
        )
    if name is None:
        name = problem_name_of(path)
        if target is not None:
            name = _identifier(f"{name}_{'_'.join(y_names)}")
    return data_problem(
        name,
        x,
        y,
        x_names=x_names,
        y_names=y_names,
        source=str(path),
        register=register,
        **options,
    )
