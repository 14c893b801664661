"""The core variants train with `fit`: a few real steps each, then the checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import batches, max_abs_difference

import keras_gans

GAN_TRACKERS = {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
WGAN_TRACKERS = {"d_loss", "g_loss", "wasserstein"}
WGANGP_TRACKERS = WGAN_TRACKERS | {"gradient_penalty"}

# variant key -> (model factory, batch size, number of batches, labelled, trackers)
VARIANTS = {
    "vanilla": (lambda: keras_gans.VanillaGAN(seed=0), 32, 3, False, GAN_TRACKERS),
    "dcgan": (lambda: keras_gans.DCGAN(seed=0), 32, 3, False, GAN_TRACKERS),
    "dcgan_rgb": (lambda: keras_gans.DCGAN(image_shape=(32, 32, 3), seed=0), 16, 3, False,
                  GAN_TRACKERS),
    "cgan": (lambda: keras_gans.ConditionalGAN(num_classes=10, seed=0), 32, 3, True,
             GAN_TRACKERS),
    "wgan": (lambda: keras_gans.WGAN(n_critic=5, seed=0), 5 * 16, 2, False, WGAN_TRACKERS),
    "wgan_gp": (lambda: keras_gans.WGANGP(n_critic=5, seed=0), 5 * 16, 2, False,
                WGANGP_TRACKERS),
}


def rgb_version(images):
    """Fashion-MNIST padded to 32x32 with three differently scaled channels."""
    padded = np.pad(images[..., 0], ((0, 0), (2, 2), (2, 2))).astype(np.float32)
    return np.stack([padded, padded * 0.6, 255 - padded], axis=-1).astype(np.uint8)


class Run:
    """A model trained for one epoch, with what it looked like before."""

    def __init__(self, key, fashion_arrays):
        factory, batch_size, steps, labelled, self.trackers = VARIANTS[key]
        self.model = factory()
        self.model.compile()
        images, labels = fashion_arrays
        if self.model.image_shape == (32, 32, 3):
            images = rgb_version(images)
        count = batch_size * steps
        dataset = batches(images[:count], labels[:count] if labelled else None, batch_size)
        self.steps = steps
        self.generator_before = self.model.generator.get_weights()
        self.discriminator_before = self.model.discriminator.get_weights()
        self.seed_state_before = self.model.seed_generator.state.numpy().copy()
        self.history = self.model.fit(dataset, epochs=1, verbose=0).history


@pytest.fixture(scope="module")
def trained(fashion_arrays):
    runs = {}

    def get(key):
        if key not in runs:
            runs[key] = Run(key, fashion_arrays)
        return runs[key]

    return get


@pytest.fixture(scope="module")
def small_images(fashion_arrays):
    return fashion_arrays[0][:64], fashion_arrays[1][:64]


def fit_once(model, dataset):
    return model.fit(dataset, epochs=1, verbose=0).history


# ------------------------------------------------------------- every variant
@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_training_logs_finite_losses_under_the_expected_names(trained, key):
    run = trained(key)
    assert set(run.history) == run.trackers
    for name, values in run.history.items():
        assert len(values) == 1 and np.isfinite(values[0]), name
    if "d_acc_real" in run.history:
        for name in ("d_acc_real", "d_acc_fake"):
            assert 0.0 <= run.history[name][0] <= 1.0


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_training_changes_both_players_and_advances_the_noise(trained, key):
    run = trained(key)
    assert max_abs_difference(run.generator_before, run.model.generator.get_weights()) > 0
    assert max_abs_difference(run.discriminator_before,
                              run.model.discriminator.get_weights()) > 0
    assert not np.array_equal(run.seed_state_before, run.model.seed_generator.state.numpy())


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_generate_gives_repeatable_images_in_range(trained, key):
    model = trained(key).model
    images = model.generate(5, seed=1)
    assert images.shape == (5, *model.image_shape) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.std() > 0.0
    np.testing.assert_array_equal(images, model.generate(5, seed=1))
    assert not np.allclose(images, model.generate(5, seed=2))


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_generate_in_several_batches_and_of_none(trained, key):
    model = trained(key).model
    assert model.generate(7, seed=0, batch_size=3).shape == (7, *model.image_shape)
    np.testing.assert_allclose(model.generate(7, seed=0, batch_size=3),
                               model.generate(7, seed=0), atol=1e-5)
    assert model.generate(0).shape == (0, *model.image_shape)


def test_shapes_of_variants(trained):
    assert trained("dcgan").model.image_shape == (28, 28, 1)
    assert trained("dcgan_rgb").model.image_shape == (32, 32, 3)
    assert trained("dcgan").model.latent_dim == 100
    assert trained("cgan").model.num_classes == 10
    assert trained("dcgan").model.num_classes is None


def test_optimizer_steps_per_batch(trained):
    dcgan = trained("dcgan")
    assert int(dcgan.model.d_optimizer.iterations) == dcgan.steps
    assert int(dcgan.model.g_optimizer.iterations) == dcgan.steps
    for key in ("wgan", "wgan_gp"):
        run = trained(key)
        assert int(run.model.d_optimizer.iterations) == 5 * run.steps
        assert int(run.model.g_optimizer.iterations) == run.steps


def test_default_losses_and_optimizers(trained):
    assert trained("dcgan").model.adversarial_loss.name == "non_saturating"
    wgan = trained("wgan").model
    assert wgan.adversarial_loss.name == "wasserstein"
    assert isinstance(wgan.d_optimizer, keras.optimizers.RMSprop)
    assert float(wgan.d_optimizer.learning_rate) == pytest.approx(5e-5)
    wgan_gp = trained("wgan_gp").model
    assert isinstance(wgan_gp.d_optimizer, keras.optimizers.Adam)
    assert float(wgan_gp.d_optimizer.beta_2) == pytest.approx(0.9)


# ---------------------------------------------------------------- WGAN
def test_wgan_critic_weights_stay_inside_the_clip_range(trained):
    run = trained("wgan")
    clip = run.model.clip_value
    assert max(np.abs(w).max() for w in run.discriminator_before) > clip
    for weight in run.model.discriminator.trainable_weights:
        assert np.abs(weight.numpy()).max() <= clip + 1e-7, weight.path


def test_wgan_gp_penalty_is_logged_non_negative(trained):
    history = trained("wgan_gp").history
    assert history["gradient_penalty"][0] >= 0.0


@pytest.mark.parametrize("cls", [keras_gans.WGAN, keras_gans.WGANGP])
def test_wgan_batch_not_divisible_by_n_critic_is_a_clear_error(cls, small_images):
    model = cls(n_critic=5, seed=0)
    model.compile()
    with pytest.raises(ValueError, match="multiple of 5; got 32"):
        fit_once(model, batches(small_images[0], batch_size=32))


def test_wgan_gp_critic_has_no_batch_norm(trained):
    critic = trained("wgan_gp").model.discriminator
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in critic.layers)
    assert any(isinstance(layer, keras.layers.LayerNormalization) for layer in critic.layers)


# ----------------------------------------------------------- conditional
def test_conditional_samples_depend_on_the_label(trained):
    model = trained("cgan").model
    trousers = model.generate(4, seed=0, labels=1)
    boots = model.generate(4, seed=0, labels=[9, 9, 9, 9])
    assert not np.allclose(trousers, boots, atol=1e-3)
    np.testing.assert_array_equal(trousers, model.generate(4, seed=0, labels=[1] * 4))


def test_conditional_generate_cycles_classes_by_default(trained):
    model = trained("cgan").model
    np.testing.assert_array_equal(model.generate(12, seed=0),
                                  model.generate(12, seed=0, labels=np.arange(12) % 10))


@pytest.mark.parametrize("labels", [10, -1, [0, 3, 12]])
def test_conditional_generate_validates_label_range(trained, labels):
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 10\)"):
        trained("cgan").model.generate(3, labels=labels)


def test_unconditional_generate_refuses_labels(trained):
    with pytest.raises(ValueError, match="unconditional"):
        trained("dcgan").model.generate(3, labels=[1, 2, 3])


# ------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def cgan():
    model = keras_gans.ConditionalGAN(num_classes=10, seed=0)
    model.compile()
    return model


@pytest.fixture(scope="module")
def vanilla():
    model = keras_gans.VanillaGAN(seed=0)
    model.compile()
    return model


def test_conditional_model_given_images_without_labels(cgan, small_images):
    with pytest.raises(ValueError, match="with_labels=True"):
        fit_once(cgan, batches(small_images[0]))


@pytest.mark.parametrize("bad_label, match", [(10, r"\[0, 10\)"), (-3, ">= 0")])
def test_conditional_model_given_labels_out_of_range(cgan, small_images, bad_label, match):
    labels = small_images[1].astype(np.int32)
    labels[5] = bad_label
    images = small_images[0].astype(np.float32) / 127.5 - 1
    unchecked = tf.data.Dataset.from_tensor_slices((images, labels)).batch(32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        fit_once(cgan, unchecked)


def test_conditional_model_given_float_labels(cgan, small_images):
    images = small_images[0].astype(np.float32) / 127.5 - 1
    dataset = tf.data.Dataset.from_tensor_slices(
        (images, small_images[1].astype(np.float32))).batch(32)
    with pytest.raises(ValueError, match="integer class indices"):
        fit_once(cgan, dataset)


def test_model_given_images_of_the_wrong_shape(vanilla):
    images = np.zeros((64, 32, 32, 1), np.uint8)
    with pytest.raises(ValueError, match=r"shape \(28, 28, 1\).*\(32, 32, 32, 1\)"):
        fit_once(vanilla, batches(images))


def test_model_given_images_without_a_channel_axis(vanilla):
    images = np.zeros((64, 28, 28), np.float32)
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        fit_once(vanilla, tf.data.Dataset.from_tensor_slices(images).batch(32))


def test_model_given_uint8_images(vanilla, small_images):
    dataset = tf.data.Dataset.from_tensor_slices(small_images[0]).batch(32)
    with pytest.raises(ValueError, match=r"uint8.*x / 127.5 - 1"):
        fit_once(vanilla, dataset)


def test_model_given_images_outside_unit_range(vanilla, small_images):
    images = small_images[0].astype(np.float32) / 255.0 * 2.0  # [0, 2]
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must lie in \[-1, 1\]"):
        fit_once(vanilla, dataset)


def test_unconditional_model_trains_on_labelled_pairs(small_images):
    model = keras_gans.VanillaGAN(seed=0)
    model.compile()
    before = model.generator.get_weights()
    history = fit_once(model, batches(*small_images))
    assert set(history) == GAN_TRACKERS
    assert all(np.isfinite(v[0]) for v in history.values())
    assert max_abs_difference(before, model.generator.get_weights()) > 0


def test_model_trains_on_numpy_arrays(small_images):
    model = keras_gans.VanillaGAN(seed=0)
    model.compile()
    images = small_images[0].astype(np.float32) / 127.5 - 1
    history = model.fit(images, batch_size=32, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0])
    assert int(model.d_optimizer.iterations) == 2


# ----------------------------------------------------------- mechanics
def test_batch_norm_moving_statistics_change_during_fit(trained):
    run = trained("dcgan")
    norms = [layer for network in (run.model.generator, run.model.discriminator)
             for layer in network.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms
    for layer in norms:
        assert np.abs(layer.moving_mean.numpy()).max() > 0.0, layer.name
        assert not np.allclose(layer.moving_variance.numpy(), 1.0), layer.name


def test_same_seed_and_weights_on_the_same_data_give_identical_models(small_images):
    def train(model_seed, initial=None):
        model = keras_gans.DCGAN(seed=model_seed)
        model.compile()
        if initial is not None:
            model.generator.set_weights(initial[0])
            model.discriminator.set_weights(initial[1])
        initial = (model.generator.get_weights(), model.discriminator.get_weights())
        fit_once(model, batches(small_images[0], batch_size=32))
        return model, initial

    first, initial = train(7)
    second, _ = train(7, initial)
    other_noise, _ = train(8, initial)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert max_abs_difference(first.get_weights(), other_noise.get_weights()) > 0


def test_global_random_seed_makes_construction_and_training_repeatable(small_images):
    def train():
        keras.utils.set_random_seed(123)
        model = keras_gans.VanillaGAN(seed=1)
        model.compile()
        fit_once(model, batches(small_images[0], batch_size=32))
        return model.get_weights()

    for a, b in zip(train(), train(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sample_latent_is_standard_normal_and_advances():
    model = keras_gans.VanillaGAN(latent_dim=16, seed=0)
    first = model.sample_latent(2000).numpy()
    second = model.sample_latent(2000).numpy()
    assert first.shape == (2000, 16)
    assert abs(first.mean()) < 0.05 and abs(first.std() - 1.0) < 0.05
    assert not np.allclose(first, second)


def test_model_call_runs_the_sampling_generator(trained):
    model = trained("dcgan").model
    z = keras_gans.sampling.latent_noise(3, model.latent_dim, seed=0)
    np.testing.assert_allclose(model(z).numpy(), model.generate(3, seed=0), atol=1e-6)


def test_ema_generator_averages_the_generator(small_images):
    model = keras_gans.DCGAN(seed=0, ema_decay=0.9)
    model.compile()
    start = model.ema_generator.get_weights()
    np.testing.assert_array_equal(start[0], model.generator.get_weights()[0])
    fit_once(model, batches(small_images[0]))
    ema = model.ema_generator.get_weights()
    current = model.generator.get_weights()
    assert max_abs_difference(start, ema) > 0
    assert max_abs_difference(ema, current) > 0
    assert model.sampling_generator is model.ema_generator
    assert not model.ema_generator.trainable


def test_vanilla_discriminator_units_set_the_hidden_widths():
    model = keras_gans.VanillaGAN(latent_dim=8, discriminator_units=np.array([48, 24, 12]),
                                  spectral_norm=True)
    dense_layers = [getattr(layer, "layer", layer) for layer in model.discriminator.layers]
    widths = [layer.units for layer in dense_layers if isinstance(layer, keras.layers.Dense)]
    assert widths == [48, 24, 12, 1]
    assert model.discriminator(tf.zeros([2, 28, 28, 1])).shape == (2, 1)


# ------------------------------------------------------ construction errors
@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: keras_gans.GAN("g", "d"), TypeError, "keras.Model"),
        (lambda: keras_gans.DCGAN(ema_decay=1.5), ValueError, "ema_decay"),
        (lambda: keras_gans.DCGAN(image_shape=(28, 28, 2)), ValueError, "channels"),
        (lambda: keras_gans.DCGAN(image_shape=(30, 30, 1)), ValueError, "28, 32 or 64"),
        (lambda: keras_gans.DCGAN(image_shape=(28, 32, 1)), ValueError, "square"),
        (lambda: keras_gans.ConditionalGAN(num_classes=1), ValueError, "at least 2"),
        (lambda: keras_gans.WGAN(n_critic=0), ValueError, "n_critic"),
        (lambda: keras_gans.VanillaGAN(discriminator_units=()), ValueError,
         "one or more positive layer widths"),
        (lambda: keras_gans.VanillaGAN(discriminator_units=(512, 0)), ValueError,
         r"widths, got \(512, 0\)"),
        (lambda: keras_gans.VanillaGAN(discriminator_units=512), ValueError,
         "layer widths, got 512"),
        (lambda: keras_gans.get_variant("stylegan"), ValueError, "Known variants"),
    ],
)
def test_construction_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_compile_rejects_bad_label_smoothing_and_loss():
    model = keras_gans.VanillaGAN(seed=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        model.compile(label_smoothing=1.0)
    with pytest.raises(ValueError, match="Known losses"):
        model.compile(loss="nonsaturating")


def test_conditional_model_needs_conditional_networks():
    generator = keras_gans.networks.DCGANGenerator()
    discriminator = keras_gans.networks.DCGANDiscriminator()
    with pytest.raises(ValueError, match=r"\[z, label\]"):
        keras_gans.ConditionalGAN(generator=generator, discriminator=discriminator)


def test_variant_registry_names_every_class():
    assert keras_gans.get_variant("wgan-gp") is keras_gans.WGANGP
    assert set(keras_gans.VARIANTS) == {"vanilla", "dcgan", "cgan", "wgan", "wgan-gp",
                                        "sngan", "progan", "cyclegan", "pix2pix"}
