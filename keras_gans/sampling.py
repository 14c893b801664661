"""Latent noise and batched prediction in numpy, for sampling outside `fit`."""

import numpy as np
from keras import ops


def latent_noise(n, latent_dim, seed=None):
    """`n` latent vectors z ~ N(0, I) as float32 numpy, repeatable by seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(n), int(latent_dim))).astype(np.float32)


def predict_in_batches(function, inputs, output_shape, batch_size=256):
    """Runs `function(*batch)` on numpy `inputs` in batches, as float32 numpy.

    Args:
        function: maps one batch of each input to a batch of outputs.
        inputs: a list of equally long arrays, e.g. `[z]` or `[z, labels]`.
        output_shape: the shape of one output, for an empty result.
        batch_size: examples per call.
    """
    n = len(inputs[0])
    outputs = []
    for start in range(0, n, batch_size):
        batch = [x[start:start + batch_size] for x in inputs]
        outputs.append(ops.convert_to_numpy(ops.cast(function(*batch), "float32")))
    if not outputs:
        return np.zeros((0, *output_shape), np.float32)
    return np.concatenate(outputs)
