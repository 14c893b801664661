"""pix2pix's networks (Isola et al. 2017, appendix 6.1): a U-Net generator and
a conditional PatchGAN discriminator, with BatchNorm, sized by the image side.

The generator maps images in [-1, 1] to images of the same shape; the
discriminator takes a `[source, target]` pair and returns one raw score per
overlapping patch (no sigmoid), naming its last padded features
`"features"`. Weights start from N(0, 0.02) and BatchNorm scales from
N(1, 0.02), as in the paper's code. Output layers run in float32 under mixed
precision.
"""

import math
import random

import keras
from keras import layers

from keras_gans.networks.base import (
    Network,
    check_image_shape,
    check_positive,
    paper_initializer,
)

# Image side: (decoder blocks with dropout, discriminator depth). The U-Net
# halves the image down to 1x1, so its depth is log2(side): 8 blocks at 256,
# as in the paper. The paper puts dropout in the first 3 of the decoder's 7
# blocks; smaller U-Nets keep fewer. The discriminator's depth (its stride-2
# convolutions) gives 70x70 patches at 3, 34x34 at 2 and 16x16 at 1, so that
# a patch stays smaller than the image and the scores form a 14x14 grid at
# 32, 64 and 128 pixels (30x30 at 256).
PAIRED_SIZES = {32: (1, 1), 64: (2, 2), 128: (3, 3), 256: (3, 3)}
DROPOUT_RATE = 0.5


def paired_sizes(image_shape):
    """`(dropout blocks, discriminator depth)` for a square image of side 32,
    64, 128 or 256; a `ValueError` otherwise."""
    image_shape = check_image_shape(image_shape)
    if image_shape[0] != image_shape[1] or image_shape[0] not in PAIRED_SIZES:
        raise ValueError(
            f"pix2pix networks take square images of side "
            f"{', '.join(map(str, PAIRED_SIZES))}; got {image_shape}."
        )
    return PAIRED_SIZES[image_shape[0]]


def _batch_normalization(name=None):
    """BatchNorm with the paper's code's momentum, epsilon and scale initialisation."""
    return layers.BatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        name=name,
    )


def _width(filters, level):
    """The filters at a level of the U-Net or PatchGAN: f, 2f, 4f, then 8f."""
    return min(2**level, 8) * filters


@keras.saving.register_keras_serializable(package="keras_gans")
class UNetGenerator(Network):
    """The pix2pix U-Net: an encoder down to 1x1, a decoder back up, and a skip
    connection from each encoder block to the decoder block of its resolution.

    At 256x256 with `filters=64` it is the paper's
    C64-C128-C256-C512-C512-C512-C512-C512 encoder and
    CD512-CD512-CD512-C512-C256-C128-C64 decoder: 4x4 convolutions of stride 2
    (transposed in the decoder), BatchNorm (not after the first encoder
    convolution, nor at the 1x1 bottleneck, where a batch of one would zero
    it), LeakyReLU(0.2) in the encoder and ReLU in the decoder. Before each
    decoder block but the first, its input is concatenated on channels with
    the encoder's features of the same resolution (layers `skip_16`,
    `skip_8`, ...: decoder output first); a last transposed convolution with
    tanh makes the image. The first `dropout_blocks` decoder blocks drop half
    their units in training: the model's noise (there is no `z`). A smaller
    image has fewer blocks, one per halving of its side.

    Args:
        image_shape: `(side, side, channels)`, side 32, 64, 128 or 256.
        filters: the first encoder block's filters (64); later blocks double
            them up to 8 times as many.
        dropout_blocks: decoder blocks with dropout, counted from the
            bottleneck; `None`: 3 at 256 and 128 pixels, 2 at 64, 1 at 32
            (see `PAIRED_SIZES`); 0: none.
        seed: the seed of the dropout's noise (the blocks draw from `seed`,
            `seed + 1`, ...); `None` draws one, which the config keeps.
        name: the model's name.

    Example:

    ```python
    generator = keras_gans.networks.UNetGenerator((256, 256, 3))  # the paper's
    translated = generator(images)   # (batch, 256, 256, 3) in [-1, 1]
    ```
    """

    def __init__(
        self,
        image_shape=(64, 64, 3),
        filters=64,
        dropout_blocks=None,
        seed=None,
        name="generator",
        **kwargs,
    ):
        default_dropout, _ = paired_sizes(image_shape)
        image_shape = check_image_shape(image_shape)
        filters = check_positive(filters, "filters")
        depth = int(math.log2(image_shape[0]))
        dropout_blocks = default_dropout if dropout_blocks is None else int(dropout_blocks)
        if not 0 <= dropout_blocks < depth:
            raise ValueError(
                f"dropout_blocks must lie in [0, {depth - 1}] for "
                f"{image_shape[0]}x{image_shape[0]} images (the decoder's "
                f"blocks), got {dropout_blocks}."
            )
        # Seeded, the dropout draws from its own stream on every backend (on
        # PyTorch an unseeded one draws from torch's global generator, which
        # no checkpoint holds).
        seed = random.randint(0, 2**31 - 1 - depth) if seed is None else int(seed)
        image = keras.Input(image_shape, name="image")

        # The encoder: one block per halving, its output kept for the decoder.
        x, skips = image, []
        for level in range(depth):
            side = image_shape[0] // 2 ** (level + 1)
            normalized = 0 < level < depth - 1
            x = layers.Conv2D(
                _width(filters, level),
                4,
                strides=2,
                padding="same",
                use_bias=not normalized,
                kernel_initializer=paper_initializer(),
                name=f"down_{side}_conv",
            )(x)
            if normalized:
                x = _batch_normalization(f"down_{side}_norm")(x)
            x = layers.LeakyReLU(0.2, name=f"down_{side}")(x)
            skips.append(x)

        # The decoder: from the bottleneck up, each block joined by the
        # encoder's features of the resolution it makes.
        for block, level in enumerate(reversed(range(depth - 1))):
            side = image_shape[0] // 2 ** (level + 1)
            x = layers.Conv2DTranspose(
                _width(filters, level),
                4,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer=paper_initializer(),
                name=f"up_{side}_conv",
            )(x)
            x = _batch_normalization(f"up_{side}_norm")(x)
            if block < dropout_blocks:
                x = layers.Dropout(DROPOUT_RATE, seed=seed + block, name=f"up_{side}_dropout")(x)
            x = layers.ReLU(name=f"up_{side}")(x)
            x = layers.Concatenate(name=f"skip_{side}")([x, skips[level]])
        x = layers.Conv2DTranspose(
            image_shape[-1],
            4,
            strides=2,
            padding="same",
            kernel_initializer=paper_initializer(),
            name="up_image_conv",
        )(x)
        images = layers.Activation("tanh", dtype="float32", name="images")(x)
        super().__init__(inputs=image, outputs=images, name=name, **kwargs)
        self.image_shape = image_shape
        self.filters = filters
        self.dropout_blocks = dropout_blocks
        self.seed = seed

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "filters": self.filters,
            "dropout_blocks": self.dropout_blocks,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class ConditionalPatchGAN(Network):
    """The pix2pix discriminator: a PatchGAN that judges a (source, target) pair.

    The source and target images are concatenated on channels (layer
    `"pair"`, 2C channels), then, at depth 3, the paper's 70x70 PatchGAN
    C64-C128-C256-C512: 4x4 convolutions, the first three of stride 2 and the
    last of stride 1, BatchNorm after all but the first, LeakyReLU(0.2); a
    4x4 convolution to one channel gives a raw score per overlapping patch.
    The stride-1 convolutions pad by one pixel, as in the paper's code, so a
    256x256 pair gets 30x30 scores. A smaller image gets fewer stride-2
    convolutions (`depth`) and smaller patches: 34x34 at depth 2, 16x16 at 1.

    Args:
        image_shape: `(side, side, channels)` of each of the two images, side
            32, 64, 128 or 256.
        filters: the first convolution's filters (64); each later one doubles
            them, up to 8 times as many.
        depth: the stride-2 convolutions; `None`: 3 at 256 and 128 pixels
            (70x70 patches), 2 at 64, 1 at 32 (see `PAIRED_SIZES`).
        name: the model's name.

    Example:

    ```python
    discriminator = keras_gans.networks.ConditionalPatchGAN((256, 256, 3))
    scores = discriminator([sources, targets])   # (batch, 30, 30, 1), raw
    ```
    """

    def __init__(
        self, image_shape=(64, 64, 3), filters=64, depth=None, name="discriminator", **kwargs
    ):
        _, default_depth = paired_sizes(image_shape)
        image_shape = check_image_shape(image_shape)
        filters = check_positive(filters, "filters")
        depth = default_depth if depth is None else check_positive(depth, "depth")
        if image_shape[0] // 2**depth < 4:
            raise ValueError(
                f"depth {depth} halves {image_shape[0]}x{image_shape[0]} images "
                "below 4x4, too small for the last two 4x4 convolutions."
            )
        source = keras.Input(image_shape, name="source")
        target = keras.Input(image_shape, name="target")
        x = layers.Concatenate(name="pair")([source, target])
        x = layers.Conv2D(filters, 4, strides=2, padding="same",
                          kernel_initializer=paper_initializer())(x)
        x = layers.LeakyReLU(0.2)(x)
        for level in range(1, depth + 1):
            strides = 2 if level < depth else 1
            if strides == 1:
                x = layers.ZeroPadding2D(1)(x)
            x = layers.Conv2D(
                _width(filters, level),
                4,
                strides=strides,
                padding="same" if strides == 2 else "valid",
                use_bias=False,
                kernel_initializer=paper_initializer(),
            )(x)
            x = layers.LeakyReLU(0.2)(_batch_normalization()(x))
        x = layers.ZeroPadding2D(1, name="features")(x)
        scores = layers.Conv2D(
            1, 4, kernel_initializer=paper_initializer(), dtype="float32", name="scores"
        )(x)
        super().__init__(inputs=[source, target], outputs=scores, name=name, **kwargs)
        self.image_shape = image_shape
        self.filters = filters
        self.depth = depth

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "filters": self.filters,
            "depth": self.depth,
        }
