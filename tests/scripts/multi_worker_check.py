"""Trains a small GAN under MultiWorkerMirroredStrategy and saves its weights.

Usage: python multi_worker_check.py OUT.npz

Writes the weights to OUT.npz and the model to OUT.keras.

With TF_CONFIG set, this process is one worker of the cluster it names; without
it, it is a single worker with one replica. Every worker trains on the same
global batch, which the strategy splits between the replicas.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

GLOBAL_BATCH = 16
STEPS = 2
LATENT_DIM = 8


def main(out_path):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    import keras
    import numpy as np

    import keras_gans
    from keras_gans.networks import MLPDiscriminator, MLPGenerator

    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras_gans.GAN(
            MLPGenerator(latent_dim=LATENT_DIM, units=(32,)),
            MLPDiscriminator(units=(32,), dropout=0),
            seed=1, ema_decay=0.9)
        model.compile(d_optimizer=keras.optimizers.SGD(0.01),
                      g_optimizer=keras.optimizers.SGD(0.01))
    images = np.random.default_rng(0).uniform(-1, 1, (GLOBAL_BATCH, 28, 28, 1))
    dataset = tf.data.Dataset.from_tensor_slices(images.astype("float32"))
    dataset = dataset.batch(GLOBAL_BATCH).repeat(STEPS)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    history = model.fit(dataset.with_options(options), epochs=1, verbose=0)
    weights = {f"w{i}": np.asarray(v) for i, v in enumerate(model.weights)}
    weights["seed_state"] = np.asarray(model.seed_generator.state.numpy())
    np.savez(out_path, **weights)
    # Every worker saves (reading some variables is a collective operation),
    # each to its own path.
    model.save(os.path.splitext(out_path)[0] + ".keras")
    resolver = strategy.cluster_resolver
    print("RESULT " + json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "task_id": resolver.task_id if resolver is not None else None,
        "logs": {k: float(v[-1]) for k, v in history.history.items()},
        "iterations": int(model.g_optimizer.iterations.numpy()),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
