"""ProGAN's growing generator and discriminator (Karras et al. 2018).

Both networks hold a block for every resolution from the start (4x4 or 7x7,
doubling to the final size); `call(x, stage, alpha)` runs the blocks up to
`stage` and, while the newest block fades in, blends its output with the
previous resolution's (`fade`). Every weight uses the equalised learning
rate; the generator normalises its features pixel by pixel, the
discriminator appends the minibatch standard deviation. `ProGAN` (in
`keras_gans.models.progan`) trains them on a growth schedule.
"""

import math

import keras
from keras import layers, ops

from keras_gans.layers import EqualizedConv2D, EqualizedDense, MinibatchStdDev, PixelNormalization
from keras_gans.networks.base import check_image_shape, upsampling_plan


def stage_resolutions(image_shape):
    """The side of each stage's images: `(4, 8, 16, 32, 64)` for 64x64,
    `(7, 14, 28)` for 28x28."""
    base, doublings = upsampling_plan(check_image_shape(image_shape), min_steps=1)
    return tuple(base * 2**stage for stage in range(doublings + 1))


def feature_widths(resolutions, fmap_base, fmap_max):
    """The channels of each resolution's block: `min(fmap_max, fmap_base // resolution)`.

    Halving the width as the side doubles keeps every block's cost about equal.
    """
    for name, value in (("fmap_base", fmap_base), ("fmap_max", fmap_max)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return tuple(max(1, min(fmap_max, fmap_base // resolution)) for resolution in resolutions)


def upscale(images, factor):
    """Nearest-neighbour upsampling of `(N, H, W, C)` by an integer factor."""
    if factor == 1:
        return images
    return ops.repeat(ops.repeat(images, factor, axis=1), factor, axis=2)


def downscale(images, factor):
    """Average pooling of `(N, H, W, C)` over `factor x factor` boxes."""
    if factor == 1:
        return images
    return ops.average_pool(images, factor, strides=factor, padding="valid")


def fade(old, new, alpha):
    """`(1 - alpha) * old + alpha * new`: exactly `new` at alpha 1."""
    alpha = ops.cast(alpha, new.dtype)
    return (1.0 - alpha) * ops.cast(old, new.dtype) + alpha * new


def _stage_sizes(resolutions, widths):
    """`resolutions` and `widths` as tuples of ints, or a one-line `ValueError`:
    every resolution doubles the one before, and each has a positive width."""
    resolutions, widths = tuple(int(r) for r in resolutions), tuple(int(w) for w in widths)
    if not resolutions or any(
        high != 2 * low for low, high in zip(resolutions, resolutions[1:], strict=False)
    ):
        raise ValueError(
            f"resolutions must each double the one before, e.g. (4, 8, 16); got {resolutions}."
        )
    if len(widths) != len(resolutions) or min(widths) < 1:
        raise ValueError(
            f"widths must give a positive width for each of the "
            f"{len(resolutions)} resolutions, got {widths}."
        )
    return resolutions, widths


def _sequential(input_shape, stack, name):
    return keras.Sequential([keras.Input(input_shape), *stack], name=name)


def _conv_block(filters):
    """A 3x3 equalised convolution and LeakyReLU(0.2)."""
    return [EqualizedConv2D(filters, 3), layers.LeakyReLU(0.2)]


@keras.saving.register_keras_serializable(package="keras_gans")
class ProgressiveGenerator(keras.Model):
    """ProGAN's generator with a block and a toRGB layer for every resolution.

    Block 0 normalises z, projects it to a `base x base` map (an equalised
    dense layer) and applies a 3x3 convolution; every later block doubles the
    side (nearest neighbour) and applies two. Each convolution is followed by
    LeakyReLU(0.2) and pixel normalisation. toRGB is a linear 1x1 convolution.

    `call(z, stage, alpha)` runs blocks 0 to `stage` and returns images at
    `resolutions[stage]`; while a block fades in they are
    `(1 - alpha) * upscale(toRGB_{stage-1}) + alpha * toRGB_stage`.

    Args:
        latent_dim: size of z.
        resolutions: the side of each stage's images, e.g. `(4, 8, 16)`.
        widths: the channels of each resolution's block.
        channels: image channels.
        name: the model's name.

    Example:

    ```python
    generator = keras_gans.networks.ProgressiveGenerator(
        latent_dim=64, resolutions=(4, 8, 16), widths=(64, 64, 32), channels=3)
    generator(z, stage=1, alpha=0.5)  # (N, 8, 8, 3)
    ```
    """

    def __init__(self, latent_dim, resolutions, widths, channels, **kwargs):
        resolutions, widths = _stage_sizes(resolutions, widths)
        super().__init__(**kwargs)
        self.latent_dim, self.channels = int(latent_dim), int(channels)
        self.resolutions, self.widths = resolutions, widths
        base, width = self.resolutions[0], self.widths[0]
        self.blocks = [
            _sequential(
                (self.latent_dim,),
                [
                    PixelNormalization(),
                    EqualizedDense(
                        base * base * width, gain=math.sqrt(2.0) / 4
                    ),  # as the paper's code
                    layers.Reshape((base, base, width)),
                    layers.LeakyReLU(0.2),
                    PixelNormalization(),
                    *_conv_block(width),
                    PixelNormalization(),
                ],
                name=f"block_{base}x{base}",
            )
        ]
        for previous, resolution, width in zip(
            self.widths, self.resolutions[1:], self.widths[1:], strict=False
        ):
            self.blocks.append(
                _sequential(
                    (resolution // 2, resolution // 2, previous),
                    [
                        layers.UpSampling2D(2, interpolation="nearest"),
                        *_conv_block(width),
                        PixelNormalization(),
                        *_conv_block(width),
                        PixelNormalization(),
                    ],
                    name=f"block_{resolution}x{resolution}",
                )
            )
        self.to_rgb = [
            _sequential(
                (r, r, w),
                [EqualizedConv2D(self.channels, 1, gain=1.0, dtype="float32")],
                name=f"to_rgb_{r}x{r}",
            )
            for r, w in zip(self.resolutions, self.widths, strict=True)
        ]
        self.built = True

    def call(self, z, stage=None, alpha=1.0, training=None):
        stage = len(self.resolutions) - 1 if stage is None else stage
        features = previous = self.blocks[0](z, training=training)
        for block in self.blocks[1 : stage + 1]:
            previous, features = features, block(features, training=training)
        images = self.to_rgb[stage](features, training=training)
        if stage > 0 and not (isinstance(alpha, float) and alpha == 1.0):
            images = fade(
                upscale(self.to_rgb[stage - 1](previous, training=training), 2), images, alpha
            )
        return images

    def variables_at(self, stage):
        """The trainable variables `call(z, stage, alpha)` uses."""
        parts = [*self.blocks[: stage + 1], *self.to_rgb[max(stage - 1, 0) : stage + 1]]
        return [v for part in parts for v in part.trainable_variables]

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "resolutions": list(self.resolutions),
            "widths": list(self.widths),
            "channels": self.channels,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class ProgressiveDiscriminator(keras.Model):
    """ProGAN's discriminator with a fromRGB layer and a block for every resolution.

    fromRGB is a 1x1 convolution and LeakyReLU(0.2). Each block above the base
    applies two 3x3 convolutions (the second to the next-lower resolution's
    width) and halves the side by average pooling; the base block appends the
    minibatch standard deviation, then a 3x3 convolution, a dense layer over
    the whole map (the paper's 4x4 convolution) and a dense layer to one raw
    score. All weights use the equalised learning rate; no normalisation.

    `call(images, stage, alpha)` takes images at `resolutions[stage]`; while a
    block fades in, its features are blended with those of the 2x average-
    pooled images through the previous fromRGB, as in the generator.

    Args:
        resolutions, widths, channels: as in `ProgressiveGenerator`.
        mbstd_group_size: group size of the minibatch standard deviation; 0
            leaves it out.
        name: the model's name.

    Example:

    ```python
    discriminator = keras_gans.networks.ProgressiveDiscriminator(
        resolutions=(4, 8, 16), widths=(64, 64, 32), channels=3)
    discriminator(images, stage=2)  # 16x16 images -> (N, 1), raw scores
    ```
    """

    def __init__(self, resolutions, widths, channels, mbstd_group_size=4, **kwargs):
        resolutions, widths = _stage_sizes(resolutions, widths)
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.resolutions, self.widths = resolutions, widths
        self.mbstd_group_size = int(mbstd_group_size)
        self.from_rgb = [
            _sequential(
                (r, r, self.channels),
                [EqualizedConv2D(w, 1), layers.LeakyReLU(0.2)],
                name=f"from_rgb_{r}x{r}",
            )
            for r, w in zip(self.resolutions, self.widths, strict=True)
        ]
        base, width = self.resolutions[0], self.widths[0]
        spread = [MinibatchStdDev(self.mbstd_group_size)] if self.mbstd_group_size else []
        self.blocks = [
            _sequential(
                (base, base, width),
                [
                    *spread,
                    *_conv_block(width),
                    layers.Flatten(),
                    EqualizedDense(width),
                    layers.LeakyReLU(0.2, name="features"),
                    EqualizedDense(1, gain=1.0, dtype="float32"),
                ],
                name=f"block_{base}x{base}",
            )
        ]
        for lower, resolution, width in zip(
            self.widths, self.resolutions[1:], self.widths[1:], strict=False
        ):
            self.blocks.append(
                _sequential(
                    (resolution, resolution, width),
                    [
                        *_conv_block(width),
                        *_conv_block(lower),
                        layers.AveragePooling2D(2),
                    ],
                    name=f"block_{resolution}x{resolution}",
                )
            )
        self.built = True

    def call(self, images, stage=None, alpha=1.0, training=None):
        stage = len(self.resolutions) - 1 if stage is None else stage
        features = self.blocks[stage](
            self.from_rgb[stage](images, training=training), training=training
        )
        if stage > 0 and not (isinstance(alpha, float) and alpha == 1.0):
            coarse = self.from_rgb[stage - 1](downscale(images, 2), training=training)
            features = fade(coarse, features, alpha)
        for block in reversed(self.blocks[:stage]):
            features = block(features, training=training)
        return features

    def variables_at(self, stage):
        """The trainable variables `call(images, stage, alpha)` uses."""
        parts = [*self.from_rgb[max(stage - 1, 0) : stage + 1], *self.blocks[: stage + 1]]
        return [v for part in parts for v in part.trainable_variables]

    def get_config(self):
        return {
            **super().get_config(),
            "resolutions": list(self.resolutions),
            "widths": list(self.widths),
            "channels": self.channels,
            "mbstd_group_size": self.mbstd_group_size,
        }
