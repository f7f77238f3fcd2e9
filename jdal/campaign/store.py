"""A campaign folder on disk: plain files, each written atomically.

    campaign.json   the settings (format version, box or candidate table, method,
                    k, γ, seed, the full jdal Config, the target scaling)
    candidates.csv  a candidate table's rows with their ids (table campaigns)
    labelled.csv    every labelled row in the user's units: id, batch, inputs,
                    targets (the source of truth; a scientist may open it)
    pending.json    the batch asked and not yet told (exact scaled points)
    model.npz       the trained ensemble after the last training, with the step
                    and the number of labelled rows it saw
    log.csv         one line per training: step, labels, fit diagnostics, time
    .lock           held (flock) while a process reads or changes the folder

Every file is replaced by `jdal.results.atomic_write` (temporary file, fsync,
rename), and `labelled.csv` is written first: a process killed at any instant
leaves a folder that opens with nothing lost or duplicated (`Campaign.open`
retrains a model older than the labels and drops pending rows already told).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jdal.problems.files import is_number
from jdal.results import atomic_write, write_json

FORMAT = 1  # raised when the folder layout changes
SETTINGS, LABELLED, CANDIDATES = "campaign.json", "labelled.csv", "candidates.csv"
PENDING, MODEL, LOG, LOCK = "pending.json", "model.npz", "log.csv", ".lock"


class CampaignError(ValueError):
    """A campaign folder or a call on it is not usable; the message says why."""


class CampaignInUseError(CampaignError):
    """Another process holds the campaign folder."""


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Holds the folder's lock for the block; CampaignInUseError when another
    process holds it (an advisory `flock`, released when that process exits)."""
    with open(folder / LOCK, "a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CampaignInUseError(
                f"{folder}: campaign is in use by another process (lock {LOCK}); "
                "wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def number(value: float) -> str:
    """A float as text that reads back to the same float64 (`repr`)."""
    return repr(float(value))


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """The CSV text (UTF-8, "\\n" line ends) of `header` and text `rows`: what every
    CSV file of a campaign, and every file the command line writes, is made of."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


def text_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields stripped of spaces) of every row of a CSV file that is
    not blank (spreadsheets add rows of empty fields, and a UTF-8 byte-order mark,
    which is skipped); CampaignError when the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise CampaignError(f"{path}: cannot read ({reason})") from None
    reader = csv.reader(io.StringIO(text))
    rows = []
    for fields in reader:
        fields = [field.strip() for field in fields]
        if any(fields):
            rows.append((reader.line_num, fields))
    return rows


def write_table(path: Path, header: Sequence[str], rows: np.ndarray) -> None:
    """Writes rows f64[n, c] under `header` as CSV, atomically; integer-valued
    leading id/batch columns print as integers."""
    counters = [name in ("id", "batch") for name in header]
    lines = (
        [str(int(v)) if c else number(v) for c, v in zip(counters, row, strict=True)]
        for row in np.asarray(rows, np.float64)
    )
    content = csv_bytes(header, lines)
    atomic_write(path, lambda file: file.write(content))


def read_csv(path: Path) -> tuple[list[str] | None, np.ndarray]:
    """(header or None, f64[n, c]) of a comma-separated file of numbers; the first
    line is a header when none of its fields is a number. CampaignError naming
    the file, line and column on anything else."""
    rows = [fields for _, fields in text_rows(path)]
    if not rows:
        raise CampaignError(f"{path}: the file is empty")
    header = None if any(is_number(field) for field in rows[0]) else rows[0]
    return header, _numbers(path, header or rows[0], rows[1:] if header else rows)


def read_table(
    path: Path, header: Sequence[str], allow_nan: bool = False
) -> np.ndarray:
    """f64[n, c] from a CSV written by `write_table` with exactly `header`;
    CampaignError naming the file, line and column otherwise (and on a value
    that is not finite, unless `allow_nan`)."""
    rows = [fields for _, fields in text_rows(path)]
    if not rows or rows[0] != list(header):
        found = rows[0] if rows else "nothing"
        raise CampaignError(
            f"{path}: header is {found}, expected {list(header)} (edited by hand or "
            "from another campaign?)"
        )
    return _numbers(path, header, rows[1:], allow_nan)


def _numbers(
    path: Path, header: Sequence[str], rows: list[list[str]], allow_nan: bool = False
) -> np.ndarray:
    """f64[n, c] of text rows under `header`; CampaignError on a bad field (data
    rows count from 1 after any header)."""
    values = np.empty((len(rows), len(header)))
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise CampaignError(
                f"{path}: row {i + 1} has {len(row)} fields, expected {len(header)}"
            )
        for j, field in enumerate(row):
            try:
                values[i, j] = float(field)
            except ValueError:
                raise CampaignError(
                    f"{path}: row {i + 1}, column {header[j]!r} is not a number: "
                    f"{field!r}"
                ) from None
            if not (allow_nan or np.isfinite(values[i, j])):
                raise CampaignError(
                    f"{path}: row {i + 1}, column {header[j]!r} is {field} (not finite)"
                )
    return values


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CampaignError(f"{path}: cannot read ({error})") from None


def save_json(path: Path, record: dict[str, Any]) -> None:
    write_json(path, record)


def save_model(path: Path, leaves: list[np.ndarray], step: int, n_labelled: int):
    """The ensemble's arrays with the step and label count they belong to."""
    arrays = {f"leaf_{i}": leaf for i, leaf in enumerate(leaves)}
    arrays["step"] = np.int64(step)
    arrays["n_labelled"] = np.int64(n_labelled)
    atomic_write(path, lambda file: np.savez(file, **arrays))


def load_model(path: Path) -> tuple[list[np.ndarray], int, int]:
    """(leaves, step, n_labelled) of `save_model`; CampaignError when unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            count = sum(name.startswith("leaf_") for name in npz.files)
            leaves = [npz[f"leaf_{i}"] for i in range(count)]
            return leaves, int(npz["step"]), int(npz["n_labelled"])
    except (OSError, KeyError, ValueError, EOFError) as error:
        raise CampaignError(f"{path}: cannot read the model ({error})") from None


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
