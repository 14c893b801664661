"""The pretrained zoo: generators exported to `saved_models/<name>/`.

Each model directory is a SavedModel export (see `keras_gans.saving`) with a
`metadata.json` and a `samples.png`. Models are looked up in, in order:

1. the directories listed in the `KERAS_GANS_MODELS` environment variable
   (separated by `os.pathsep`);
2. `saved_models/` of the keras-gans source tree (a git checkout installed
   with `pip install -e .`).
"""

import os

from keras_gans.saving import ExportedGenerator, read_metadata

SOURCE_MODELS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "saved_models")


def model_dirs():
    """The directories searched for pretrained models, in order."""
    extra = os.environ.get("KERAS_GANS_MODELS", "")
    return [d for d in extra.split(os.pathsep) if d] + [SOURCE_MODELS_DIR]


def _registry():
    models = {}
    for directory in model_dirs():
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if name not in models and os.path.exists(
                os.path.join(path, "saved_model.pb")
            ):
                models[name] = path
    return models


def list_pretrained():
    """Lists the pretrained generators: a dict of name -> metadata.

    Example:

    ```python
    for name, info in keras_gans.list_pretrained().items():
        print(name, info["variant"], info.get("fid"))
    ```
    """
    return {name: {"path": path, **read_metadata(path)}
            for name, path in _registry().items()}


def pretrained_path(name):
    """The directory of pretrained model `name`; a clear error if unknown."""
    models = _registry()
    if name not in models:
        known = ", ".join(sorted(models)) or "none found"
        raise ValueError(
            f"Unknown pretrained model {name!r}. Known models: {known}. "
            f"Searched: {', '.join(model_dirs())}."
        )
    return models[name]


def load_pretrained(name):
    """Loads a pretrained generator by name, or an export directory by path.

    Returns:
        An `ExportedGenerator` with `generate(n, labels=None, seed=None)` and
        `metadata`.

    Example:

    ```python
    generator = keras_gans.load_pretrained("dcgan_fashion_mnist")
    images = generator.generate(16, seed=0)  # (16, 28, 28, 1) in [-1, 1]
    ```
    """
    path = name if os.path.isdir(name) else pretrained_path(name)
    return ExportedGenerator(path)
