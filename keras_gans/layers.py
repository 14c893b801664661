"""Layers used by the keras_gans networks and games.

Spectral normalisation as the SNGAN paper defines it (Miyato et al. 2018);
the minibatch standard deviation; the layers of progressive growing
(Karras et al. 2018, section 4): convolutions and dense layers with an
equalised learning rate, and pixelwise feature normalisation; and CycleGAN's
reflection padding and image pool (Zhu et al. 2017).
"""

import math

import keras
from keras import ops

from keras_gans import backend

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
class SpectralNormalization(keras.layers.Wrapper):
    """Divides a layer's kernel by its largest singular value at every call,
    as a reparameterisation (Miyato et al. 2018, Algorithm 1).

    The wrapped layer keeps its raw kernel `W`; each call computes with
    `W / sigma(W)`, where `sigma(W)` is the power method's estimate from the
    stored `u`, the top singular vector of `W` reshaped to `(inputs,
    outputs)` on its output side. A call in training first refines `u` by
    `power_iterations` steps of the power method and stores it. Gradients
    flow through `sigma(W)` to `W` (with the singular vectors held constant),
    as in the paper, and the optimizer updates the raw `W`.

    `keras.layers.SpectralNormalization` instead overwrites the kernel with
    `W / sigma(W)` at each training call and lets the optimizer step on the
    normalised kernel without the gradient through `sigma`. The variables
    are the same, so weights saved from one load into the other.

    Args:
        layer: a layer with a `kernel`, such as `Conv2D` or `Dense`.
        power_iterations: power-method steps per training call (1).
        **kwargs: `Wrapper` arguments, e.g. `name`.

    Example:

    ```python
    conv = SpectralNormalization(keras.layers.Conv2D(64, 3, padding="same"))
    h = conv(images, training=True)   # one power iteration, then conv with W / sigma
    ```
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        # sigma is estimated from the float32 kernel; the wrapped layer still
        # computes in its own dtype policy.
        kwargs.setdefault("autocast", False)
        super().__init__(layer, **kwargs)
        if int(power_iterations) < 1:
            raise ValueError(f"power_iterations must be at least 1, got {power_iterations}.")
        self.power_iterations = int(power_iterations)

    def build(self, input_shape):
        super().build(input_shape)
        if not hasattr(self.layer, "kernel"):
            raise ValueError(f"SpectralNormalization needs a layer with a kernel; "
                             f"{type(self.layer).__name__} has none.")
        # Tracked here too, as `keras.layers.SpectralNormalization` does, so
        # that the two load each other's weights.
        self.kernel = self.layer.kernel
        self.vector_u = self.add_weight(
            shape=(1, self.kernel.shape[-1]), name="vector_u", trainable=False,
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=self.kernel.dtype)

    def sigma(self, training=False):
        """The power method's estimate of the kernel's largest singular
        value, `||v W||` with `v = normalize(u W^T)` held constant; in
        training after `power_iterations` steps, whose `u` is stored."""
        matrix = ops.reshape(self.kernel.value, (-1, self.kernel.shape[-1]))
        vector_u = self.vector_u.value
        for _ in range(self.power_iterations if training else 1):
            vector_v = ops.stop_gradient(
                ops.normalize(ops.matmul(vector_u, ops.transpose(matrix))))
            product = ops.matmul(vector_v, matrix)  # sigma * u
            sigma = ops.norm(product)
            vector_u = ops.stop_gradient(product / sigma)
        if training:
            self.vector_u.assign(vector_u)
        return sigma

    def call(self, inputs, training=False):
        normalised = self.kernel.value / self.sigma(training)
        # A StatelessScope does not read through to an enclosing one (JAX's
        # step runs in one): it maps every weight of the layer.
        mapping = [(weight, normalised if weight is self.kernel else weight.value)
                   for weight in self.layer.weights]
        with keras.StatelessScope(state_mapping=mapping):
            return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("autocast", None)
        return {**config, "power_iterations": self.power_iterations}


@keras.saving.register_keras_serializable(package="keras_gans")
class LayerNormalization(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization`, differentiable twice alike on every
    backend.

    On TensorFlow, Keras takes the statistics from `tf.nn.moments`, which
    stops the gradient through the mean inside the variance: exact for the
    first derivative, not for the second, which a gradient penalty takes
    through the critic. This layer computes `(x - mean) / sqrt(var + eps)`
    in float32 with plain ops; its weights are Keras' own.

    Example:

    ```python
    h = LayerNormalization()(h)  # over the channels
    ```
    """

    def call(self, inputs):
        if self.rms_scaling:
            return super().call(inputs)
        x = ops.cast(inputs, "float32")
        mean = ops.mean(x, axis=self.axis, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=self.axis, keepdims=True)
        outputs = (x - mean) * ops.rsqrt(variance + self.epsilon)
        shape = [1] * len(inputs.shape)
        for axis in self.axis:
            shape[axis] = inputs.shape[axis]
        if self.scale:
            outputs = outputs * ops.reshape(ops.cast(self.gamma, "float32"), shape)
        if self.center:
            outputs = outputs + ops.reshape(ops.cast(self.beta, "float32"), shape)
        return ops.cast(outputs, self.compute_dtype)


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


@keras.saving.register_keras_serializable(package="keras_gans")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by mirroring the image at its border, without
    repeating the edge pixel (`ReflectionPad2d` in PyTorch).

    Args:
        padding: pixels added on each side.

    Example:

    ```python
    x = ReflectionPadding2D(3)(keras.Input((64, 64, 3)))   # (None, 70, 70, 3)
    ```
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = (lambda side: None if side is None else side + 2 * self.padding)
        return (batch, grow(height), grow(width), channels)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="keras_gans")
class ImagePool(keras.layers.Layer):
    """A history of generated images through which a discriminator sees fakes
    (Shrivastava et al. 2017; Zhu et al. 2017, section 4).

    `query(images, seed_generator)` returns the batch the discriminator sees.
    While the pool holds fewer than `pool_size` images, each new image is
    stored and returned. Then each new image, with probability 1/2, is
    returned as it is, or else swapped for a stored one drawn at random: the
    stored image is returned and the new one takes its place.

    The pool is model state: its images and fill count are non-trainable
    weights, saved with the model, and its draws come from the game's
    `SeedGenerator`. Within one batch the slots are drawn without
    replacement while the batch fits in the pool (a slot drawn twice by a
    larger batch keeps the later image), and every image reads the pool as
    it was before the batch's swaps. Under `tf.distribute` the replicas'
    images are gathered into the global batch, every replica runs the same
    draws on it and keeps its own slice: one pool, the same on every
    replica, and the same as on one device.

    Args:
        pool_size: images kept; 0 returns every batch unchanged.
        image_shape: `(height, width, channels)` of the images.

    Example:

    ```python
    pool = ImagePool(50, (64, 64, 3))
    seen_by_d = pool.query(fake_images, seed_generator)
    ```
    """

    def __init__(self, pool_size=50, image_shape=(64, 64, 3), **kwargs):
        super().__init__(**kwargs)
        if int(pool_size) != pool_size or pool_size < 0:
            raise ValueError(f"pool_size must be a whole number >= 0, got {pool_size!r}.")
        self.pool_size = int(pool_size)
        self.image_shape = tuple(int(d) for d in image_shape)
        # Replicas assign the same values (see above): keep the first's.
        self.images = self.add_weight(
            shape=(self.pool_size, *self.image_shape), initializer="zeros", dtype="float32",
            trainable=False, aggregation="only_first_replica", name="images")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, aggregation="only_first_replica",
                                     name="count")
        self.built = True

    def query(self, images, seed_generator):
        """Returns the images a discriminator sees in place of `images`, and
        updates the pool. No gradient flows through it."""
        if not self.pool_size:
            return ops.stop_gradient(images)
        local_size = ops.shape(images)[0]
        batch = ops.cast(backend.gather_replicas(ops.stop_gradient(images)), "float32")
        size = ops.shape(batch)[0]
        returned, pool, count = swap_into_pool(
            ops.convert_to_tensor(self.images), ops.convert_to_tensor(self.count), batch,
            swap_draws=keras.random.uniform((size,), seed=seed_generator),
            slot_draws=keras.random.uniform((self.pool_size,), seed=seed_generator))
        self.images.assign(pool)
        self.count.assign(count)
        return ops.cast(backend.replica_slice(returned, local_size), images.dtype)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size,
                "image_shape": list(self.image_shape)}


def swap_into_pool(pool, count, images, swap_draws, slot_draws):
    """The image pool's rule on one batch, as a pure function.

    Args:
        pool: `(pool_size, H, W, C)` stored images; the first `count` are filled.
        count: int32 number of stored images.
        images: `(n, H, W, C)` new images.
        swap_draws: `(n,)` uniform draws; an image of a full pool is swapped
            when its draw exceeds 1/2.
        slot_draws: `(pool_size,)` uniform draws whose ranking orders the
            slots that swapped images take.

    Returns:
        `(returned images, new pool, new count)`.
    """
    pool_size, n = ops.shape(pool)[0], ops.shape(images)[0]
    slots = ops.arange(pool_size, dtype="int32")
    order = ops.arange(n, dtype="int32")
    # Fill: the first free slots take the first new images, which come back as they are.
    offset = slots - count
    filled_now = (offset >= 0) & (offset < n)
    pool = ops.where(filled_now[:, None, None, None],
                     ops.take(images, ops.clip(offset, 0, n - 1), axis=0), pool)
    stored_now = count + order < pool_size
    # Swap: each later image is returned, or traded for a stored one, 50/50.
    swapped = ~stored_now & (swap_draws > 0.5)
    taken = ops.take(ops.cast(ops.argsort(slot_draws), "int32"), order % pool_size)
    returned = ops.where(swapped[:, None, None, None], ops.take(pool, taken, axis=0), images)
    writes = (taken[None, :] == slots[:, None]) & swapped[None, :]  # (pool_size, n)
    last_writer = ops.argmax(ops.where(writes, order[None, :] + 1, 0), axis=1)
    pool = ops.where(ops.any(writes, axis=1)[:, None, None, None],
                     ops.take(images, last_writer, axis=0), pool)
    return returned, pool, ops.minimum(count + n, pool_size)
