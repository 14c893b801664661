"""The original GAN with fully connected networks (Goodfellow et al. 2014)."""

import keras

from keras_gans.models.gan import GAN
from keras_gans.networks import MLPDiscriminator, MLPGenerator


@keras.saving.register_keras_serializable(package="keras_gans")
class VanillaGAN(GAN):
    """The GAN of Goodfellow et al. (2014): MLP generator and discriminator.

    The generator loss is a `compile` choice: `loss="non_saturating"` (default,
    G maximises log D(G(z))) or `loss="minimax"` (G minimises
    log(1 - D(G(z))), the game as first written, whose gradient vanishes early
    in training).

    Args:
        image_shape: `(height, width, channels)`.
        latent_dim: size of `z`.
        generator, discriminator: your own networks instead of the MLPs.
        spectral_norm: spectrally normalise D's dense layers.
        minibatch_stddev: give D the batch's feature spread as one more
            feature, so that a generator stuck on a few classes is easy to
            reject.
        discriminator_units: widths of D's hidden layers, `(512, 256)` by
            default; a wider or deeper D, e.g. `(1024, 512, 256)`, tells
            similar classes apart better.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`.

    Example:

    ```python
    gan = keras_gans.VanillaGAN(seed=0)
    gan.compile(loss="minimax")
    gan.fit(keras_gans.data.load_dataset("fashion_mnist"), epochs=3)
    ```
    """

    presets = {"vanilla_fashion_mnist": "Fashion-MNIST; generator trained 60 epochs (EMA), "
                                        "wide discriminator trained"}

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator=None,
                 discriminator=None, spectral_norm=False, minibatch_stddev=False,
                 discriminator_units=(512, 256), **kwargs):
        super().__init__(
            generator=generator or (lambda: MLPGenerator(image_shape, latent_dim)),
            discriminator=discriminator or (lambda: MLPDiscriminator(
                image_shape, units=discriminator_units, spectral_norm=spectral_norm,
                minibatch_stddev=minibatch_stddev)),
            **kwargs)
        self.spectral_norm = bool(spectral_norm)
        self.minibatch_stddev = bool(minibatch_stddev)
        self.discriminator_units = tuple(discriminator_units)
