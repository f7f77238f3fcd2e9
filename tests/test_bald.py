"""BALD's dropout side net: the streaming variance against a naive one, the widths
(÷ √10, rounded down) and PyTorch's default initialisation."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import acquisitions, config, problems
from jdal.acquisitions.bald import (
    DropoutMLP,
    make_bald_side,
    make_dropout_mlp,
    mc_dropout_variance,
)
from jdal.models.ensemble import make_module


def test_streaming_variance_equals_a_naive_variance_over_the_same_passes():
    problem = problems.get("robo")
    cfg = config.smoke(method="bald", max_width=20)  # side net 4 x 6 wide
    module = make_dropout_mlp(problem, cfg, 0.5)
    params = make_bald_side(problem, cfg, {"dropout": 0.5}).init(
        jax.random.key(0), 4, 2
    )
    x = jax.random.uniform(jax.random.key(1), (7, 4), jnp.float32, -1.0, 1.0)
    key, n_passes = jax.random.key(2), 25
    streaming = jax.jit(mc_dropout_variance, static_argnums=(0, 4))
    got = np.asarray(streaming(module, params, key, x, n_passes))

    # Each pass and row again, one at a time, with the keys the implementation
    # derives: pass p uses split(key)[p], row i of it fold_in(that key, i).
    @jax.jit
    def one_row(key_pass, row, x_row):
        rngs = {"dropout": jax.random.fold_in(key_pass, row)}
        return module.apply(params, x_row[None], deterministic=False, rngs=rngs)[0]

    keys = jax.random.split(key, n_passes)
    preds = np.array(
        [[one_row(keys[p], i, x[i]) for i in range(len(x))] for p in range(n_passes)],
        np.float64,
    )  # [passes, P, dy]
    assert preds.shape == (n_passes, 7, 2)
    want = np.var(preds, axis=0).mean(axis=-1)
    assert np.all(want > 0)  # dropout makes the passes differ
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize(
    "max_width, width",
    [(50, 15), (30, 9), (64, 20), (20, 6), (3, 1), (1, 1), (None, 158)],
)
def test_side_widths_are_rounded_down(max_width, width):
    problem = problems.get("robo")
    module = make_dropout_mlp(problem, config.smoke(max_width=max_width), 0.5)
    n_hidden = len(make_module(problem, config.smoke(max_width=max_width)).hidden)
    assert module.hidden == (width,) * n_hidden
    assert width == max(1, math.floor((max_width or 500) / math.sqrt(10)))


def test_adm_side_widths_at_paper_size():
    problem = problems.get("adm")
    cfg = config.paper(problem="adm", method="bald")
    options = acquisitions.get("bald").resolve_options(cfg.options)
    assert options == {"passes": 25, "dropout": 0.5}  # the spec's defaults
    module = make_dropout_mlp(problem, cfg, options["dropout"])
    assert module.hidden == (474,) * len(make_module(problem, cfg).hidden)
    assert module.rate == 0.5


def test_every_dense_starts_as_pytorch_does():
    """U(±1/√fan_in) for weights and biases: std 1/√(3 fan_in), over 2000 inits."""
    dim_x, hidden, dim_y = 4, (8, 5), 3
    module = DropoutMLP(hidden=hidden, dim_y=dim_y, rate=0.5)
    dummy = jnp.zeros((1, dim_x), jnp.float32)

    def init(key):
        return module.init(key, dummy, deterministic=True)["params"]

    params = jax.jit(jax.vmap(init))(jax.random.split(jax.random.key(0), 2000))
    widths = (dim_x, *hidden, dim_y)
    assert sorted(params) == [f"Dense_{i}" for i in range(len(widths) - 1)]
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layer = params[f"Dense_{i}"]
        assert layer["kernel"].shape == (2000, fan_in, fan_out)
        bound = 1.0 / math.sqrt(fan_in)
        for name in ("kernel", "bias"):
            values = np.asarray(layer[name], np.float64)
            assert np.all(values != 0.0), (i, name)
            assert np.all(np.abs(values) <= bound), (i, name)
            assert abs(values.mean()) < 0.05 * bound, (i, name)
            np.testing.assert_allclose(values.std(), bound / math.sqrt(3), rtol=0.05)
