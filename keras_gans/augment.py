"""DiffAugment: differentiable augmentation of D's inputs (Zhao et al. 2020).

The same random transformations are applied to real and fake images before the
discriminator sees them, and gradients flow through them to the generator.
All operations are vectorised over the batch and draw their randomness from the
model's `SeedGenerator`.
"""

import keras
from keras import ops

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy):
    """Turns `"translation,cutout"` (or a list) into a tuple of policy names."""
    if not policy:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = tuple(name.strip() for name in names if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(
            f"Unknown DiffAugment policy {unknown}; choose from {POLICIES}."
        )
    return names


def _uniform(shape, seed_generator, dtype):
    return keras.random.uniform(shape, dtype=dtype, seed=seed_generator)


def random_color(images, seed_generator):
    """Random brightness, saturation and contrast, per example."""
    batch = ops.shape(images)[0]
    shape = (batch, 1, 1, 1)
    dtype = images.dtype
    images = images + (_uniform(shape, seed_generator, dtype) - 0.5)
    if images.shape[-1] > 1:
        mean = ops.mean(images, axis=-1, keepdims=True)
        images = (images - mean) * (_uniform(shape, seed_generator, dtype) * 2.0) + mean
    mean = ops.mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (_uniform(shape, seed_generator, dtype) + 0.5) + mean


def _shift_matrices(shifts, size, dtype):
    """One-hot matrices `S` with `S[b, i, j] = 1` where `j = i - shifts[b]`."""
    sources = ops.arange(size)[None, :, None] - shifts[:, None, None]
    # A source out of range matches no column: a zero row.
    return ops.cast(sources == ops.arange(size)[None, None, :], dtype)


def random_translation(images, seed_generator, ratio=0.125):
    """Shifts each image by up to `ratio` of its size, filling with zeros."""
    batch = ops.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = keras.random.randint((batch,), -max_dy, max_dy + 1, seed=seed_generator)
    dx = keras.random.randint((batch,), -max_dx, max_dx + 1, seed=seed_generator)
    rows = _shift_matrices(dy, height, images.dtype)
    cols = _shift_matrices(dx, width, images.dtype)
    images = ops.einsum("bij,bjwc->biwc", rows, images)
    return ops.einsum("bkw,biwc->bikc", cols, images)


def random_cutout(images, seed_generator, ratio=0.5):
    """Zeroes a random square of `ratio` of the image size in each image."""
    batch = ops.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    cy = keras.random.randint((batch, 1, 1), 0, height + (1 - cut_h % 2), seed=seed_generator)
    cx = keras.random.randint((batch, 1, 1), 0, width + (1 - cut_w % 2), seed=seed_generator)
    ys = ops.arange(height)[None, :, None] - (cy - cut_h // 2)
    xs = ops.arange(width)[None, None, :] - (cx - cut_w // 2)
    inside = (ys >= 0) & (ys < cut_h) & (xs >= 0) & (xs < cut_w)
    mask = 1.0 - ops.cast(inside, images.dtype)
    return images * mask[..., None]


AUGMENTATIONS = {
    "color": random_color,
    "translation": random_translation,
    "cutout": random_cutout,
}


def diff_augment(images, policy, seed_generator):
    """Applies the policies in order, e.g. `("translation", "cutout")`."""
    for name in policy:
        images = AUGMENTATIONS[name](images, seed_generator)
    return images
