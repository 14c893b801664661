"""Loading GANs, exporting generators as SavedModels, and loading exports.

An export is a TensorFlow SavedModel directory whose `serving_default`
signature takes `z` (float32 `[N, latent_dim]`), plus `label` (int32 `[N]`)
for conditional models, and returns `{"images": float32 [N, H, W, C]}` in
[-1, 1], with a `metadata.json` beside the SavedModel files. It loads with
`tf.saved_model.load(path)` alone: no keras_gans, no Keras code.
"""

import datetime
import json
import os
import shlex
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_gans.files import atomic_path

METADATA_FILE = "metadata.json"


def load_gan(path):
    """Loads a `.keras` GAN with `safe_mode=True`; a clear error if unreadable."""
    import keras_gans  # noqa: F401  registers the serializable classes

    if not os.path.exists(path):
        raise FileNotFoundError(f"No saved model at {path}.")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        raise ValueError(
            f"{path} is not a loadable keras-gans model ({type(error).__name__}: "
            f"{str(error)[:300]})."
        ) from error


def count_parameters(model):
    return int(sum(np.prod(v.shape) for v in model.weights))


def export_generator(gan, path, metadata=None):
    """Writes `gan`'s sampling generator (the EMA one when on) as a SavedModel.

    The directory is written beside `path` and renamed into place, so an
    interrupted export leaves a previous export at `path` whole.

    Args:
        gan: a `BaseGAN`.
        path: the export directory.
        metadata: extra entries for `metadata.json` (dataset, epochs, ...).

    Returns:
        The metadata written.
    """
    generator = gan.sampling_generator
    latent_dim = gan.latent_dim
    archive = keras.export.ExportArchive()
    archive.track(generator)
    z_spec = tf.TensorSpec([None, latent_dim], tf.float32, name="z")

    if gan.conditional:
        def serve(z, label):
            images = generator([z, label], training=False)
            return {"images": tf.cast(images, tf.float32)}

        signature = [z_spec, tf.TensorSpec([None], tf.int32, name="label")]
    else:
        def serve(z):
            return {"images": tf.cast(generator(z, training=False), tf.float32)}

        signature = [z_spec]
    archive.add_endpoint("serving_default", serve, input_signature=signature)

    info = {
        "variant": type(gan).__name__,
        "image_shape": list(gan.image_shape),
        "latent_dim": latent_dim,
        "num_classes": gan.num_classes,
        "conditional": gan.conditional,
        "parameters": count_parameters(generator),
        "ema": gan.ema_generator is not None,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        **(metadata or {}),
    }
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)
        with open(os.path.join(tmp, METADATA_FILE), "w") as f:
            json.dump(info, f, indent=2)
    return info


def read_metadata(path):
    metadata_path = os.path.join(path, METADATA_FILE)
    if not os.path.exists(metadata_path):
        return {}
    with open(metadata_path) as f:
        return json.load(f)


class ExportedGenerator:
    """A generator exported by keras_gans, loaded with `tf.saved_model.load`.

    Attributes:
        metadata: the export's `metadata.json`.
        latent_dim, image_shape, num_classes, conditional: from the signature.
    """

    def __init__(self, path):
        if not os.path.isdir(path):
            raise FileNotFoundError(f"No exported generator at {path}.")
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(
                f"{path} is not a SavedModel directory (no saved_model.pb)."
            )
        try:
            self.saved_model = tf.saved_model.load(path)
            self.signature = self.saved_model.signatures["serving_default"]
        except Exception as error:
            raise ValueError(
                f"{path} holds a corrupt or unreadable SavedModel "
                f"({type(error).__name__}: {str(error)[:300]})."
            ) from error
        self.path = path
        self.metadata = read_metadata(path)
        inputs = self.signature.structured_input_signature[1]
        if "z" not in inputs:
            raise ValueError(f"{path}: serving_default takes no 'z' input.")
        self.latent_dim = int(inputs["z"].shape[-1])
        self.conditional = "label" in inputs
        self.image_shape = tuple(
            self.signature.structured_outputs["images"].shape[1:])
        self.num_classes = self.metadata.get("num_classes")
        self.class_names = self.metadata.get("class_names")

    def __repr__(self):
        return (f"ExportedGenerator({self.path!r}, variant="
                f"{self.metadata.get('variant')!r}, latent_dim={self.latent_dim})")

    def __call__(self, z, labels=None):
        """Runs the signature on latent vectors (and labels); returns numpy."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"This generator takes z of shape (N, {self.latent_dim}), got "
                f"{z.shape}."
            )
        if self.conditional:
            labels = self._labels(labels, len(z))
            outputs = self.signature(z=tf.constant(z), label=tf.constant(labels))
        else:
            if labels is not None:
                raise ValueError("This generator is unconditional: it takes no labels.")
            outputs = self.signature(z=tf.constant(z))
        return outputs["images"].numpy()

    def _labels(self, labels, n):
        labels = np.arange(n) % (self.num_classes or 10) if labels is None else labels
        labels = np.broadcast_to(np.asarray(labels), (n,))
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"Labels must be integers, got dtype {labels.dtype}.")
        if self.num_classes and labels.size and (
            labels.min() < 0 or labels.max() >= self.num_classes
        ):
            raise ValueError(
                f"Labels must lie in [0, {self.num_classes}), got values from "
                f"{labels.min()} to {labels.max()}."
            )
        return labels.astype(np.int32)

    def generate(self, n, labels=None, seed=None, batch_size=256):
        """Generates `n` images in [-1, 1] as float32 numpy `(n, H, W, C)`.

        Args:
            n: how many images.
            labels: for conditional generators, one class per image or one for
                all; `None` cycles through the classes.
            seed: integer seed for repeatable samples.
        """
        from keras_gans.models.base import latent_noise

        z = latent_noise(n, self.latent_dim, seed)
        labels = self._labels(labels, n) if self.conditional else labels
        outputs = [
            self(z[i:i + batch_size],
                 None if labels is None else labels[i:i + batch_size])
            for i in range(0, n, batch_size)
        ]
        if not outputs:
            return np.zeros((0, *self.image_shape), np.float32)
        return np.concatenate(outputs)


def load_generator(path):
    """Loads an exported generator directory as an `ExportedGenerator`."""
    return ExportedGenerator(path)
