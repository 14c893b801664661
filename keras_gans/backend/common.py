"""What the JAX and PyTorch backends share: one device, `keras.random` noise,
checks that run where the values are known."""

import sys

import keras
from keras import ops

DISTRIBUTIONS = {"normal": keras.random.normal, "uniform": keras.random.uniform}


def sample(distribution, shape, seed_generator):
    """Draws `shape` from `"normal"` or `"uniform"` (0, 1) with a fresh seed."""
    return DISTRIBUTIONS[distribution](shape, seed=seed_generator)


def normal_like(tensor, seed_generator):
    """Standard normal noise of `tensor`'s shape and dtype."""
    return keras.random.normal(ops.shape(tensor), dtype=tensor.dtype, seed=seed_generator)


def check_now(value, conditions, is_symbolic):
    """`value`, once every `(condition, message)` whose value is known holds;
    a condition that fails raises a `ValueError` with its message. Symbolic
    conditions (traced under `jit`) cannot be read and are skipped: `fit`
    checks in-memory input before it starts instead."""
    for condition, message in conditions:
        if not is_symbolic(condition) and not bool(ops.all(condition)):
            raise ValueError(message)
    return value


def after(dependencies, value):
    """`value`: without a graph, what it depends on has run already."""
    return value


def replica_count():
    """One: a custom step on this backend runs one program over the global batch."""
    return 1


def multi_worker():
    return False


def gather_replicas(tensor):
    return tensor


def replica_slice(tensor, size):
    return tensor


def is_dataset(x):
    """Whether `x` is a `tf.data.Dataset` (TensorFlow may be installed beside
    another backend)."""
    tensorflow = sys.modules.get("tensorflow")
    return tensorflow is not None and isinstance(x, tensorflow.data.Dataset)


def map_dataset(dataset, function):
    """`dataset` unchanged: `keras.ops` of this backend cannot run inside a
    `tf.data` graph, so its batches are not mapped through `function`."""
    return dataset
