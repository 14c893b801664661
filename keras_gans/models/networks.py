"""Generator and discriminator builders, sized by the image shape.

The convolutional builders follow the DCGAN guidelines (Radford et al. 2015):
strided (transposed) convolutions and no pooling, BatchNorm in the generator,
ReLU in the generator and LeakyReLU(0.2) in the discriminator, tanh output.
They serve DCGAN, the conditional GAN and both WGANs; the discriminator's
normalisation is a choice because a WGAN-GP critic must not use BatchNorm.

Conditional networks (`num_classes=...`) take `[z, label]` or `[image, label]`:
the generator concatenates a learned label embedding to `z`; the discriminator
embeds the label as one more image-sized channel (Mirza & Osindero 2014).

Every discriminator returns one raw score per image (no sigmoid) and names its
penultimate activations `"features"` for feature matching. Output layers run in
float32 under mixed precision.
"""

import keras
import numpy as np
from keras import layers

from keras_gans.layers import MinibatchStdDev

NORMALIZATIONS = ("batch", "layer", None)


def upsampling_plan(image_shape, min_steps=2):
    """Returns `(base_size, steps)` with `base_size * 2**steps == height`.

    28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4); a size doubled fewer than
    `min_steps` times is an error.
    """
    height, width = image_shape[0], image_shape[1]
    if height != width:
        raise ValueError(f"Only square images are supported, got {image_shape}.")
    size, steps = height, 0
    while size % 2 == 0 and size > 7:
        size //= 2
        steps += 1
    if steps < min_steps or size > 7:
        times = {1: "once", 2: "twice"}.get(min_steps, f"{min_steps} times")
        raise ValueError(
            f"Image size {height} is not a base of 3 to 7 doubled at least "
            f"{times}; use e.g. 28, 32 or 64."
        )
    return size, steps


def _check_image_shape(image_shape):
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or image_shape[-1] not in (1, 3):
        raise ValueError(
            f"image_shape must be (height, width, channels) with 1 or 3 "
            f"channels, got {image_shape}."
        )
    return image_shape


def _layer_widths(units):
    """`units` as a tuple of ints, or a ValueError naming what is wrong."""
    widths = tuple(units) if isinstance(units, (list, tuple, np.ndarray)) else ()
    if not widths or not all(isinstance(width, (int, np.integer))
                             and not isinstance(width, bool) and width >= 1
                             for width in widths):
        raise ValueError(f"units must be one or more positive layer widths, got {units!r}.")
    return tuple(int(width) for width in widths)


def _latent_input(latent_dim, num_classes, embedding_dim):
    z = keras.Input((latent_dim,), name="z")
    if num_classes is None:
        return [z], z
    label = keras.Input((), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)
    return [z, label], layers.Concatenate(name="z_and_label")([z, embedded])


def _image_input(image_shape, num_classes):
    image = keras.Input(image_shape, name="image")
    if num_classes is None:
        return [image], image
    label = keras.Input((), dtype="int32", name="label")
    height, width = image_shape[0], image_shape[1]
    label_map = layers.Embedding(num_classes, height * width, name="label_embedding")(label)
    label_map = layers.Reshape((height, width, 1))(label_map)
    return [image, label], layers.Concatenate(name="image_and_label")([image, label_map])


def _model(inputs, outputs, name):
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)


def conv_generator(image_shape=(28, 28, 1), latent_dim=100, base_filters=64,
                   num_classes=None, embedding_dim=50, name="generator"):
    """DCGAN generator: a dense projection, then transposed convolutions.

    Args:
        image_shape: `(height, width, channels)`, e.g. `(28, 28, 1)` or
            `(32, 32, 3)`.
        latent_dim: size of `z`.
        base_filters: filters of the last hidden layer; each earlier layer
            doubles them.
        num_classes: build a conditional generator taking `[z, label]`.
        embedding_dim: size of the label embedding.
    """
    image_shape = _check_image_shape(image_shape)
    base_size, steps = upsampling_plan(image_shape)
    inputs, x = _latent_input(latent_dim, num_classes, embedding_dim)
    filters = base_filters * 2 ** (steps - 1)
    x = layers.Dense(base_size * base_size * filters, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((base_size, base_size, filters))(x)
    for _ in range(steps - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                                   use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same")(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return _model(inputs, images, name)


def conv_discriminator(image_shape=(28, 28, 1), base_filters=64,
                       normalization="batch", spectral_norm=False,
                       minibatch_stddev=False, dropout=0.0, num_classes=None,
                       name="discriminator"):
    """DCGAN discriminator (or WGAN critic): strided convolutions to one score.

    Args:
        image_shape: `(height, width, channels)`.
        base_filters: filters of the first layer; each later layer doubles them.
        normalization: `"batch"` (DCGAN), `"layer"` (WGAN-GP critic) or `None`.
            Not used on the first layer, as in DCGAN.
        spectral_norm: wrap every weight layer in
            `keras.layers.SpectralNormalization` (Miyato et al. 2018); then no
            other normalisation is used.
        minibatch_stddev: append the batch's feature spread as a channel before
            the last convolution (Karras et al. 2018).
        dropout: dropout rate before the output layer.
        num_classes: build a conditional discriminator taking `[image, label]`.
    """
    image_shape = _check_image_shape(image_shape)
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}."
        )
    _, steps = upsampling_plan(image_shape)
    wrap = layers.SpectralNormalization if spectral_norm else (lambda layer: layer)
    inputs, x = _image_input(image_shape, num_classes)
    filters = base_filters
    for step in range(steps):
        if minibatch_stddev and step == steps - 1:
            x = MinibatchStdDev()(x)
        x = wrap(layers.Conv2D(filters, 4, strides=2, padding="same"))(x)
        if step > 0 and not spectral_norm:
            if normalization == "batch":
                x = layers.BatchNormalization()(x)
            elif normalization == "layer":
                x = layers.LayerNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
        filters *= 2
    x = layers.Flatten(name="features")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    score = wrap(layers.Dense(1, dtype="float32"))(x)
    return _model(inputs, score, name)


def mlp_generator(image_shape=(28, 28, 1), latent_dim=100, units=(256, 512, 1024),
                  name="generator"):
    """Fully connected generator (Goodfellow et al. 2014)."""
    image_shape = _check_image_shape(image_shape)
    z = keras.Input((latent_dim,), name="z")
    x = z
    for width in units:
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(image_shape[0] * image_shape[1] * image_shape[2])(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    images = layers.Reshape(image_shape, dtype="float32", name="images")(x)
    return keras.Model(z, images, name=name)


def mlp_discriminator(image_shape=(28, 28, 1), units=(512, 256), dropout=0.3,
                      spectral_norm=False, minibatch_stddev=False,
                      name="discriminator"):
    """Fully connected discriminator with dropout (Goodfellow et al. 2014).

    `minibatch_stddev` appends the batch's feature spread before the last
    hidden layer, as `conv_discriminator` does before its last convolution.
    """
    image_shape = _check_image_shape(image_shape)
    units = _layer_widths(units)
    wrap = layers.SpectralNormalization if spectral_norm else (lambda layer: layer)
    image = keras.Input(image_shape, name="image")
    x = layers.Flatten()(image)
    for index, width in enumerate(units):
        if minibatch_stddev and index == len(units) - 1:
            x = MinibatchStdDev()(x)
        x = wrap(layers.Dense(width))(x)
        x = layers.LeakyReLU(0.2, name="features" if index == len(units) - 1 else None)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    score = wrap(layers.Dense(1, dtype="float32"))(x)
    return keras.Model(image, score, name=name)
