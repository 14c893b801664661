"""The DCGAN generator and discriminator (Radford et al. 2015), and their
class-conditional forms, sized by the image shape.

They follow the DCGAN guidelines: strided (transposed) convolutions and no
pooling, BatchNorm in the generator, ReLU in the generator and LeakyReLU(0.2)
in the discriminator, tanh output. They serve DCGAN, the conditional GAN and
both WGANs; the discriminator's normalisation is a choice because a WGAN-GP
critic must not use BatchNorm.

With `num_classes`, the generator takes `[z, label]` and concatenates a
learned label embedding to `z`; the discriminator takes `[image, label]` and
embeds the label as one more image-sized channel (Mirza & Osindero 2014).

The discriminator returns one raw score per image (no sigmoid) and names its
flattened last activations `"features"` (for feature matching); output
layers run in float32 under mixed precision.
"""

import keras
from keras import layers

from keras_gans.layers import LayerNormalization, MinibatchStdDev, SpectralNormalization
from keras_gans.networks.base import (
    Network,
    check_image_shape,
    check_positive,
    seeded_dropout,
    upsampling_plan,
)

NORMALIZATIONS = ("batch", "layer", None)


def _check_classes(num_classes):
    return None if num_classes is None else check_positive(num_classes, "num_classes")


def _inputs(inputs):
    return inputs if len(inputs) > 1 else inputs[0]


@keras.saving.register_keras_serializable(package="keras_gans")
class DCGANGenerator(Network):
    """DCGAN generator: a dense projection, then stride-2 transposed convolutions.

    `z` is projected to a `base x base` map (7x7 for 28x28 images, 4x4 for
    32x32 and 64x64) that 4x4 transposed convolutions double to the image
    size, each followed by BatchNorm and ReLU but the last (tanh).

    Args:
        image_shape: `(height, width, channels)`, a side of 3 to 7 doubled
            at least twice: 28x28x1, 32x32x3, 64x64x3...
        latent_dim: size of `z`.
        base_filters: filters of the last hidden layer; each earlier layer
            doubles them.
        num_classes: build a conditional generator taking `[z, label]`.
        embedding_dim: size of the label embedding.
        name: the model's name.

    Example:

    ```python
    generator = keras_gans.networks.DCGANGenerator(image_shape=(32, 32, 3), latent_dim=100)
    images = generator(keras.random.normal((16, 100)))   # (16, 32, 32, 3) in [-1, 1]
    conditional = keras_gans.networks.DCGANGenerator(num_classes=10)
    images = conditional([z, labels])
    ```
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=100,
        base_filters=64,
        num_classes=None,
        embedding_dim=50,
        name="generator",
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape)
        base_size, steps = upsampling_plan(image_shape)
        latent_dim = check_positive(latent_dim, "latent_dim")
        base_filters = check_positive(base_filters, "base_filters")
        num_classes = _check_classes(num_classes)
        embedding_dim = check_positive(embedding_dim, "embedding_dim")
        z = keras.Input((latent_dim,), name="z")
        inputs, x = [z], z
        if num_classes is not None:
            label = keras.Input((), dtype="int32", name="label")
            embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)
            inputs, x = [z, label], layers.Concatenate(name="z_and_label")([z, embedded])
        filters = base_filters * 2 ** (steps - 1)
        x = layers.Dense(base_size * base_size * filters, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Reshape((base_size, base_size, filters))(x)
        for _ in range(steps - 1):
            filters //= 2
            x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same")(x)
        images = layers.Activation("tanh", dtype="float32", name="images")(x)
        super().__init__(inputs=_inputs(inputs), outputs=images, name=name, **kwargs)
        self.image_shape = image_shape
        self.latent_dim = latent_dim
        self.base_filters = base_filters
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "base_filters": self.base_filters,
            "num_classes": self.num_classes,
            "embedding_dim": self.embedding_dim,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class DCGANDiscriminator(Network):
    """DCGAN discriminator (or WGAN critic): stride-2 convolutions to one raw score.

    4x4 convolutions halve the image as often as the generator doubles its
    base map, each followed by the normalisation (not the first) and
    LeakyReLU(0.2); then a dense layer scores the flattened features.

    Args:
        image_shape: `(height, width, channels)`, as for `DCGANGenerator`.
        base_filters: filters of the first layer; each later layer doubles them.
        normalization: `"batch"` (DCGAN), `"layer"` (WGAN-GP critic) or `None`
            (WGAN critic).
        spectral_norm: wrap every weight layer in
            `keras_gans.layers.SpectralNormalization` (Miyato et al. 2018); then no
            other normalisation is used.
        minibatch_stddev: append the batch's feature spread as a channel before
            the last convolution (Karras et al. 2018).
        dropout: dropout rate before the output layer.
        num_classes: build a conditional discriminator taking `[image, label]`.
        name: the model's name.

    Example:

    ```python
    critic = keras_gans.networks.DCGANDiscriminator((28, 28, 1), normalization="layer")
    scores = critic(images)   # (batch, 1), raw
    ```
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        base_filters=64,
        normalization="batch",
        spectral_norm=False,
        minibatch_stddev=False,
        dropout=0.0,
        num_classes=None,
        name="discriminator",
        **kwargs,
    ):
        image_shape = check_image_shape(image_shape)
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}.")
        _, steps = upsampling_plan(image_shape)
        base_filters = check_positive(base_filters, "base_filters")
        num_classes = _check_classes(num_classes)
        wrap = SpectralNormalization if spectral_norm else (lambda layer: layer)
        image = keras.Input(image_shape, name="image")
        inputs, x = [image], image
        if num_classes is not None:
            label = keras.Input((), dtype="int32", name="label")
            height, width = image_shape[0], image_shape[1]
            label_map = layers.Embedding(num_classes, height * width, name="label_embedding")(label)
            label_map = layers.Reshape((height, width, 1))(label_map)
            inputs = [image, label]
            x = layers.Concatenate(name="image_and_label")([image, label_map])
        filters = base_filters
        for step in range(steps):
            if minibatch_stddev and step == steps - 1:
                x = MinibatchStdDev()(x)
            x = wrap(layers.Conv2D(filters, 4, strides=2, padding="same"))(x)
            if step > 0 and not spectral_norm:
                if normalization == "batch":
                    x = layers.BatchNormalization()(x)
                elif normalization == "layer":
                    x = LayerNormalization()(x)
            x = layers.LeakyReLU(0.2)(x)
            filters *= 2
        x = layers.Flatten(name="features")(x)
        if dropout:
            x = seeded_dropout(dropout)(x)
        score = wrap(layers.Dense(1, dtype="float32"))(x)
        super().__init__(inputs=_inputs(inputs), outputs=score, name=name, **kwargs)
        self.image_shape = image_shape
        self.base_filters = base_filters
        self.normalization = normalization
        self.spectral_norm = bool(spectral_norm)
        self.minibatch_stddev = bool(minibatch_stddev)
        self.dropout = float(dropout)
        self.num_classes = num_classes

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "base_filters": self.base_filters,
            "normalization": self.normalization,
            "spectral_norm": self.spectral_norm,
            "minibatch_stddev": self.minibatch_stddev,
            "dropout": self.dropout,
            "num_classes": self.num_classes,
        }
