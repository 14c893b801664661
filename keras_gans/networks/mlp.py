"""The fully connected generator and discriminator of the original GAN
(Goodfellow et al. 2014), as `VanillaGAN` builds them.

The generator maps z through LeakyReLU(0.2) dense layers to a tanh image;
the discriminator flattens the image and returns one raw score (no sigmoid),
with dropout after every hidden layer. The discriminator's last hidden
activations are named `"features"` (for feature matching); output layers run
in float32 under mixed precision.
"""

import keras
import numpy as np
from keras import layers

from keras_gans.layers import MinibatchStdDev, SpectralNormalization
from keras_gans.networks.base import (
    Network,
    check_image_shape,
    check_positive,
    seeded_dropout,
)


def layer_widths(units):
    """`units` as a tuple of ints, or a ValueError naming what is wrong."""
    widths = tuple(units) if isinstance(units, (list, tuple, np.ndarray)) else ()
    if not widths or not all(
        isinstance(width, (int, np.integer)) and not isinstance(width, bool) and width >= 1
        for width in widths
    ):
        raise ValueError(f"units must be one or more positive layer widths, got {units!r}.")
    return tuple(int(width) for width in widths)


@keras.saving.register_keras_serializable(package="keras_gans")
class MLPGenerator(Network):
    """Fully connected generator: `z` -> dense layers -> tanh image.

    Args:
        image_shape: `(height, width, channels)` of the images, 1 or 3 channels.
        latent_dim: size of `z`.
        units: widths of the hidden layers, each followed by LeakyReLU(0.2).
        name: the model's name.

    Example:

    ```python
    generator = keras_gans.networks.MLPGenerator(image_shape=(28, 28, 1), latent_dim=100)
    images = generator(keras.random.normal((16, 100)))   # (16, 28, 28, 1) in [-1, 1]
    ```
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=100,
        units=(256, 512, 1024),
        name="generator",
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape)
        latent_dim = check_positive(latent_dim, "latent_dim")
        units = layer_widths(units)
        z = keras.Input((latent_dim,), name="z")
        x = z
        for width in units:
            x = layers.Dense(width)(x)
            x = layers.LeakyReLU(0.2)(x)
        x = layers.Dense(image_shape[0] * image_shape[1] * image_shape[2])(x)
        x = layers.Activation("tanh", dtype="float32")(x)
        images = layers.Reshape(image_shape, dtype="float32", name="images")(x)
        super().__init__(inputs=z, outputs=images, name=name, **kwargs)
        self.image_shape = image_shape
        self.latent_dim = latent_dim
        self.units = units

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "units": self.units,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class MLPDiscriminator(Network):
    """Fully connected discriminator with dropout: image -> one raw score.

    Args:
        image_shape: `(height, width, channels)` of the images, 1 or 3 channels.
        units: widths of the hidden layers, each followed by LeakyReLU(0.2)
            and dropout; a wider or deeper one, e.g. `(1024, 512, 256)`,
            tells similar classes apart better.
        dropout: dropout rate after every hidden layer (0 for none).
        spectral_norm: wrap every dense layer in
            `keras_gans.layers.SpectralNormalization`.
        minibatch_stddev: append the batch's feature spread before the last
            hidden layer.
        name: the model's name.

    Example:

    ```python
    discriminator = keras_gans.networks.MLPDiscriminator((28, 28, 1), units=(512, 256))
    scores = discriminator(images)   # (batch, 1), raw
    ```
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        units=(512, 256),
        dropout=0.3,
        spectral_norm=False,
        minibatch_stddev=False,
        name="discriminator",
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape)
        units = layer_widths(units)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}.")
        wrap = SpectralNormalization if spectral_norm else (lambda layer: layer)
        image = keras.Input(image_shape, name="image")
        x = layers.Flatten()(image)
        for index, width in enumerate(units):
            if minibatch_stddev and index == len(units) - 1:
                x = MinibatchStdDev()(x)
            x = wrap(layers.Dense(width))(x)
            x = layers.LeakyReLU(0.2, name="features" if index == len(units) - 1 else None)(x)
            if dropout:
                x = seeded_dropout(dropout)(x)
        score = wrap(layers.Dense(1, dtype="float32"))(x)
        super().__init__(inputs=image, outputs=score, name=name, **kwargs)
        self.image_shape = image_shape
        self.units = units
        self.dropout = float(dropout)
        self.spectral_norm = bool(spectral_norm)
        self.minibatch_stddev = bool(minibatch_stddev)

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "units": self.units,
            "dropout": self.dropout,
            "spectral_norm": self.spectral_norm,
            "minibatch_stddev": self.minibatch_stddev,
        }
