"""DCGAN: deep convolutional GAN (Radford et al. 2015)."""

import keras

from keras_gans.models.gan import GAN
from keras_gans.networks import DCGANDiscriminator, DCGANGenerator


@keras.saving.register_keras_serializable(package="keras_gans")
class DCGAN(GAN):
    """The GAN game with the DCGAN networks of `keras_gans.networks.dcgan`.

    Args:
        image_shape: `(height, width, channels)`: 28x28x1, 32x32x3, 64x64x3...
        latent_dim: size of `z`.
        generator, discriminator: your own networks instead of the builders'.
        spectral_norm: spectrally normalise D (SNGAN, Miyato et al. 2018).
        minibatch_stddev: give D a minibatch standard-deviation channel.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`; see
            `AdversarialModel`.

    Example:

    ```python
    gan = keras_gans.DCGAN(image_shape=(28, 28, 1), seed=0)
    gan.compile()  # Adam(2e-4, beta_1=0.5) for both players
    gan.fit(keras_gans.data.load_dataset("fashion_mnist"), epochs=5,
            callbacks=[keras_gans.callbacks.SampleGrid("samples/")])
    ```
    """

    presets = {"dcgan_fashion_mnist": "Fashion-MNIST; generator trained 45 epochs (EMA), "
                                      "discriminator untrained",
               "dcgan_emoji_google_32": "Noto Color Emoji at 32x32; generator trained 93 "
                                        "epochs (EMA), discriminator trained"}

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator=None,
                 discriminator=None, spectral_norm=False, minibatch_stddev=False,
                 **kwargs):
        super().__init__(
            generator=generator or (lambda: DCGANGenerator(image_shape, latent_dim)),
            discriminator=discriminator or (lambda: DCGANDiscriminator(
                image_shape, normalization=None if spectral_norm else "batch",
                spectral_norm=spectral_norm, minibatch_stddev=minibatch_stddev)),
            **kwargs)
        self.spectral_norm = bool(spectral_norm)
        self.minibatch_stddev = bool(minibatch_stddev)
