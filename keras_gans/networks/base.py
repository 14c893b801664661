"""What every network of `keras_gans.networks` shares: the `Network` base
class and the checks of the sizes a network is built for."""

import numbers
import random

import keras


class Network(keras.Model):
    """A generator or discriminator built as a functional graph in `__init__`.

    A subclass builds its layers from its constructor arguments, calls
    `super().__init__(inputs=..., outputs=..., name=..., **kwargs)`, keeps
    the arguments as attributes and returns them from `get_config`; Keras
    then rebuilds it with `cls(**config)` (`from_config`), so a `.keras` file
    or a game's config records the class and its arguments, not its graph.

    Example, a network of your own:

    ```python
    @keras.saving.register_keras_serializable(package="my_networks")
    class TinyGenerator(keras_gans.networks.Network):
        def __init__(self, latent_dim=8, name="generator", **kwargs):
            z = keras.Input((latent_dim,), name="z")
            x = keras.layers.Dense(4 * 4, activation="tanh")(z)
            images = keras.layers.Reshape((4, 4, 1), name="images")(x)
            super().__init__(inputs=z, outputs=images, name=name, **kwargs)
            self.latent_dim = latent_dim

        def get_config(self):
            return {**super().get_config(), "latent_dim": self.latent_dim}
    ```
    """

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}


def check_image_shape(image_shape):
    """`image_shape` as a tuple `(height, width, channels)` with 1 or 3
    channels, or a one-line `ValueError`."""
    try:
        image_shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        image_shape = None
    if image_shape is None or len(image_shape) != 3 or image_shape[-1] not in (1, 3):
        raise ValueError(
            f"image_shape must be (height, width, channels) with 1 or 3 "
            f"channels, got {image_shape!r}."
        )
    return image_shape


def check_positive(value, name):
    """`value` as an int >= 1, or a one-line `ValueError` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


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


def seeded_dropout(rate, **kwargs):
    """`keras.layers.Dropout` with a seed of its own, drawn from Python's
    `random` (which `keras.utils.set_random_seed` seeds): its noise then
    comes from its seed generator on every backend (unseeded, PyTorch's
    dropout draws from torch's global generator), which the game saves and
    restores with its checkpoints.

    Example:

    ```python
    x = seeded_dropout(0.3)(x)
    ```
    """
    return keras.layers.Dropout(rate, seed=random.randrange(2**31), **kwargs)


def paper_initializer():
    """N(0, 0.02), the initialisation of the CycleGAN and pix2pix papers' code."""
    return keras.initializers.RandomNormal(0.0, 0.02)

