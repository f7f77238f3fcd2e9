"""Sharding the run axis over 4 CPU devices gives the single-device numbers."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from jdal import config, seed_keys
    from jdal.loop import make_run
    from jdal.parallel import make_batched_run
    assert jax.local_device_count() == 4, jax.local_devices()
    cfg = config.smoke(problem="robo", method="gsx", steps=2, train_steps=10,
                       n_members=2, max_width=8, n_test=64, gamma=2)
    keys = seed_keys(range(5))  # 5 runs on 4 devices: padded to 8
    sharded = make_batched_run(cfg)(keys)
    single = jax.jit(jax.vmap(make_run(cfg)))(keys)
    assert sharded.mse.shape == (5, 3)
    assert len(sharded.mse.sharding.device_set) == 4, sharded.mse.sharding
    np.testing.assert_allclose(sharded.mse, single.mse, rtol=2e-3)
    np.testing.assert_array_equal(np.sort(sharded.picked_x, axis=2),
                                  np.sort(single.picked_x, axis=2))
    print("OK")
    """
)


def test_sharded_runs_match_single_device():
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
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
