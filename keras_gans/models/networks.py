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
penultimate activations `"features"` for feature matching; the PatchGAN
discriminator returns one raw score per patch. Output layers run in float32
under mixed precision.

The image-to-image builders follow CycleGAN (Zhu et al. 2017, appendix 7.2):
a ResNet generator (Johnson et al. 2016) and a 70x70 PatchGAN discriminator
(Isola et al. 2017), with reflection padding and instance normalisation.
"""

import keras
import numpy as np
from keras import layers

from keras_gans.layers import (
    LayerNormalization,
    MinibatchStdDev,
    ReflectionPadding2D,
    SpectralNormalization,
)

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
            `keras_gans.layers.SpectralNormalization` (Miyato et al. 2018); then no
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
    wrap = SpectralNormalization if spectral_norm else (lambda layer: layer)
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
                x = LayerNormalization()(x)
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
    wrap = SpectralNormalization if spectral_norm else (lambda layer: layer)
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


# Image side: (generator filters, residual blocks, discriminator filters).
# 256: the paper's 9 blocks of 64 filters; 128: its 6. Smaller images keep the
# 6 or 4 blocks at half the width, so that a 64x64 model trains on a CPU
# (about 0.6 GMAC a generator call instead of 2.4 at full width).
TRANSLATION_SIZES = {32: (32, 4, 64), 64: (32, 6, 64), 128: (64, 6, 64), 256: (64, 9, 64)}


def translation_sizes(image_shape):
    """`(generator filters, residual blocks, discriminator filters)` for a
    square image of side 32, 64, 128 or 256; a `ValueError` otherwise."""
    image_shape = _check_image_shape(image_shape)
    if image_shape[0] != image_shape[1] or image_shape[0] not in TRANSLATION_SIZES:
        raise ValueError(f"Image-to-image networks take square images of side "
                         f"{', '.join(map(str, TRANSLATION_SIZES))}; got {image_shape}.")
    return TRANSLATION_SIZES[image_shape[0]]


def _paper_initializer():
    """N(0, 0.02), the initialisation of the CycleGAN and pix2pix code."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def instance_normalization(name=None):
    """Instance normalisation: per image and channel over height and width
    (GroupNormalization with one group per channel), with a learned scale and
    offset."""
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def _conv_norm_relu(x, filters, kernel_size, strides=1, padding="valid", transpose=False):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
             kernel_initializer=_paper_initializer())(x)
    return layers.ReLU()(instance_normalization()(x))


def resnet_generator(image_shape=(64, 64, 3), filters=None, residual_blocks=None,
                     name="generator"):
    """The CycleGAN generator: c7s1-f, d2f, d4f, R4f x blocks, u2f, uf, c7s1-C.

    A 7x7 convolution, two stride-2 convolutions, residual blocks of two 3x3
    convolutions, two stride-2 transposed convolutions and a 7x7 convolution
    to the image's channels with tanh. Every convolution but the last is
    followed by instance normalisation and ReLU; the 7x7 and 3x3 stride-1
    convolutions pad by reflection. Weights start from N(0, 0.02), as in the
    paper's code.

    Args:
        image_shape: `(side, side, channels)`, side 32, 64, 128 or 256.
        filters: f, the first layer's filters; `None`: see `TRANSLATION_SIZES`.
        residual_blocks: how many; `None`: see `TRANSLATION_SIZES`.

    Example:

    ```python
    generator = resnet_generator((128, 128, 3))   # the paper's 6-block network
    ```
    """
    default_filters, default_blocks, _ = translation_sizes(image_shape)
    filters = filters or default_filters
    residual_blocks = default_blocks if residual_blocks is None else int(residual_blocks)
    image = keras.Input(image_shape, name="image")
    x = _conv_norm_relu(ReflectionPadding2D(3)(image), filters, 7)
    x = _conv_norm_relu(x, 2 * filters, 3, strides=2, padding="same")
    x = _conv_norm_relu(x, 4 * filters, 3, strides=2, padding="same")
    for _ in range(residual_blocks):
        y = _conv_norm_relu(ReflectionPadding2D(1)(x), 4 * filters, 3)
        y = layers.Conv2D(4 * filters, 3, use_bias=False,
                          kernel_initializer=_paper_initializer())(ReflectionPadding2D(1)(y))
        x = layers.Add()([x, instance_normalization()(y)])
    x = _conv_norm_relu(x, 2 * filters, 3, strides=2, padding="same", transpose=True)
    x = _conv_norm_relu(x, filters, 3, strides=2, padding="same", transpose=True)
    x = layers.Conv2D(image_shape[-1], 7, kernel_initializer=_paper_initializer())(
        ReflectionPadding2D(3)(x))
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(image, images, name=name)


def patch_discriminator(image_shape=(64, 64, 3), filters=None, name="discriminator"):
    """The 70x70 PatchGAN discriminator: C64-C128-C256-C512, then one score per patch.

    4x4 convolutions, the first three of stride 2 and the fourth of stride 1,
    each followed by instance normalisation (not the first) and
    LeakyReLU(0.2), then a 4x4 convolution to one channel: a grid of raw
    scores, each judging an overlapping 70x70 patch (smaller images: patches
    as large as the image allows). The stride-1 convolutions pad by one
    pixel, as in the paper's code, so a 256x256 image gets 30x30 scores.

    Args:
        image_shape: `(side, side, channels)`, side 32, 64, 128 or 256.
        filters: the first layer's filters (64); each later layer doubles them.
    """
    _, _, default_filters = translation_sizes(image_shape)
    filters = filters or default_filters
    image = keras.Input(image_shape, name="image")
    x = layers.Conv2D(filters, 4, strides=2, padding="same",
                      kernel_initializer=_paper_initializer())(image)
    x = layers.LeakyReLU(0.2)(x)
    for multiple, strides in ((2, 2), (4, 2), (8, 1)):
        if strides == 1:
            x = layers.ZeroPadding2D(1)(x)
        x = layers.Conv2D(multiple * filters, 4, strides=strides,
                          padding="same" if strides == 2 else "valid", use_bias=False,
                          kernel_initializer=_paper_initializer())(x)
        x = layers.LeakyReLU(0.2)(instance_normalization()(x))
    x = layers.ZeroPadding2D(1, name="features")(x)
    scores = layers.Conv2D(1, 4, kernel_initializer=_paper_initializer(), dtype="float32",
                           name="scores")(x)
    return keras.Model(image, scores, name=name)
