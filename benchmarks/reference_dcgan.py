"""The reference: TensorFlow's DCGAN tutorial recipe, driven by `fit`.

A faithful re-implementation of https://www.tensorflow.org/tutorials/generative/dcgan
for speed and quality comparisons: the tutorial's generator and discriminator,
noise of size 100, Adam(1e-4) for both players, both tapes over one forward
pass, `training=True` on every call, float32, no tricks. It lives only in
`benchmarks/`.

    python benchmarks/reference_dcgan.py --minutes 10 20 --out runs/reference_dcgan
"""

import argparse
import json
import os
import time

import keras
import tensorflow as tf
from keras import layers

NOISE_DIM = 100


def make_generator_model():
    model = keras.Sequential(name="generator")
    model.add(keras.Input((NOISE_DIM,), name="z"))
    model.add(layers.Dense(7 * 7 * 256, use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Reshape((7, 7, 256)))
    model.add(layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same",
                                     use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same",
                                     use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same",
                                     use_bias=False, activation="tanh"))
    return model


def make_discriminator_model():
    model = keras.Sequential(name="discriminator")
    model.add(keras.Input((28, 28, 1)))
    model.add(layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Flatten())
    model.add(layers.Dense(1))
    return model


class TutorialDCGAN(keras.Model):
    """The tutorial's `train_step` as a `keras.Model`, so `fit` drives it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.generator = make_generator_model()
        self.discriminator = make_discriminator_model()
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.seed_generator = keras.random.SeedGenerator(0)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = keras.optimizers.Adam(1e-4)
        self.discriminator_optimizer = keras.optimizers.Adam(1e-4)
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    # The project's generator interface, for the shared evaluation code.
    conditional = False
    num_classes = None
    latent_dim = NOISE_DIM

    @property
    def sampling_generator(self):
        return self.generator

    def generate(self, n, labels=None, seed=None, batch_size=256):
        from keras_gans.sampling import latent_noise, predict_in_batches

        return predict_in_batches(
            lambda z: self.generator(z, training=False), [latent_noise(n, NOISE_DIM, seed)],
            self.generator.outputs[0].shape[1:], batch_size)

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def train_step(self, images):
        noise = keras.random.normal((tf.shape(images)[0], NOISE_DIM),
                                    seed=self.seed_generator)
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = self.generator(noise, training=True)
            real_output = self.discriminator(images, training=True)
            fake_output = self.discriminator(generated_images, training=True)
            gen_loss = self.cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = self.cross_entropy(
                tf.ones_like(real_output), real_output
            ) + self.cross_entropy(tf.zeros_like(fake_output), fake_output)
        gradients_of_generator = gen_tape.gradient(
            gen_loss, self.generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(
            disc_loss, self.discriminator.trainable_variables)
        self.generator_optimizer.apply(gradients_of_generator,
                                       self.generator.trainable_variables)
        self.discriminator_optimizer.apply(gradients_of_discriminator,
                                           self.discriminator.trainable_variables)
        self.d_loss_tracker.update_state(disc_loss)
        self.g_loss_tracker.update_state(gen_loss)
        return {"d_loss": self.d_loss_tracker.result(),
                "g_loss": self.g_loss_tracker.result()}


class Snapshots(keras.callbacks.Callback):
    """Saves the generator after each of `minutes` of training; stops at the last.

    Snapshot `m` goes to `<out>/<m>min/` as `generator.keras` and `run.json`, so
    one run gives the reference at several training budgets.
    """

    def __init__(self, minutes, out, batch_size, dataset_size):
        super().__init__()
        self.minutes = sorted(minutes)
        self.out = out
        self.batch_size = batch_size
        self.dataset_size = dataset_size

    def on_train_begin(self, logs=None):
        self.start = time.time()
        self.pending = list(self.minutes)

    def on_train_batch_end(self, batch, logs=None):
        elapsed = time.time() - self.start
        if elapsed < self.pending[0] * 60:
            return
        self.save(self.pending.pop(0), elapsed)
        if not self.pending:
            self.model.stop_training = True

    def save(self, minutes, elapsed):
        run_dir = os.path.join(self.out, f"{minutes:g}min")
        os.makedirs(run_dir, exist_ok=True)
        self.model.generator.save(os.path.join(run_dir, "generator.keras"))
        steps = int(self.model.generator_optimizer.iterations)
        run = {"budget_minutes": minutes, "wall_time_seconds": round(elapsed, 1),
               "epochs": round(steps * self.batch_size / self.dataset_size, 2),
               "steps": steps, "batch_size": self.batch_size}
        with open(os.path.join(run_dir, "run.json"), "w") as f:
            json.dump(run, f)
        print(json.dumps({"snapshot": run_dir, **run}), flush=True)


def main():
    from keras_gans import data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[20.0],
                        help="training budgets; the generator is saved after each")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", default="runs/reference_dcgan")
    args = parser.parse_args()

    images = data.load_images("fashion_mnist", "train").images
    dataset = data.make_dataset(images, batch_size=args.batch_size, seed=0)
    model = TutorialDCGAN()
    model.compile()
    model.fit(dataset, epochs=10_000, verbose=2,
              callbacks=[Snapshots(args.minutes, args.out, args.batch_size, len(images))])


if __name__ == "__main__":
    main()
