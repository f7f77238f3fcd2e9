"""Batched runs: sharding the run axis over 4 CPU devices gives the single-device
numbers; chunking the run axis (explicit or from a memory budget) changes nothing."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from jdal import config, make_run, seed_keys
from jdal.parallel import GridRunner, Runner, RunTooLargeError, size_fields

CFG = config.smoke(
    problem="robo", method="gsx", steps=2, train_steps=10, n_members=2, max_width=8,
    n_test=64, gamma=2,
)  # fmt: skip

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from jdal import config, seed_keys
    from jdal.loop import make_run
    from jdal.parallel import GridRunner, Runner
    assert jax.local_device_count() == 4, jax.local_devices()
    cfg = config.smoke(problem="robo", method="gsx", steps=2, train_steps=10,
                       n_members=2, max_width=8, n_test=64, gamma=2)
    keys = seed_keys(range(5))  # 5 runs on 4 devices: padded to 8
    sharded = Runner(make_run(cfg))(keys)
    single = jax.jit(jax.vmap(make_run(cfg)))(keys)
    assert sharded.mse.shape == (5, 3)
    assert len(sharded.mse.sharding.device_set) == 4, sharded.mse.sharding
    np.testing.assert_allclose(sharded.mse, single.mse, rtol=2e-3)
    np.testing.assert_array_equal(np.sort(sharded.picked_x, axis=2),
                                  np.sort(single.picked_x, axis=2))
    # The γ x seed grid, 2 x 3 = 6 runs on 4 devices (padded to 8).
    grid = GridRunner(cfg, [2, 4])(seed_keys(range(3)))
    assert grid.mse.shape == (2, 3, 3)
    np.testing.assert_allclose(grid.mse[0], single.mse[:3], rtol=2e-3)
    print("OK")
    """
)


def test_sharded_runs_match_single_device():
    env = dict(
        os.environ,
        XLA_FLAGS=os.environ.get("XLA_FLAGS", "")
        + " --xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK" in proc.stdout


@pytest.fixture(scope="module")
def unchunked():
    runner = Runner(make_run(CFG), lanes="vmap")
    return runner, runner(seed_keys(range(5)))


def test_one_call_when_memory_allows(unchunked):
    runner, result = unchunked
    assert runner.chunk_size == 5 and result.mse.shape == (5, 3)
    assert runner.program_bytes is None or runner.program_bytes > 0


def test_explicit_chunks_give_the_same_numbers(unchunked):
    _, whole = unchunked
    runner = Runner(make_run(CFG), chunk_size=2, lanes="vmap")  # 2 + 2 + 1 (padded)
    chunked = runner(seed_keys(range(5)))
    assert runner.chunk_size == 2
    np.testing.assert_array_equal(chunked.mse, whole.mse)
    np.testing.assert_array_equal(chunked.picked_x, whole.picked_x)


def test_memory_budget_picks_a_chunk_that_fits(unchunked):
    full, whole = unchunked
    if full.program_bytes is None:
        pytest.skip("this backend reports no program memory")
    # vmap lanes: memory grows with the lanes (map lanes reuse one lane's memory).
    runner = Runner(make_run(CFG), memory_budget=full.program_bytes // 2, lanes="vmap")
    chunked = runner(seed_keys(range(5)))
    assert 1 <= runner.chunk_size < 5
    assert runner.program_bytes <= full.program_bytes // 2
    np.testing.assert_array_equal(chunked.mse, whole.mse)


def test_grid_runner_shapes_and_errors():
    grid = GridRunner(CFG, [2, 3])
    out = grid(seed_keys(range(2)))
    assert out.mse.shape == (2, 2, 3) and out.picked_x.shape == (2, 2, 2, 40, 4)
    with pytest.raises(ValueError, match="chunk_size"):
        Runner(lambda key: key, chunk_size=0)


def test_map_lanes_give_each_run_exactly_its_single_run():
    """lanes="map": a seed's numbers do not depend on the other seeds of the call."""
    alone = jax.jit(make_run(CFG))(seed_keys([3])[0])
    for seeds in ([0, 3], [3, 1, 4]):
        runner = Runner(make_run(CFG), lanes="map")
        out = runner(seed_keys(seeds))
        lane = seeds.index(3)
        np.testing.assert_array_equal(out.mse[lane], alone.mse)
        np.testing.assert_array_equal(out.picked_x[lane], alone.picked_x)
    with pytest.raises(ValueError, match="lanes"):
        Runner(make_run(CFG), lanes="pmap")


def test_auto_lanes_are_map_on_one_cpu_device():
    if jax.default_backend() != "cpu" or jax.local_device_count() != 1:
        pytest.skip("auto means vmap on accelerators and on several devices")
    assert Runner(make_run(CFG)).lanes == "map"


def test_a_run_that_cannot_fit_is_refused_before_it_runs():
    """One line naming the size fields and XLA's estimate, instead of an allocation
    failure deep inside the run."""
    runner = Runner(make_run(CFG), memory_budget=1024, what=size_fields(CFG))
    with pytest.raises(RunTooLargeError, match=r"GiB per device.*k=40, gamma=2"):
        runner.compile(seed_keys(range(2)))
