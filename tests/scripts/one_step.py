"""One training step of every variant on the current Keras backend, from fixed
weights, batch and noise; writes what the step changed to an `.npz` file.

The weights come from numpy, the batch too, and every draw a step makes
through the game's `sample` is replaced by numpy noise keyed by its place in
the step, so the steps of different backends start from the same state and
see the same numbers. Both players use `RecordingSGD`, which keeps the last
gradient of each weight in a slot of its own: an optimizer variable, so on
JAX it also shows that the players' optimizer state leaves the jitted step.

Usage: KERAS_BACKEND=jax python tests/scripts/one_step.py OUT.npz
"""

import sys

import keras
import numpy as np

import keras_gans
from keras_gans.networks import MLPDiscriminator

LEARNING_RATE = 0.01


class RecordingSGD(keras.optimizers.SGD):
    """SGD that stores each weight's last gradient in a slot `gradient`
    (densely: TensorFlow gives an embedding's gradient as `IndexedSlices`)."""

    def build(self, variables):
        super().build(variables)
        self.recorded = [self.add_variable_from_reference(v, "gradient") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        self.assign(self.recorded[self._get_variable_index(variable)],
                    keras.ops.add(keras.ops.zeros(variable.shape), gradient))
        super().update_step(gradient, variable, learning_rate)


def variants():
    """`{name: (model builder, batch, compile options)}`, all small."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    labels = np.array([0, 3, 1, 3], "int32")
    colour = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    small = rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    return {
        "vanilla": (lambda: keras_gans.VanillaGAN(
            discriminator=MLPDiscriminator((28, 28, 1), units=(64, 32), dropout=0.0)),
            (images,), {"r1_weight": 1.0}),
        "dcgan": (lambda: keras_gans.DCGAN(), (images,), {}),
        "cgan": (lambda: keras_gans.ConditionalGAN(num_classes=4), (images, labels), {}),
        "wgan": (lambda: keras_gans.WGAN(n_critic=2), (images,), {}),
        "wgan_gp": (lambda: keras_gans.WGANGP(n_critic=2), (images,), {}),
        "sngan": (lambda: keras_gans.SNGAN(width=8, n_critic=2), (images,), {}),
        "sngan_projection": (lambda: keras_gans.SNGAN(width=8, n_critic=1, num_classes=4),
                             (images, labels), {}),
        "progan": (lambda: keras_gans.ProGAN(
            image_shape=(8, 8, 1), fmap_base=32, fmap_max=8, batch_sizes=4,
            fade_images=8, stable_images=8, mbstd_group_size=2), (small,), {}),
        "cyclegan": (lambda: keras_gans.CycleGAN(
            image_shape=(32, 32, 3), generator_filters=4, residual_blocks=1,
            discriminator_filters=4, pool_size=4), (colour, colour[::-1]), {}),
        "pix2pix": (lambda: keras_gans.Pix2Pix(
            image_shape=(32, 32, 3), generator_filters=4, discriminator_filters=4,
            dropout_blocks=0), (colour, colour[::-1]), {}),
    }


def fixed_weights(model, seed=1):
    """Sets every float weight of `model` from numpy, scaled by its fan-in."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if not keras.backend.standardize_dtype(weight.dtype).startswith("float"):
            continue
        shape = tuple(weight.shape)
        if "variance" in weight.path or "gamma" in weight.path:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            value = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / max(fan_in, 1))
        weight.assign(value.astype(keras.backend.standardize_dtype(weight.dtype)))


def fixed_noise(model):
    """Replaces the game's draws with numpy noise keyed by shape and by the
    draw's place in the step (counted from the step's `unpack`)."""
    draws = []

    def sample(distribution, shape):
        rng = np.random.default_rng(len(draws) + 100)
        draws.append(shape)
        shape = tuple(int(d) for d in shape)
        value = rng.standard_normal(shape) if distribution == "normal" else rng.uniform(
            size=shape)
        return keras.ops.convert_to_tensor(value.astype("float32"))

    unpack = model.unpack

    def unpack_and_restart(data):
        draws.clear()
        return unpack(data)

    model.sample = sample
    model.unpack = unpack_and_restart


def one_step(name, build, batch, options):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(d_optimizer=RecordingSGD(LEARNING_RATE),
                  g_optimizer=RecordingSGD(LEARNING_RATE), **options)
    fixed_weights(model)
    fixed_noise(model)
    model.fit(*batch, batch_size=len(batch[0]), epochs=1, shuffle=False, verbose=0)
    results = {}
    for player in model.players:
        network = getattr(model, player)
        optimizer = model.optimizer_of(player)
        for i, weight in enumerate(network.trainable_weights):
            gradient = optimizer.recorded[optimizer._get_variable_index(weight)]
            results[f"{name}/{player}/gradient/{i}"] = keras.ops.convert_to_numpy(gradient)
        for weight in network.non_trainable_weights:
            if keras.backend.standardize_dtype(weight.dtype).startswith("float"):
                results[f"{name}/{player}/state/{weight.path}"] = keras.ops.convert_to_numpy(
                    weight.value)
        results[f"{name}/{player}/iterations"] = np.array(
            int(model.optimizer_of(player).iterations))
    return results


def main(out):
    results = {}
    for name, (build, batch, options) in variants().items():
        results.update(one_step(name, build, batch, options))
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1])
