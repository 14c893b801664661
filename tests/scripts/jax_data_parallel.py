"""Trains a WGAN-GP for two steps on one device and on two CPU devices under
`keras.distribution.DataParallel`, from the same weights, and prints the
largest difference of the critic's and the generator's weights relative to
their largest weight, and both runs' optimizer step counts.

Usage: KERAS_BACKEND=jax python tests/scripts/jax_data_parallel.py
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gans  # noqa: E402

IMAGES = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")


def train(weights=None):
    model = keras_gans.WGANGP(n_critic=2, seed=0)
    model.compile()
    if weights is not None:
        model.set_weights(weights)
    initial = model.get_weights()
    model.fit(IMAGES, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model, initial


def main():
    keras.utils.set_random_seed(0)
    single, initial = train()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=jax.devices()))
    parallel, _ = train(initial)
    for player in ("discriminator", "generator"):
        expected = getattr(single, player).get_weights()
        actual = getattr(parallel, player).get_weights()
        scale = max(np.abs(w).max() for w in expected)
        error = max(np.abs(a - e).max() for a, e in zip(actual, expected, strict=True))
        print(player, len(jax.devices()), error / scale,
              int(single.optimizer_of(player).iterations),
              int(parallel.optimizer_of(player).iterations))


if __name__ == "__main__":
    main()
