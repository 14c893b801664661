"""Trains GAN variants on one device and under MirroredStrategy on two logical
CPUs from the same weights and batch, and prints the results as JSON.

Run in a fresh process: the CPU must be split before TensorFlow touches it.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gans  # noqa: E402
from keras_gans.networks import MLPDiscriminator, MLPGenerator  # noqa: E402

GLOBAL_BATCH = 16
STEPS = 2
LATENT_DIM = 8
NUM_CLASSES = 3


def conditional_generator():
    """`[z, label]` -> 28x28x1 image, without BatchNorm or Dropout."""
    z = keras.Input((LATENT_DIM,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    embedded = keras.layers.Embedding(NUM_CLASSES, 4)(label)
    x = keras.layers.Concatenate()([z, embedded])
    x = keras.layers.Dense(16, activation="relu")(x)
    x = keras.layers.Dense(28 * 28, activation="tanh")(x)
    images = keras.layers.Reshape((28, 28, 1), name="images")(x)
    return keras.Model([z, label], images, name="generator")


def conditional_discriminator():
    """`[image, label]` -> one raw score, without BatchNorm or Dropout."""
    image = keras.Input((28, 28, 1), name="image")
    label = keras.Input((), dtype="int32", name="label")
    embedded = keras.layers.Embedding(NUM_CLASSES, 4)(label)
    x = keras.layers.Concatenate()([keras.layers.Flatten()(image), embedded])
    x = keras.layers.Dense(16, name="features")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    score = keras.layers.Dense(1)(x)
    return keras.Model([image, label], score, name="discriminator")


def build(variant):
    """A small model of `variant` without batch-dependent layers."""
    generator = MLPGenerator(latent_dim=LATENT_DIM, units=(32,))
    critic = MLPDiscriminator(units=(32,), dropout=0)
    if variant == "gan":
        model = keras_gans.GAN(generator, critic, seed=1, ema_decay=0.9,
                               historical_averaging=1e-3)
        extra = {}
    elif variant == "cgan":
        model = keras_gans.ConditionalGAN(
            num_classes=NUM_CLASSES, generator=conditional_generator(),
            discriminator=conditional_discriminator(), seed=1, ema_decay=0.9)
        extra = {"r1_weight": 1.0}
    elif variant == "wgan":
        # Two critic minibatches per step: see wgan_single_batch_order.
        model = keras_gans.WGAN(generator=generator, discriminator=critic,
                                seed=1, n_critic=2, clip_value=0.05)
        extra = {}
    elif variant == "progan":
        # Stage 0 (7x7) for the first step, the 14x14 fade-in for the second,
        # its optimizers restarted between them; D's minibatch spread over
        # groups of 4 consecutive images, which never straddle the replicas'
        # halves of the batch.
        model = keras_gans.ProGAN(image_shape=(28, 28, 1), latent_dim=LATENT_DIM,
                                  fmap_base=56, fmap_max=8, fade_images=32,
                                  stable_images=GLOBAL_BATCH, batch_sizes=GLOBAL_BATCH,
                                  reset_optimizers=True, seed=1)
        extra = {}
    elif variant == "wgangp":
        model = keras_gans.WGANGP(generator=generator, discriminator=critic,
                                  seed=1, n_critic=1, historical_averaging=1e-3)
        extra = {}
    elif variant == "sngan":
        # Spectrally normalised D: every replica refines the same u.
        model = keras_gans.SNGAN(
            generator=generator, n_dis=1, seed=1,
            discriminator=MLPDiscriminator(units=(32,), dropout=0, spectral_norm=True))
        extra = {}
    elif variant == "cyclegan":
        # A pool of 4 fills in the first step and swaps in the second.
        model = keras_gans.CycleGAN((32, 32, 3), generator_filters=4, residual_blocks=1,
                                    discriminator_filters=4, pool_size=4, seed=1)
        extra = {}
    else:
        raise ValueError(variant)
    model.compile(d_optimizer=keras.optimizers.SGD(0.01),
                  g_optimizer=keras.optimizers.SGD(0.01), **extra)
    return model


def batch(variant):
    rng = np.random.default_rng(0)
    if variant == "cyclegan":
        return tuple(rng.uniform(-1, 1, (GLOBAL_BATCH, 32, 32, 3)).astype("float32")
                     for _ in range(2))
    images = rng.uniform(-1, 1, (GLOBAL_BATCH, 28, 28, 1)).astype("float32")
    if variant == "cgan":
        labels = rng.integers(0, NUM_CLASSES, GLOBAL_BATCH).astype("int32")
        return images, labels
    return images


def wgan_single_batch_order(images, replicas=2, n_critic=2):
    """The order in which one device must see a batch to match `replicas`
    mirrored replicas: critic minibatch k of a distributed step is the k-th
    chunk of every replica's slice."""
    per_replica = np.split(images, replicas)
    chunks = [np.split(part, n_critic) for part in per_replica]
    return np.concatenate([chunk[k] for k in range(n_critic) for chunk in chunks])


def dataset(data):
    return tf.data.Dataset.from_tensors(data).repeat(STEPS)


def all_weights(model):
    """Every weight of the model: both networks, EMA, averages, seed state."""
    return [np.asarray(v) for v in model.weights] + [
        np.asarray(model.seed_generator.state.numpy()),
        np.asarray(model.d_optimizer.iterations.numpy()),
        np.asarray(model.g_optimizer.iterations.numpy()),
    ]


def generator_of(model):
    return getattr(model, "generator", None) or model.generator_a2b


def compare(variant, strategy):
    single = build(variant)
    with strategy.scope():
        mirrored = build(variant)
    mirrored.set_weights(single.get_weights())
    initial = [np.asarray(v) for v in generator_of(single).weights]
    data = batch(variant)
    single_data = data
    if variant == "wgan":
        single_data = wgan_single_batch_order(data)
    single_history = single.fit(dataset(single_data), epochs=1, verbose=0, shuffle=False)
    mirrored_history = mirrored.fit(dataset(data), epochs=1, verbose=0, shuffle=False)
    a, b = all_weights(single), all_weights(mirrored)
    return {
        "single_logs": {k: float(v[-1]) for k, v in single_history.history.items()},
        "mirrored_logs": {k: float(v[-1]) for k, v in mirrored_history.history.items()},
        "max_weight_difference": max(
            float(np.max(np.abs(x.astype("float64") - y.astype("float64"))))
            for x, y in zip(a, b, strict=True)),
        "generator_change": max(
            float(np.max(np.abs(x - np.asarray(y))))
            for x, y in zip(initial, generator_of(mirrored).weights, strict=True)),
        "iterations": [int(single.d_optimizer.iterations.numpy()),
                       int(mirrored.d_optimizer.iterations.numpy())],
        **({"images_seen": [int(single.images_seen.numpy()),
                            int(mirrored.images_seen.numpy())],
            "fade_alpha": [single.current_alpha, mirrored.current_alpha]}
           if variant == "progan" else {}),
    }


def replica_noise(strategy):
    """The latent vectors each replica draws in one `strategy.run`, and what
    one device draws for the global batch from the same seed state."""
    with strategy.scope():
        model = build("gan")

    @tf.function
    def draw():
        return strategy.run(lambda: model.sample_latent(4))

    per_replica = strategy.experimental_local_results(draw())
    single = build("gan").sample_latent(8)
    return {"replicas": [np.asarray(values).tolist() for values in per_replica],
            "single": np.asarray(single).tolist()}


def dcgan_step(strategy):
    """One fit step of a full DCGAN (with BatchNorm) under the strategy."""
    with strategy.scope():
        model = keras_gans.DCGAN(seed=0, ema_decay=0.9)
        model.compile()
    images = np.random.default_rng(1).uniform(-1, 1, (GLOBAL_BATCH, 28, 28, 1))
    history = model.fit(dataset(images.astype("float32")), epochs=1, verbose=0)
    return {k: float(v[-1]) for k, v in history.history.items()}


def main(variants):
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    result = {"replicas": strategy.num_replicas_in_sync}
    for variant in variants:
        # The same initial weights whatever runs before, so a mismatch can be
        # reproduced with this variant alone.
        keras.utils.set_random_seed(0)
        if variant == "noise":
            result["noise"] = replica_noise(strategy)
        elif variant == "dcgan":
            result["dcgan"] = dcgan_step(strategy)
        else:
            result[variant] = compare(variant, strategy)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:] or ["gan", "cgan", "wgan", "wgangp", "sngan", "progan", "cyclegan",
                          "noise", "dcgan"])
