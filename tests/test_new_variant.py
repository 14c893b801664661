"""A new variant is its networks and its step: the docs' relativistic
average GAN trains, saves, reloads and refuses what it would ignore."""

import keras
import numpy as np
import pytest
from conftest import batches
from keras import ops

import keras_gans
from keras_gans.networks import DCGANDiscriminator, DCGANGenerator


@keras.saving.register_keras_serializable(package="test_new_variant")
class RaGAN(keras_gans.NoiseToImage):
    """Relativistic average GAN: D judges whether real data looks more real
    than the average fake, and G the other way round."""

    tracker_names = ("d_loss", "g_loss")
    supported_options = frozenset({"instance_noise", "diff_augment"})

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator=None,
                 discriminator=None, **kwargs):
        super().__init__(
            generator=generator or (lambda: DCGANGenerator(image_shape, latent_dim)),
            discriminator=discriminator or (lambda: DCGANDiscriminator(image_shape)),
            **kwargs)

    def train_step(self, data):
        real_images, labels = self.unpack(data)
        z = self.sample_latent(ops.shape(real_images)[0])

        def play():
            fake_images = self.generator(self.generator_inputs(z, labels), training=True)
            real, fake = self.discriminate(real_images, fake_images, labels)
            real_vs_fake = real - ops.mean(fake)
            fake_vs_real = fake - ops.mean(real)
            d_loss = ops.mean(ops.softplus(-real_vs_fake) + ops.softplus(fake_vs_real))
            g_loss = ops.mean(ops.softplus(-fake_vs_real) + ops.softplus(real_vs_fake))
            return {"discriminator": d_loss, "generator": g_loss}, {"d_loss": d_loss,
                                                                    "g_loss": g_loss}

        return self.update_trackers(**self.minimize(play))


def test_the_new_variant_trains_saves_and_reloads(fashion_arrays, tmp_path):
    model = RaGAN(latent_dim=16, seed=0, ema_decay=0.9)
    model.compile(instance_noise=0.05)
    history = model.fit(batches(fashion_arrays[0][:64], batch_size=32), epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    assert int(model.d_optimizer.iterations) == 2 and int(model.g_optimizer.iterations) == 2

    model.save(str(tmp_path / "ragan.keras"))
    loaded = keras_gans.load_gan(str(tmp_path / "ragan.keras"))
    assert loaded.get_config() == model.get_config()
    assert int(loaded.g_optimizer.iterations) == 2
    np.testing.assert_array_equal(loaded.generate(3, seed=0), model.generate(3, seed=0))

    model.save_to_preset(str(tmp_path / "preset"))
    preset = RaGAN.from_preset(str(tmp_path / "preset"))
    np.testing.assert_array_equal(preset.generate(3, seed=0), model.generate(3, seed=0))


def test_the_new_variant_refuses_what_it_would_ignore():
    with pytest.raises(ValueError, match="RaGAN does not support label_smoothing"):
        RaGAN(latent_dim=16).compile(label_smoothing=0.1)
