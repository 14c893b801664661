"""Evaluation in colour: classifiers by image size, folder classifiers, emoji, the CLI."""

import json
import os
import zlib

import numpy as np
import pytest
from PIL import Image

import keras_gans
from keras_gans import classifier, cli, emoji, evaluation

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (40, 60, 230)}


class NoiseGenerator:
    """A "generator" of uniform noise images."""

    conditional = False
    num_classes = None

    def __init__(self, image_shape):
        self.image_shape = tuple(image_shape)

    def generate(self, n, labels=None, seed=None):
        return np.random.default_rng(seed).uniform(
            -1, 1, (n, *self.image_shape)).astype(np.float32)


def write_png(path, pixels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path)


def square(colour, seed, size=16, mode="RGB"):
    """A coloured square at a random place on white (transparent for RGBA)."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((size, size, 4), np.uint8) if mode == "RGBA" else np.full(
        (size, size, 3), 255, np.uint8)
    top, left = rng.integers(0, size // 2, 2)
    pixels[top:top + size // 2, left:left + size // 2, :3] = colour
    if mode == "RGBA":
        pixels[top:top + size // 2, left:left + size // 2, 3] = 255
    return pixels


def class_folders(root, per_class=10, size=16):
    for name, colour in COLOURS.items():
        for i in range(per_class):
            write_png(os.path.join(root, name, f"{i}.png"), square(colour, i, size))
    return str(root)


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    directory = tmp_path_factory.getbasetemp() / "kgcache"
    monkeypatch.setenv("KERAS_GANS_CACHE", str(directory))
    return directory


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    """Three class folders of 16x16 coloured squares, its classifier cached."""
    return class_folders(tmp_path_factory.mktemp("data") / "squares")


def trained_folder_classifier(folder, image_shape=(16, 16, 3)):
    return classifier.folder_classifier_extractor(folder, image_shape, epochs=2)


@pytest.mark.parametrize("image_shape, filters", [
    ((28, 28, 1), (32, 64, 128)), ((32, 32, 3), (32, 64, 128)),
    ((64, 64, 3), (16, 32, 64, 128)), ((16, 16, 3), (64, 128)),
])
def test_classifier_blocks_halve_the_image_to_at_most_four_pixels(image_shape, filters):
    assert classifier.block_filters(image_shape) == filters
    model = classifier.build_classifier(image_shape, 9)
    assert model.get_layer("features").input.shape[-1] == 128 * (
        (image_shape[0] // 2 ** len(filters)) ** 2)
    assert model.output.shape[-1] == 9


def test_fashion_mnist_keeps_its_weights_file_and_architecture():
    path = classifier.classifier_weights_path("fashion_mnist")
    assert os.path.basename(path) == "fashion_mnist_classifier.weights.h5"
    model = classifier.load_classifier("fashion_mnist")
    assert model.name == "fashion_mnist_classifier" and model.count_params() == 242_218


@pytest.mark.parametrize("size", [32, 64])
def test_shipped_emoji_classifiers_are_small_and_load(size):
    path = classifier.classifier_weights_path("emoji", size)
    assert os.path.basename(path) == f"emoji_{size}_classifier.weights.h5"
    assert os.path.getsize(path) <= 2 * 1024 * 1024
    extractor = classifier.classifier_extractor("emoji", image_shape=(size, size, 3))
    features, logits = extractor(np.zeros((2, size, size, 3), np.float32))
    assert extractor.name == f"emoji_{size}_classifier"
    assert features.shape == (2, 128) and logits.shape == (2, 9)


def test_an_auxiliary_head_trains_with_the_classifier_and_is_dropped():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 16, 16, 3), dtype=np.uint8)
    model = classifier.fit_classifier(images, rng.integers(0, 3, 32), 3, epochs=1,
                                      batch_size=16, auxiliary_labels=np.arange(32) % 2,
                                      augment=classifier.augmenter((16, 16, 3), flip=True,
                                                                   colour=0.2))
    assert model.output.shape[-1] == 3
    assert "auxiliary" not in {layer.name for layer in model.layers}


def test_no_emoji_classifier_at_an_unshipped_size():
    with pytest.raises(ValueError, match="ships at 32 and 64 pixels"):
        evaluation.feature_extractor("classifier", "emoji", image_shape=(48, 48, 3))


def test_folder_classifier_trains_once_and_is_cached(tmp_path, cache, capsys):
    squares = class_folders(tmp_path / "squares", per_class=4)
    extractor = trained_folder_classifier(squares)
    assert "Training a classifier on the 3 class folders" in capsys.readouterr().err
    path = classifier.folder_classifier_path(squares, (16, 16, 3))
    assert os.path.dirname(path) == str(cache / "classifiers")
    assert extractor.info["class_names"] == ["blue", "green", "red"]
    again = classifier.folder_classifier_extractor(squares, (16, 16, 3))
    assert capsys.readouterr().err == ""
    images = np.zeros((2, 16, 16, 3), np.float32)
    np.testing.assert_allclose(again(images)[0], extractor(images)[0], rtol=1e-5)
    assert classifier.folder_classifier_path(squares, (8, 8, 3)) != path


def test_folder_classifier_needs_class_folders(tmp_path):
    for i in range(4):
        write_png(str(tmp_path / "flat" / f"{i}.png"), square((0, 0, 0), i))
    with pytest.raises(ValueError, match="no class folders"):
        classifier.folder_classifier_extractor(str(tmp_path / "flat"), (16, 16, 3))


def test_evaluate_a_folder_without_test_split_compares_all_its_images(squares):
    trained_folder_classifier(squares)
    result = evaluation.evaluate_generator(NoiseGenerator((16, 16, 3)), data_dir=squares,
                                           dataset="squares", n=20, batch_size=8)
    assert result["real_split"] == "all" and result["n_real"] == 30
    assert result["feature_space"].startswith("folder_classifier_")
    assert len(result["coverage"]) == len(result["coverage_real"]) == 3
    assert sum(result["coverage_real"]) == pytest.approx(1.0)
    assert 0 <= result["classes_covered_real"] <= 3
    json.loads(json.dumps(result))


def test_evaluate_a_folder_with_train_and_test_folders_uses_its_test_split(tmp_path):
    class_folders(tmp_path / "split" / "train", per_class=4)
    class_folders(tmp_path / "split" / "test", per_class=2)
    result = evaluation.evaluate_generator(
        NoiseGenerator((16, 16, 3)), dataset="split", data_dir=str(tmp_path / "split"),
        n=10, extractor=trained_folder_classifier(str(tmp_path / "split")))
    assert result["real_split"] == "test" and result["n_real"] == 6


def test_folder_images_are_brought_to_the_generators_shape(squares):
    extractor = classifier.folder_classifier_extractor(squares, (8, 8, 1), epochs=1)
    result = evaluation.evaluate_generator(NoiseGenerator((8, 8, 1)), dataset="squares",
                                           data_dir=squares, n=10, extractor=extractor)
    assert result["n_real"] == 30 and result["fid"] > 0


def test_inception_offline_is_one_clear_line(squares, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(evaluation.metrics, "inception_v3_extractor", offline)
    with pytest.raises(ValueError, match="could not be loaded .*connect to the internet"):
        evaluation.evaluate_generator(NoiseGenerator((16, 16, 3)), data_dir=squares,
                                      dataset="squares", n=10, features="inception")


def test_a_weights_file_as_the_feature_space(squares, tmp_path):
    path = str(tmp_path / "mine.weights.h5")
    classifier.save_classifier_weights(classifier.build_classifier((16, 16, 3), 3), path)
    result = evaluation.evaluate_generator(NoiseGenerator((16, 16, 3)), data_dir=squares,
                                           dataset="squares", n=10, features=path)
    assert result["feature_space"] == "mine.weights.h5"
    assert len(result["coverage"]) == 3


def test_unknown_features_and_missing_files(squares):
    generator = NoiseGenerator((16, 16, 3))
    with pytest.raises(ValueError, match="features must be"):
        evaluation.evaluate_generator(generator, data_dir=squares, n=10, features="vgg")
    with pytest.raises(FileNotFoundError, match="No feature extractor file"):
        evaluation.evaluate_generator(generator, data_dir=squares, n=10,
                                      features="/nonexistent/x.keras")


def test_fid_monitor_on_a_folder(squares):
    trained_folder_classifier(squares)
    gan = keras_gans.DCGAN(image_shape=(16, 16, 3), seed=0)
    monitor = evaluation.FIDMonitor(n=10, dataset="squares", data_dir=squares)
    monitor.set_model(gan)
    monitor.on_train_begin()
    logs = {}
    monitor.on_epoch_end(0, logs)
    assert set(logs) == {"fid", "kid", "kid_std"}
    assert monitor.reference.info["real_split"] == "all"


def fake_emoji_package(root, count=40):
    """An emoji-datasource package of `count` emoji with RGBA 64x64 images."""
    entries = []
    image_dir = os.path.join(root, "img", "google", "64")
    for i in range(count):
        code_point = f"{0x1F600 + i:X}"
        category = emoji.CATEGORIES[i % len(emoji.CATEGORIES)]
        entries.append({"unified": code_point, "image": f"{code_point.lower()}.png",
                        "category": category, "short_name": f"e{i}", "sort_order": i,
                        "has_img_google": True})
        colour = tuple(int(c) for c in np.random.default_rng(i).integers(0, 256, 3))
        write_png(os.path.join(image_dir, f"{code_point.lower()}.png"),
                  square(colour, i, 64, mode="RGBA"))
    with open(os.path.join(root, "emoji.json"), "w") as f:
        json.dump(entries, f)
    test_split = [e for e in entries if zlib.crc32(e["unified"].lower().encode()) % 10 == 0]
    return str(root), len(test_split)


@pytest.fixture(scope="module")
def emoji_package(tmp_path_factory):
    return fake_emoji_package(tmp_path_factory.mktemp("emoji_package"))


def test_evaluate_emoji_against_its_style_and_split(emoji_package):
    package, n_test = emoji_package
    assert n_test > 0
    result = evaluation.evaluate_generator(NoiseGenerator((32, 32, 3)), dataset="emoji",
                                           data_dir=package, n=20)
    assert result["feature_space"] == "emoji_32_classifier"
    assert result["style"] == "google" and result["real_split"] == "test"
    assert result["n_real"] == n_test
    assert len(result["coverage"]) == len(result["coverage_real"]) == 9


def export(tmp_path, metadata, image_shape=(16, 16, 3)):
    path = str(tmp_path / "generator")
    keras_gans.DCGAN(image_shape=image_shape, seed=0).export(path, metadata=metadata)
    return path


def test_cli_evaluate_takes_the_dataset_from_the_metadata(squares, tmp_path, capsys):
    trained_folder_classifier(squares)
    model = export(tmp_path, {"dataset": "squares", "data_dir": squares})
    assert cli.main(["evaluate", model, "--n", "12"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["dataset"] == "squares" and result["real_split"] == "all"
    assert result["n"] == 12 and result["n_real"] == 30


def test_cli_evaluate_with_data_dir(squares, tmp_path, capsys):
    trained_folder_classifier(squares)
    model = export(tmp_path, {"dataset": "digits"})
    assert cli.main(["evaluate", model, "--data-dir", squares, "--n", "12"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["dataset"] == "squares" and result["n_real"] == 30


def test_cli_evaluate_emoji(emoji_package, tmp_path, capsys):
    package, n_test = emoji_package
    model = export(tmp_path, {"dataset": "emoji", "style": "google"}, (32, 32, 3))
    assert cli.main(["evaluate", model, "--data-dir", package, "--n", "12",
                     "--split", "all"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["dataset"] == "emoji" and result["real_split"] == "all"
    assert result["n_real"] == 40 and result["feature_space"] == "emoji_32_classifier"


@pytest.mark.parametrize("metadata, fragment", [
    ({"dataset": "digits"}, "dataset 'digits' was not found: pass --data-dir"),
    ({"dataset": "digits", "data_dir": "/nonexistent/digits"},
     "trained on /nonexistent/digits, which is not there: pass --data-dir"),
    ({}, "records no dataset: pass --dataset NAME or --data-dir DIR"),
])
def test_cli_evaluate_refuses_a_dataset_it_cannot_find(metadata, fragment, tmp_path,
                                                        capsys, monkeypatch):
    monkeypatch.setattr("keras_gans.data.load_from_tfds", _no_tfds)
    model = export(tmp_path, metadata)
    assert cli.main(["evaluate", model, "--n", "10"]) == 2
    error = capsys.readouterr().err.strip()
    assert fragment in error and len(error.splitlines()) == 1


def _no_tfds(name, *args, **kwargs):
    raise ValueError(f"tfds has no {name!r} offline")
