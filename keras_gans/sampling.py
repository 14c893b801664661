"""Latent noise and batched prediction in numpy, for sampling outside `fit`,
and many samples written to image files in bounded memory."""

import math
import os
import re

import numpy as np
from keras import ops
from PIL import Image

from keras_gans.data import to_uint8
from keras_gans.files import atomic_path

# Images generated and written at a time by `sample_batches` and `write_samples`.
SAMPLE_BATCH_SIZE = 1000


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


def check_count(n, image_shape=None):
    """`n` as an int if it is a whole number of images that fits in memory.

    Args:
        n: how many images a caller asks for.
        image_shape: one image's shape; with it, `n` float32 images must fit
            in half the memory the system has free.
    """
    if isinstance(n, bool) or not float(n).is_integer() or n < 0:
        raise ValueError(f"The number of images must be a whole number >= 0, got {n!r}.")
    n = int(n)
    if image_shape is not None:
        needed = n * math.prod(image_shape) * 4
        free = _free_memory()
        if free is not None and needed > free / 2:
            raise ValueError(
                f"{n} images of shape {tuple(image_shape)} need {needed / 2**30:.1f} GiB, "
                f"more than half of the {free / 2**30:.1f} GiB free: ask for fewer at a "
                "time, e.g. in a loop with a seed per batch.")
    return n


def _free_memory():
    """Bytes of memory free for new allocations, where the system says."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def requested_labels(labels, n, num_classes, class_names=None):
    """The int32 class of each of `n` images from what a user asks for.

    Args:
        labels: `None` (the classes in turn), one class for all, or one per
            image; a class is an index or, where `class_names` are known, a
            name (case-insensitive).
        n: how many images.
        num_classes: how many classes the generator knows.
        class_names: their names, or `None`.

    Example:

    ```python
    requested_labels("Food & Drink", 3, 9, emoji.CATEGORIES)   # array([3, 3, 3])
    ```
    """
    if labels is None:
        return (np.arange(n) % num_classes).astype(np.int32)
    labels = np.atleast_1d(np.asarray(labels, dtype=object))
    if labels.ndim != 1 or len(labels) not in (1, n):
        raise ValueError(f"Got {labels.size} labels for {n} images: pass one label for all, "
                         "or one per image.")
    lookup = {name.lower(): i for i, name in enumerate(class_names or [])}
    indices = []
    for label in labels:
        if isinstance(label, str) and label.lower() in lookup:
            indices.append(lookup[label.lower()])
        elif isinstance(label, str | bool) or not float(label).is_integer():
            known = f"; the classes are: {', '.join(class_names)}" if class_names else ""
            raise ValueError(f"Unknown class {label!r}: a label is a class index in "
                             f"[0, {num_classes}){known}.")
        else:
            indices.append(int(label))
    indices = np.broadcast_to(np.asarray(indices, np.int64), (n,))
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"Labels must lie in [0, {num_classes}), got values from "
                         f"{indices.min()} to {indices.max()}.")
    return indices.astype(np.int32)

def unit_range_batch(images, image_shape):
    """A batch of images as float32 numpy in [-1, 1], for a model taking images.

    Args:
        images: `(N, H, W, C)` uint8 pixels, which are scaled, or floats
            already in [-1, 1].
        image_shape: the `(H, W, C)` the model takes.

    Example:

    ```python
    unit_range_batch(np.zeros((2, 32, 32, 3), np.uint8), (32, 32, 3))   # all -1.0
    ```
    """
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(image_shape):
        expected = ", ".join(map(str, image_shape))
        raise ValueError(f"Expected a batch of images of shape (N, {expected}), got shape "
                         f"{images.shape}.")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 127.5 - 1.0
    if images.dtype.kind != "f":
        raise ValueError(f"Images must be uint8 pixels or floats in [-1, 1], got dtype "
                         f"{images.dtype}.")
    images = images.astype(np.float32)
    if images.size and not (np.all(np.isfinite(images)) and np.abs(images).max() <= 1 + 1e-3):
        raise ValueError("Float images must lie in [-1, 1] (scale uint8 pixels with "
                         "x / 127.5 - 1, or pass them as uint8).")
    return images


def sample_batches(generator, n, seed=None, labels=None, batch_size=None, truncation=None):
    """Yields the images of `generator.generate(n, seed=seed, labels=labels,
    truncation=truncation)`
    `batch_size` at a time, drawn from one noise stream, so that memory stays
    bounded whatever `n`.

    Args:
        generator: a keras_gans model or `ExportedGenerator` (it has
            `latent_dim`, `conditional`, `num_classes`, `sampling_labels` and
            `generate_from`).
        n: how many images.
        seed: integer seed for repeatable samples.
        labels: for conditional generators, `None` (the classes in turn), one
            label for all, or one per image.
        batch_size: images per batch (default `SAMPLE_BATCH_SIZE`).
        truncation: psi in [0, 1], as in `keras_gans.latent.truncate`.

    Example:

    ```python
    for images in sample_batches(gan, 100_000, seed=0):
        ...  # (up to 1000, H, W, C) in [-1, 1]
    ```
    """
    from keras_gans.latent import check_truncation, truncate

    n = check_count(n)
    truncation = check_truncation(truncation)
    batch_size = batch_size or SAMPLE_BATCH_SIZE
    if labels is not None:
        labels = np.atleast_1d(np.asarray(labels, dtype=object))
        if len(labels) not in (1, n):
            raise ValueError(f"Got {len(labels)} labels for {n} images: pass one label for "
                             "all, or one per image.")
    rng = np.random.default_rng(seed)
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        z = truncate(rng.standard_normal((count, generator.latent_dim)), truncation)
        if labels is None:
            batch_labels = (np.arange(start, start + count) % generator.num_classes
                            if generator.conditional else None)
        else:
            batch_labels = labels if len(labels) == 1 else labels[start:start + count]
        yield generator.generate_from(z, generator.sampling_labels(count, batch_labels))


# The names of the files `write_samples` writes.
SAMPLE_FILE = re.compile(r"\d{6,}\.png")


def sample_file_name(index, n):
    """`000042.png`: the file of image `index` of `n`, numbered from 0."""
    return f"{index:0{max(6, len(str(n - 1)))}d}.png"


def write_samples(generator, n, directory, seed=None, labels=None, progress=None,
                  truncation=None):
    """Writes `n` generated images as PNG files `000000.png`, `000001.png`, ...
    in `directory`, `SAMPLE_BATCH_SIZE` at a time.

    The files are the images of `generator.generate(n, seed=seed, labels=labels,
    truncation=truncation)`.
    They are written to a directory beside `directory` that replaces it once
    whole (`keras_gans.files.atomic_path`), so an interrupted run leaves
    `directory` as it was.

    Args:
        generator, n, seed, labels, truncation: as for `sample_batches`.
        directory: the output directory; replaced if it exists.
        progress: called with the number of images written after each batch.
    """
    with atomic_path(directory) as tmp:
        os.makedirs(tmp)
        written = 0
        for images in sample_batches(generator, n, seed, labels, truncation=truncation):
            for image in to_uint8(images):
                Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
                    os.path.join(tmp, sample_file_name(written, n)))
                written += 1
            if progress is not None:
                progress(written)
