"""The registry of small cases the contract suite (`test_contract.py`) and
the backend suite (`test_backends.py`) train: every variant in
`keras_gans.VARIANTS` registers at least one here, and so gets its tests.

A case is `(build, inputs)`: `build()` makes the model (uncompiled), and
`inputs` are the arrays `fit` takes, two batches of them.
"""

import numpy as np

import keras_gans

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
LABELS = RNG.integers(0, 4, 8).astype("int32")
SMALL = RNG.uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
COLOUR = RNG.uniform(-1, 1, (4, 32, 32, 3)).astype("float32")

CASES = {
    "vanilla": (lambda: keras_gans.VanillaGAN(ema_decay=0.9, seed=0), (IMAGES,)),
    "dcgan": (lambda: keras_gans.DCGAN(seed=0), (IMAGES,)),
    "cgan": (lambda: keras_gans.ConditionalGAN(num_classes=4, seed=0), (IMAGES, LABELS)),
    "wgan": (lambda: keras_gans.WGAN(n_critic=2, seed=0), (IMAGES,)),
    "wgan_gp": (lambda: keras_gans.WGANGP(n_critic=2, seed=0), (IMAGES,)),
    "sngan": (lambda: keras_gans.SNGAN(width=8, n_critic=2, seed=0), (IMAGES,)),
    "sngan_projection": (lambda: keras_gans.SNGAN(width=8, n_critic=1, num_classes=4, seed=0),
                         (IMAGES, LABELS)),
    "progan": (lambda: keras_gans.ProGAN(
        image_shape=(8, 8, 1), fmap_base=32, fmap_max=8, batch_sizes=4,
        fade_images=8, stable_images=8, mbstd_group_size=2, seed=0), (SMALL,)),
    "cyclegan": (lambda: keras_gans.CycleGAN(
        image_shape=(32, 32, 3), generator_filters=4, residual_blocks=1,
        discriminator_filters=4, pool_size=4, ema_decay=0.9, seed=0),
        (COLOUR, COLOUR[::-1])),
    "pix2pix": (lambda: keras_gans.Pix2Pix(
        image_shape=(32, 32, 3), generator_filters=4, discriminator_filters=4, ema_decay=0.9,
        seed=0), (COLOUR, COLOUR[::-1])),
}


def outputs(model, seed=0):
    """What the model makes: 4 images from noise (classes 0 to 3 for a
    conditional one), or every direction's translations of 2 images."""
    if hasattr(model, "translate"):
        images = COLOUR[:2]
        return np.concatenate([np.asarray(model.translate(images, direction))
                               for direction in model.directions])
    labels = [0, 1, 2, 3] if model.conditional else None
    return np.asarray(model.generate(4, labels=labels, seed=seed))
