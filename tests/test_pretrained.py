"""The pretrained zoo in saved_models/: loading, sampling, the signature
contract, and the command line on shipped models."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_gans
from keras_gans import cli, pretrained
from keras_gans.classifier import load_classifier

SHIPPED = sorted(pretrained.list_pretrained())
CONDITIONAL = [name for name in SHIPPED if pretrained.list_pretrained()[name]["conditional"]]

pytestmark = pytest.mark.skipif(not SHIPPED, reason="saved_models/ holds no models")


def test_the_zoo_covers_the_core_variants():
    variants = {info["variant"] for info in pretrained.list_pretrained().values()}
    assert {"VanillaGAN", "DCGAN", "ConditionalGAN"} <= variants


@pytest.mark.parametrize("name", SHIPPED)
def test_metadata_records_recipe_and_evaluation(name):
    info = pretrained.list_pretrained()[name]
    for key in ("variant", "dataset", "latent_dim", "class_names", "parameters", "epochs",
                "wall_time_seconds", "command", "fid", "kid", "coverage"):
        assert key in info, key
    assert info["command"].startswith("keras-gans train ")
    assert len(info["coverage"]) == 10 and sum(info["coverage"]) == pytest.approx(1.0)
    assert os.path.exists(os.path.join(info["path"], "samples.png"))


@pytest.mark.parametrize("name", SHIPPED)
def test_generate_gives_images_in_range_and_repeats_by_seed(name):
    generator = keras_gans.load_pretrained(name)
    images = generator.generate(10, seed=3)
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.1
    np.testing.assert_allclose(images, generator.generate(10, seed=3), atol=1e-6)
    assert not np.allclose(images, generator.generate(10, seed=4))


@pytest.mark.parametrize("name", SHIPPED)
def test_export_loads_with_tensorflow_alone(name):
    code = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        f"serve = tf.saved_model.load({pretrained.pretrained_path(name)!r})"
        ".signatures['serving_default']\n"
        "inputs = {'z': tf.random.normal([3, 100])}\n"
        "if 'label' in serve.structured_input_signature[1]:\n"
        "    inputs['label'] = tf.constant([0, 1, 2], tf.int32)\n"
        "images = serve(**inputs)['images'].numpy()\n"
        "print(json.dumps({'shape': images.shape, 'keras_gans': 'keras_gans' in sys.modules}))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=True, timeout=300)
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert result == {"shape": [3, 28, 28, 1], "keras_gans": False}


@pytest.mark.parametrize("name", CONDITIONAL)
def test_labels_steer_the_conditional_model(name):
    generator = keras_gans.load_pretrained(name)
    labels = np.repeat(np.arange(10), 20)
    images = generator.generate(len(labels), labels=labels, seed=0)
    predicted = load_classifier("fashion_mnist").predict(images, verbose=0).argmax(axis=1)
    assert (predicted == labels).mean() > 0.8
    with pytest.raises(ValueError, match="Labels must lie in"):
        generator.generate(2, labels=[0, 10])


def test_unknown_name_lists_the_known_models():
    with pytest.raises(ValueError, match="Known models: .*" + SHIPPED[0]):
        keras_gans.load_pretrained("no_such_model")


def test_cli_list_and_sample(tmp_path, capsys):
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in SHIPPED)
    out = tmp_path / "grid.png"
    assert cli.main(["sample", SHIPPED[0], "--n", "16", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_cli_evaluate_prints_one_json_line(capsys):
    name = CONDITIONAL[0] if CONDITIONAL else SHIPPED[0]
    assert cli.main(["evaluate", name, "--n", "500"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"fid", "kid", "is", "coverage"} <= set(result)
    assert ("cond_acc" in result) == bool(CONDITIONAL)
