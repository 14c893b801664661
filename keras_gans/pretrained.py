"""The preset layer: the pretrained zoo and user presets, by name or path.

A preset is a directory written by `model.save_to_preset(directory)` (see
`keras_gans.saving`); it loads back as the whole compiled model, ready for
`fit`. The zoo's presets ship inside the package, in
`keras_gans/presets/<name>/`, and each variant lists the ones it owns in its
`presets` attribute. Models are looked up by name in, in order:

1. the directories listed in the `KERAS_GANS_MODELS` environment variable
   (separated by `os.pathsep`), which may also hold SavedModel exports;
2. the package's `presets/`.
"""

import os
import warnings

from keras_gans.files import is_preset, read_metadata

PRESETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "presets")


def model_dirs():
    """The directories searched for pretrained models, in order."""
    extra = os.environ.get("KERAS_GANS_MODELS", "")
    return [d for d in extra.split(os.pathsep) if d] + [PRESETS_DIR]


def _is_export(path):
    return os.path.exists(os.path.join(path, "saved_model.pb"))


def _registry():
    models = {}
    for directory in model_dirs():
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name not in models and (is_preset(path) or _is_export(path)):
                models[name] = path
    return models


def list_pretrained():
    """Lists the pretrained models: a dict of name -> metadata (with `path`).

    Example:

    ```python
    for name, info in keras_gans.list_pretrained().items():
        print(name, info["variant"], info.get("fid"))
    ```
    """
    models = {}
    for name, path in _registry().items():
        try:
            models[name] = {"path": path, **read_metadata(path)}
        except ValueError as error:
            warnings.warn(f"Skipping the model in {path}: {error}", stacklevel=2)
    return models


def pretrained_path(name):
    """The directory of a pretrained model name or a path; a clear error if unknown.

    A bare name is looked up among the pretrained models first, so a folder of
    the same name in the working directory does not replace it: write
    `./name` for that folder.
    """
    models = _registry()
    if name in models:
        return models[name]
    if os.path.isdir(name):
        return name
    known = ", ".join(sorted(models)) or "none found"
    raise ValueError(
        f"Unknown pretrained model {name!r}. Known models: {known}. "
        f"Searched: {', '.join(model_dirs())}."
    )


def load_pretrained(name, trust=False):
    """Loads a pretrained model by name, or a preset or export directory by path.

    Args:
        name: a pretrained model's name, or a directory.
        trust: load a SavedModel export without checking its graph first
            (`keras_gans.saving.check_generator_graph`), which refuses graphs
            with ops a generator does not need, such as file access. Only for
            exports from a source you trust. Presets load with Keras's
            `safe_mode` either way.

    Returns:
        For a preset, the compiled model (`generate(n, labels=None, seed=None)`,
        `fit`, ...); for a SavedModel export, an `ExportedGenerator` with
        `generate` and `metadata`, or an `ExportedTranslator` with
        `translate` for an image-to-image model's.

    Example:

    ```python
    gan = keras_gans.load_pretrained("dcgan_fashion_mnist")
    images = gan.generate(16, seed=0)  # (16, 28, 28, 1) in [-1, 1]
    ```
    """
    from keras_gans import saving

    path = pretrained_path(name)
    return saving.load_preset(path) if is_preset(path) else saving.load_export(path,
                                                                               trust=trust)
