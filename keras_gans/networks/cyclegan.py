"""CycleGAN's networks (Zhu et al. 2017, appendix 7.2): a ResNet generator
(Johnson et al. 2016) and a 70x70 PatchGAN discriminator (Isola et al. 2017),
with reflection padding and instance normalisation, sized by the image side.

The generator maps images in [-1, 1] to images of the same shape; the
discriminator returns one raw score per overlapping patch (no sigmoid) and
names its last padded features `"features"`. Output layers run in float32
under mixed precision.
"""

import keras
from keras import layers

from keras_gans.layers import ReflectionPadding2D
from keras_gans.networks.base import (
    Network,
    check_image_shape,
    check_positive,
    paper_initializer,
)

# Image side: (generator filters, residual blocks, discriminator filters).
# 256: the paper's 9 blocks of 64 filters; 128: its 6. Smaller images keep the
# 6 or 4 blocks at half the width, so that a 64x64 model trains on a CPU
# (about 0.6 GMAC a generator call instead of 2.4 at full width).
TRANSLATION_SIZES = {32: (32, 4, 64), 64: (32, 6, 64), 128: (64, 6, 64), 256: (64, 9, 64)}


def translation_sizes(image_shape):
    """`(generator filters, residual blocks, discriminator filters)` for a
    square image of side 32, 64, 128 or 256; a `ValueError` otherwise."""
    image_shape = check_image_shape(image_shape)
    if image_shape[0] != image_shape[1] or image_shape[0] not in TRANSLATION_SIZES:
        raise ValueError(
            f"Image-to-image networks take square images of side "
            f"{', '.join(map(str, TRANSLATION_SIZES))}; got {image_shape}."
        )
    return TRANSLATION_SIZES[image_shape[0]]


def instance_normalization(name=None):
    """Instance normalisation: per image and channel over height and width
    (GroupNormalization with one group per channel), with a learned scale and
    offset."""
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def _conv_norm_relu(x, filters, kernel_size, strides=1, padding="valid", transpose=False):
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=paper_initializer(),
    )(x)
    return layers.ReLU()(instance_normalization()(x))


@keras.saving.register_keras_serializable(package="keras_gans")
class CycleGANGenerator(Network):
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
        name: the model's name.

    Example:

    ```python
    generator = keras_gans.networks.CycleGANGenerator((128, 128, 3))  # the paper's 6 blocks
    translated = generator(images)   # (batch, 128, 128, 3) in [-1, 1]
    ```
    """

    def __init__(
        self,
        image_shape=(64, 64, 3),
        filters=None,
        residual_blocks=None,
        name="generator",
        **kwargs,
    ):
        default_filters, default_blocks, _ = translation_sizes(image_shape)
        image_shape = check_image_shape(image_shape)
        filters = default_filters if filters is None else check_positive(filters, "filters")
        residual_blocks = default_blocks if residual_blocks is None else int(residual_blocks)
        if residual_blocks < 0:
            raise ValueError(f"residual_blocks must be >= 0, got {residual_blocks}.")
        image = keras.Input(image_shape, name="image")
        x = _conv_norm_relu(ReflectionPadding2D(3)(image), filters, 7)
        x = _conv_norm_relu(x, 2 * filters, 3, strides=2, padding="same")
        x = _conv_norm_relu(x, 4 * filters, 3, strides=2, padding="same")
        for _ in range(residual_blocks):
            y = _conv_norm_relu(ReflectionPadding2D(1)(x), 4 * filters, 3)
            y = layers.Conv2D(
                4 * filters, 3, use_bias=False, kernel_initializer=paper_initializer()
            )(ReflectionPadding2D(1)(y))
            x = layers.Add()([x, instance_normalization()(y)])
        x = _conv_norm_relu(x, 2 * filters, 3, strides=2, padding="same", transpose=True)
        x = _conv_norm_relu(x, filters, 3, strides=2, padding="same", transpose=True)
        x = layers.Conv2D(image_shape[-1], 7, kernel_initializer=paper_initializer())(
            ReflectionPadding2D(3)(x)
        )
        images = layers.Activation("tanh", dtype="float32", name="images")(x)
        super().__init__(inputs=image, outputs=images, name=name, **kwargs)
        self.image_shape = image_shape
        self.filters = filters
        self.residual_blocks = residual_blocks

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "filters": self.filters,
            "residual_blocks": self.residual_blocks,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class PatchGANDiscriminator(Network):
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
        name: the model's name.

    Example:

    ```python
    discriminator = keras_gans.networks.PatchGANDiscriminator((256, 256, 3))
    scores = discriminator(images)   # (batch, 30, 30, 1), raw
    ```
    """

    def __init__(self, image_shape=(64, 64, 3), filters=None, name="discriminator", **kwargs):
        _, _, default_filters = translation_sizes(image_shape)
        image_shape = check_image_shape(image_shape)
        filters = default_filters if filters is None else check_positive(filters, "filters")
        image = keras.Input(image_shape, name="image")
        x = layers.Conv2D(
            filters, 4, strides=2, padding="same", kernel_initializer=paper_initializer()
        )(image)
        x = layers.LeakyReLU(0.2)(x)
        for multiple, strides in ((2, 2), (4, 2), (8, 1)):
            if strides == 1:
                x = layers.ZeroPadding2D(1)(x)
            x = layers.Conv2D(
                multiple * filters,
                4,
                strides=strides,
                padding="same" if strides == 2 else "valid",
                use_bias=False,
                kernel_initializer=paper_initializer(),
            )(x)
            x = layers.LeakyReLU(0.2)(instance_normalization()(x))
        x = layers.ZeroPadding2D(1, name="features")(x)
        scores = layers.Conv2D(
            1, 4, kernel_initializer=paper_initializer(), dtype="float32", name="scores"
        )(x)
        super().__init__(inputs=image, outputs=scores, name=name, **kwargs)
        self.image_shape = image_shape
        self.filters = filters

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "filters": self.filters}
