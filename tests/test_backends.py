"""Every variant trains on the Keras backend this suite runs on (TensorFlow,
JAX or PyTorch), and one step computes the same gradients on all of them.

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

import keras_gans
from keras_gans import backend

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
BACKENDS = [name for name, module in (("tensorflow", "tensorflow"), ("jax", "jax"),
                                      ("torch", "torch"))
            if importlib.util.find_spec(module) is not None]
# float32 gradients of the same step agree to this fraction of each player's
# largest gradient: the backends sum in different orders.
RELATIVE_TOLERANCE = 5e-5

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
LABELS = RNG.integers(0, 4, 8).astype("int32")


def variants():
    """`{name: (model, inputs)}`: every variant, small, compiled with Adam."""
    small = RNG.uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    colour = RNG.uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    return {
        "vanilla": (lambda: keras_gans.VanillaGAN(ema_decay=0.9, seed=0), (IMAGES,)),
        "dcgan": (lambda: keras_gans.DCGAN(seed=0), (IMAGES,)),
        "cgan": (lambda: keras_gans.ConditionalGAN(num_classes=4, seed=0), (IMAGES, LABELS)),
        "wgan": (lambda: keras_gans.WGAN(n_critic=2, seed=0), (IMAGES,)),
        "wgan_gp": (lambda: keras_gans.WGANGP(n_critic=2, seed=0), (IMAGES,)),
        "sngan": (lambda: keras_gans.SNGAN(width=8, n_critic=2, seed=0), (IMAGES,)),
        "sngan_projection": (lambda: keras_gans.SNGAN(width=8, n_critic=1, num_classes=4,
                                                      seed=0), (IMAGES, LABELS)),
        "progan": (lambda: keras_gans.ProGAN(
            final_image_shape=(8, 8, 1), fmap_base=32, fmap_max=8, batch_sizes=4,
            fade_images=8, stable_images=8, mbstd_group_size=2, seed=0), (small,)),
        "cyclegan": (lambda: keras_gans.CycleGAN(
            image_shape=(32, 32, 3), generator_filters=4, residual_blocks=1,
            discriminator_filters=4, pool_size=4, ema_decay=0.9, seed=0),
            (colour, colour[::-1])),
    }


def weights_of(network):
    return [keras.ops.convert_to_numpy(w.value) for w in network.weights]


def changed(before, after):
    return any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def optimizer_slots(optimizer):
    """The optimizer's per-weight state (Adam's moments, RMSprop's average)."""
    return [keras.ops.convert_to_numpy(v.value) for v in optimizer.variables
            if "iteration" not in v.path and "learning_rate" not in v.path]


@pytest.mark.parametrize("name", list(variants()))
def test_every_variant_trains_with_fit(name):
    build, inputs = variants()[name]
    model = build()
    model.compile()
    before = {player: weights_of(getattr(model, player)) for player in model.players}
    seed_state = keras.ops.convert_to_numpy(model.seed_generator.state.value)
    history = model.fit(*inputs, batch_size=len(inputs[0]) // 2, epochs=1, shuffle=False,
                        verbose=0)

    steps = 2
    for player in model.players:
        optimizer = model.optimizer_of(player)
        updates = steps * getattr(model, "n_critic", 1) if player.startswith(
            "discriminator") else steps
        assert int(optimizer.iterations) == updates, player
        assert changed(before[player], weights_of(getattr(model, player))), player
        # Not reset at every step, as when a jitted step leaves them behind.
        assert any(np.any(slot != 0) for slot in optimizer_slots(optimizer)), player
    assert not np.array_equal(seed_state,
                              keras.ops.convert_to_numpy(model.seed_generator.state.value))
    for log in history.history.values():
        assert np.all(np.isfinite(log))


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

    build, inputs = variants()["cyclegan"]
    cyclegan = build()
    cyclegan.compile()
    cyclegan.fit(*inputs, batch_size=2, epochs=1, verbose=0)
    assert int(cyclegan.fake_a_pool.count) == 4

    build, inputs = variants()["progan"]
    progan = build()
    progan.compile()
    progan.fit(*inputs, batch_size=4, epochs=2, verbose=0)  # 4 steps of 4 images
    assert int(keras.ops.convert_to_numpy(progan.images_seen.value)) == 16
    assert progan.current_stage == 1 and progan.current_alpha == 1.0


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_a_resumed_run_continues_where_it_stopped(name, tmp_path):
    """Two steps, saved and loaded, then one more: as three steps in a row."""
    build, inputs = variants()[name]
    keras.utils.set_random_seed(0)
    straight = build()
    straight.compile()
    straight.fit(*inputs, batch_size=4, epochs=3, steps_per_epoch=1, shuffle=False, verbose=0)

    keras.utils.set_random_seed(0)
    first = build()
    first.compile()
    first.fit(*inputs, batch_size=4, epochs=2, steps_per_epoch=1, shuffle=False, verbose=0)
    first.save(tmp_path / "run.keras")
    resumed = keras.saving.load_model(tmp_path / "run.keras")
    resumed.fit(*inputs, batch_size=4, epochs=3, initial_epoch=2, steps_per_epoch=1,
                shuffle=False, verbose=0)

    for player in straight.players:
        assert int(resumed.optimizer_of(player).iterations) == int(
            straight.optimizer_of(player).iterations)
        for expected, actual in zip(weights_of(getattr(straight, player)),
                                    weights_of(getattr(resumed, player)), strict=True):
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


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
    assert {variant for variant, _, _ in groups} == set(variants())
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
