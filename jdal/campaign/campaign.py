"""Active learning on a real experiment: ask for a batch, label it anywhere, tell.

    c = Campaign.create("runs/wing", box=(lower, upper), method="bait", k=20)
    x = c.ask()            # f64[k, d] in your units (the same batch until told)
    c.tell(x, y)           # labels from a lab, a simulator, a queue; retrains
    c.predict(x_new)       # (mean f64[n, dy], member spread f64[n, dy])
    c = Campaign.open("runs/wing")   # days later, after a crash or a reboot

The campaign trains and selects with the benchmark's own code
(`jdal.campaign.engine`) and keeps everything in its folder
(`jdal.campaign.store`). Points are scaled to [-1, 1]^d as the benchmark's are:
from the box, or from a candidate table's column ranges; targets are min-max
scaled with the ranges of the first labels (then frozen), or left as they are
(`y_scaling="none"`, what a built-in problem's campaign uses).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

import jdal
from jdal import acquisitions, problems
from jdal.campaign import store
from jdal.campaign.engine import (
    INITIAL_DESIGNS,
    Engine,
    state_from_leaves,
    state_leaves,
)
from jdal.campaign.store import CampaignError
from jdal.config import Config, sized
from jdal.metrics import nearest_distance
from jdal.problems import Problem
from jdal.problems.user_data import first_not_finite
from jdal.problems.user_oracle import default_model

# Defaults from jdal's robustness tables (docs/campaigns.md, "Defaults"): bait is
# among the nine methods better than random at every γ on every problem swept (the
# differences among them are inside the seed spread) and does not rely on x-only
# diversity, which loses on measured rows; γ 16 is the middle of the study's grid.
DEFAULT_METHOD = "bait"
DEFAULT_GAMMA = 16
Y_SCALINGS = ("minmax", "none")
# Told inputs match an asked row within this share of each input's range.
MATCH_TOLERANCE = 1e-6
# One line of log.csv per training.
LOG_COLUMNS = ["step", "n_labelled", "train_mse", "cv_mse", "mean_spread"]
LOG_COLUMNS += ["batch_div", "train_seconds", "cv_seconds", "unix_time"]
# Folds of the cross-validation estimate in the log (0: none).
CV_FOLDS = 5
# Points at which `status` measures the mean member spread in a box.
SPREAD_POINTS = 1024


def _no_oracle(x):
    raise CampaignError("a campaign's labels come from outside; it has no oracle")


class Campaign:
    """One campaign folder, opened. Create with `create`, reopen with `open`."""

    def __init__(self, folder: Path):
        self.folder = folder
        settings = store.read_json(folder / store.SETTINGS)
        if settings.get("format") != store.FORMAT:
            raise CampaignError(
                f"{folder}: campaign format {settings.get('format')!r} (written by "
                f"jdal {settings.get('jdal_version', '?')}); this jdal reads format "
                f"{store.FORMAT}"
            )
        self.settings = settings
        self.lower = np.asarray(settings["lower"], np.float64)
        self.upper = np.asarray(settings["upper"], np.float64)
        self.x_names = list(settings["x_names"])
        self.cfg = Config(**settings["config"])
        self.candidates = None  # f64[N, d] in the user's units
        if settings["kind"] == "candidates":
            header = ["id", *self.x_names]
            table = store.read_table(folder / store.CANDIDATES, header)
            self.candidates = table[:, 1:]
        self._engine: Engine | None = None
        self._model = None  # (EnsembleState, step, n_labelled)
        self._load_labelled()

    # -- creating and opening ------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: str | Path,
        *,
        box: tuple[Sequence[float], Sequence[float]] | None = None,
        candidates: str | Path | np.ndarray | None = None,
        problem: str | None = None,
        method: str = DEFAULT_METHOD,
        k: int = 20,
        gamma: int | None = DEFAULT_GAMMA,
        n_initial: int | None = None,
        seed: int = 0,
        preset_name: str = "paper",
        initial: str = "maximin",
        x_names: Sequence[str] | None = None,
        y_names: Sequence[str] | None = None,
        y_scaling: str = "minmax",
        held_out: Sequence[int] = (),
        cv_folds: int = CV_FOLDS,
        options: dict[str, Any] | None = None,
        **config: Any,
    ) -> Campaign:
        """A new campaign in `folder` (created; refused if it holds a campaign).

        Exactly one of: `box` (lower, upper) bounds of the inputs, pools of k γ
        fresh uniform points each step; `candidates` a table of candidate inputs
        (a CSV path, header optional, or an array [N, d]), pools of rows not yet
        labelled; `problem` a built-in oracle problem's box and model (labels
        still come from outside: for trying the method on a known function).

        method, k, gamma, options: the acquisition (`jdal.acquisitions.names()`).
        n_initial: the first batch's size (default 2 k, the study's ratio), asked
          by the `initial` design ("maximin" space-filling, or "uniform") unless
          labelled rows are told first.
        preset_name, **config: the model and training settings, a preset of
          `jdal.config` ("paper": the study's) with changes; `steps` is the
          planned number of batches (it only sizes the compiled buffers).
        y_scaling: "minmax" (each target scaled to [-1, 1] by the first labels'
          range) or "none".
        held_out: candidate ids never to ask (e.g. your validation rows).
        cv_folds: after each training, a K-fold cross-validation estimate of the
          error goes into the log (K more trainings, vmapped); 0 for none.
        """
        folder = Path(folder)
        if (folder / store.SETTINGS).exists():
            raise CampaignError(
                f"{folder}: already holds a campaign; open it with Campaign.open"
            )
        if sum(a is not None for a in (box, candidates, problem)) != 1:
            raise CampaignError("give exactly one of box, candidates or problem")
        _check_choice("initial", initial, INITIAL_DESIGNS)
        _check_choice("y_scaling", y_scaling, Y_SCALINGS)
        acquisition = acquisitions.get(method)  # ValueError listing the methods
        if acquisition.reference:
            raise CampaignError(
                f"method {method!r} is an oracle reference; a campaign has no oracle"
            )
        if not acquisition.uses_pool:
            gamma = None
        record: dict[str, Any] = {"kind": "box", "problem": None}
        model = None
        table = None
        if problem is not None:
            built_in = problems.get(problem)
            if built_in.data is not None:
                raise CampaignError(
                    f"problem {problem!r} is a finite data set: pass its rows as "
                    "candidates"
                )
            d, model = built_in.dim_x, built_in.model
            lower, upper = -np.ones(d), np.ones(d)
            record["problem"] = problem
            y_names = y_names or [f"y{j}" for j in range(built_in.dim_y)]
        elif box is not None:
            lower, upper = _box(box)
        else:
            header, table = _candidate_table(candidates)
            x_names = x_names or header
            lower, upper = table.min(axis=0), table.max(axis=0)
            constant = np.flatnonzero(~(upper > lower))
            if constant.size:
                raise CampaignError(
                    f"candidates: input column {constant[0]} is constant; drop it"
                )
            record["kind"] = "candidates"
        d = len(lower)
        x_names = list(x_names or [f"x{j}" for j in range(d)])
        if len(x_names) != d:
            raise CampaignError(f"x_names: {len(x_names)} names for {d} inputs")
        n_initial = 2 * k if n_initial is None else n_initial
        # The campaign's problem is bound apart (`Engine`), never registered.
        cfg = sized(
            preset_name,
            problem="campaign",
            method=method,
            gamma=gamma,
            k=k,
            n_initial=n_initial,
            options=options or {},
            **{"n_test": 1, **config},  # no test set in the wild
        ).validate()
        acquisitions.check_options(cfg.options)
        acquisition.resolve_options(cfg.options)
        if table is not None:
            held = np.asarray(held_out, np.int64)
            if held.size and (held.min() < 0 or held.max() >= len(table)):
                raise CampaignError(
                    f"held_out: candidate ids run from 0 to {len(table) - 1}"
                )
            if acquisition.returns_points:
                raise CampaignError(
                    f"method {method!r} synthesises points, which may not be "
                    "candidates; use a method that picks from the pool"
                )
            if len(table) - len(set(held.tolist())) < k:
                raise CampaignError(f"k={k} is larger than the {len(table)} candidates")
        folder.mkdir(parents=True, exist_ok=True)
        record.update(
            format=store.FORMAT,
            jdal_version=jdal.__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            lower=lower.tolist(),
            upper=upper.tolist(),
            x_names=x_names,
            y_names=None if y_names is None else list(y_names),
            y_scaling=y_scaling,
            y_low=None,
            y_high=None,
            seed=int(seed),
            initial=initial,
            held_out=sorted(set(int(i) for i in held_out)),
            cv_folds=int(cv_folds),
            model=None if model is None else model._asdict(),
            config=cfg.to_dict(),
        )
        with store.locked(folder):
            if table is not None:
                ids = np.arange(len(table))[:, None]
                store.write_table(
                    folder / store.CANDIDATES,
                    ["id", *x_names],
                    np.hstack([ids, table]),
                )
            store.save_json(folder / store.SETTINGS, record)
        return cls(folder)

    @classmethod
    def open(cls, folder: str | Path) -> Campaign:
        """The campaign in `folder`, as its files say (nothing cached elsewhere)."""
        folder = Path(folder)
        if not (folder / store.SETTINGS).exists():
            raise CampaignError(
                f"{folder}: no campaign here ({store.SETTINGS} missing); create one"
            )
        with store.locked(folder):
            return cls(folder)

    # -- what it holds -------------------------------------------------------------

    @property
    def dim_x(self) -> int:
        return len(self.lower)

    @property
    def y_names(self) -> list[str] | None:
        return self.settings["y_names"]

    @property
    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """(x f64[n, d], y f64[n, dy]) in the user's units, in labelling order."""
        return self._x, self._y

    @property
    def pending(self) -> np.ndarray | None:
        """The asked, not yet told batch f64[k, d] in the user's units, or None."""
        pending = self._pending()
        return None if pending is None else self._to_user(pending["x"])

    def _load_labelled(self) -> None:
        names = self.y_names
        path = self.folder / store.LABELLED
        if names is None or not path.exists():
            d = self.dim_x
            self._ids, self._batch = np.zeros(0, int), np.zeros(0, int)
            self._x, self._y = np.zeros((0, d)), np.zeros((0, len(names or ())))
            return
        table = store.read_table(path, self._labelled_header())
        self._ids = table[:, 0].astype(int)
        self._batch = table[:, 1].astype(int)
        self._x = table[:, 2 : 2 + self.dim_x]
        self._y = table[:, 2 + self.dim_x :]

    def _labelled_header(self) -> list[str]:
        return ["id", "batch", *self.x_names, *self.y_names]

    def _pending(self) -> dict[str, Any] | None:
        path = self.folder / store.PENDING
        if not path.exists():
            return None
        record = store.read_json(path)
        record["x"] = np.asarray(record["x"], np.float32).reshape(-1, self.dim_x)
        record["ids"] = np.asarray(record["ids"], np.int64)
        told = set(self._ids[self._ids >= 0].tolist())
        if self.candidates is None:  # a box: a told row's x is in the labels
            keep = ~self._matches(self._to_user(record["x"]), self._x)
        else:
            keep = np.array([i not in told for i in record["ids"]], bool)
        if not keep.all():  # told, but the process stopped before pending shrank
            record["x"], record["ids"] = record["x"][keep], record["ids"][keep]
        return record if keep.any() else None

    # -- scaling -----------------------------------------------------------------------

    def _to_unit(self, x: np.ndarray) -> np.ndarray:
        """User units -> [-1, 1] (f32), as `jdal.problems.user_data` scales rows."""
        scaled = 2.0 * (x - self.lower) / (self.upper - self.lower) - 1.0
        return scaled.astype(np.float32)

    def _to_user(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        return self.lower + (x + 1.0) / 2.0 * (self.upper - self.lower)

    def _y_bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.settings["y_scaling"] == "none" or self.settings["y_low"] is None:
            return None
        return (
            np.asarray(self.settings["y_low"]),
            np.asarray(self.settings["y_high"]),
        )

    def _y_to_unit(self, y: np.ndarray) -> np.ndarray:
        bounds = self._y_bounds()
        if bounds is None:
            return np.asarray(y).astype(np.float32)
        low, high = bounds
        return (2.0 * (y - low) / (high - low) - 1.0).astype(np.float32)

    def _y_to_user(self, y: np.ndarray) -> np.ndarray:
        bounds = self._y_bounds()
        y = np.asarray(y, np.float64)
        if bounds is None:
            return y
        low, high = bounds
        return low + (y + 1.0) / 2.0 * (high - low)

    # -- the model -----------------------------------------------------------------

    def _problem(self, dim_y: int | None = None) -> Problem:
        """The campaign's (unregistered) problem; `dim_y` defaults to the number
        of outputs named so far."""
        spec = self.settings["model"]
        dim_y = len(self.y_names) if dim_y is None else dim_y
        if spec is None:
            model = default_model(self.dim_x, dim_y)
        else:
            model = problems.ModelSpec(**{**spec, "hidden": tuple(spec["hidden"])})
        return Problem(
            name=self.cfg.problem,
            dim_x=self.dim_x,
            dim_y=dim_y,
            oracle=_no_oracle,
            model=model,
            description="a campaign (labels from outside)",
        )

    def engine(self) -> Engine:
        """The compiled pieces (built on first use, once the outputs are known)."""
        if self._engine is None:
            if self.y_names is None:
                raise CampaignError(
                    f"{self.folder}: no labels yet, so the number of outputs is "
                    "unknown; tell the first batch"
                )
            candidates = None
            if self.candidates is not None:
                candidates = self._to_unit(self.candidates)
            self._engine = Engine(
                self.cfg, self._problem(), self.settings["seed"], candidates
            )
        return self._engine

    def _trained(self):
        """(state, step) trained on every labelled row: the stored model, or one
        more training step when labels arrived after it (an interrupted tell)."""
        if self._model is None and (self.folder / store.MODEL).exists():
            leaves, step, n = store.load_model(self.folder / store.MODEL)
            template = self.engine().init_model()
            try:
                state = state_from_leaves(template, leaves)
            except ValueError as error:
                raise CampaignError(f"{self.folder / store.MODEL}: {error}") from None
            self._model = (state, step, n)
        if self._model is not None and self._model[2] == len(self._x):
            return self._model[0], self._model[1]
        if len(self._x) == 0:
            raise CampaignError(f"{self.folder}: nothing labelled yet")
        return self._train()

    def _train(self):
        engine = self.engine()
        if self._model is None:
            state, step = engine.init_model(), 0
        else:
            state, step = self._model[0], self._model[1] + 1
        if self.settings["y_scaling"] == "minmax" and self.settings["y_low"] is None:
            low, high = self._y.min(axis=0), self._y.max(axis=0)
            high = np.where(high > low, high, low + 1.0)  # a constant target
            self.settings.update(y_low=low.tolist(), y_high=high.tolist())
            store.save_json(self.folder / store.SETTINGS, self.settings)
        started = time.perf_counter()
        state, loss = engine.train(
            step, state, self._to_unit(self._x), self._y_to_unit(self._y)
        )
        seconds = time.perf_counter() - started
        store.save_model(
            self.folder / store.MODEL, state_leaves(state), step, len(self._x)
        )
        self._model = (state, step, len(self._x))
        started = time.perf_counter()
        cv = engine.cross_validate(
            step,
            self._to_unit(self._x),
            self._y_to_unit(self._y),
            self.settings.get("cv_folds", CV_FOLDS),
        )
        cv_seconds = time.perf_counter() - started
        self._log(step, loss, cv, seconds, cv_seconds, state)
        return state, step

    def _log(self, step, loss, cv, seconds, cv_seconds, state) -> None:
        rows = self._log_rows()
        rows = rows[rows[:, 0] < step]  # a retrained step replaces its line
        line = [step, len(self._x), loss, cv, self._spread(state)]
        line += [self._batch_div(), seconds, cv_seconds, time.time()]
        store.write_table(self.folder / store.LOG, LOG_COLUMNS, np.vstack([rows, line]))

    def _log_rows(self) -> np.ndarray:
        """f64[trainings, columns] of log.csv (`LOG_COLUMNS`)."""
        path = self.folder / store.LOG
        if not path.exists():
            return np.zeros((0, len(LOG_COLUMNS)))
        return store.read_table(path, LOG_COLUMNS, allow_nan=True)

    def _spread(self, state) -> float:
        """Mean member standard deviation (scaled targets) over the candidates, or
        over fixed uniform points of the box."""
        if self.candidates is not None:
            points = self._to_unit(self.candidates)
        else:
            key = jax.random.key(self.settings["seed"])
            points = jax.random.uniform(key, (SPREAD_POINTS, self.dim_x), minval=-1)
        return float(np.mean(np.std(self.engine().predict(state, points), axis=0)))

    def _batch_div(self) -> float:
        """Div of the last batch: mean distance (scaled inputs) of its rows to
        their nearest other labelled row; nan before any batch."""
        last = self._batch.max() if len(self._batch) else 0
        if last < 1:
            return float("nan")
        x = self._to_unit(self._x)
        new = self._batch == last
        others = ~np.eye(len(x), dtype=bool)[new]
        return float(np.mean(nearest_distance(x[new], x, others)))

    # -- ask, tell, predict ------------------------------------------------------------

    def ask(self) -> np.ndarray:
        """The next batch f64[k, d] in the user's units (the pending one again if
        it was not told yet; N0 points of the initial design first)."""
        with store.locked(self.folder):
            pending = self._pending()
            if pending is None:
                pending = self._new_batch()
            return self._to_user(pending["x"])

    def _free_rows(self) -> np.ndarray:
        """bool[N] candidate rows that may not be asked: labelled or held out."""
        used = np.zeros(len(self.candidates), bool)
        used[self._ids[self._ids >= 0]] = True
        used[self.settings["held_out"]] = True
        return used

    def _new_batch(self) -> dict[str, Any]:
        used = None if self.candidates is None else self._free_rows()
        if used is not None and (~used).sum() < (self.cfg.k if len(self._x) else 1):
            raise CampaignError(
                f"{self.folder}: the candidate table is exhausted: {(~used).sum()} "
                f"rows left, a batch takes {self.cfg.k}"
            )
        if len(self._x) == 0:
            n = (
                self.cfg.n_initial
                if used is None
                else min(self.cfg.n_initial, (~used).sum())
            )
            batch = self._initial_engine().initial_design(
                int(n), self.settings["initial"], used
            )
            number = 0
        else:
            state, step = self._trained()
            batch, _ = self.engine().propose(
                step,
                state,
                self._to_unit(self._x),
                self._y_to_unit(self._y),
                used,
            )
            number = int(self._batch.max()) + 1
        record = {"batch": number, "ids": batch.ids.tolist(), "x": batch.x.tolist()}
        store.save_json(self.folder / store.PENDING, record)
        pending = self._pending()
        if pending is None:  # every proposed row is labelled already
            raise CampaignError(
                f"{self.folder}: the method proposed only rows that are labelled "
                "already; labelled.csv and the model may disagree (edited by hand?)"
            )
        return pending

    def _initial_engine(self) -> Engine:
        """An engine for the initial design, which needs no model and so no
        outputs: with one nominal output when none is known yet."""
        if self.y_names is not None:
            return self.engine()
        problem = self._problem(dim_y=1)
        candidates = None
        if self.candidates is not None:
            candidates = self._to_unit(self.candidates)
        return Engine(self.cfg, problem, self.settings["seed"], candidates)

    def tell(
        self,
        x: Any,
        y: Any,
        *,
        ids: Sequence[int] | None = None,
        allow_extra: bool = False,
    ) -> None:
        """Adds labelled rows (x [n, d] in the user's units, y [n, dy] or [n])
        and retrains the ensemble.

        Rows are matched to the pending batch by their inputs (or to candidate
        rows by `ids`). Rows that were not asked are refused unless
        `allow_extra` (then they join as ordinary labelled rows; in a table
        campaign they must be candidate rows). CampaignError, with nothing
        stored, on non-finite or misshapen labels, rows told twice, inputs
        outside the box, unknown candidate ids.
        """
        with store.locked(self.folder):
            x, y = self._checked_rows(x, y)
            pending = self._pending()
            row_ids, batch = self._match(x, ids, pending, allow_extra)
            if self.y_names is None:
                self.settings["y_names"] = [f"y{j}" for j in range(y.shape[1])]
                store.save_json(self.folder / store.SETTINGS, self.settings)
                self._y = np.zeros((0, y.shape[1]))
            self._ids = np.concatenate([self._ids, row_ids])
            self._batch = np.concatenate([self._batch, batch])
            self._x = np.vstack([self._x, x])
            self._y = np.vstack([self._y, y])
            rows = np.hstack(
                [self._ids[:, None], self._batch[:, None], self._x, self._y]
            )
            store.write_table(
                self.folder / store.LABELLED, self._labelled_header(), rows
            )
            if pending is not None:  # what is left of the asked batch
                left = self._pending()
                if left is None:
                    store.remove(self.folder / store.PENDING)
                else:
                    record = {
                        "batch": left["batch"],
                        "ids": left["ids"].tolist(),
                        "x": left["x"].tolist(),
                    }
                    store.save_json(self.folder / store.PENDING, record)
            self._trained()  # the stored model (if any), one training further

    def _checked_rows(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        if x.ndim == 1:  # one row
            x = x[None, :]
        if y.ndim == 0:
            y = y.reshape(1, 1)
        elif y.ndim == 1:  # one output per row, or one row of outputs
            y = y[None, :] if len(x) == 1 and len(y) != 1 else y[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim_x:
            raise CampaignError(
                f"tell: x has shape {x.shape}; expected [n, {self.dim_x}] "
                f"({', '.join(self.x_names)})"
            )
        if len(x) != len(y):
            raise CampaignError(f"tell: {len(x)} input rows but {len(y)} label rows")
        if self.y_names is not None and y.shape[1] != len(self.y_names):
            raise CampaignError(
                f"tell: y has {y.shape[1]} outputs; this campaign has "
                f"{len(self.y_names)} ({', '.join(self.y_names)})"
            )
        for name, values in (("x", x), ("y", y)):
            if (bad := first_not_finite(values)) is not None:
                i, j = bad
                raise CampaignError(
                    f"tell: {name} row {i}, column {j} is {values[i, j]} (not "
                    "finite); nothing was stored"
                )
        width = self.upper - self.lower
        outside = (x < self.lower - MATCH_TOLERANCE * width) | (
            x > self.upper + MATCH_TOLERANCE * width
        )
        if outside.any():
            i, j = np.argwhere(outside)[0]
            raise CampaignError(
                f"tell: x row {i}, {self.x_names[j]} = {x[i, j]:g} lies outside "
                f"[{self.lower[j]:g}, {self.upper[j]:g}]; nothing was stored"
            )
        return x, y

    def _matches(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """bool[len(a)]: rows of a that equal a row of b within the tolerance."""
        if len(b) == 0 or len(a) == 0:
            return np.zeros(len(a), bool)
        return self._nearest(a, b)[1]

    def _nearest(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index of the matching row of b per row of a, whether it matches)."""
        width = self.upper - self.lower
        gap = np.max(np.abs(a[:, None, :] - b[None, :, :]) / width, axis=2)
        nearest = np.argmin(gap, axis=1)
        return nearest, gap[np.arange(len(a)), nearest] <= MATCH_TOLERANCE

    def _match(self, x, ids, pending, allow_extra) -> tuple[np.ndarray, np.ndarray]:
        """(candidate id or -1, batch number) per told row; CampaignError on rows
        that were not asked (unless allow_extra), told twice or not candidates."""
        n = len(x)
        row_ids = np.full(n, -1, np.int64)
        batch = np.full(n, -1, np.int64)
        asked_x = None if pending is None else self._to_user(pending["x"])
        if self.candidates is not None:
            if ids is None:
                index, found = self._nearest(x, self.candidates)
                if not found.all():
                    i = int(np.flatnonzero(~found)[0])
                    raise CampaignError(
                        f"tell: x row {i} is not a candidate row; pass ids="
                    )
                row_ids = index
            else:
                row_ids = np.asarray(ids, np.int64).reshape(-1)
                if len(row_ids) != n:
                    raise CampaignError(f"tell: {len(row_ids)} ids for {n} rows")
                bad = (row_ids < 0) | (row_ids >= len(self.candidates))
                if bad.any():
                    raise CampaignError(
                        f"tell: candidate id {row_ids[bad][0]} does not exist (ids "
                        f"run from 0 to {len(self.candidates) - 1})"
                    )
            if len(set(row_ids.tolist())) < n:
                raise CampaignError("tell: a candidate row appears twice")
            seen = set(self._ids.tolist()) & set(row_ids.tolist())
            if seen:
                raise CampaignError(
                    f"tell: candidate {min(seen)} is already labelled; nothing was "
                    "stored"
                )
            if pending is not None:
                asked = np.isin(row_ids, pending["ids"])
                batch[asked] = pending["batch"]
        else:
            if len(np.unique(x, axis=0)) < n:
                raise CampaignError("tell: an input row appears twice")
            twice = self._matches(x, self._x)
            if twice.any():
                i = int(np.flatnonzero(twice)[0])
                raise CampaignError(
                    f"tell: x row {i} is already labelled; nothing was stored"
                )
            if asked_x is not None:
                asked = self._matches(x, asked_x)
                batch[asked] = pending["batch"]
        extra = batch < 0
        if extra.any() and not allow_extra:
            i = int(np.flatnonzero(extra)[0])
            raise CampaignError(
                f"tell: x row {i} was not asked (pending: "
                f"{0 if pending is None else len(pending['x'])} rows); pass "
                "allow_extra=True to add it as an ordinary labelled row"
            )
        return row_ids, batch

    def predict(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """(mean f64[n, dy], member spread f64[n, dy]) at inputs x [n, d] in the
        user's units; the spread is the members' standard deviation."""
        x = np.asarray(x, np.float64).reshape(-1, self.dim_x)
        with store.locked(self.folder):
            state, _ = self._trained()
            members = self._y_to_user(self.engine().predict(state, self._to_unit(x)))
        return members.mean(axis=0), members.std(axis=0)

    def status(self) -> dict[str, Any]:
        """Labels, batches, the pending batch and the log of every training."""
        log = [dict(zip(LOG_COLUMNS, row, strict=True)) for row in self._log_rows()]
        pending = self._pending()
        return {
            "folder": str(self.folder),
            "kind": self.settings["kind"],
            "method": self.cfg.method,
            "k": self.cfg.k,
            "gamma": self.cfg.gamma,
            "n_labelled": len(self._x),
            "batches": int(self._batch.max()) + 1 if len(self._batch) else 0,
            "pending": 0 if pending is None else len(pending["x"]),
            "log": log,
        }


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise CampaignError(f"{name}={value!r}: allowed are {', '.join(allowed)}")


def _box(box) -> tuple[np.ndarray, np.ndarray]:
    try:
        lower, upper = (np.asarray(b, np.float64).reshape(-1) for b in box)
    except (TypeError, ValueError):
        raise CampaignError(
            "box: expected (lower, upper), two lists of numbers"
        ) from None
    if lower.shape != upper.shape or lower.size == 0:
        raise CampaignError(
            f"box: lower has {lower.size} values and upper {upper.size}; need one "
            "pair per input"
        )
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
        raise CampaignError("box: bounds must be finite")
    if not np.all(upper > lower):
        j = int(np.flatnonzero(~(upper > lower))[0])
        raise CampaignError(f"box: input {j}: upper {upper[j]:g} <= lower {lower[j]:g}")
    return lower, upper


def _candidate_table(candidates) -> tuple[list[str] | None, np.ndarray]:
    if isinstance(candidates, str | Path):
        header, table = store.read_csv(Path(candidates))
    else:
        header, table = None, np.asarray(candidates, np.float64)
    if table.ndim != 2 or len(table) == 0:
        raise CampaignError(f"candidates: expected rows [N, d], got {table.shape}")
    if not np.all(np.isfinite(table)):
        raise CampaignError("candidates: every value must be finite")
    return header, table


def simulate(
    campaign: Campaign, f: Callable[[np.ndarray], Any], batches: int
) -> Campaign:
    """Runs `batches` ask/tell rounds labelled by `f`, any Python function of a
    batch (x f64[k, d] in the user's units -> y [k, dy] or [k]): a SciPy solver,
    a wrapper around an external program. The first round is the initial design
    when nothing is labelled yet."""
    for _ in range(batches):
        x = campaign.ask()
        campaign.tell(x, np.asarray(f(x), np.float64).reshape(len(x), -1))
    return campaign
