"""Results on disk: one folder per cell (problem, method, gamma), written atomically.

The one host-side I/O module of jdal (the rest of the package never touches files).

    <out>/<problem>/<method>/gamma_<γ>/     (gamma_any for methods that ignore γ)
        results.npz   per-seed arrays (mse [S, T+1], div [S], picked_x [S, T, k, d])
        meta.json     config, config hash, versions, device, wall times, seeds, date,
                      and the size and sha256 of results.npz

Every file is written to a temporary file in the same folder, fsync-ed, then moved
into place with `os.replace`, so a reader never sees a partial file. `meta.json` is
written last and removed first when a cell is overwritten: a cell is complete exactly
when its `meta.json` exists, and the checksum it records ties it to its `results.npz`.

    save_cell(out, cfg, arrays, meta)      -> folder
    cell_status(out, cfg, seeds)           -> "done" | "missing" | "stale" | "corrupt"
    load_cell(folder, expected_hash)       -> Cell  (CorruptCellError names the file)
    load(out)                              -> [Cell]
    to_table(cells)                        -> [{problem, method, gamma, seed, ...}]
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from jdal.config import Config
from jdal.metrics import auc

RESULTS_FILE = "results.npz"
META_FILE = "meta.json"
FORMAT_VERSION = 1
ANY_GAMMA = "gamma_any"
# results.npz keys -> number of leading axes before the per-run shape (seed axis).
REQUIRED_ARRAYS = (
    "mse",
    "n_labelled",
    "train_loss",
    "div",
    "div_per_step",
    "picked_x",
    "seeds",
)
STATUSES = ("done", "missing", "stale", "corrupt")
VERSIONED_PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "jdal")


class CellError(Exception):
    """A result cell on disk cannot be used."""


class CorruptCellError(CellError):
    """A cell file is missing, truncated, unreadable or inconsistent."""


class StaleCellError(CellError):
    """A cell was computed under a different config (its hash differs)."""


class Cell(NamedTuple):
    """One loaded result cell.

    folder: the cell's folder.
    problem, method: ids; gamma: the pool ratio, or None for gamma-free methods.
    config: the Config as a dict; meta: all of meta.json.
    arrays: results.npz as NumPy arrays (mse f32[S, T+1], n_labelled int32[T+1],
      train_loss f32[S, T+1], div f32[S], div_per_step f32[S, T],
      picked_x f32[S, T, k, d], seeds int[S], ...).
    """

    folder: Path
    problem: str
    method: str
    gamma: int | None
    config: dict[str, Any]
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in self.arrays["seeds"]]

    @property
    def reference(self) -> bool:
        """True for oracle references such as `mse` (never shown as a competitor)."""
        return bool(self.meta.get("method_reference", False))


class CellStatus(NamedTuple):
    """`status` is one of STATUSES; `detail` says why (names the file when corrupt)."""

    status: str
    detail: str


# ---------------------------------------------------------------------------
# Cell identity.


def cell_folder(out: str | os.PathLike, cfg: Config) -> Path:
    """`<out>/<problem>/<method>/gamma_<γ>` (`gamma_any` when `cfg.gamma` is None:
    a method that ignores the pool ratio)."""
    gamma = ANY_GAMMA if cfg.gamma is None else f"gamma_{cfg.gamma}"
    return Path(out) / cfg.problem / cfg.method / gamma


def _gamma_of(folder: Path) -> int | None:
    name = folder.name
    if name == ANY_GAMMA:
        return None
    if not name.startswith("gamma_") or not name[len("gamma_") :].isdigit():
        raise CorruptCellError(f"{folder}: folder name is not gamma_<int> or gamma_any")
    return int(name[len("gamma_") :])


# ---------------------------------------------------------------------------
# Atomic writes.


def _fsync_dir(folder: Path) -> None:
    """Makes a rename durable (no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Writes `path` via a temp file in its folder, fsync and `os.replace`.

    `write(file)` fills an open binary file. On any failure the temp file is removed
    and `path` keeps its previous content (or stays absent).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _remove_leftovers(folder: Path) -> None:
    """Deletes temp files a killed writer left behind."""
    for leftover in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Descriptions stored in meta.json.


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide the numbers."""
    versions: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    if versions.get("jdal") is None:
        import jdal

        versions["jdal"] = jdal.__version__
    return versions


def describe_device() -> str:
    """One line naming the JAX backend and devices, e.g. `gpu: 1 x NVIDIA H100`."""
    import jax

    devices = jax.devices()
    kinds = sorted({d.device_kind for d in devices})
    line = f"{jax.default_backend()}: {len(devices)} x {', '.join(kinds)}"
    if jax.default_backend() == "cpu":
        cpu = platform.processor() or platform.machine()
        line += f" ({cpu}, {os.cpu_count()} cores)"
    return line


def result_arrays(result: Any, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Host arrays of a seed-batched `RunResult` (fields with a leading seed axis).

    `n_labelled` is the same for every seed and is stored once, int32[T+1]. A timed
    run's `clock` is not a result and is left out (the shell keeps its seconds).
    """
    fields = result._asdict()
    fields.pop("clock", None)
    arrays = {name: np.asarray(value) for name, value in fields.items()}
    arrays["n_labelled"] = arrays["n_labelled"][0]
    arrays["seeds"] = np.asarray(list(seeds), np.int64)
    return arrays


# ---------------------------------------------------------------------------
# Save / load.


def _check_arrays(arrays: Mapping[str, np.ndarray], where: str) -> None:
    """Raises CorruptCellError unless the required arrays have consistent shapes."""
    missing = [name for name in REQUIRED_ARRAYS if name not in arrays]
    if missing:
        raise CorruptCellError(f"{where}: missing arrays {', '.join(missing)}")
    n_seeds = arrays["seeds"].shape[0] if arrays["seeds"].ndim == 1 else -1
    n_points = arrays["n_labelled"].shape[0] if arrays["n_labelled"].ndim == 1 else -1
    expected = {
        "seeds": (n_seeds,),
        "n_labelled": (n_points,),
        "mse": (n_seeds, n_points),
        "train_loss": (n_seeds, n_points),
        "div": (n_seeds,),
        "div_per_step": (n_seeds, n_points - 1),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape or min(shape) < 0:
            raise CorruptCellError(
                f"{where}: array {name!r} has shape {arrays[name].shape}, expected "
                f"{shape} (S seeds, T+1 points)"
            )
    picked = arrays["picked_x"]
    if picked.ndim != 4 or picked.shape[:2] != (n_seeds, n_points - 1):
        raise CorruptCellError(
            f"{where}: array 'picked_x' has shape {picked.shape}, expected "
            f"({n_seeds}, {n_points - 1}, k, d)"
        )


def save_cell(
    out: str | os.PathLike,
    cfg: Config,
    arrays: Mapping[str, Any],
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Writes one cell atomically: results.npz, then meta.json (marks it complete).

    Args:
      out: results root.
      cfg: the cell's config; decides the folder and the hash.
      arrays: mse f32[S, T+1], n_labelled int[T+1], train_loss f32[S, T+1],
        div f32[S], div_per_step f32[S, T], picked_x f32[S, T, k, d], seeds int[S]
        (extra arrays are stored too).
      meta: extra metadata (device, timing, `method_reference`: bool for oracle
        references, ...); config, hash, versions, seeds, date and the npz checksum
        are added here.

    Returns:
      The cell folder.
    """
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    folder = cell_folder(out, cfg)
    _check_arrays(arrays, str(folder / RESULTS_FILE))
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    # Invalidate first: from here until the new meta.json lands the cell reads as
    # incomplete, so a crash never pairs new arrays with old metadata.
    meta_path = folder / META_FILE
    if meta_path.exists():
        meta_path.unlink()
        _fsync_dir(folder)
    npz_path = folder / RESULTS_FILE
    atomic_write(npz_path, lambda file: np.savez(file, **arrays))
    size = npz_path.stat().st_size
    record = {
        "format": FORMAT_VERSION,
        "problem": cfg.problem,
        "method": cfg.method,
        "gamma": cfg.gamma,
        "config": cfg.to_dict(),
        "config_hash": cfg.hash(),
        "seeds": [int(s) for s in arrays["seeds"]],
        "versions": package_versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        **dict(meta or {}),
        "files": {RESULTS_FILE: {"bytes": size, "sha256": _sha256(npz_path)}},
    }
    record.setdefault("device", describe_device())
    write_json(meta_path, record, sort_keys=True)
    return folder


def write_json(
    path: str | os.PathLike,
    record: Mapping[str, Any] | list[Any],
    sort_keys: bool = False,
) -> Path:
    """Writes `record` (a mapping, or a list of rows) as indented JSON, atomically
    (`atomic_write`), creating the folder; NumPy scalars and arrays and paths are
    converted. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=sort_keys, default=_json_default)
    atomic_write(path, lambda file: file.write((text + "\n").encode()))
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in meta.json")


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    if not path.is_file():
        raise CorruptCellError(f"{path}: missing (the cell was never completed)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptCellError(
            f"{path}: unreadable or not valid JSON (truncated?): {error}"
        ) from error
    if not isinstance(meta, dict):
        raise CorruptCellError(f"{path}: expected a JSON object")
    for field in ("config", "config_hash", "seeds", "files"):
        if field not in meta:
            raise CorruptCellError(f"{path}: field {field!r} is missing")
    return meta


def load_cell(folder: str | os.PathLike, expected_hash: str | None = None) -> Cell:
    """Loads and checks one cell folder.

    Raises:
      CorruptCellError: a file is missing, truncated, fails its checksum or holds
        inconsistent arrays; the message names the file and the problem.
      StaleCellError: `expected_hash` is given and the stored config hash differs.
    """
    folder = Path(folder)
    meta = _read_meta(folder)
    if expected_hash is not None and meta["config_hash"] != expected_hash:
        raise StaleCellError(
            f"{folder / META_FILE}: config hash {meta['config_hash']} differs from "
            f"the requested {expected_hash} (computed under another config)"
        )
    npz_path = folder / RESULTS_FILE
    if not npz_path.is_file():
        raise CorruptCellError(f"{npz_path}: missing")
    record = meta["files"].get(RESULTS_FILE, {})
    size = npz_path.stat().st_size
    if "bytes" in record and size != record["bytes"]:
        raise CorruptCellError(
            f"{npz_path}: {size} bytes but meta.json records {record['bytes']} "
            "(truncated or overwritten)"
        )
    if "sha256" in record and _sha256(npz_path) != record["sha256"]:
        raise CorruptCellError(
            f"{npz_path}: sha256 differs from the one meta.json records (corrupted)"
        )
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise CorruptCellError(
            f"{npz_path}: not a readable .npz file (truncated?): {error}"
        ) from error
    _check_arrays(arrays, str(npz_path))
    if [int(s) for s in arrays["seeds"]] != [int(s) for s in meta["seeds"]]:
        raise CorruptCellError(f"{npz_path}: seeds differ from those in meta.json")
    config = meta["config"]
    return Cell(
        folder=folder,
        problem=str(config.get("problem", folder.parent.parent.name)),
        method=str(config.get("method", folder.parent.name)),
        gamma=_gamma_of(folder),
        config=config,
        meta=meta,
        arrays=arrays,
    )


def inspect_cell(
    out: str | os.PathLike, cfg: Config, seeds: Iterable[int] | None = None
) -> CellStatus:
    """Status of the cell `cfg` under `out`, with the reason.

    "missing": never completed (no meta.json); "stale": computed under another config
    hash or other seeds; "corrupt": a file is damaged (detail names it); "done".
    """
    folder = cell_folder(out, cfg)
    if not (folder / META_FILE).exists():
        return CellStatus("missing", f"{folder}: no completed result")
    try:
        cell = load_cell(folder, expected_hash=cfg.hash())
    except StaleCellError as error:
        return CellStatus("stale", str(error))
    except CorruptCellError as error:
        return CellStatus("corrupt", str(error))
    if seeds is not None and cell.seeds != [int(s) for s in seeds]:
        return CellStatus(
            "stale",
            f"{folder / META_FILE}: seeds {cell.seeds} differ from the requested "
            f"{[int(s) for s in seeds]}",
        )
    return CellStatus("done", str(folder))


def saved_cell(out: str | os.PathLike, cfg: Config) -> Cell | None:
    """The complete saved cell of `cfg` when its config hash matches, whatever its
    seeds; None when it is missing, stale or corrupt."""
    folder = cell_folder(out, cfg)
    if not (folder / META_FILE).exists():
        return None
    try:
        return load_cell(folder, expected_hash=cfg.hash())
    except (StaleCellError, CorruptCellError):
        return None


def cell_status(
    out: str | os.PathLike, cfg: Config, seeds: Iterable[int] | None = None
) -> str:
    """ "done" / "missing" / "stale" (config hash or seeds differ) / "corrupt"."""
    return inspect_cell(out, cfg, seeds).status


def cell_folders(out: str | os.PathLike) -> list[Path]:
    """Every `<out>/<problem>/<method>/gamma_*` folder, sorted."""
    return sorted(p for p in Path(out).glob("*/*/gamma_*") if p.is_dir())


def load(
    out: str | os.PathLike, strict: bool = False, as_frame: bool = False
) -> list[Cell] | Any:
    """Loads every completed cell under `out`.

    Incomplete cells (no meta.json) are skipped. Corrupt ones raise with
    `strict=True`, else are skipped with a warning naming the file. With
    `as_frame=True` returns `to_table` as a pandas DataFrame (needs pandas).
    """
    cells = []
    for folder in cell_folders(out):
        if not (folder / META_FILE).exists():
            continue
        try:
            cells.append(load_cell(folder))
        except CorruptCellError as error:
            if strict:
                raise
            warnings.warn(f"skipping corrupt cell: {error}", stacklevel=2)
    cells.sort(key=lambda c: (c.problem, c.method, -1 if c.gamma is None else c.gamma))
    if as_frame:
        try:
            import pandas
        except ImportError as error:
            raise ImportError(
                "load(out, as_frame=True) needs pandas; install it or use "
                "to_table(load(out)) for plain dict rows"
            ) from error
        return pandas.DataFrame(to_table(cells))
    return cells


# Cell coordinates: cells of one problem differ in these and nothing else.
COORDINATES = ("problem", "method", "gamma")


def incompatibility(cell: Cell, baseline: Cell) -> str | None:
    """Why `cell` cannot be scored against `baseline` (random on the same problem:
    another config apart from the coordinates, or other seeds), or None."""
    ours = {k: v for k, v in cell.config.items() if k not in COORDINATES}
    theirs = {k: v for k, v in baseline.config.items() if k not in COORDINATES}
    if ours != theirs:
        changed = sorted(
            k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)
        )
        return f"config differs from random's in {', '.join(changed)}"
    if cell.seeds != baseline.seeds:
        return f"seeds {cell.seeds} differ from random's {baseline.seeds}"
    return None


def to_table(cells: Iterable[Cell]) -> list[dict[str, Any]]:
    """Tidy rows, one per (cell, seed): problem, method, gamma, seed, final_mse, auc,
    div, reference. `gamma` is None for gamma-free methods; auc is the trapezoidal
    area under that seed's MSE curve over labelled-set size n."""
    rows = []
    for cell in cells:
        mse = cell.arrays["mse"]
        areas = auc(mse, cell.arrays["n_labelled"])
        for i, seed in enumerate(cell.seeds):
            rows.append(
                {
                    "problem": cell.problem,
                    "method": cell.method,
                    "gamma": cell.gamma,
                    "seed": seed,
                    "final_mse": float(mse[i, -1]),
                    "auc": float(areas[i]),
                    "div": float(cell.arrays["div"][i]),
                    "reference": cell.reference,
                }
            )
    return rows
