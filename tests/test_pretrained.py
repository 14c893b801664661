"""The pretrained zoo: presets shipped in the package, loading them as whole
models, sampling, fine-tuning, the serving export, and the command line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_gans
from keras_gans import cli, pretrained, saving
from keras_gans.classifier import load_classifier

# The generators from noise; translators (task "image_to_image") are tested
# in test_cyclegan.py.
SHIPPED = sorted(name for name, info in pretrained.list_pretrained().items()
                 if info.get("task") != "image_to_image")
CONDITIONAL = [name for name in SHIPPED if pretrained.list_pretrained()[name]["conditional"]]
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORTS = os.path.join(REPOSITORY, "saved_models")

pytestmark = pytest.mark.skipif(not SHIPPED, reason="keras_gans/presets/ holds no presets")


def test_every_variant_lists_the_presets_shipped_for_it():
    listed = {name: cls for cls in keras_gans.VARIANTS.values() for name in cls.presets}
    assert sorted(listed) == sorted(os.listdir(pretrained.PRESETS_DIR))
    for name, cls in listed.items():
        assert pretrained.list_pretrained()[name]["variant"] == cls.__name__


@pytest.mark.parametrize("name", SHIPPED)
def test_metadata_records_recipe_evaluation_and_provenance(name):
    info = pretrained.list_pretrained()[name]
    for key in ("variant", "dataset", "latent_dim", "class_names", "parameters", "epochs",
                "wall_time_seconds", "command", "fid", "kid", "coverage"):
        assert key in info, key
    # The CLI's training command, or the equal-time benchmark that trained it.
    assert info["command"].startswith(("keras-gans train ", "python benchmarks/equal_time.py "))
    assert len(info["coverage"]) == len(info["class_names"])
    assert sum(info["coverage"]) == pytest.approx(1.0)
    assert info["discriminator"].startswith(("untrained", "trained"))
    for filename in ("config.json", "model.weights.h5", "samples.png"):
        assert os.path.exists(os.path.join(info["path"], filename))


@pytest.mark.parametrize("name", SHIPPED)
def test_from_preset_gives_the_compiled_model_of_its_variant(name):
    cls = keras_gans.get_variant(name.split("_", 1)[0])
    model = cls.from_preset(name)
    assert type(model) is cls and model.compiled
    assert int(model.g_optimizer.iterations) == 0
    images = model.generate(10, seed=3)
    shape = tuple(pretrained.list_pretrained()[name]["image_shape"])
    assert images.shape == (10, *shape) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.1
    np.testing.assert_allclose(images, model.generate(10, seed=3), atol=1e-6)
    assert not np.allclose(images, model.generate(10, seed=4))
    if os.path.isdir(os.path.join(EXPORTS, name)):  # the generator is the export's
        labels = np.arange(10) % model.num_classes if model.conditional else None
        export = saving.load_generator(os.path.join(EXPORTS, name))
        np.testing.assert_allclose(images, export.generate(10, seed=3, labels=labels),
                                   atol=1e-5)


def test_from_preset_refuses_another_variants_preset():
    with pytest.raises(ValueError, match="holds a DCGAN, not a WGAN .*wgan_fashion_mnist"):
        keras_gans.WGAN.from_preset("dcgan_fashion_mnist")


def test_a_preset_fine_tunes_with_fit_and_saves_as_a_preset(fashion_arrays, tmp_path):
    from conftest import batches

    gan = keras_gans.DCGAN.from_preset("dcgan_fashion_mnist")
    before = gan.generator.get_weights()
    gan.fit(batches(fashion_arrays[0][:64], batch_size=32), epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations) == 2 and int(gan.g_optimizer.iterations) == 2
    assert any(not np.allclose(a, b) for a, b in zip(before, gan.generator.get_weights(),
                                                      strict=True))
    gan.save_to_preset(str(tmp_path / "mine"), metadata={"dataset": "fashion_mnist"})
    loaded = keras_gans.load_pretrained(str(tmp_path / "mine"))
    np.testing.assert_array_equal(loaded.generate(4, seed=0), gan.generate(4, seed=0))
    assert saving.read_metadata(str(tmp_path / "mine"))["dataset"] == "fashion_mnist"


def test_a_presets_export_loads_with_tensorflow_alone(tmp_path):
    model = keras_gans.ConditionalGAN.from_preset(CONDITIONAL[0]) if CONDITIONAL else (
        keras_gans.load_pretrained(SHIPPED[0]))
    model.export(str(tmp_path / "export"))
    code = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        f"serve = tf.saved_model.load({str(tmp_path / 'export')!r})"
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
    info = pretrained.list_pretrained()[name]
    generator = keras_gans.load_pretrained(name)
    classes = generator.num_classes
    labels = np.repeat(np.arange(classes), 20)
    images = generator.generate(len(labels), labels=labels, seed=0)
    classifier = load_classifier(info["dataset"], image_shape=tuple(info["image_shape"]))
    predicted = classifier.predict(images, verbose=0).argmax(axis=1)
    accuracy = (predicted == labels).mean()
    # The images follow their labels: twice as often as chance, and twice as
    # often as they follow the labels shifted by any number of classes.
    shifted = max((predicted == (labels + k) % classes).mean() for k in range(1, classes))
    assert accuracy > 2 * max(1.0 / classes, shifted)
    with pytest.raises(ValueError, match="Labels must lie in"):
        generator.generate(2, labels=[0, classes])


def test_unknown_name_lists_the_known_models():
    with pytest.raises(ValueError, match="Known models: .*" + SHIPPED[0]):
        keras_gans.load_pretrained("no_such_model")


def test_cli_list_and_sample_by_name_and_by_path(tmp_path, capsys):
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in SHIPPED)
    for model in (SHIPPED[0], pretrained.pretrained_path(SHIPPED[-1])):
        out = tmp_path / "grid.png"
        assert cli.main(["sample", model, "--n", "16", "--out", str(out)]) == 0
        assert out.stat().st_size > 1000


def test_cli_evaluate_prints_one_json_line(capsys):
    name = CONDITIONAL[0] if CONDITIONAL else SHIPPED[0]
    assert cli.main(["evaluate", pretrained.pretrained_path(name), "--n", "500"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"fid", "kid", "is", "coverage"} <= set(result)
    assert ("cond_acc" in result) == bool(CONDITIONAL)
