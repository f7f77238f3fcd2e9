"""Builds the shipped random forests behind the `foil` and `hydr` problems.

Run once, offline, from the project root (needs scikit-learn; jdal never does):

    python scripts/build_forests.py

For each UCI data set in jdal/problems/data/ (gzip; `data_sha256` in the npz is of
the uncompressed bytes) it min-max scales every column (inputs and target) to
[-1, 1] over the full data, splits 80/20 with
`train_test_split(test_size=0.2, random_state=42)`, fits
`RandomForestRegressor(n_estimators=50, max_depth=15, random_state=0)` on the 80 %,
prints the R^2 on the 20 %, and writes jdal/problems/data/<name>_forest.npz with the
trees as padded arrays plus 10,000 uniform check points and sklearn's predictions.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split

DATA_DIR = Path(__file__).resolve().parents[1] / "jdal" / "problems" / "data"

# name -> (gzip file, rows, columns including the target)
DATASETS = {
    "foil": ("airfoil_self_noise.dat.gz", 1503, 6),
    "hydr": ("yacht_hydrodynamics.data.gz", 308, 7),
}
N_ESTIMATORS = 50
MAX_DEPTH = 15
N_CHECK = 10_000
CHECK_SEED = 2024


def scale_columns(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min-max scales every column to [-1, 1]; returns (scaled, col_min, col_max)."""
    col_min, col_max = data.min(axis=0), data.max(axis=0)
    return 2.0 * (data - col_min) / (col_max - col_min) - 1.0, col_min, col_max


def float32_at_most(threshold: np.ndarray) -> np.ndarray:
    """Largest float32 <= each float64 threshold.

    sklearn casts X to float32 and tests `x <= threshold` against the float64
    threshold; for float32 x that holds iff x <= this float32 value, so a float32
    comparison in JAX branches exactly as sklearn does.
    """
    rounded = threshold.astype(np.float32)
    too_big = rounded.astype(np.float64) > threshold
    rounded[too_big] = np.nextafter(rounded[too_big], np.float32(-np.inf))
    return rounded


def export_trees(forest: RandomForestRegressor) -> dict[str, np.ndarray]:
    """Padded per-tree node arrays, f32/int32[n_trees, max_nodes].

    Leaves (and padding) point to themselves, so a traversal of fixed depth ends on
    the leaf whatever the tree's actual depth.
    """
    trees = [est.tree_ for est in forest.estimators_]
    n_trees, max_nodes = len(trees), max(tree.node_count for tree in trees)
    self_index = np.broadcast_to(
        np.arange(max_nodes, dtype=np.int32), (n_trees, max_nodes)
    )
    arrays = {
        "feature": np.zeros((n_trees, max_nodes), np.int32),
        "threshold": np.zeros((n_trees, max_nodes), np.float32),
        "left": self_index.copy(),
        "right": self_index.copy(),
        "value": np.zeros((n_trees, max_nodes), np.float32),
    }
    for i, tree in enumerate(trees):
        n = tree.node_count
        split = tree.children_left >= 0
        arrays["feature"][i, :n] = np.where(split, tree.feature, 0)
        arrays["threshold"][i, :n] = np.where(
            split, float32_at_most(tree.threshold), 0.0
        )
        arrays["left"][i, :n] = np.where(split, tree.children_left, np.arange(n))
        arrays["right"][i, :n] = np.where(split, tree.children_right, np.arange(n))
        arrays["value"][i, :n] = tree.value[:, 0, 0]
    return arrays


def traverse(arrays: dict[str, np.ndarray], depth: int, x: np.ndarray) -> np.ndarray:
    """NumPy replica of the JAX traversal, for a self-check: f32[n, d] -> f64[n]."""
    n_trees = arrays["feature"].shape[0]
    rows = np.arange(n_trees)[None, :]
    node = np.zeros((x.shape[0], n_trees), np.int64)
    for _ in range(depth):
        feature = arrays["feature"][rows, node]
        go_left = (
            np.take_along_axis(x, feature, axis=1) <= arrays["threshold"][rows, node]
        )
        node = np.where(
            go_left, arrays["left"][rows, node], arrays["right"][rows, node]
        )
    return arrays["value"][rows, node].astype(np.float64).mean(axis=1)


def build(name: str) -> float:
    """Fits, checks and writes one forest; returns its R^2 on the 20 % split."""
    filename, n_rows, n_cols = DATASETS[name]
    raw = gzip.decompress((DATA_DIR / filename).read_bytes())
    data = np.loadtxt(io.BytesIO(raw), dtype=np.float64)
    if data.shape != (n_rows, n_cols):
        raise ValueError(f"{filename}: expected {(n_rows, n_cols)}, got {data.shape}")
    scaled, col_min, col_max = scale_columns(data)
    x, y = scaled[:, :-1], scaled[:, -1]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=42
    )
    forest = RandomForestRegressor(
        n_estimators=N_ESTIMATORS, max_depth=MAX_DEPTH, random_state=0
    )
    forest.fit(x_train, y_train)
    r2 = float(forest.score(x_test, y_test))

    arrays = export_trees(forest)
    depth = max(est.tree_.max_depth for est in forest.estimators_)
    rng = np.random.default_rng(CHECK_SEED)
    check_x = rng.uniform(-1.0, 1.0, size=(N_CHECK, x.shape[1])).astype(np.float32)
    check_y = forest.predict(check_x)
    replica = traverse(arrays, depth, check_x)
    max_diff = float(np.max(np.abs(replica - check_y)))
    if max_diff > 1e-6:
        raise RuntimeError(f"{name}: exported trees differ from sklearn by {max_diff}")

    out = DATA_DIR / f"{name}_forest.npz"
    np.savez_compressed(
        out,
        **arrays,
        depth=np.int32(depth),
        r2_test=np.float64(r2),
        sklearn_version=np.str_(sklearn.__version__),
        data_sha256=np.str_(hashlib.sha256(raw).hexdigest()),
        x_min=col_min[:-1],
        x_max=col_max[:-1],
        y_min=col_min[-1],
        y_max=col_max[-1],
        check_x=check_x,
        check_y=check_y,
    )
    print(
        f"{name}: R^2 (20 % split) = {r2:.4f}; {arrays['feature'].shape[0]} trees, "
        f"{arrays['feature'].shape[1]} nodes max, depth {depth}; "
        f"replica max diff {max_diff:.2e}; wrote {out.name}"
    )
    return r2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(DATASETS))
    for name in parser.parse_args().names:
        build(name)


if __name__ == "__main__":
    main()
