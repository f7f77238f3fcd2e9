"""The deep ensemble: stacking, masked BatchNorm, PyTorch initialisation, joint
training with PyTorch's Adam and plateau schedule (against NumPy references)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jdal import config, problems
from jdal.models.ensemble import (
    NO_LOSS_YET,
    count_params,
    make_ensemble,
    make_optimizer,
    minibatch,
    plateau_scale,
    torch_plateau_floor,
)
from jdal.models.mlp import HEAD_BLOCK, AdmHead, banded_two_phase


@pytest.fixture
def robo_ensemble():
    cfg = config.smoke(problem="robo", train_steps=100, n_members=3, max_width=32)
    return problems.get("robo"), cfg, make_ensemble(problems.get("robo"), cfg)


def labelled_buffer(problem, key, n_valid, capacity, pad_value=0.0):
    x = jax.random.uniform(key, (capacity, problem.dim_x), minval=-1, maxval=1)
    y = problem.label(x)
    pad = jnp.arange(capacity)[:, None] >= n_valid
    return jnp.where(pad, pad_value, x), jnp.where(pad, pad_value, y)


def test_members_are_stacked_and_differ(robo_ensemble, key):
    problem, cfg, ensemble = robo_ensemble
    state = ensemble.init(key)
    for leaf in jax.tree.leaves(state.params):
        assert leaf.shape[0] == 3
    kernel = state.params["mlp"]["Dense_0"]["kernel"]
    assert not np.allclose(kernel[0], kernel[1])
    preds = ensemble.predict(state, jnp.zeros((7, problem.dim_x)))
    assert preds.shape == (3, 7, problem.dim_y) and preds.dtype == jnp.float32


def test_paper_widths_match_spec():
    cfg = config.paper(problem="robo")
    state = make_ensemble(problems.get("robo"), cfg).init(jax.random.key(0))
    # robo: 4 x 500 hidden, 10 members: (4*500+500) + 3*(500*500+500) + (500*2+2)
    # dense weights, plus BatchNorm scale and bias (2*500 per layer).
    per_member = (4 * 500 + 500) + 3 * (500 * 500 + 500) + (500 * 2 + 2) + 4 * 1000
    assert count_params(state.params) == 10 * per_member


def test_training_lowers_the_loss(robo_ensemble, key):
    problem, cfg, ensemble = robo_ensemble
    x, y = labelled_buffer(problem, key, 80, 120)
    state, info = jax.jit(ensemble.train)(key, ensemble.init(key), x, y, 80)
    assert info.loss.shape == (cfg.train_steps,)
    assert info.loss[-1] < 0.5 * info.loss[0]


def test_padding_rows_do_not_matter(robo_ensemble, key):
    """BatchNorm statistics and the loss use valid rows only."""
    problem, cfg, ensemble = robo_ensemble
    state0 = ensemble.init(key)
    x0, y0 = labelled_buffer(problem, key, 80, 120, pad_value=0.0)
    x1, y1 = labelled_buffer(problem, key, 80, 120, pad_value=1e3)
    train = jax.jit(ensemble.train)
    s0, i0 = train(key, state0, x0, y0, 80)
    s1, i1 = train(key, state0, x1, y1, 80)
    np.testing.assert_allclose(i0.loss, i1.loss, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(s0), jax.tree.leaves(s1), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_warm_start_keeps_weights(robo_ensemble, key):
    problem, cfg, ensemble = robo_ensemble
    x, y = labelled_buffer(problem, key, 120, 120)
    train = jax.jit(ensemble.train)
    state, first = train(key, ensemble.init(key), x, y, 120)
    _, second = train(jax.random.fold_in(key, 1), state, x, y, 120)
    assert second.loss[0] < 0.5 * first.loss[0]


def test_minibatch_draws_distinct_valid_rows(key):
    rows, mask = minibatch(key, capacity=100, n_valid=jnp.int32(60), batch_size=50)
    assert rows.shape == (50,) and bool(mask.all())
    assert len(set(np.asarray(rows).tolist())) == 50 and int(rows.max()) < 60
    rows, mask = minibatch(key, capacity=100, n_valid=jnp.int32(30), batch_size=50)
    assert int(mask.sum()) == 30
    assert set(np.asarray(rows[mask]).tolist()) == set(range(30))
    rows, mask = minibatch(key, capacity=100, n_valid=jnp.int32(30), batch_size=None)
    assert rows.shape == (100,) and int(mask.sum()) == 30


# ---------------------------------------------------------------------------
# PyTorch's rules, written out by hand as references.


def torch_plateau_trace(losses, factor, patience, threshold, lr, eps=1e-8):
    """Learning rate before each step under ReduceLROnPlateau(mode="min",
    threshold_mode="rel", cooldown=0, min_lr=0) stepped after every optimiser step
    on that step's loss: the rate of step t depends on losses[:t]."""
    rates, best, bad, rate = [], float("inf"), 0, lr
    for loss in losses:
        rates.append(rate)
        if loss < best * (1.0 - threshold):
            best, bad = loss, 0
        else:
            bad += 1
        if bad > patience:
            new_rate = max(rate * factor, 0.0)
            if rate - new_rate > eps:
                rate = new_rate
            bad = 0
    return np.array(rates)


def test_plateau_schedule_follows_a_hand_trace_of_pytorch():
    """The optax chain, fed the previous step's loss, cuts exactly when PyTorch does."""
    losses = [1.0, 0.95, 0.95, 0.95, 0.5, 0.49, 0.48, 0.47, 0.46, 0.46, 0.1]
    lr, factor, patience, threshold = 0.1, 0.5, 2, 0.1
    optimizer = make_optimizer(lr, 0.0, factor, patience, threshold)
    params = jnp.zeros(3)
    state = optimizer.init(params)
    rates, previous = [], NO_LOSS_YET
    for loss in losses:
        _, state = optimizer.update(jnp.ones(3), state, params, value=previous)
        rates.append(lr * float(plateau_scale(state)))
        previous = loss
    want = torch_plateau_trace(losses, factor, patience, threshold, lr)
    np.testing.assert_allclose(rates, want, rtol=1e-6)
    assert want[-1] < want[0]  # the trace does cut


def test_plateau_floor_is_pytorchs_smallest_cut():
    """PyTorch ignores a cut smaller than eps = 1e-8: with lr 1e-4 and factor 0.8
    the rate stops at the first 1e-4 * 0.8^n <= 5e-8 (n = 35)."""
    losses = [1.0] * 600  # never improves: a cut every patience + 1 steps
    want = torch_plateau_trace(losses, 0.8, 10, 1e-4, 1e-4)
    assert want[-1] == pytest.approx(1e-4 * 0.8**35, rel=1e-9)
    assert torch_plateau_floor(1e-4, 0.8) == pytest.approx(0.8**35, rel=1e-9)
    optimizer = make_optimizer(1e-4, 0.0, 0.8, 10, 1e-4)
    one = jnp.ones(1)
    state, previous = optimizer.init(one), NO_LOSS_YET
    update = jax.jit(lambda state, loss: optimizer.update(one, state, one, value=loss))
    for loss in losses:
        _, state = update(state, jnp.float32(previous))
        previous = loss
    assert 1e-4 * float(plateau_scale(state)) == pytest.approx(want[-1], rel=1e-5)


def joint_loss_reference(ensemble, params, batch_stats, x, y):
    """Mean over members of each member's MSE (BatchNorm on the batch), written
    with the member module directly."""
    losses = []
    n_members = jax.tree.leaves(params)[0].shape[0]
    for m in range(n_members):
        variables = {
            "params": jax.tree.map(lambda a, m=m: a[m], params["mlp"]),
            "batch_stats": jax.tree.map(lambda a, m=m: a[m], batch_stats),
        }
        (pred, _), _ = ensemble.module.apply(
            variables, x, train=True, mask=jnp.ones(x.shape[0], bool), mutable=True
        )
        losses.append(jnp.mean(jnp.square(pred - y)))
    return sum(losses) / n_members


def numpy_torch_adam(params, grads_fn, steps, lr, weight_decay, b1=0.9, b2=0.999):
    """torch.optim.Adam(lr, betas, eps=1e-8, weight_decay) in NumPy float64: the
    gradient gets wd * θ added before the moments; bias-corrected steps."""
    theta = [np.asarray(p, np.float64) for p in params]
    m = [np.zeros_like(p) for p in theta]
    v = [np.zeros_like(p) for p in theta]
    for t in range(1, steps + 1):
        grads = [np.asarray(g, np.float64) for g in grads_fn(theta)]
        for i, (p, g) in enumerate(zip(theta, grads, strict=True)):
            g = g + weight_decay * p
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            theta[i] = p - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return theta


@pytest.mark.parametrize("steps", [1, 3])
def test_joint_training_is_pytorch_adam_on_the_joint_loss(steps):
    """A 2-member ensemble's first gradient steps equal NumPy's PyTorch Adam with
    weight_decay on the mean of the member MSEs (a member's data gradient is 1/M
    of its own); a large weight decay makes the 1/M visible."""
    problem = problems.get("robo")
    weight_decay, lr = 0.05, 1e-3
    cfg = config.smoke(
        problem="robo",
        n_members=2,
        max_width=8,
        train_steps=steps,
        weight_decay=weight_decay,
        learning_rate=lr,
    )
    ensemble = make_ensemble(problem, cfg)
    key = jax.random.key(3)
    x = jax.random.uniform(key, (16, 4), minval=-1, maxval=1)
    y = problem.label(x)
    state0 = ensemble.init(jax.random.key(4))
    state, info = jax.jit(ensemble.train)(key, state0, x, y, 16)
    np.testing.assert_array_equal(info.lr_scale, 1.0)  # no cut in 3 steps

    leaves, treedef = jax.tree.flatten(state0.params)

    def grads_fn(theta, scale=1.0):
        params = jax.tree.unflatten(
            treedef, [jnp.asarray(p, jnp.float32) for p in theta]
        )
        grads = jax.grad(joint_loss_reference, argnums=1)(
            ensemble, params, state0.batch_stats, x, y
        )
        return [scale * g for g in jax.tree.leaves(grads)]

    want = numpy_torch_adam(leaves, grads_fn, steps, lr, weight_decay)
    got = jax.tree.leaves(state.params)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=2e-6, rtol=0)
    # Per-member losses (gradient M times larger) would give other parameters.
    per_member = numpy_torch_adam(
        leaves, lambda t: grads_fn(t, scale=2.0), steps, lr, weight_decay
    )
    assert (
        max(np.max(np.abs(a - b)) for a, b in zip(per_member, want, strict=True)) > 1e-5
    )


def test_schedule_of_training_follows_pytorch_on_the_joint_loss(key):
    """Inside `train`, the rate of step t is PyTorch's rule applied to the joint
    training losses of steps 0..t-1, one rate for every member."""
    problem = problems.get("robo")
    cfg = config.smoke(
        problem="robo",
        n_members=3,
        max_width=8,
        train_steps=60,
        plateau_patience=2,
        plateau_threshold=0.05,
        plateau_factor=0.5,
    )
    ensemble = make_ensemble(problem, cfg)
    x, y = labelled_buffer(problem, key, 40, 48)
    _, info = jax.jit(ensemble.train)(key, ensemble.init(key), x, y, 40)
    lr = ensemble.learning_rate
    want = torch_plateau_trace(np.asarray(info.loss, np.float64), 0.5, 2, 0.05, lr)
    np.testing.assert_allclose(lr * np.asarray(info.lr_scale), want, rtol=1e-6)
    assert want[-1] < lr / 4  # several cuts happened


def test_adam_and_schedule_restart_at_every_al_step(key):
    """After an AL step whose schedule cut the rate many times, the next AL step
    starts at the full rate with fresh Adam moments: its first update is NumPy's
    first Adam step from zero moments at the warm-started weights."""
    problem = problems.get("robo")
    settings = dict(problem="robo", n_members=2, max_width=8, weight_decay=1e-4)
    cutting = config.smoke(
        train_steps=40, plateau_patience=0, plateau_threshold=0.9, **settings
    )
    first = make_ensemble(problem, cutting)
    x, y = labelled_buffer(problem, key, 24, 24)
    warm, info = jax.jit(first.train)(key, first.init(key), x, y, 24)
    assert float(info.lr_scale[-1]) < 1e-3  # the schedule did cut
    one_step = make_ensemble(problem, cutting.replace(train_steps=1))
    state, info = jax.jit(one_step.train)(key, warm, x, y, 24)
    assert float(info.lr_scale[0]) == 1.0

    leaves, treedef = jax.tree.flatten(warm.params)

    def grads_fn(theta):
        params = jax.tree.unflatten(
            treedef, [jnp.asarray(p, jnp.float32) for p in theta]
        )
        grads = jax.grad(joint_loss_reference, argnums=1)(
            one_step, params, warm.batch_stats, x, y
        )
        return jax.tree.leaves(grads)

    want = numpy_torch_adam(leaves, grads_fn, 1, one_step.learning_rate, 1e-4)
    # Adam's first step is g / (|g| + 1e-8) up to the rate: ill-conditioned where
    # g + wd θ is as small as float32 rounding (Dense biases before BatchNorm have
    # an exactly zero gradient in exact arithmetic); compare everywhere else.
    grads = grads_fn(leaves)
    for g, w, theta, grad in zip(
        jax.tree.leaves(state.params), want, leaves, grads, strict=True
    ):
        conditioned = np.abs(np.asarray(grad) + 1e-4 * np.asarray(theta)) > 1e-6
        np.testing.assert_allclose(g[conditioned], w[conditioned], atol=2e-6, rtol=0)
        # A leaked Adam state would move the conditioned entries by less than lr.
        step = np.abs(np.asarray(g) - np.asarray(theta))[conditioned]
        np.testing.assert_allclose(step, one_step.learning_rate, rtol=1e-2)


# ---------------------------------------------------------------------------
# PyTorch's default initialisation and the adm head.


def assert_torch_uniform(values, fan_in, what):
    """Empirical std within 5 % of U(±1/√fan_in)'s 1/√(3 fan_in), non-zero draws."""
    values = np.asarray(values).ravel()
    want = 1.0 / np.sqrt(3.0 * fan_in)
    assert abs(values.std() / want - 1.0) < 0.05, (what, values.std(), want)
    assert np.all(np.abs(values) <= 1.0 / np.sqrt(fan_in) + 1e-7), what
    assert np.mean(values == 0.0) < 1e-3, what


def test_dense_layers_start_as_pytorch_linear():
    """Every Dense weight and bias ~ U(±1/√fan_in), fan_in = input width."""
    problem = problems.get("robo")
    cfg = config.smoke(problem="robo", n_members=1000, max_width=8)
    state = make_ensemble(problem, cfg).init(jax.random.key(0))
    mlp = state.params["mlp"]
    fan_ins = [4, 8, 8, 8, 8]  # robo: 4 inputs, 4 hidden blocks of 8, 2 outputs
    for layer, fan_in in enumerate(fan_ins):
        dense = mlp[f"Dense_{layer}"]
        assert_torch_uniform(dense["kernel"], fan_in, f"Dense_{layer} kernel")
        assert_torch_uniform(dense["bias"], fan_in, f"Dense_{layer} bias")
    for name, norm in mlp.items():
        if name.startswith("BatchNorm"):
            np.testing.assert_array_equal(norm["scale"], 1.0)
            np.testing.assert_array_equal(norm["bias"], 0.0)


def test_adm_head_convolutions_start_as_pytorch():
    """ConvTranspose1d fan_in is out_channels x kernel (PyTorch reads it from the
    weight's dimension 1); Conv1d's is in_channels x kernel."""
    head = AdmHead()
    init = jax.vmap(lambda k: head.init(k, jnp.zeros((1, 1000)))["params"])
    params = init(jax.random.split(jax.random.key(1), 2000))
    fan_ins = {
        "ConvTranspose_0": 4 * 4,
        "ConvTranspose_1": 4 * 3,
        "ConvTranspose_2": 4 * 3,
        "Conv_0": 4 * 1,
    }
    assert set(params) == set(fan_ins)
    for name, fan_in in fan_ins.items():
        assert_torch_uniform(params[name]["kernel"], fan_in, f"{name} kernel")
        assert_torch_uniform(params[name]["bias"], fan_in, f"{name} bias")


def torch_conv_transpose1d(z, weight, bias, stride, padding):
    """PyTorch's ConvTranspose1d by its definition, a direct loop:
    out[n, co, i s - p + j] += z[n, ci, i] W[ci, co, j], cropped to
    (L - 1) s - 2 p + kernel. z f64[n, C_in, L], weight [C_in, C_out, kernel]."""
    n, _, length = z.shape
    _, c_out, kernel = weight.shape
    full = np.zeros((n, c_out, (length - 1) * stride + kernel))
    for i in range(length):
        for j in range(kernel):
            full[:, :, i * stride + j] += z[:, :, i] @ weight[:, :, j]
    out_length = (length - 1) * stride - 2 * padding + kernel
    return full[:, :, padding : padding + out_length] + bias[None, :, None]


def test_adm_head_is_pytorchs_transposed_convolution():
    head = AdmHead(precision=jax.lax.Precision.HIGHEST)
    params = head.init(jax.random.key(2), jnp.zeros((1, 1000)))["params"]
    h = np.asarray(jax.random.normal(jax.random.key(3), (3, 1000)), np.float64)
    z = h[:, None, :]
    for name, stride, padding in (
        ("ConvTranspose_0", 2, 1),
        ("ConvTranspose_1", 1, 1),
        ("ConvTranspose_2", 1, 1),
    ):
        kernel = np.asarray(params[name]["kernel"], np.float64)  # [k, in, out]
        weight = np.transpose(kernel[::-1], (1, 2, 0))  # PyTorch [in, out, k]
        z = torch_conv_transpose1d(
            z, weight, np.asarray(params[name]["bias"]), stride, padding
        )
    conv = np.asarray(params["Conv_0"]["kernel"], np.float64)[0]  # [in, out]
    want = np.einsum("ncl,co->nol", z, conv)[:, 0] + float(params["Conv_0"]["bias"][0])
    got = head.apply({"params": params}, jnp.asarray(h, jnp.float32))
    assert got.shape == (3, 2000)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("length", [HEAD_BLOCK * 3, 7, 1000])
def test_banded_two_phase_is_the_direct_sum(length):
    """The blocked product (HEAD_BLOCK-input windows; one whole-length block when
    HEAD_BLOCK does not divide L) against the defining sum, a float64 loop:
    y[2 i + r] = sum over |d| <= 3 of z[i - d] taps[d + 3, r], z zero outside."""
    key_z, key_taps = jax.random.split(jax.random.key(4))
    z = np.asarray(jax.random.normal(key_z, (2, 3, length)), np.float64)
    taps = np.asarray(jax.random.normal(key_taps, (7, 2)), np.float64)
    want = np.zeros((2, 3, length, 2))
    for i in range(length):
        for d in range(-3, 4):
            if 0 <= i - d < length:
                want[..., i, :] += z[..., i - d, None] * taps[d + 3]
    got = banded_two_phase(
        jnp.asarray(z, jnp.float32), jnp.asarray(taps, jnp.float32),
        jax.lax.Precision.HIGHEST,
    )  # fmt: skip
    assert got.shape == (2, 3, 2 * length)
    np.testing.assert_allclose(got, want.reshape(2, 3, 2 * length), atol=1e-5)
