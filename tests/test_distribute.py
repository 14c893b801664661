"""Distributed training: MirroredStrategy over two logical CPUs matches one
device, replicas draw different noise, and MultiWorkerMirroredStrategy workers
on 127.0.0.1 finish in step with one another and with a single worker.

TensorFlow must split the CPU before it touches a device, so each check runs
in a fresh process (scripts in tests/scripts/) that prints its results.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_gans
from keras_gans.saving import load_gan

SCRIPTS = Path(__file__).parent / "scripts"
TIMEOUT = 600
TOLERANCE = 1e-5


def script_env(**extra):
    """This process's environment without TF_CONFIG, TensorFlow quiet, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def parse_result(stdout):
    """The JSON a check script printed after `RESULT `."""
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT line in:\n{stdout[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def free_ports(count):
    """`count` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_all(commands, timeout=TIMEOUT):
    """Runs `(argv, env)` commands side by side; kills them all on failure or
    timeout. Returns each one's stdout."""
    processes = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for argv, env in commands]
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=timeout)
            assert process.returncode == 0, stderr[-3000:]
            outputs.append(stdout)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outputs


# --------------------------------------------------------- MirroredStrategy
@pytest.fixture(scope="module")
def mirrored():
    """Results of tests/scripts/mirrored_check.py: each variant trained for two
    steps on one device and on two mirrored replicas from the same weights, in
    two processes side by side."""
    script = str(SCRIPTS / "mirrored_check.py")
    groups = [["gan", "cgan", "wgan", "wgangp", "noise", "dcgan"],
              ["sngan", "progan", "cyclegan"]]
    results = {}
    for stdout in run_all([([sys.executable, script, *group], script_env())
                           for group in groups]):
        results.update(parse_result(stdout))
    return results


def test_strategy_has_two_replicas(mirrored):
    assert mirrored["replicas"] == 2


@pytest.mark.parametrize("variant", ["gan", "cgan", "wgan", "wgangp", "sngan", "progan",
                                     "cyclegan"])
def test_mirrored_step_matches_single_device(mirrored, variant):
    """Same losses and same weights (networks, EMA, historical means, noise
    state, step counts, SNGAN's power-iteration vectors, CycleGAN's image
    pools) after two steps; the WGAN takes two critic minibatches a step.
    Unscaled per-replica gradients would double every update."""
    result = mirrored[variant]
    single, distributed = result["single_logs"], result["mirrored_logs"]
    assert single.keys() == distributed.keys()
    for name, value in single.items():
        assert distributed[name] == pytest.approx(value, abs=TOLERANCE), name
    # CycleGAN's four networks on 32x32x3 images sum their gradients across
    # replicas in another order: up to 4e-5 apart after two SGD steps, where a
    # wrong pool or unscaled gradients differ by 1e-2 and more.
    weight_tolerance = 1e-4 if variant == "cyclegan" else TOLERANCE
    assert result["max_weight_difference"] < weight_tolerance
    assert result["generator_change"] > 10 * TOLERANCE, "training changed nothing"
    assert result["iterations"][0] == result["iterations"][1] > 0


def test_progan_grows_in_step_under_mirrored_strategy(mirrored):
    """Both replicas count the global batch once: after two steps of 16 the
    14x14 block is half faded in, on one device and on two. The optimizers
    restarted when the fade-in began, so each has taken one step since."""
    result = mirrored["progan"]
    assert result["images_seen"] == [32, 32]
    assert result["fade_alpha"] == [0.5, 0.5]
    assert result["iterations"] == [1, 1]


def test_replicas_draw_different_slices_of_one_noise_batch(mirrored):
    """Each replica gets its own slice of the global batch's noise."""
    first, second = (np.array(values) for values in mirrored["noise"]["replicas"])
    single = np.array(mirrored["noise"]["single"])
    assert first.shape == second.shape == (4, 8)
    assert not np.allclose(first, second)
    np.testing.assert_allclose(np.concatenate([first, second]), single, atol=1e-6)


def test_dcgan_with_batchnorm_trains_under_mirrored_strategy(mirrored):
    logs = mirrored["dcgan"]
    assert {"d_loss", "g_loss"} <= logs.keys()
    assert all(np.isfinite(value) for value in logs.values())


# ---------------------------------------------- MultiWorkerMirroredStrategy
@pytest.fixture(scope="module")
def multi_worker(tmp_path_factory):
    """Runs tests/scripts/multi_worker_check.py as one worker without
    TF_CONFIG, and as a cluster of two workers on 127.0.0.1, side by side."""
    directory = tmp_path_factory.mktemp("multi_worker")
    script = str(SCRIPTS / "multi_worker_check.py")
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    commands = [([sys.executable, script, str(directory / "single.npz")], script_env())]
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster,
                                "task": {"type": "worker", "index": index}})
        commands.append(([sys.executable, script, str(directory / f"worker{index}.npz")],
                         script_env(TF_CONFIG=tf_config)))
    outputs = run_all(commands)
    results = [parse_result(stdout) for stdout in outputs]
    weights = [dict(np.load(directory / name))
               for name in ("single.npz", "worker0.npz", "worker1.npz")]
    return results, weights, directory


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[key].astype("float64") - b[key].astype("float64"))))
               for key in a)


def test_single_worker_without_tf_config_trains(multi_worker):
    (single, _, _), _, _ = multi_worker
    assert single["replicas"] == 1 and single["task_id"] is None
    assert single["iterations"] == 2
    assert all(np.isfinite(value) for value in single["logs"].values())


def test_two_workers_finish_with_identical_weights(multi_worker):
    """Two workers stay in lockstep, and splitting the global batch between
    them gives the single worker's result."""
    results, weights, _ = multi_worker
    single, first, second = results
    single_weights, first_weights, second_weights = weights
    assert first["replicas"] == second["replicas"] == 2
    assert {first["task_id"], second["task_id"]} == {0, 1}
    assert first["iterations"] == second["iterations"] == 2
    assert first["logs"] == second["logs"]
    assert max_difference(first_weights, second_weights) == 0.0
    assert max_difference(first_weights, single_weights) < TOLERANCE
    for name, value in single["logs"].items():
        assert first["logs"][name] == pytest.approx(value, abs=TOLERANCE), name


# Keras builds the model's unused `optimizer` (RMSprop) under a strategy, and
# loading then skips its variables with this warning.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer 'rm_sprop")
def test_every_worker_saves_a_loadable_model(multi_worker):
    _, (_, first_weights, _), directory = multi_worker
    assert (directory / "worker1.keras").exists()
    model = load_gan(str(directory / "worker0.keras"))
    assert int(model.g_optimizer.iterations.numpy()) == 2
    for index, weight in enumerate(model.weights):
        np.testing.assert_array_equal(np.asarray(weight), first_weights[f"w{index}"])


@pytest.mark.parametrize("make", [
    lambda: keras_gans.SNGAN(width=4, seed=0),
    lambda: keras_gans.SNGAN(width=4, num_classes=3, seed=0),
    lambda: keras_gans.DCGAN(seed=0, spectral_norm=True),
    lambda: keras_gans.ProGAN(image_shape=(28, 28, 1), fmap_max=8, seed=0),
    lambda: keras_gans.CycleGAN((32, 32, 3), generator_filters=4, residual_blocks=1,
                                discriminator_filters=4, seed=0),
], ids=["sngan", "sngan-conditional", "dcgan-sn", "progan", "cyclegan"])
def test_a_new_model_has_every_layer_built(make):
    # Under a tf.distribute strategy, fit builds a model with an unbuilt layer
    # by calling it on a data batch, which a GAN's call does not take.
    unbuilt = [layer.name for layer in make()._flatten_layers() if not layer.built]
    assert unbuilt == []
