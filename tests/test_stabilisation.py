"""The stabilisation toolkit: each technique's math, a training smoke test, and
survival through a `.keras` round trip and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gans
from keras_gans import losses
from keras_gans.layers import MinibatchStdDev, SpectralNormalization


def _random_images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


@pytest.fixture(scope="module")
def labelled_dataset():
    rng = np.random.default_rng(0)
    images = (rng.uniform(0, 255, (128, 28, 28, 1))).astype("uint8")
    labels = rng.integers(0, 10, 128)
    return keras_gans.data.make_dataset(images, labels, batch_size=32, seed=0)


def test_label_smoothing_uses_soft_real_target():
    loss = losses.get("non_saturating")
    real = np.array([[0.5], [-1.0]], "float32")
    fake = np.array([[0.0], [0.0]], "float32")
    target = 0.9

    def softplus(x):
        return np.log1p(np.exp(x))

    expected = np.mean(target * softplus(-real) + (1 - target) * softplus(real)) + np.mean(
        softplus(fake))
    got = float(loss.discriminator_loss(real, fake, real_target=target))
    assert got == pytest.approx(expected, rel=1e-5)


def test_instance_noise_has_the_requested_spread_and_anneals_to_zero():
    gan = keras_gans.DCGAN(seed=0)
    gan.compile(instance_noise=0.5, instance_noise_steps=100)
    images = tf.zeros((256, 28, 28, 1))
    assert float(tf.math.reduce_std(gan.discriminator_view(images))) == pytest.approx(
        0.5, rel=0.05)
    gan.d_optimizer.iterations.assign(50)
    assert float(tf.math.reduce_std(gan.discriminator_view(images))) == pytest.approx(
        0.25, rel=0.05)
    gan.d_optimizer.iterations.assign(100)
    assert float(tf.reduce_max(tf.abs(gan.discriminator_view(images)))) == 0.0


def test_feature_matching_loss_is_squared_distance_of_feature_means():
    real = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")  # mean (2, 3)
    fake = np.array([[0.0, 0.0], [2.0, 2.0]], "float32")  # mean (1, 1)
    expected = ((2 - 1) ** 2 + (3 - 1) ** 2) / 2
    assert float(losses.feature_matching_loss(real, fake)) == pytest.approx(expected)


def test_feature_matching_needs_a_features_layer():
    inputs = keras.Input((28, 28, 1))
    plain = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    gan = keras_gans.GAN(keras_gans.networks.DCGANGenerator(), plain)
    with pytest.raises(ValueError, match="'features'"):
        gan.compile(feature_matching=True)


def test_historical_penalty_measures_distance_to_the_running_mean():
    gan = keras_gans.DCGAN(seed=0, historical_averaging=0.5)
    gan.compile()
    variables = gan.discriminator.trainable_variables
    before = [v.numpy().copy() for v in variables]
    gan.after_step()  # the running mean is now theta_1
    assert float(gan.historical_penalty("discriminator")) == pytest.approx(0.0, abs=1e-6)
    for v in variables:
        v.assign(v + 1.0)
    gan.after_step()  # mean of theta_1 and theta_1 + 1 = theta_1 + 0.5
    means = dict(zip(map(id, gan.historical_variables), gan.historical_means, strict=True))
    for mean, old in zip((means[id(v)] for v in variables), before, strict=True):
        np.testing.assert_allclose(mean.numpy(), old + 0.5, rtol=1e-5, atol=1e-5)
    size = sum(int(np.prod(v.shape)) for v in variables)
    assert float(gan.historical_penalty("discriminator")) == pytest.approx(
        0.5 * size * 0.25, rel=1e-4)


def test_ema_follows_the_warmed_up_decay():
    gan = keras_gans.DCGAN(seed=0, ema_decay=0.999)
    gan.compile()
    average = gan.ema_generator.weights[0]
    weight = gan.generator.weights[0]
    start = average.numpy().copy()
    weight.assign(weight + 1.0)
    gan.g_optimizer.iterations.assign(1)
    gan.after_step()
    decay = min(0.999, 2.0 / 11.0)
    np.testing.assert_allclose(
        average.numpy(), decay * start + (1 - decay) * (start + 1.0), rtol=1e-5, atol=1e-6)


def test_ema_generator_is_used_for_sampling_and_export(tmp_path):
    gan = keras_gans.DCGAN(seed=0, ema_decay=0.99)
    gan.compile()
    for v in gan.generator.trainable_variables:
        v.assign(v * 0.0)
    z = keras_gans.sampling.latent_noise(4, gan.latent_dim, seed=0)
    ema_images = gan.ema_generator(z, training=False).numpy()
    np.testing.assert_allclose(gan.generate(4, seed=0), ema_images, atol=1e-6)
    gan.export(tmp_path / "export")
    exported = keras_gans.load_generator(str(tmp_path / "export"))
    np.testing.assert_allclose(exported(z), ema_images, atol=1e-5)
    assert exported.metadata["ema"] is True


def test_minibatch_stddev_appends_the_mean_feature_spread():
    x = np.stack([np.zeros((2, 2, 1)), np.full((2, 2, 1), 2.0)]).astype("float32")
    out = MinibatchStdDev()(x).numpy()
    assert out.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(out[..., 1], 1.0, rtol=1e-4)  # std of {0, 2} is 1


def test_minibatch_stddev_on_flat_features_and_in_the_vanilla_discriminator():
    x = np.array([[0.0, 1.0], [2.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(MinibatchStdDev()(x).numpy()[:, 2], 1.0, rtol=1e-4)

    gan = keras_gans.VanillaGAN(seed=0, minibatch_stddev=True)
    images = _random_images(8)
    collapsed = np.repeat(images[:1], 8, axis=0)
    stddev_layer = next(layer for layer in gan.discriminator.layers
                        if isinstance(layer, MinibatchStdDev))
    spread = keras.Model(gan.discriminator.input, stddev_layer.output)
    assert spread(images).numpy()[0, -1] > 0.1
    assert spread(collapsed).numpy()[0, -1] < 1e-3
    # The first image is in both batches; D scores it by the rest of its batch too.
    assert not np.allclose(gan.discriminator(images)[0], gan.discriminator(collapsed)[0])


def test_spectral_norm_bounds_the_largest_singular_value():
    gan = keras_gans.DCGAN(seed=0, spectral_norm=True)
    images = _random_images(16)
    for _ in range(30):  # power iterations run in training mode
        gan.discriminator(images, training=True)
    wrapped = [layer for layer in gan.discriminator.layers
               if isinstance(layer, SpectralNormalization)]
    assert wrapped
    for layer in wrapped:
        kernel = (layer.layer.kernel / layer.sigma()).numpy()
        sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert sigma == pytest.approx(1.0, abs=0.05)


def test_separate_learning_rates_for_each_player():
    gan = keras_gans.DCGAN(seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(4e-4), g_optimizer=keras.optimizers.Adam(1e-4))
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(4e-4)
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(1e-4)


def test_discriminator_pretraining_leaves_the_generator_alone(labelled_dataset):
    gan = keras_gans.DCGAN(seed=0)
    gan.compile()
    g_before = [v.numpy().copy() for v in gan.generator.trainable_variables]
    d_before = gan.discriminator.trainable_variables[0].numpy().copy()
    gan.pretrain_discriminator(labelled_dataset, steps=3, verbose=0)
    assert int(gan.d_optimizer.iterations) == 3
    assert int(gan.g_optimizer.iterations) == 0
    for before, after in zip(g_before, gan.generator.trainable_variables, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
    assert not np.allclose(d_before, gan.discriminator.trainable_variables[0].numpy())
    gan.fit(labelled_dataset, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations) == 4


def test_every_technique_trains_together_and_survives_round_trip_and_export(
        labelled_dataset, tmp_path):
    gan = keras_gans.ConditionalGAN(seed=0, ema_decay=0.99, historical_averaging=1e-4,
                                    minibatch_stddev=True)
    gan.compile(loss="hinge", label_smoothing=0.1, instance_noise=0.1,
                instance_noise_steps=50, diff_augment="translation,cutout,color",
                r1_weight=1.0, feature_matching=True)
    history = gan.fit(labelled_dataset, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())

    path = tmp_path / "gan.keras"
    gan.save(path)
    loaded = keras_gans.load_gan(str(path))
    config = loaded.get_compile_config()
    assert config["loss"] == "hinge"
    assert config["diff_augment"] == "translation,cutout,color"
    assert config["feature_matching"] and config["r1_weight"] == 1.0
    assert float(loaded.historical_count.numpy()) == float(gan.historical_count.numpy())
    for a, b in zip(loaded.ema_generator.get_weights(), gan.ema_generator.get_weights(),
                    strict=True):
        np.testing.assert_allclose(a, b)
    loaded.fit(labelled_dataset, epochs=1, verbose=0)
    loaded.export(tmp_path / "export")
    exported = keras_gans.load_generator(str(tmp_path / "export"))
    assert exported.generate(3, labels=[1, 2, 3], seed=0).shape == (3, 28, 28, 1)


@pytest.mark.parametrize("loss", ["minimax", "lsgan", "hinge", "kl", "reverse_kl", "pearson",
                                  "jensen_shannon"])
def test_each_loss_trains_a_dcgan(loss, labelled_dataset):
    gan = keras_gans.DCGAN(seed=0)
    gan.compile(loss=loss)
    weights = gan.generator.trainable_variables[0].numpy().copy()
    history = gan.fit(labelled_dataset.take(2), epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert not np.allclose(weights, gan.generator.trainable_variables[0].numpy())


def test_invalid_options_are_named():
    gan = keras_gans.DCGAN(seed=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.compile(label_smoothing=1.5)
    with pytest.raises(ValueError, match="DiffAugment"):
        gan.compile(diff_augment="rotate")
    with pytest.raises(ValueError, match="ema_decay"):
        keras_gans.DCGAN(ema_decay=1.5)
