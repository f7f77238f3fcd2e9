"""Data-backed problems: random forests fit to UCI airfoil and yacht data.

`scripts/build_forests.py` fits each forest once with scikit-learn and ships it as
padded node arrays (jdal/problems/data/<name>_forest.npz); here it is evaluated in
pure JAX by a traversal of fixed depth, so scikit-learn is never needed at run time.
Inputs and target are min-max scaled to [-1, 1] over the full data set; the oracle
returns the scaled target.
"""

from __future__ import annotations

import importlib.resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jdal.problems.base import ModelSpec, Problem


class Forest(NamedTuple):
    """A regression forest as padded node arrays, f32/int32[n_trees, max_nodes].

    Internal node j of tree i sends x left when x[feature] <= threshold (float32,
    rounded down from sklearn's float64 so branching matches sklearn exactly). Leaves
    and padding point to themselves, so `depth` steps from the root end on a leaf.
    """

    feature: jax.Array
    threshold: jax.Array
    left: jax.Array
    right: jax.Array
    value: jax.Array
    depth: int


def forest_path(name: str):
    """The shipped npz for forest `name` ("foil" or "hydr"), as a resource path."""
    return importlib.resources.files("jdal.problems") / "data" / f"{name}_forest.npz"


def load_forest(name: str) -> Forest:
    """Reads the shipped forest `name` from disk (host side, once per problem)."""
    with forest_path(name).open("rb") as handle, np.load(handle) as npz:
        return Forest(
            feature=jnp.asarray(npz["feature"], jnp.int32),
            threshold=jnp.asarray(npz["threshold"], jnp.float32),
            left=jnp.asarray(npz["left"], jnp.int32),
            right=jnp.asarray(npz["right"], jnp.int32),
            value=jnp.asarray(npz["value"], jnp.float32),
            depth=int(npz["depth"]),
        )


def forest_predict(forest: Forest, x: jax.Array) -> jax.Array:
    """Mean of the trees' leaf values at one point: f32[d] -> f32[1]."""
    x = x.astype(jnp.float32)
    tree = jnp.arange(forest.feature.shape[0])

    def descend(_, node):
        go_left = x[forest.feature[tree, node]] <= forest.threshold[tree, node]
        return jnp.where(go_left, forest.left[tree, node], forest.right[tree, node])

    root = jnp.zeros(forest.feature.shape[0], jnp.int32)
    leaf = jax.lax.fori_loop(0, forest.depth, descend, root)
    return jnp.mean(forest.value[tree, leaf])[None]


def _make_forest_problem(
    name: str, dim_x: int, hidden: tuple[int, ...], description: str
) -> Problem:
    forest = load_forest(name)

    def oracle(x: jax.Array) -> jax.Array:
        return forest_predict(forest, x)

    oracle.__doc__ = f"{description}: f32[{dim_x}] -> f32[1] (scaled target)."
    return Problem(
        name=name,
        dim_x=dim_x,
        dim_y=1,
        oracle=oracle,
        model=ModelSpec(
            hidden=hidden, n_members=10, learning_rate=1e-3, weight_decay=1e-4
        ),
        description=description,
    )


def make_foil() -> Problem:
    """The `foil` problem: forest fit to UCI Airfoil Self-Noise (5 -> 1)."""
    return _make_forest_problem(
        "foil", 5, (200,) * 4, "NASA airfoil self-noise, random forest (5 -> 1)"
    )


def make_hydr() -> Problem:
    """The `hydr` problem: forest fit to UCI Yacht Hydrodynamics (6 -> 1)."""
    return _make_forest_problem(
        "hydr", 6, (50,) * 6, "yacht hydrodynamics, random forest (6 -> 1)"
    )
