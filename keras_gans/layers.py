"""Layers used by the keras_gans networks and games."""

import keras
from keras import ops

from keras_gans import tf_backend


@keras.saving.register_keras_serializable(package="keras_gans")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation as one more channel.

    Works on feature maps `[N, H, W, C]` and on flat features `[N, F]` alike:
    the spread is appended along the last axis.

    Lets the discriminator see the variety of a whole batch, so that a
    collapsed generator is easy to reject (Karras et al. 2018, section 3;
    a simplified form of Salimans et al. 2016's minibatch discrimination).
    """

    def call(self, inputs):
        inputs = ops.convert_to_tensor(inputs)
        std = ops.sqrt(ops.var(inputs, axis=0) + 1e-8)
        mean_std = ops.mean(std)
        extra = ops.ones_like(inputs[..., :1]) * ops.cast(mean_std, inputs.dtype)
        return ops.concatenate([inputs, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


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
        batch = ops.cast(tf_backend.gather_replicas(ops.stop_gradient(images)), "float32")
        size = ops.shape(batch)[0]
        returned, pool, count = swap_into_pool(
            ops.convert_to_tensor(self.images), ops.convert_to_tensor(self.count), batch,
            swap_draws=keras.random.uniform((size,), seed=seed_generator),
            slot_draws=keras.random.uniform((self.pool_size,), seed=seed_generator))
        self.images.assign(pool)
        self.count.assign(count)
        return ops.cast(tf_backend.replica_slice(returned, local_size), images.dtype)

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
