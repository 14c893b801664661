"""Builds the zoo's presets in `keras_gans/presets/` from the exports in `saved_models/`.

The zoo's training runs exported their (EMA) generators only, as SavedModels;
their discriminators were not kept. For every zoo model this script rebuilds
the model of its training command with the command line's own option
handling, copies the export's generator weights into it (the same variables,
in the same order), checks that the rebuilt generator draws the same images
as the export from the same z, and writes a preset:

- the generator: the export's trained weights;
- the discriminator: freshly initialised (`"discriminator": "untrained"` in
  `metadata.json`), so fine-tuning starts with a critic that has to catch up;
- compiled with the command's optimizers at their initial learning rates;
- no EMA copy (`ema_decay` off): the generator already holds the averaged
  weights, and the preset stays half the size.

    python benchmarks/build_presets.py [--exports saved_models] [--out keras_gans/presets]

Presets of new runs need no conversion: `keras-gans train` writes a complete
preset (both players) to `OUT/preset`, which `build_zoo.py` installs.
"""

import argparse
import dataclasses
import os
import shlex

import numpy as np
import tensorflow as tf

from keras_gans import cli, models, run, saving
from keras_gans.sampling import latent_noise

PROVENANCE = {
    "generator": "trained: the weights of the SavedModel export of the run (EMA average)",
    "discriminator": "untrained: the run did not keep it; freshly initialised",
    "optimizers": "the training command's, at their initial learning rates, no state",
}


def recipe_model(command, num_classes, class_names=None):
    """The compiled model a `keras-gans train ...` command builds, without EMA
    and with constant learning rates."""
    config = cli.train_config(cli.build_parser().parse_args(shlex.split(command)[1:]))
    config = dataclasses.replace(config, ema_decay=None, lr_schedule="constant")
    classes = {"num_classes": num_classes, "class_names": class_names} if num_classes else {}
    return run.build_model(config, {"image_shape": (28, 28, 1), **classes},
                           steps_per_epoch=1, epochs=config.epochs or 5)


def transfer_generator(export_dir, model, atol=1e-5):
    """Copies the export's generator weights into `model.generator` and checks
    that both draw the same images from the same z."""
    export = tf.saved_model.load(export_dir)
    source, target = export.variables, model.generator.variables
    shapes = [tuple(v.shape) for v in source], [tuple(v.shape) for v in target]
    if shapes[0] != shapes[1]:
        raise SystemExit(f"{export_dir}: the export's variables {shapes[0]} do not match "
                         f"the rebuilt generator's {shapes[1]}.")
    for variable, value in zip(target, source, strict=True):
        variable.assign(value.numpy())
    z = latent_noise(64, model.latent_dim, seed=0)
    labels = np.arange(64, dtype=np.int32) % 10
    inputs = {"z": tf.constant(z)}
    if model.conditional:
        inputs["label"] = tf.constant(labels)
    expected = export.signatures["serving_default"](**inputs)["images"].numpy()
    drawn = model.generate_from(z, labels if model.conditional else None)
    difference = float(np.max(np.abs(expected - drawn)))
    if difference > atol:
        raise SystemExit(f"{export_dir}: the rebuilt generator differs from the export "
                         f"by {difference:.2e} (> {atol}).")
    return difference


def build_preset(export_dir, out_dir):
    metadata = saving.read_metadata(export_dir)
    model = recipe_model(metadata["command"], metadata.get("num_classes"),
                         metadata.get("class_names"))
    difference = transfer_generator(export_dir, model)
    name = os.path.basename(os.path.normpath(export_dir))
    if name not in type(model).presets:
        raise SystemExit(f"{name} is not listed in {type(model).__name__}.presets.")
    dropped = ("parameters", "ema", "created", "keras_version", "tensorflow_version")
    model.save_to_preset(os.path.join(out_dir, name), metadata={
        **{key: value for key, value in metadata.items() if key not in dropped},
        **PROVENANCE,
        "export_max_difference": difference,
        "ema_during_training": metadata.get("ema", False),
    })
    print(f"{name}: {type(model).__name__}, generator matches its export to "
          f"{difference:.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", default="saved_models")
    parser.add_argument("--out", default=os.path.join("keras_gans", "presets"))
    args = parser.parse_args()
    zoo = {name for cls in models.VARIANTS.values() for name in cls.presets}
    for name in sorted(zoo):
        build_preset(os.path.join(args.exports, name), args.out)


if __name__ == "__main__":
    main()
