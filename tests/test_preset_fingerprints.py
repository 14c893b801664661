"""A preset made today still loads after a refactor: every shipped preset and
`saved_models/` export draws the images it drew when its fingerprint was
recorded (`tests/data/preset_fingerprints.json`), and its players score them
as they did.

A change that should alter what a preset draws (new weights, a retrained
preset) records the fingerprints again:

    python tests/test_preset_fingerprints.py
"""

import json
import os
import re

import numpy as np
import pytest

from keras_gans import pretrained, saving
from keras_gans.sampling import latent_noise

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FINGERPRINTS = os.path.join(REPOSITORY, "tests", "data", "preset_fingerprints.json")
EXPORTS = os.path.join(REPOSITORY, "saved_models")
PRESETS = sorted(os.listdir(pretrained.PRESETS_DIR))
SAVED_MODELS = sorted(os.listdir(EXPORTS)) if os.path.isdir(EXPORTS) else []
TOLERANCE = 1e-4
SEED = 0
COUNT = 2


def fingerprint(array):
    """A few numbers that move when any output moves: shape, mean, standard
    deviation and 16 values spread over the flattened array."""
    flat = np.asarray(array, np.float64).ravel()
    picks = np.linspace(0, flat.size - 1, 16).astype(int)
    return {
        "shape": list(np.shape(array)),
        "mean": round(float(flat.mean()), 7),
        "std": round(float(flat.std()), 7),
        "values": [round(float(v), 7) for v in flat[picks]],
    }


def translator_inputs(image_shape):
    """The fixed batch a translator's fingerprint is taken on."""
    return np.random.default_rng(SEED).uniform(-1, 1, (COUNT, *image_shape)).astype("float32")


def preset_outputs(name):
    """`{output: array}` of a preset: what it draws (or translates) with seed 0,
    and what each player makes of it."""
    model = pretrained.load_pretrained(name)
    if hasattr(model, "translate"):
        images = translator_inputs(model.image_shape)
        outputs = {}
        for direction, player in model.directions.items():
            outputs[f"translate_{direction}"] = model.translate(images, direction=direction)
            outputs[player] = np.asarray(getattr(model, player)(images, training=False))
        for player in ("discriminator_a", "discriminator_b"):
            outputs[player] = np.asarray(getattr(model, player)(images, training=False))
        return outputs
    images = model.generate(COUNT, seed=SEED)
    labels = model.sampling_labels(COUNT, None)
    inputs = [latent_noise(COUNT, model.latent_dim, SEED)]
    inputs += [] if labels is None else [labels]
    scores = model.discriminator(model.discriminator_inputs(images, labels), training=False)
    return {
        "generate": images,
        "generator": np.asarray(model.sample_images(model.generator, inputs)),
        "discriminator": np.asarray(scores),
    }


def export_outputs(name):
    """What a `saved_models/` export draws (or translates) with seed 0."""
    export = saving.load_export(os.path.join(EXPORTS, name))
    if hasattr(export, "translate"):
        return {"translate": export.translate(translator_inputs(export.image_shape))}
    return {"generate": export.generate(COUNT, seed=SEED)}


def record():
    """Every preset's and export's fingerprints, as the JSON file holds them."""
    return {
        "presets": {
            name: {key: fingerprint(value) for key, value in preset_outputs(name).items()}
            for name in PRESETS
        },
        "saved_models": {
            name: {key: fingerprint(value) for key, value in export_outputs(name).items()}
            for name in SAVED_MODELS
        },
    }


@pytest.fixture(scope="module")
def expected():
    with open(FINGERPRINTS) as f:
        return json.load(f)


def check(outputs, expected):
    assert sorted(outputs) == sorted(expected)
    for key, value in outputs.items():
        got, want = fingerprint(value), expected[key]
        assert got["shape"] == want["shape"], key
        np.testing.assert_allclose(
            [got["mean"], got["std"], *got["values"]],
            [want["mean"], want["std"], *want["values"]],
            atol=TOLERANCE,
            err_msg=key,
        )


def test_every_shipped_preset_and_export_has_a_fingerprint(expected):
    assert sorted(expected["presets"]) == PRESETS
    assert sorted(expected["saved_models"]) == SAVED_MODELS


@pytest.mark.parametrize("name", PRESETS)
def test_a_shipped_preset_draws_what_it_drew(name, expected):
    check(preset_outputs(name), expected["presets"][name])


@pytest.mark.parametrize("name", SAVED_MODELS)
def test_a_saved_model_export_draws_what_it_drew(name, expected):
    pytest.importorskip("tensorflow")
    check(export_outputs(name), expected["saved_models"][name])


if __name__ == "__main__":
    text = json.dumps(record(), indent=1)
    # One line per output: each fingerprint, the innermost object, on its own.
    text = re.sub(r'\{\s*"shape"[^{}]*\}', lambda m: json.dumps(json.loads(m[0])), text)
    os.makedirs(os.path.dirname(FINGERPRINTS), exist_ok=True)
    with open(FINGERPRINTS, "w") as f:
        f.write(text + "\n")
    print(f"Wrote {FINGERPRINTS}.")
