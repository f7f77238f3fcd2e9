"""Scores of BENCHMARK.md 5, on plain arrays (NumPy; works on host results).

    nauc(method_mse f32[S, T+1], random_mse f32[S, T+1], n int[T+1]) -> float
    ndiv(method_div f32[S], random_div f32[S]) -> float

Below 1 is better than random for nAUC; nDiv well below 1 signals mode collapse.
"""

from __future__ import annotations

import numpy as np


def auc(curve: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Trapezoidal area under `curve` f32[..., T+1] over labelled-set sizes n[T+1]."""
    curve = np.asarray(curve, np.float64)
    n = np.asarray(n, np.float64)
    return np.sum(0.5 * (curve[..., 1:] + curve[..., :-1]) * np.diff(n), axis=-1)


def nauc(method_mse: np.ndarray, random_mse: np.ndarray, n: np.ndarray) -> float:
    """AUC of the seed-mean MSE curve over AUC of random's seed-mean curve."""
    method_mean = np.mean(np.asarray(method_mse, np.float64), axis=0)
    random_mean = np.mean(np.asarray(random_mse, np.float64), axis=0)
    return float(auc(method_mean, n) / auc(random_mean, n))


def nauc_per_seed(method_mse: np.ndarray, random_mse: np.ndarray, n) -> np.ndarray:
    """f64[S]: paired nAUC of each seed (same seed's random run as reference)."""
    return auc(method_mse, n) / auc(random_mse, n)


def ndiv(method_div: np.ndarray, random_div: np.ndarray) -> float:
    """Seed-mean Div of the method over seed-mean Div of random."""
    return float(np.mean(method_div) / np.mean(random_div))


def bootstrap_interval(
    per_seed: np.ndarray, level: float = 0.9, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-seed values."""
    values = np.asarray(per_seed, np.float64)
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (n_resamples, values.size), replace=True).mean(axis=1)
    tail = 50 * (1 - level)
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def is_robust(nauc_by_gamma: dict[int, float]) -> bool:
    """A method is robust on a problem when nAUC < 1 at every gamma."""
    return bool(nauc_by_gamma) and all(v < 1.0 for v in nauc_by_gamma.values())


def best_gamma(nauc_by_gamma: dict[int, float]) -> int:
    """The gamma with the lowest nAUC."""
    return min(nauc_by_gamma, key=nauc_by_gamma.__getitem__)
