"""The backends' own checks: state that is not trained moves, precisions, and
one step computes the same gradients on TensorFlow, JAX and PyTorch (every
variant's contract on the backend the suite runs on is `test_contract.py`).

`KERAS_BACKEND=jax python -m pytest tests/test_backends.py` runs these on
JAX; CI runs them on JAX and PyTorch in an environment without TensorFlow.
"""

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from variants import CASES, IMAGES

import keras_gans
from keras_gans import backend

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
BACKENDS = [name for name, module in (("tensorflow", "tensorflow"), ("jax", "jax"),
                                      ("torch", "torch"))
            if importlib.util.find_spec(module) is not None]
# float32 gradients of the same step agree to this fraction of each player's
# largest gradient: the backends sum in different orders.
RELATIVE_TOLERANCE = 5e-5

def weights_of(network):
    return [keras.ops.convert_to_numpy(w.value) for w in network.weights]


def changed(before, after):
    return any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def test_non_trainable_state_moves():
    """BatchNorm statistics, spectral-norm vectors, the moving average, the
    image pool and ProGAN's image count and stage all move in `fit`."""
    dcgan = keras_gans.DCGAN(ema_decay=0.9, seed=0)
    dcgan.compile()
    statistics = [w for w in dcgan.generator.non_trainable_weights if "moving_mean" in w.path]
    before = [keras.ops.convert_to_numpy(w.value) for w in statistics]
    average = weights_of(dcgan.ema_generator)
    dcgan.fit(IMAGES, batch_size=4, epochs=1, verbose=0)
    assert changed(before, [keras.ops.convert_to_numpy(w.value) for w in statistics])
    assert changed(average, weights_of(dcgan.ema_generator))

    sngan = keras_gans.SNGAN(width=8, n_critic=1, seed=0)
    sngan.compile()
    vectors = [w for w in sngan.discriminator.non_trainable_weights if "vector_u" in w.path]
    before = [keras.ops.convert_to_numpy(w.value) for w in vectors]
    sngan.fit(IMAGES, batch_size=4, epochs=1, verbose=0)
    assert vectors and changed(before, [keras.ops.convert_to_numpy(w.value) for w in vectors])

    build, inputs = CASES["cyclegan"]
    cyclegan = build()
    cyclegan.compile()
    cyclegan.fit(*inputs, batch_size=2, epochs=1, verbose=0)
    assert int(cyclegan.fake_a_pool.count) == 4

    build, inputs = CASES["progan"]
    progan = build()
    progan.compile()
    progan.fit(*inputs, batch_size=4, epochs=2, verbose=0)  # 4 steps of 4 images
    assert int(keras.ops.convert_to_numpy(progan.images_seen.value)) == 16
    assert progan.current_stage == 1 and progan.current_alpha == 1.0


def test_bfloat16_trains_and_float16_is_refused_where_it_cannot_scale_losses():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = keras_gans.DCGAN(seed=0)
        model.compile()
        history = model.fit(IMAGES, batch_size=4, epochs=1, verbose=0)
        assert np.all(np.isfinite(history.history["g_loss"]))
        assert int(model.g_optimizer.iterations) == 2
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if backend.NAME == "tensorflow":
        return
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras_gans.DCGAN(seed=0)
        with pytest.raises(ValueError, match="on (jax|torch) use mixed_bfloat16"):
            model.compile()
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def one_step_results(tmp_path_factory):
    """Each installed backend's step of every variant (tests/scripts/one_step.py)."""
    results = {}
    for name in BACKENDS:
        out = tmp_path_factory.mktemp(name) / "step.npz"
        run_script("one_step.py", name, str(out))
        results[name] = dict(np.load(out))
    return results


def run_script(script, backend_name, *args):
    subprocess.run([sys.executable, os.path.join(SCRIPTS, script), *args], check=True,
                   timeout=600, env={**os.environ, "KERAS_BACKEND": backend_name},
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# The comparisons run once, from the TensorFlow suite, against every other
# installed backend.
FROM_TENSORFLOW = pytest.mark.skipif(
    len(BACKENDS) < 2 or backend.NAME != "tensorflow",
    reason="compares TensorFlow with JAX or PyTorch: run on TensorFlow with one installed")


@pytest.mark.slow
@pytest.mark.subprocess
@FROM_TENSORFLOW
def test_one_step_computes_the_same_gradients_on_every_backend(one_step_results):
    reference_name, *others = one_step_results
    reference = one_step_results[reference_name]
    groups = {}
    for key in reference:
        variant, player, kind = key.split("/")[:3]
        groups.setdefault((variant, player, kind), []).append(key)
    assert {variant for variant, _, _ in groups} == set(CASES)
    for other in others:
        for (variant, player, kind), keys in groups.items():
            expected = np.concatenate([reference[key].ravel() for key in keys])
            actual = np.concatenate([one_step_results[other][key].ravel() for key in keys])
            scale = max(np.abs(expected).max(), 1e-12)
            error = np.abs(actual - expected).max() / scale
            assert error <= RELATIVE_TOLERANCE, (
                f"{variant} {player} {kind}: {other} differs from {reference_name} by "
                f"{error:.1e} of the largest value")


@pytest.mark.subprocess
@pytest.mark.skipif(backend.NAME != "jax", reason="keras.distribution on JAX")
def test_data_parallel_on_jax_matches_one_device():
    result = subprocess.run([sys.executable, os.path.join(SCRIPTS, "jax_data_parallel.py")],
                            check=True, timeout=600,
                            capture_output=True, text=True,
                            env={**os.environ, "KERAS_BACKEND": "jax"})
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == ["discriminator", "generator"]
    for _, devices, error, single_steps, parallel_steps in rows:
        assert devices == "2" and single_steps == parallel_steps
        assert float(error) < 1e-5


@pytest.mark.slow
@pytest.mark.subprocess
@FROM_TENSORFLOW
def test_presets_are_portable_across_backends(tmp_path):
    """Every zoo preset draws the same images from the same latent vectors on
    every backend, and a preset saved on one backend loads on the others."""
    for name in BACKENDS:  # each loads the presets the ones before it saved
        run_script("portable_presets.py", name, str(tmp_path))
    for name in BACKENDS[:-1]:  # and then those saved after it
        run_script("portable_presets.py", name, str(tmp_path), "--load-only")
    drawn = {name: dict(np.load(tmp_path / f"{name}.npz")) for name in BACKENDS}
    loads = {name: {**drawn[name], **(dict(np.load(tmp_path / f"{name}_loads.npz"))
                                      if name != BACKENDS[-1] else {})}
             for name in BACKENDS}
    reference = drawn[BACKENDS[0]]
    zoo = [key for key in reference if key.startswith("zoo/")]
    assert len(zoo) == len(keras_gans.list_pretrained())
    for name in BACKENDS[1:]:
        for key in zoo:
            np.testing.assert_allclose(drawn[name][key], reference[key], atol=1e-4,
                                       err_msg=f"{key} on {name}")
    for name in BACKENDS:
        for saver in BACKENDS:
            if saver != name:
                np.testing.assert_allclose(loads[name][f"loaded/{saver}"],
                                           drawn[saver]["own"], atol=1e-4,
                                           err_msg=f"{saver}'s preset on {name}")
