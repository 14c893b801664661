"""SNGAN's ResNet generator and discriminator (Miyato et al. 2018), the
projection discriminator of the class-conditional SNGAN (Miyato & Koyama
2018), and the residual blocks they are made of.

The blocks live here, beside the networks that use them, rather than in
`keras_gans.layers`: they are the parts of one network family, and a user
building a ResNet GAN of their own needs this one module.

- `GeneratorBlock`: BN-ReLU-upsample-conv3x3-BN-ReLU-conv3x3, plus an
  upsample-conv1x1 shortcut; class-conditional BatchNorm when `num_classes`
  is set (called on `[x, labels]`).
- `DiscriminatorBlock`: ReLU-conv3x3-ReLU-conv3x3-avgpool, plus a
  conv1x1-avgpool shortcut, every convolution spectrally normalised.
- `OptimizedDiscriminatorBlock`: the first block of a discriminator,
  conv3x3-ReLU-conv3x3-avgpool plus avgpool-conv1x1, with no pre-activation
  on the raw image.
- `ConditionalBatchNormalization`: BatchNorm whose scale and offset are
  looked up per class (de Vries et al. 2017; Miyato & Koyama 2018).

`SNGANGenerator` and `SNGANDiscriminator` assemble them as the reference
implementation (pfnet-research/sngan_projection) does for 32x32 and 64x64
images, for any size `4 * 2**k` or `7 * 2**k`:

- up to 32x32 (and 56x56) every block has `width` channels, as in
  `resnet_32.py` / `snresnet_32.py`: the generator upsamples 4x4 (7x7 for
  28x28) to the image size; the discriminator halves the image twice (once
  for 8x8 and 14x14 images) and ends with two blocks that keep the size;
- from 64x64 up, channels scale as in `resnet_64.py` / `snresnet_64.py`:
  the generator starts at `width * min(16, 2**k)` and halves at each block
  down to `width` at the image size; the discriminator starts at `width` and
  doubles at each of its downsampling blocks, up to `16 * width`.

The discriminator sums its last features over the image (global sum pooling)
and scores them with a spectrally normalised linear layer; with
`num_classes` it is the projection discriminator, which adds
`sum(embed(y) * h)` (Miyato & Koyama 2018).

Example, a ResNet GAN of your own from the blocks:

```python
z = keras.Input((128,))
x = keras.layers.Reshape((4, 4, 128))(keras.layers.Dense(4 * 4 * 128)(z))
x = GeneratorBlock(128)(x)                                 # 8x8
x = GeneratorBlock(64)(x)                                  # 16x16
x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
images = keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
generator = keras.Model(z, images)

image = keras.Input((16, 16, 3))
h = OptimizedDiscriminatorBlock(64)(image)                 # 8x8
h = DiscriminatorBlock(128)(h)                             # 4x4
h = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(h))
score = keras_gans.layers.SpectralNormalization(keras.layers.Dense(1))(h)
gan = keras_gans.GAN(generator, keras.Model(image, score))
gan.compile(loss="hinge")
```
"""

import keras
from keras import layers, ops

from keras_gans.layers import SpectralNormalization
from keras_gans.networks.base import Network, check_positive

# The reference's initialisers: Glorot uniform scaled by sqrt(2) inside the
# residual branches (for the ReLUs), plain Glorot uniform elsewhere.
RESIDUAL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
}
# Channel multipliers of 64x64 and larger networks stop at 16, as in the reference.
MAX_MULTIPLIER = 16
# Up to this many upsampling steps (32x32 from 4x4), every block has `width` channels.
CONSTANT_WIDTH_STEPS = 3


def _conv(filters, kernel_size, initializer, spectral_norm=False):
    conv = layers.Conv2D(
        filters, kernel_size, padding="same", kernel_initializer=keras.initializers.get(initializer)
    )
    return SpectralNormalization(conv) if spectral_norm else conv


@keras.saving.register_keras_serializable(package="keras_gans")
class ConditionalBatchNormalization(layers.Layer):
    """BatchNorm with one learned scale and offset per class.

    Normalises `x` with batch statistics (moving ones at inference), then
    applies `gamma[label] * x + beta[label]`; `gamma` starts at 1 and `beta`
    at 0 for every class. Called on `[x, labels]` with int labels `(batch,)`.

    Args:
        num_classes: number of classes.
        momentum, epsilon: as in `keras.layers.BatchNormalization`.

    Example:

    ```python
    norm = ConditionalBatchNormalization(num_classes=10)
    y = norm([features, labels], training=True)
    ```
    """

    def __init__(self, num_classes, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}.")
        self.num_classes = int(num_classes)
        self.momentum = momentum
        self.epsilon = epsilon
        self.normalization = layers.BatchNormalization(
            momentum=momentum, epsilon=epsilon, center=False, scale=False
        )

    def build(self, input_shape):
        x_shape = input_shape[0]
        channels = x_shape[-1]
        self.normalization.build(x_shape)
        self.gamma = self.add_weight(
            shape=(self.num_classes, channels), initializer="ones", name="gamma"
        )
        self.beta = self.add_weight(
            shape=(self.num_classes, channels), initializer="zeros", name="beta"
        )

    def call(self, inputs, training=False):
        x, labels = inputs
        x = self.normalization(x, training=training)
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        # One (batch, 1, ..., 1, channels) scale and offset per example.
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
        gamma = ops.reshape(ops.cast(ops.take(self.gamma, labels, axis=0), x.dtype), shape)
        beta = ops.reshape(ops.cast(ops.take(self.beta, labels, axis=0), x.dtype), shape)
        return x * gamma + beta

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class GeneratorBlock(layers.Layer):
    """A pre-activation residual block that doubles the size of its input.

    Residual branch: BN-ReLU-upsample (nearest, x2)-conv3x3-BN-ReLU-conv3x3;
    shortcut: upsample-conv1x1 (identity when the block neither upsamples nor
    changes the channels).

    Args:
        filters: output channels (also those of the hidden convolution).
        upsample: double the height and width.
        num_classes: use `ConditionalBatchNormalization`; the block is then
            called on `[x, labels]`.

    Example:

    ```python
    x = GeneratorBlock(256)(x)                            # (b, 8, 8, c) -> (b, 16, 16, 256)
    x = GeneratorBlock(256, num_classes=10)([x, labels])  # class-conditional BatchNorm
    ```
    """

    def __init__(self, filters, upsample=True, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.upsample = bool(upsample)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.norm_1 = self._normalization()
        self.norm_2 = self._normalization()
        self.upsampling = layers.UpSampling2D(2, interpolation="nearest")
        self.conv_1 = _conv(self.filters, 3, RESIDUAL_INITIALIZER)
        self.conv_2 = _conv(self.filters, 3, RESIDUAL_INITIALIZER)

    def _normalization(self):
        if self.num_classes is None:
            return layers.BatchNormalization()
        return ConditionalBatchNormalization(self.num_classes)

    def build(self, input_shape):
        x_shape = input_shape if self.num_classes is None else input_shape[0]
        self.shortcut_conv = None
        if self.upsample or x_shape[-1] != self.filters:
            self.shortcut_conv = _conv(self.filters, 1, "glorot_uniform")
        # Built here, so that a loaded model finds every sublayer's weights and
        # fit under a tf.distribute strategy finds every layer built.
        hidden_shape = (*x_shape[:-1], self.filters)
        for norm, shape in ((self.norm_1, x_shape), (self.norm_2, hidden_shape)):
            norm.build(shape if self.num_classes is None else [shape, input_shape[1]])
        self.upsampling.build(x_shape)
        self.conv_1.build(x_shape)
        self.conv_2.build(hidden_shape)
        if self.shortcut_conv is not None:
            self.shortcut_conv.build(x_shape)

    def _normalize(self, norm, x, labels, training):
        inputs = x if labels is None else [x, labels]
        return norm(inputs, training=training)

    def call(self, inputs, training=False):
        x, labels = (inputs, None) if self.num_classes is None else inputs
        h = ops.relu(self._normalize(self.norm_1, x, labels, training))
        if self.upsample:
            h = self.upsampling(h)
        h = self.conv_1(h)
        h = ops.relu(self._normalize(self.norm_2, h, labels, training))
        h = self.conv_2(h)
        shortcut = x
        if self.shortcut_conv is not None:
            shortcut = self.shortcut_conv(self.upsampling(x) if self.upsample else x)
        return h + shortcut

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape if self.num_classes is None else input_shape[0]
        scale = 2 if self.upsample else 1
        return (
            batch,
            None if height is None else height * scale,
            None if width is None else width * scale,
            self.filters,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "upsample": self.upsample,
            "num_classes": self.num_classes,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class DiscriminatorBlock(layers.Layer):
    """A spectrally normalised pre-activation residual block that halves its input.

    Residual branch: ReLU-conv3x3-ReLU-conv3x3-avgpool (2x2); shortcut:
    conv1x1-avgpool (identity when the block neither downsamples nor changes
    the channels). Every convolution is wrapped in
    `keras_gans.layers.SpectralNormalization`. The hidden convolution keeps the
    input's channels, as in the reference.

    Args:
        filters: output channels.
        downsample: halve the height and width.

    Example:

    ```python
    h = DiscriminatorBlock(128)(h)                    # (b, 16, 16, c) -> (b, 8, 8, 128)
    h = DiscriminatorBlock(128, downsample=False)(h)  # (b, 8, 8, 128)
    ```
    """

    def __init__(self, filters, downsample=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.downsample = bool(downsample)
        self.pooling = layers.AveragePooling2D(2)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.conv_1 = _conv(channels, 3, RESIDUAL_INITIALIZER, spectral_norm=True)
        self.conv_2 = _conv(self.filters, 3, RESIDUAL_INITIALIZER, spectral_norm=True)
        self.shortcut_conv = None
        if self.downsample or channels != self.filters:
            self.shortcut_conv = _conv(self.filters, 1, "glorot_uniform", spectral_norm=True)
        for conv in (self.conv_1, self.conv_2, self.shortcut_conv):
            if conv is not None:
                conv.build(input_shape)

    def call(self, inputs, training=False):
        h = self.conv_1(ops.relu(inputs), training=training)
        h = self.conv_2(ops.relu(h), training=training)
        shortcut = inputs
        if self.shortcut_conv is not None:
            shortcut = self.shortcut_conv(inputs, training=training)
        if self.downsample:
            h, shortcut = self.pooling(h), self.pooling(shortcut)
        return h + shortcut

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        if self.downsample:
            height = None if height is None else height // 2
            width = None if width is None else width // 2
        return (batch, height, width, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "downsample": self.downsample}


@keras.saving.register_keras_serializable(package="keras_gans")
class OptimizedDiscriminatorBlock(layers.Layer):
    """The first discriminator block: conv3x3-ReLU-conv3x3-avgpool plus an
    avgpool-conv1x1 shortcut, spectrally normalised, with no activation on
    the raw image (Miyato et al. 2018's "optimized" block).

    Args:
        filters: output channels.

    Example:

    ```python
    h = OptimizedDiscriminatorBlock(128)(images)   # (b, 32, 32, 3) -> (b, 16, 16, 128)
    ```
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.conv_1 = _conv(self.filters, 3, RESIDUAL_INITIALIZER, spectral_norm=True)
        self.conv_2 = _conv(self.filters, 3, RESIDUAL_INITIALIZER, spectral_norm=True)
        self.shortcut_conv = _conv(self.filters, 1, "glorot_uniform", spectral_norm=True)
        self.pooling = layers.AveragePooling2D(2)

    def build(self, input_shape):
        self.conv_1.build(input_shape)
        self.conv_2.build((*input_shape[:-1], self.filters))
        self.shortcut_conv.build(input_shape)

    def call(self, inputs, training=False):
        h = self.conv_1(inputs, training=training)
        h = self.pooling(self.conv_2(ops.relu(h), training=training))
        shortcut = self.shortcut_conv(self.pooling(inputs), training=training)
        return h + shortcut

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        return (
            batch,
            None if height is None else height // 2,
            None if width is None else width // 2,
            self.filters,
        )

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def resnet_plan(image_shape):
    """`(image_shape, base_size, steps)` with `base_size * 2**steps` the image
    size and `base_size` 4 or 7: 28 -> 7, 2; 32 -> 4, 3; 64 -> 4, 4."""
    image_shape = tuple(int(d) for d in image_shape)
    valid = (
        len(image_shape) == 3 and image_shape[0] == image_shape[1] and (image_shape[-1] in (1, 3))
    )
    size, steps = (image_shape[0], 0) if valid else (0, 0)
    while size > 7 and size % 2 == 0:
        size, steps = size // 2, steps + 1
    if size not in (4, 7) or steps < 1:
        raise ValueError(
            f"A ResNet GAN needs square images of size 4 * 2**k or 7 * 2**k "
            f"(8, 14, 16, 28, 32, 64, ...) with 1 or 3 channels, got "
            f"{image_shape}."
        )
    return image_shape, size, steps


def _check_width(width):
    if int(width) < 1:
        raise ValueError(f"width must be at least 1, got {width}.")
    return int(width)


@keras.saving.register_keras_serializable(package="keras_gans")
class SNGANGenerator(Network):
    """SNGAN's ResNet generator: a linear layer to 4x4 (7x7), upsampling
    blocks to the image size, then BN-ReLU-conv3x3-tanh.

    Args:
        image_shape: `(size, size, channels)` with size `4 * 2**k` or
            `7 * 2**k` and 1 or 3 channels.
        latent_dim: size of `z`.
        width: channels of the blocks up to 32x32; from 64x64 up, of the
            last block, the earlier ones doubling up to `16 * width`.
        num_classes: build a conditional generator taking `[z, label]`,
            with class-conditional BatchNorm in every block.
        name: the model's name.

    Example:

    ```python
    generator = keras_gans.networks.SNGANGenerator((32, 32, 3), latent_dim=128,
                                                   width=256)   # the paper's
    images = generator(keras.random.normal((16, 128)))   # (16, 32, 32, 3) in [-1, 1]
    ```
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=128,
        width=32,
        num_classes=None,
        name="generator",
        **kwargs,
    ):
        image_shape, base_size, steps = resnet_plan(image_shape)
        latent_dim = check_positive(latent_dim, "latent_dim")
        width = _check_width(width)
        num_classes = None if num_classes is None else check_positive(num_classes, "num_classes")

        def channels(remaining_steps):
            if steps <= CONSTANT_WIDTH_STEPS:
                return width
            return width * min(MAX_MULTIPLIER, 2**remaining_steps)

        z = keras.Input((latent_dim,), name="z")
        inputs = [z]
        if num_classes is not None:
            inputs.append(keras.Input((), dtype="int32", name="label"))
        x = layers.Dense(base_size * base_size * channels(steps), name="project")(z)
        x = layers.Reshape((base_size, base_size, channels(steps)))(x)
        for step in range(steps):
            block = GeneratorBlock(
                channels(steps - 1 - step), num_classes=num_classes, name=f"block_{step + 1}"
            )
            x = block(x if num_classes is None else [x, inputs[1]])
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Conv2D(image_shape[-1], 3, padding="same", name="to_image")(x)
        images = layers.Activation("tanh", dtype="float32", name="images")(x)
        super().__init__(
            inputs=inputs if num_classes is not None else z, outputs=images, name=name, **kwargs
        )
        self.image_shape = image_shape
        self.latent_dim = latent_dim
        self.width = width
        self.num_classes = num_classes

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "width": self.width,
            "num_classes": self.num_classes,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class SNGANDiscriminator(Network):
    """SNGAN's ResNet discriminator; with `num_classes`, the projection
    discriminator.

    The optimized block, residual blocks (see the module docstring for how
    many and how wide), ReLU, global sum pooling, a spectrally normalised
    linear score; with `num_classes`, plus `sum(embed(y) * h)` with a
    spectrally normalised class embedding (projection discriminator).

    Args:
        image_shape: `(size, size, channels)` with size `4 * 2**k` or
            `7 * 2**k` and 1 or 3 channels.
        width: channels of every block up to 32x32; from 64x64 up, of the
            first block, the later ones doubling up to `16 * width`.
        num_classes: build the projection discriminator, taking
            `[image, label]`.
        name: the model's name.

    Example:

    ```python
    discriminator = keras_gans.networks.SNGANDiscriminator(image_shape=(32, 32, 3), width=64)
    scores = discriminator(images)   # (batch, 1), raw
    projection = keras_gans.networks.SNGANDiscriminator((32, 32, 3), 128, num_classes=10)
    scores = projection([images, labels])
    ```
    """

    def __init__(
        self, image_shape=(28, 28, 1), width=32, num_classes=None, name="discriminator", **kwargs
    ):
        image_shape, base_size, steps = resnet_plan(image_shape)
        width = _check_width(width)
        num_classes = None if num_classes is None else check_positive(num_classes, "num_classes")
        image = keras.Input(image_shape, name="image")
        h = OptimizedDiscriminatorBlock(width, name="block_1")(image)
        if steps <= CONSTANT_WIDTH_STEPS:
            # snresnet_32: halve twice (once for 8x8 and 14x14), then keep the size.
            plan = [(width, True)] * (min(2, steps) - 1) + [(width, False)] * 2
        else:
            # snresnet_64: halve at every block, doubling the channels.
            plan = [(width * min(MAX_MULTIPLIER, 2**step), True) for step in range(1, steps + 1)]
        for index, (filters, downsample) in enumerate(plan):
            h = DiscriminatorBlock(filters, downsample=downsample, name=f"block_{index + 2}")(h)
        h = layers.ReLU()(h)
        # Global sum pooling: the mean over the H x W positions, times their number.
        positions = h.shape[1] * h.shape[2]
        h = layers.GlobalAveragePooling2D()(h)
        h = layers.Rescaling(float(positions), name="features")(h)
        score = SpectralNormalization(layers.Dense(1, dtype="float32"), name="linear")(h)
        inputs = image
        if num_classes is not None:
            label = keras.Input((), dtype="int32", name="label")
            # The class embedding is a spectrally normalised matrix applied to one-hot labels.
            one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot")(label)
            embedded = SpectralNormalization(
                layers.Dense(h.shape[-1], use_bias=False), name="class_embedding"
            )(one_hot)
            projection = layers.Dot(axes=1, dtype="float32", name="projection")([embedded, h])
            score = layers.Add(dtype="float32", name="score")([score, projection])
            inputs = [image, label]
        super().__init__(inputs=inputs, outputs=score, name=name, **kwargs)
        self.image_shape = image_shape
        self.width = width
        self.num_classes = num_classes

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "width": self.width,
            "num_classes": self.num_classes,
        }
