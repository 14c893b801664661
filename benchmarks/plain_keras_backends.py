"""A plain Keras generator of two `Conv2DTranspose` layers, fitted with Keras'
own trainer on the backend `KERAS_BACKEND` names: the cost of the backend's
convolutions without keras-gans' step.

    KERAS_BACKEND=jax python benchmarks/plain_keras_backends.py

Prints the backend, the CPU and the images/s of one epoch of 2,560 images
after a first, compiling epoch.
"""

import time

import keras
import numpy as np
from keras import layers

from keras_gans import hardware


def main():
    model = keras.Sequential([
        keras.Input((100,)), layers.Dense(7 * 7 * 128), layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(64, 4, 2, padding="same"), layers.BatchNormalization(),
        layers.ReLU(), layers.Conv2DTranspose(1, 4, 2, padding="same", activation="tanh")])
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    z = rng.standard_normal((64 * 40, 100)).astype("float32")
    images = rng.uniform(-1, 1, (64 * 40, 28, 28, 1)).astype("float32")
    model.fit(z[:128], images[:128], batch_size=64, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(z, images, batch_size=64, epochs=1, verbose=0)
    rate = len(z) / (time.perf_counter() - start)
    print(f"{keras.backend.backend()} on {hardware.describe()}: {rate:.0f} images/s")


if __name__ == "__main__":
    main()
