"""Mixed precision: every variant trains under the bfloat16 and float16
policies, with float32 outputs and loss scaling on both optimizers."""

import keras
import numpy as np
import pytest

import keras_gans


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy("float32")


def _dataset(n=40, labels=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    return keras_gans.data.make_dataset(
        images, rng.integers(0, 10, n) if labels else None, batch_size=20, seed=0)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"], indirect=True)
@pytest.mark.parametrize("variant", ["dcgan", "cgan", "wgan-gp"])
def test_variant_trains_under_mixed_precision(policy, variant):
    model = keras_gans.get_variant(variant)(seed=0)
    model.compile()
    before = model.generator.trainable_variables[0].numpy().copy()
    history = model.fit(_dataset(labels=variant == "cgan"), epochs=1, verbose=0)
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    assert not np.allclose(before, model.generator.trainable_variables[0].numpy())
    assert model.generator.trainable_variables[0].dtype == "float32"
    images = model.generate(4, seed=0)
    assert images.dtype == np.float32 and np.abs(images).max() <= 1.0
    assert model.discriminator.outputs[0].dtype == "float32"


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_float16_wraps_both_optimizers_in_loss_scaling(policy):
    gan = keras_gans.DCGAN(seed=0)
    gan.compile()
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    scale = float(gan.gradient_scale(gan.g_optimizer))
    assert scale == pytest.approx(float(gan.g_optimizer.dynamic_scale)) and scale > 1.0
    gan.fit(_dataset(), epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations) == 2


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
def test_gradient_penalty_is_float32_under_mixed_precision(policy):
    critic = keras_gans.networks.DCGANDiscriminator(normalization="layer")
    real = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    penalty = keras_gans.losses.gradient_penalty(
        lambda x: critic(x, training=True), real, -real, np.full((4, 1, 1, 1), 0.5, "float32"))
    assert penalty.dtype == "float32" and np.isfinite(float(penalty))
