"""Draws images from every zoo preset on the current Keras backend from fixed
latent vectors (CycleGAN: translates fixed images), saves a small preset of
its own, and draws from the presets other backends saved in the same folder.

Usage: KERAS_BACKEND=jax python tests/scripts/portable_presets.py FOLDER [--load-only]

Writes `FOLDER/<backend>.npz` (or `FOLDER/<backend>_loads.npz` with
--load-only) with `zoo/<preset>`, `own` and `loaded/<backend>` images, and
the preset `FOLDER/<backend>_preset`.
"""

import os
import sys

import keras
import numpy as np

import keras_gans

SAMPLES = 4


def fixed_latents(latent_dim):
    return np.random.default_rng(7).standard_normal((SAMPLES, latent_dim)).astype("float32")


def draw(model):
    """The model's images of the fixed inputs, float32 in [-1, 1]."""
    if isinstance(model, keras_gans.CycleGAN):
        images = np.random.default_rng(7).uniform(-1, 1, (SAMPLES, *model.image_shape))
        return model.translate(images.astype("float32"), direction="a2b")
    labels = np.arange(SAMPLES) % model.num_classes if model.conditional else None
    return model.generate_from(fixed_latents(model.latent_dim), labels)


def main(folder, load_only=False):
    name = keras.backend.backend()
    results = {}
    if not load_only:
        for preset in keras_gans.list_pretrained():
            results[f"zoo/{preset}"] = draw(keras_gans.AdversarialModel.from_preset(preset))
        keras.utils.set_random_seed(0)
        own = keras_gans.DCGAN(image_shape=(28, 28, 1), latent_dim=8, seed=0)
        own.compile()
        own.save_to_preset(os.path.join(folder, f"{name}_preset"))
        results["own"] = draw(own)
    for entry in sorted(os.listdir(folder)):
        if entry.endswith("_preset") and entry != f"{name}_preset":
            other = entry[:-len("_preset")]
            loaded = keras_gans.DCGAN.from_preset(os.path.join(folder, entry))
            results[f"loaded/{other}"] = draw(loaded)
    np.savez(os.path.join(folder, f"{name}_loads.npz" if load_only else f"{name}.npz"),
             **results)


if __name__ == "__main__":
    main(sys.argv[1], load_only="--load-only" in sys.argv[2:])
