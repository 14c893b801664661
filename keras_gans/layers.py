"""Layers used by the keras_gans networks.

Besides the minibatch standard deviation, the layers of progressive growing
(Karras et al. 2018, section 4): convolutions and dense layers with an
equalised learning rate, and pixelwise feature normalisation.
"""

import math

import keras
from keras import ops

# He's gain for layers followed by a (leaky) ReLU.
RELU_GAIN = math.sqrt(2.0)


@keras.saving.register_keras_serializable(package="keras_gans")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation as one more channel.

    Works on feature maps `[N, H, W, C]` and on flat features `[N, F]` alike:
    the spread is appended along the last axis.

    Lets the discriminator see the variety of a whole batch, so that a
    collapsed generator is easy to reject (Karras et al. 2018, section 3;
    a simplified form of Salimans et al. 2016's minibatch discrimination).

    Args:
        group_size: compute the spread over groups of this many consecutive
            examples, each example getting its own group's (ProGAN uses 4);
            the batch must then be a multiple of it, or smaller. `None`
            takes the whole batch as one group.

    Example:

    ```python
    x = MinibatchStdDev(group_size=4)(features)  # (8, 4, 4, 16) -> (8, 4, 4, 17)
    ```
    """

    def __init__(self, group_size=None, **kwargs):
        super().__init__(**kwargs)
        if group_size is not None and (isinstance(group_size, bool) or int(group_size) < 1):
            raise ValueError(f"group_size must be a positive integer or None, got {group_size!r}.")
        self.group_size = None if group_size is None else int(group_size)

    def call(self, inputs):
        inputs = ops.convert_to_tensor(inputs)
        if self.group_size is None:
            std = ops.sqrt(ops.var(inputs, axis=0) + 1e-8)
            extra = ops.ones_like(inputs[..., :1]) * ops.cast(ops.mean(std), inputs.dtype)
            return ops.concatenate([inputs, extra], axis=-1)
        batch_size = inputs.shape[0]
        group = self.group_size if batch_size is None else min(self.group_size, batch_size)
        if batch_size is not None and batch_size % group:
            raise ValueError(f"MinibatchStdDev(group_size={self.group_size}) needs a batch that "
                             f"is a multiple of {group}, got a batch of {batch_size}.")
        shape = ops.shape(inputs)
        grouped = ops.reshape(ops.cast(inputs, "float32"), (-1, group, *shape[1:]))
        std = ops.sqrt(ops.var(grouped, axis=1) + 1e-8)  # (groups, ...)
        spread = ops.mean(std, axis=tuple(range(1, len(inputs.shape))))  # (groups,)
        spread = ops.repeat(ops.cast(spread, inputs.dtype), group, axis=0)
        extra = ops.ones_like(inputs[..., :1]) * ops.reshape(
            spread, (-1,) + (1,) * (len(inputs.shape) - 1))
        return ops.concatenate([inputs, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


def he_scale(fan_in, gain=RELU_GAIN):
    """He's constant `gain / sqrt(fan_in)` (He et al. 2015)."""
    return gain / math.sqrt(fan_in)


@keras.saving.register_keras_serializable(package="keras_gans")
class EqualizedConv2D(keras.layers.Conv2D):
    """A `Conv2D` with an equalised learning rate (Karras et al. 2018, 4.1).

    The kernel is drawn from N(0, 1) and multiplied at every call by He's
    constant `gain / sqrt(kernel_height * kernel_width * in_channels)`, so
    Adam's updates have the same effect on every layer whatever its fan-in.
    Padding is `"same"`.

    Args:
        filters, kernel_size: as in `keras.layers.Conv2D`.
        gain: the numerator of the scale; sqrt(2) before a (leaky) ReLU, 1
            before a linear output.
        **kwargs: other `Conv2D` arguments, e.g. `use_bias`, `dtype`.

    Example:

    ```python
    x = EqualizedConv2D(64, 3)(x)            # 3x3, scaled by sqrt(2 / (9 * C_in))
    rgb = EqualizedConv2D(3, 1, gain=1.0)(x)
    ```
    """

    def __init__(self, filters, kernel_size, gain=RELU_GAIN, **kwargs):
        kwargs.setdefault("padding", "same")
        super().__init__(filters, kernel_size,
                         kernel_initializer=keras.initializers.RandomNormal(0.0, 1.0), **kwargs)
        self.gain = float(gain)

    def build(self, input_shape):
        super().build(input_shape)
        self.scale = he_scale(math.prod(self.kernel_size) * int(input_shape[-1]), self.gain)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.cast(self.scale, kernel.dtype))

    def get_config(self):
        config = super().get_config()
        config.pop("kernel_initializer")
        return {**config, "gain": self.gain}


@keras.saving.register_keras_serializable(package="keras_gans")
class EqualizedDense(keras.layers.Dense):
    """A `Dense` layer with an equalised learning rate (Karras et al. 2018, 4.1).

    The kernel is drawn from N(0, 1) and multiplied at every call by He's
    constant `gain / sqrt(in_features)`.

    Args:
        units: as in `keras.layers.Dense`.
        gain: the numerator of the scale (sqrt(2); 1 before a linear output).
        **kwargs: other `Dense` arguments, e.g. `use_bias`, `dtype`.

    Example:

    ```python
    score = EqualizedDense(1, gain=1.0, dtype="float32")(features)
    ```
    """

    def __init__(self, units, gain=RELU_GAIN, **kwargs):
        super().__init__(units, kernel_initializer=keras.initializers.RandomNormal(0.0, 1.0),
                         **kwargs)
        self.gain = float(gain)

    def build(self, input_shape):
        super().build(input_shape)
        self.scale = he_scale(int(input_shape[-1]), self.gain)

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, self.kernel * ops.cast(self.scale, self.kernel.dtype))
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.pop("kernel_initializer")
        return {**config, "gain": self.gain}


@keras.saving.register_keras_serializable(package="keras_gans")
class PixelNormalization(keras.layers.Layer):
    """Scales each pixel's feature vector to unit mean square (Karras et al. 2018, 4.2).

    `x / sqrt(mean(x^2 over channels) + epsilon)`, with no learned
    parameters; on flat features `[N, F]` it normalises each vector.

    Args:
        epsilon: added under the square root (1e-8).

    Example:

    ```python
    x = PixelNormalization()(keras.layers.LeakyReLU(0.2)(x))
    ```
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        mean_square = ops.mean(ops.square(inputs), axis=-1, keepdims=True)
        return inputs * ops.rsqrt(mean_square + ops.cast(self.epsilon, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
