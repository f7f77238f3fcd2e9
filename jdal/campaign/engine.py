"""A campaign's computation: the benchmark's own pieces, one AL step at a time.

Pure of files and printing (`jdal.campaign.store` keeps the folder). It binds
exactly what the compiled run binds (`jdal.loop`): `setup` makes the method and
the ensemble, `make_propose` draws the pool and selects, `ensemble.train` trains,
`buffer_capacity` gives the run's buffer shapes and `run_keys` / `step_keys` the
run's keys. A campaign whose labels come from a problem's oracle therefore picks
what `make_run` picks for the same config and seed (tests/test_campaign.py).

Step t of a campaign is its t-th training (t = 0 on the first labels) followed by
the acquisition that uses the same step keys, as step t of the run does.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jdal import loop
from jdal.acquisitions.base import AcqState
from jdal.acquisitions.greedy import greedy_max_min
from jdal.config import Config
from jdal.models.ensemble import EnsembleState
from jdal.problems import Problem

# The space-filling initial design draws this many uniform candidates per point.
MAXIMIN_CANDIDATES_PER_POINT = 100
INITIAL_DESIGNS = ("maximin", "uniform")


class Batch(NamedTuple):
    """A batch to label: ids int32[k] (candidate rows of a table; -1 in a box)
    and points f32[k, d] in [-1, 1]^d."""

    ids: np.ndarray
    x: np.ndarray


class Programs(NamedTuple):
    """The jitted functions of one (config, problem, candidates): they do not
    depend on the seed, so every campaign of that setting shares them."""

    method: Any
    ensemble: Any
    candidates: jax.Array | None
    propose: Any
    train: Any
    predict: Any
    init: Any
    fold_errors: Any


# Programs kept per process; each holds compiled executables (memory, and memory
# maps: thousands of live executables exhaust the process's map count).
MAX_PROGRAMS = 8
_PROGRAMS: OrderedDict[tuple, Programs] = OrderedDict()


def programs_for(
    cfg: Config, problem: Problem, candidates: np.ndarray | None
) -> Programs:
    """The shared `Programs` of this setting (the 8 most recent are kept).
    `problem` must be hashable (a campaign's is: no data, a module-level
    oracle)."""
    digest = None
    if candidates is not None:
        digest = hashlib.sha256(np.ascontiguousarray(candidates).tobytes()).hexdigest()
    key = (cfg, problem, digest)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    parts = loop.setup(cfg, problem)
    ensemble = parts.ensemble
    table = None if candidates is None else jnp.asarray(candidates)
    pool = loop.box_pool(problem.dim_x) if table is None else loop.rows_pool(table)
    propose = loop.make_propose(cfg, parts.method, parts.select, pool)

    def fold_error(init_key, key, x, y, n_train, n_rows):
        """(summed squared error, rows) of one fold: a fresh ensemble trained on
        buffer rows < n_train, scored on rows n_train .. n_rows."""
        state = ensemble.init(init_key)
        state, _ = ensemble.train(key, state, x, y, n_train)
        mean = jnp.mean(ensemble.predict(state, x), axis=0)
        rows = jnp.arange(x.shape[0])
        held = (rows >= n_train) & (rows < n_rows)
        error = jnp.sum(jnp.where(held, jnp.mean(jnp.square(mean - y), -1), 0.0))
        return error, jnp.sum(held)

    programs = Programs(
        method=parts.method,
        ensemble=ensemble,
        candidates=table,
        propose=jax.jit(
            lambda keys, state, used: propose(keys, state, used, cfg.pool_size)
        ),
        train=jax.jit(ensemble.train),
        predict=jax.jit(ensemble.predict),
        init=jax.jit(ensemble.init),
        fold_errors=jax.jit(jax.vmap(fold_error, (None, 0, 0, 0, 0, None))),
    )
    _PROGRAMS[key] = programs
    while len(_PROGRAMS) > MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return programs


class Engine:
    """One campaign's computation: the shared programs of its setting
    (`programs_for`) and its seed's keys.

    candidates: None for a box (fresh uniform pools every step), else the scaled
    candidate table f32[N, d] (pools of rows not yet taken).
    """

    def __init__(
        self,
        cfg: Config,
        problem: Problem,
        seed: int,
        candidates: np.ndarray | None = None,
    ):
        self.cfg = cfg
        self.problem = problem
        programs = programs_for(cfg, problem, candidates)
        self.method = programs.method
        self.ensemble = programs.ensemble
        self.candidates = programs.candidates
        self.keys = loop.run_keys(jax.random.key(seed))
        self._propose = programs.propose
        self._train = programs.train
        self._predict = programs.predict
        self._init = programs.init
        self._fold_errors = programs.fold_errors

    # -- the model ---------------------------------------------------------------

    def init_model(self) -> EnsembleState:
        """The untrained ensemble (the run's initialisation for this seed)."""
        return self._init(self.keys.model)

    def buffers(self, x: np.ndarray, y: np.ndarray) -> tuple[jax.Array, jax.Array]:
        """The labelled rows (f32[n, d], f32[n, dy]) in zero-padded buffers of the
        run's capacity for n labels."""
        capacity = loop.buffer_capacity(self.cfg, len(x))
        as_f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
        return loop.padded(as_f32(x), capacity), loop.padded(as_f32(y), capacity)

    def train(
        self, step: int, state: EnsembleState, x: np.ndarray, y: np.ndarray
    ) -> tuple[EnsembleState, float]:
        """Step `step`'s training on the labelled rows (warm-started from `state`,
        a fresh optimiser, as in the run): (state, last training MSE)."""
        buffer_x, buffer_y = self.buffers(x, y)
        keys = loop.step_keys(self.keys.steps, step)
        state, info = self._train(
            keys.train, state, buffer_x, buffer_y, jnp.int32(len(x))
        )
        return state, float(info.loss[-1])

    def cross_validate(
        self, step: int, x: np.ndarray, y: np.ndarray, folds: int
    ) -> float:
        """K-fold cross-validation MSE (scaled targets) of the ensemble on the
        labelled rows: `folds` fresh ensembles, each trained as a step trains on
        all rows but one fold and scored on that fold, in one vmapped call (the
        cost of `folds` trainings). nan with fewer than 2 rows per fold."""
        n = len(x)
        if folds < 2 or n < 2 * folds:
            return float("nan")
        key = jax.random.fold_in(loop.step_keys(self.keys.steps, step).train, 1)
        order = np.asarray(jax.random.permutation(key, n))
        fold_of = np.arange(n) % folds
        capacity = loop.buffer_capacity(self.cfg, n)
        xs, ys, n_train = [], [], []
        for fold in range(folds):
            rows = np.concatenate([order[fold_of != fold], order[fold_of == fold]])
            xs.append(loop.padded(jnp.asarray(x[rows], jnp.float32), capacity))
            ys.append(loop.padded(jnp.asarray(y[rows], jnp.float32), capacity))
            n_train.append(int(np.sum(fold_of != fold)))
        keys = jax.random.split(key, folds)
        errors, counts = self._fold_errors(
            self.keys.model,
            keys,
            jnp.stack(xs),
            jnp.stack(ys),
            jnp.asarray(n_train),
            jnp.int32(n),
        )
        return float(jnp.sum(errors) / jnp.sum(counts))

    def predict(self, state: EnsembleState, x: np.ndarray) -> np.ndarray:
        """f32[M, n, dy]: every member's prediction at scaled points x f32[n, d]."""
        return np.asarray(self._predict(state, jnp.asarray(x, jnp.float32)))

    # -- batches -------------------------------------------------------------------

    def propose(
        self,
        step: int,
        state: EnsembleState,
        x: np.ndarray,
        y: np.ndarray,
        used: np.ndarray | None,
    ) -> tuple[Batch, int]:
        """Step `step`'s batch from the method given the labelled rows and the
        trained ensemble; `used` bool[N] marks taken candidate rows (None in a
        box). Returns the batch and the number of candidates offered."""
        buffer_x, buffer_y = self.buffers(x, y)
        acq_state = AcqState(buffer_x, buffer_y, jnp.int32(len(x)), state)
        keys = loop.step_keys(self.keys.steps, step)
        taken = () if used is None else jnp.asarray(used)
        proposal = self._propose(keys, acq_state, taken)
        ids = np.asarray(proposal.ids) if used is not None else np.full(self.cfg.k, -1)
        batch = Batch(ids.astype(np.int32), np.asarray(proposal.x))
        return batch, int(proposal.pool_size)

    def initial_design(self, n: int, rule: str, used: np.ndarray | None) -> Batch:
        """n points to label first, before any model exists.

        "uniform": the run's own initial set (uniform in the box; in a table,
          rows in the order of the seed's row priorities).
        "maximin": space-filling: farthest-point traversal (each point the one
          farthest from those before) over 100 n uniform candidates in the box,
          or over all free rows of a table, from the first candidate.
        """
        if rule not in INITIAL_DESIGNS:
            raise ValueError(
                f"initial design {rule!r}: allowed are {', '.join(INITIAL_DESIGNS)}"
            )
        d = self.problem.dim_x
        key = self.keys.initial
        if self.candidates is None:
            if rule == "uniform":  # what `loop.box_source` draws
                x = jax.random.uniform(key, (n, d), jnp.float32, -1.0, 1.0)
                return Batch(np.full(n, -1, np.int32), np.asarray(x))
            candidates = loop.draw_pool(key, MAXIMIN_CANDIDATES_PER_POINT * n, d)
            picked = _farthest_points(candidates, jnp.ones(len(candidates), bool), n)
            return Batch(np.full(n, -1, np.int32), np.asarray(candidates[picked]))
        taken = jnp.asarray(used)
        size = n if rule == "uniform" else int(taken.shape[0])
        rows, free = loop.finite_pool(key, taken, size)
        if rule == "maximin":
            rows = rows[_farthest_points(self.candidates[rows], free, n)]
        rows = np.asarray(rows)
        return Batch(rows.astype(np.int32), np.asarray(self.candidates[rows]))


@functools.partial(jax.jit, static_argnums=2)
def _farthest_points(points: jax.Array, mask: jax.Array, n: int) -> jax.Array:
    """int32[n] rows of points f32[P, d] (among `mask`), farthest-point order."""
    nobody = jnp.zeros((1, points.shape[1]), jnp.float32)
    return greedy_max_min(n, mask, [(points, nobody)], jnp.zeros(1, bool))


def state_leaves(state: EnsembleState) -> list[np.ndarray]:
    """The ensemble state's arrays, in pytree order (for storage)."""
    return [np.asarray(leaf) for leaf in jax.tree.leaves(state)]


def state_from_leaves(template: EnsembleState, leaves: list[Any]) -> EnsembleState:
    """An ensemble state shaped like `template` from stored leaves; ValueError
    when their number, shapes or types do not fit (another model)."""
    expected = jax.tree.leaves(template)
    if len(leaves) != len(expected) or any(
        np.shape(a) != b.shape or np.asarray(a).dtype != b.dtype
        for a, b in zip(leaves, expected, strict=True)
    ):
        raise ValueError("stored model does not fit the campaign's ensemble")
    return jax.tree.unflatten(
        jax.tree.structure(template), [jnp.asarray(a) for a in leaves]
    )
