"""Your own problem: a user oracle or a finite data set, registered like a built-in.

Two forms, each one call that builds a `Problem` and registers it under its name
(`jdal.problems.get(name)` then returns it, and configs may name it):

    oracle_problem("borehole", f, lower, upper)   # f: f32[d] -> f32[dy], a box
    data_problem("table", x, y)                   # rows f32[N, d], f32[N, dy]
    file_problem("path/to/data.csv")              # .csv/.dat/.txt/.tsv or .npz
    load("package.module:attribute")              # what the CLI's --problem takes

An oracle gets points in the user's units: jdal works in [-1, 1]^d and maps x to
`lower + (x + 1) (upper - lower) / 2`. It is checked once, before any training
(traced with `jax.eval_shape`, then run on 64 points of the box), and a function
that cannot be traced, has the wrong output shape or returns a non-finite value is
refused with a one-line ValueError naming the problem (`output_size`,
`check_finite`).

A finite data set keeps its labels hidden until the run queries them (see
`jdal.loop`): every column is min-max scaled to [-1, 1] over the whole data set,
inputs and targets, as the built-in UCI problems foil and hydr are (so test MSE is
in scaled target units). Bad data is refused with a ValueError naming the file,
row and column. Its `oracle` is only for the `mse` reference, which peeks at the
labels of pool points: the target of the nearest row (averaged over rows with the
same inputs), exact at every data row.

The model, unless given, follows one rule from d and dy (`default_model`).

This module is the one place of the core that reads user files (`file_problem`,
`load`); it never writes any.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jdal.problems.base import FiniteData, ModelSpec, Problem

# Problem names become result folders and comma-separated CLI lists.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Text tables (`read_table`) and arrays (`load_npz`).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".data")  # .data: UCI's
DATA_SUFFIXES = (*TABLE_SUFFIXES, ".npz")
# Points of the box an oracle is tried on before it is accepted.
N_PROBES = 64
# The default model (`default_model`).
WIDTH_PER_DIMENSION = 50
MIN_WIDTH, MAX_WIDTH = 100, 500
FULL_BATCH_ROWS = 2000


def default_model(dim_x: int, dim_y: int) -> ModelSpec:
    """The model of a user problem unless one is given, in the spirit of the
    built-in ones of similar size (robo, bess, damp, foil, hydr):

    - 4 hidden layers of width 50 (d + dy), clipped to [100, 500];
    - 10 members, Adam learning rate 1e-3, weight decay 1e-4;
    - full batch up to 2000 labelled rows, minibatches of 2000 beyond.

    E.g. d 5, dy 1 (airfoil): 4 x 300; d 8, dy 1 (borehole): 4 x 450.
    """
    width = min(MAX_WIDTH, max(MIN_WIDTH, WIDTH_PER_DIMENSION * (dim_x + dim_y)))
    return ModelSpec(
        hidden=(width,) * 4,
        n_members=10,
        learning_rate=1e-3,
        weight_decay=1e-4,
        batch_size=FULL_BATCH_ROWS,
    )


def check_name(name: str) -> str:
    """`name` if it can be a problem id (a result folder, an item of a comma list):
    letters, digits, '_', '.', '-', not starting with '.', '_' or '-'."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"problem name {name!r} is invalid: use letters, digits, '_', '.' and "
            "'-', starting with a letter or digit"
        )
    return name


def _register(problem: Problem, register: bool) -> Problem:
    if register:
        from jdal import problems  # the registry module imports this one

        problems.register(problem)
    return problem


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


# ---------------------------------------------------------------------------
# A user oracle.


def _bounds(name: str, lower, upper) -> tuple[np.ndarray, np.ndarray]:
    """The input box as f64[d] arrays; ValueError naming the problem and the bound."""
    try:
        lower = np.asarray(lower, np.float64).reshape(-1)
        upper = np.asarray(upper, np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"problem {name!r}: lower and upper must be numbers, one per input "
            f"({_one_line(error)})"
        ) from None
    if lower.shape != upper.shape or lower.size == 0:
        raise ValueError(
            f"problem {name!r}: lower has {lower.size} bounds and upper "
            f"{upper.size}; give one lower and one upper bound per input dimension"
        )
    for j in range(lower.size):
        if not (
            np.isfinite(lower[j]) and np.isfinite(upper[j]) and lower[j] < upper[j]
        ):
            raise ValueError(
                f"problem {name!r}: input {j} has bounds [{lower[j]}, {upper[j]}]; "
                "need finite lower < upper"
            )
    return lower, upper


def output_size(name: str, oracle: Callable, dim_x: int) -> int:
    """dy of `oracle` from its traced output shape (a scalar is dy = 1)."""
    spec = jax.ShapeDtypeStruct((dim_x,), jnp.float32)
    try:
        out = jax.eval_shape(oracle, spec)
    except Exception as error:  # anything the user's function raises under tracing
        raise ValueError(
            f"problem {name!r}: the oracle cannot be traced by jax.jit "
            f"(use jax.numpy, no Python control flow on values): {_one_line(error)}"
        ) from None
    if not isinstance(out, jax.ShapeDtypeStruct) or out.ndim > 1 or out.size < 1:
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"problem {name!r}: the oracle must return one vector f32[dy] (or a "
            f"scalar) for an input f32[{dim_x}], got shape {shape}"
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(
            f"problem {name!r}: the oracle must return floats, got {out.dtype}"
        )
    return max(1, out.size)


def fingerprint(*parts) -> str:
    """A short sha256 digest of arrays (their dtype, shape and bytes) and of the
    repr of anything else: what defines a user problem, for `Problem.fingerprint`."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray | jax.Array):
            array = np.ascontiguousarray(np.asarray(part))
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


def check_finite(name: str, oracle: Callable, dim_x: int, box=None) -> np.ndarray:
    """Runs `oracle` under `jit(vmap)` on the box's centre, two opposite corners
    and 61 uniform points (fixed seed); ValueError naming the first point (mapped
    by `box` to the user's units) where an output is not finite. Returns the
    values f32[64, dy] (they fingerprint the oracle)."""
    uniform = jax.random.uniform(
        jax.random.key(0), (N_PROBES - 3, dim_x), jnp.float32, -1.0, 1.0
    )
    ones = jnp.ones((1, dim_x), jnp.float32)
    probes = jnp.concatenate([0 * ones, -ones, ones, uniform])
    try:
        values = np.asarray(jax.jit(jax.vmap(oracle))(probes)).reshape(N_PROBES, -1)
    except Exception as error:
        raise ValueError(
            f"problem {name!r}: the oracle failed under jax.jit(jax.vmap(...)): "
            f"{_one_line(error)}"
        ) from None
    bad = np.flatnonzero(~np.all(np.isfinite(values), axis=1))
    if bad.size:
        point = np.asarray(probes[bad[0]])
        where = np.asarray(box(point)) if box is not None else point
        raise ValueError(
            f"problem {name!r}: the oracle returned {values[bad[0]].tolist()} "
            f"(not finite) at x = {np.round(where, 6).tolist()}"
        )
    return values


def oracle_problem(
    name: str,
    oracle: Callable[[jax.Array], jax.Array],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    model: ModelSpec | None = None,
    y_bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    description: str = "",
    register: bool = True,
) -> Problem:
    """A problem from a jittable function of one point in the user's units.

    Args:
      name: registry id (letters, digits, '_', '.', '-'); not a built-in name.
      oracle: `f(u f32[d]) -> f32[dy]` (or a scalar: dy = 1), u in the box.
      lower, upper: the box, one bound per input dimension, lower < upper.
      model: the ensemble settings; default `default_model(d, dy)`.
      y_bounds: optional (low, high) per output (or scalars): outputs are mapped
        affinely so that [low, high] becomes [-1, 1], as the data problems'
        targets are; test MSE is then in those units. Default: raw outputs.
      description: one line for tables; default names the function and box.
      register: add it to the registry (`jdal.problems.get(name)`).

    Returns:
      The `Problem` (oracle on [-1, 1]^d). ValueError in one line naming the
      problem when the function or its box is not usable (`output_size`,
      `check_finite`).
    """
    check_name(name)
    lower, upper = _bounds(name, lower, upper)
    dim_x = lower.size
    low = np.asarray(lower, np.float32)
    half_span = np.asarray((upper - lower) / 2, np.float32)

    def to_box(x: jax.Array) -> jax.Array:
        """[-1, 1]^d -> the box, f32[d]."""
        return low + (x + 1.0) * half_span

    dim_y = output_size(name, lambda x: oracle(to_box(x)), dim_x)
    if y_bounds is not None:
        try:
            y_low, y_high = (
                np.broadcast_to(np.asarray(b, np.float32).reshape(-1), (dim_y,))
                for b in y_bounds
            )
        except (TypeError, ValueError):
            y_low = y_high = None
        if y_low is None or not np.all(y_low < y_high):
            raise ValueError(
                f"problem {name!r}: y_bounds must be (low, high), one number or one "
                f"per output ({dim_y}), with low < high"
            )
        y_scale = 2.0 / (y_high - y_low)

    def wrapped(x: jax.Array) -> jax.Array:
        y = jnp.reshape(oracle(to_box(x)), (dim_y,)).astype(jnp.float32)
        if y_bounds is None:  # the raw outputs
            return y
        return (y - y_low) * y_scale - 1.0

    probe_values = check_finite(name, wrapped, dim_x, box=to_box)
    model = model or default_model(dim_x, dim_y)
    function = getattr(oracle, "__name__", "oracle")
    box = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(lower, upper, strict=True))
    wrapped.__doc__ = f"{function} on the box {box}: f32[{dim_x}] in [-1, 1]^d."
    return _register(
        Problem(
            name=name,
            dim_x=dim_x,
            dim_y=dim_y,
            oracle=wrapped,
            model=model,
            description=description
            or f"user oracle {function} ({dim_x} -> {dim_y}) on {box}",
            fingerprint=fingerprint(probe_values, lower, upper, y_bounds, model),
        ),
        register,
    )


# ---------------------------------------------------------------------------
# A finite data set.


def nearest_row_oracle(x_rows: jax.Array, y_rows: jax.Array) -> Callable:
    """`oracle(x f32[d]) -> f32[dy]`: the target of the row nearest to x, averaged
    over the rows with the same inputs (exact at every row). Only the `mse`
    reference queries it, at pool points, which are rows."""

    def oracle(x: jax.Array) -> jax.Array:
        distance = jnp.sum(jnp.square(x_rows - x[None, :]), axis=1)
        weight = (distance <= jnp.min(distance)).astype(jnp.float32)
        return jnp.sum(y_rows * weight[:, None], axis=0) / jnp.sum(weight)

    return oracle


def _min_max(values: np.ndarray, names: Sequence[str], where: str, kind: str):
    """(scaled f32[N, c], min f64[c], max f64[c]); ValueError on a constant column."""
    low, high = values.min(axis=0), values.max(axis=0)
    for j in np.flatnonzero(~(high > low)):
        raise ValueError(
            f"{where}: {kind} column {names[j]!r} is constant ({low[j]:g} in every "
            "row); drop it (it cannot be scaled to [-1, 1] and tells nothing)"
        )
    scaled = 2.0 * (values - low) / (high - low) - 1.0
    return scaled.astype(np.float32), low, high


def _as_rows(values, key: str, where: str) -> np.ndarray:
    """f64[N, c] from an array of rows (1-D means one column); ValueError naming the
    first non-numeric or non-finite entry by row and column (0-based)."""
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{where}: {key} has shape {array.shape}; expected rows [N, columns]"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        try:
            return _as_rows(array.astype(np.float64), key, where)
        except (TypeError, ValueError):
            for (i, j), value in np.ndenumerate(array):
                try:
                    float(value)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{where}: {key} row {i}, column {j} is not a number: {value!r}"
                    ) from None
            raise
    array = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        i, j = bad[0]
        raise ValueError(
            f"{where}: {key} row {i}, column {j} is {array[i, j]} (not finite); "
            "remove or fill that row"
        )
    return array


# Fewest rows of a finite data set: test rows, initial rows and pools for a few steps.
MIN_ROWS = 10


def input_groups(x: np.ndarray) -> np.ndarray | None:
    """int32[N]: each row's group of identical inputs x [N, d] (the index of the
    group's first row), or None when every row is distinct."""
    _, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    if len(first) == len(x):
        return None
    return first[inverse.reshape(-1)].astype(np.int32)


def data_problem(
    name: str,
    x,
    y,
    *,
    model: ModelSpec | None = None,
    test_fraction: float = 0.2,
    x_names: Sequence[str] | None = None,
    y_names: Sequence[str] | None = None,
    source: str = "arrays",
    description: str = "",
    register: bool = True,
) -> Problem:
    """A problem from a finite data set: rows x [N, d], targets y [N, dy] (1-D
    arrays are one column), labels hidden until the run queries them.

    Every column is min-max scaled to [-1, 1] over all N rows (the inputs as the
    run's points, the targets as the UCI problems foil and hydr are). The run holds
    out `test_fraction` of the rows per seed for testing (or `Config.n_test` rows
    if fewer) and labels each row at most once (`jdal.loop`).

    ValueError naming `source`, row and column on a non-numeric, missing or
    non-finite value, unequal row counts, or a constant column.
    """
    check_name(name)
    where = f"problem {name!r} ({source})"
    x = _as_rows(x, "x", where)
    y = _as_rows(y, "y", where)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{where}: x has {x.shape[0]} rows and y {y.shape[0]}; need one target "
            "row per input row"
        )
    if not 0 < test_fraction < 1:
        raise ValueError(f"{where}: test_fraction={test_fraction} must lie in (0, 1)")
    x_names = tuple(x_names or (f"column {j}" for j in range(x.shape[1])))
    y_names = tuple(y_names or (f"target {j}" for j in range(y.shape[1])))
    if x.shape[0] < MIN_ROWS:
        raise ValueError(
            f"{where}: too few rows ({x.shape[0]}): a finite data set needs at least "
            f"{MIN_ROWS} rows (held-out test rows, initial rows and pools)"
        )
    x_scaled, x_min, x_max = _min_max(x, x_names, where, "input")
    y_scaled, y_min, y_max = _min_max(y, y_names, where, "target")
    data = FiniteData(
        x=jnp.asarray(x_scaled),
        y=jnp.asarray(y_scaled),
        source=source,
        x_min=x_min,
        x_max=x_max,
        y_min=y_min,
        y_max=y_max,
        x_names=x_names,
        y_names=y_names,
        test_fraction=float(test_fraction),
        input_groups=input_groups(x),
    )
    dim_x, dim_y = x.shape[1], y.shape[1]
    model = model or default_model(dim_x, dim_y)
    return _register(
        Problem(
            name=name,
            dim_x=dim_x,
            dim_y=dim_y,
            oracle=nearest_row_oracle(data.x, data.y),
            model=model,
            description=description
            or f"finite data {source}, {x.shape[0]} rows ({dim_x} -> {dim_y})",
            data=data,
            fingerprint=fingerprint(x, y, test_fraction, model),
        ),
        register,
    )


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
        raise ValueError(f"{path}: cannot read the file ({_one_line(error)})") from None
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
        raise ValueError(f"{path}: cannot read the .npz ({_one_line(error)})") from None


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


# ---------------------------------------------------------------------------
# The CLI's --problem: a data file or an import path.


def load(spec: str) -> Problem:
    """Builds and registers the problem a CLI `--problem` names, other than a
    registered name:

    - `path/to/data.csv` (or .tsv/.txt/.dat/.npz): a finite data set, named after
      the file; `path/to/data.csv:target=4,5` picks target columns (indices or
      header names; default the last column);
    - `package.module:attribute` or `path/to/file.py:attribute`: a `Problem`, a
      function of no arguments returning one, or an oracle function carrying its
      box as attributes `lower` and `upper` (named after the attribute).

    ValueError in one line saying what was wrong.
    """
    text = str(spec).strip()
    location, colon, attribute = text.rpartition(":")
    if colon and Path(location).suffix.lower() in DATA_SUFFIXES:
        key, equals, value = attribute.partition("=")
        if key.strip() != "target" or not equals or not value.strip():
            raise ValueError(
                f"{text!r}: after a data file, ':' takes target=<columns>, e.g. "
                f"{location}:target=4 or {location}:target=y1,y2"
            )
        parts = [part.strip() for part in value.split(",") if part.strip()]
        target = [int(p) if re.fullmatch(r"-?\d+", p) else p for p in parts]
        return file_problem(_existing(location), target)
    if Path(text).suffix.lower() in DATA_SUFFIXES:
        return file_problem(_existing(text))
    if Path(text).is_file():
        raise ValueError(
            f"{text!r}: unsupported extension {Path(text).suffix!r}; data files are "
            f"{', '.join(DATA_SUFFIXES)} (text tables: rename to .txt or .csv)"
        )
    if not colon or not location or not attribute:
        raise ValueError(
            f"{text!r} is not a problem name, a data file ({', '.join(DATA_SUFFIXES)}) "
            "or an import path package.module:attribute or path/to/file.py:attribute"
        )
    return _from_object(attribute, getattr_path(_import(location), attribute, text))


def _existing(path: str) -> Path:
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such data file")
    return Path(path)


def _import(location: str):
    """The module at a dotted import path or a .py file."""
    if location.endswith(".py") or os.sep in location or "/" in location:
        path = Path(location)
        if not path.is_file():
            raise ValueError(f"{location}: no such Python file")
        module_name = f"jdal_user_{problem_name_of(path).replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look it up
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[module_name]
            raise ValueError(
                f"{location}: importing failed: {_one_line(error)}"
            ) from None
        return module
    try:
        return importlib.import_module(location)
    except ModuleNotFoundError as error:
        # Scripts put their own folder on the path, not the working folder.
        if error.name == location.split(".")[0] and os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
            return _import(location)
        raise ValueError(f"{location}: cannot import: {_one_line(error)}") from None
    except Exception as error:
        raise ValueError(f"{location}: importing failed: {_one_line(error)}") from None


def getattr_path(module, attribute: str, spec: str):
    """`module.<attribute>`, dots allowed; ValueError naming what is missing."""
    value = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ValueError(f"{spec!r}: {module.__name__} has no attribute {part!r}")
        value = getattr(value, part)
    return value


def _from_object(attribute: str, value) -> Problem:
    """A registered problem from what an import path named (see `load`)."""
    if isinstance(value, Problem):
        check_name(value.name)
        if value.fingerprint is None:  # built by hand: checked and digested here
            if value.data is not None:
                data = value.data
                digest = fingerprint(data.x, data.y, data.test_fraction, value.model)
            else:
                probes = check_finite(value.name, value.oracle, value.dim_x)
                digest = fingerprint(probes, value.model)
            value = value._replace(fingerprint=digest)
        return _register(value, True)
    if not callable(value):
        raise ValueError(
            f"{attribute!r} is a {type(value).__name__}; expected a Problem, a "
            "function returning one, or an oracle function with lower/upper"
        )
    name = attribute.rpartition(".")[2]
    if hasattr(value, "lower") and hasattr(value, "upper"):
        return oracle_problem(name, value, value.lower, value.upper)
    try:
        required = [
            p
            for p in inspect.signature(value).parameters.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        required = [None]
    if required:
        raise ValueError(
            f"problem {name!r}: a function of a point needs its input box: give it "
            "attributes lower and upper (one bound per input), or build the problem "
            "with jdal.problems.oracle_problem(...) and name that"
        )
    problem = value()
    if not isinstance(problem, Problem):
        raise ValueError(
            f"{attribute!r}() returned a {type(problem).__name__}, not a Problem"
        )
    check_name(problem.name)
    return _register(problem, True)
