"""keras-gans: generative adversarial networks that train with `model.fit`.

The package loads lazily: `import keras_gans` imports neither Keras nor its
backend until a name below is first used, which then loads every variant (so
saved models deserialise) and the modules listed in `__all__`. The
`keras-gans` command uses this to start the backend quietly.

Models train on the TensorFlow, JAX and PyTorch Keras backends; TensorFlow
itself is needed only for `tf.data` pipelines (on its backend), SavedModel
exports and tensorflow-datasets, which say so in one line where it is absent.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("ada", "augment", "callbacks", "data", "latent", "layers", "losses",
               "networks", "plotting", "schedules")
_NAMES = {
    "keras_gans.models": ("DCGAN", "GAN", "VARIANTS", "WGAN", "WGANGP", "AdversarialModel",
                          "ConditionalGAN", "NoiseToImage", "VanillaGAN", "get_variant",
                          "SNGAN", "ProGAN", "CycleGAN", "ImageToImage", "Pix2Pix",
                          "PairedImageToImage"),
    "keras_gans.pretrained": ("list_pretrained", "load_pretrained"),
    "keras_gans.run": ("train", "resume", "RunConfig", "RunResult", "RunError"),
    "keras_gans.saving": ("export_generator", "load_gan", "load_generator"),
}
__all__ = [*_SUBMODULES, *(name for names in _NAMES.values() for name in names)]


def __getattr__(name):
    if name not in __all__:
        raise AttributeError(f"module 'keras_gans' has no attribute {name!r}")
    for module in _SUBMODULES:
        globals()[module] = importlib.import_module(f"keras_gans.{module}")
    for module, names in _NAMES.items():
        loaded = importlib.import_module(module)
        globals().update({n: getattr(loaded, n) for n in names})
    return globals()[name]


def __dir__():
    return sorted([*globals(), *__all__])
