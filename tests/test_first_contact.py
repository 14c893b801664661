"""A user's own folders on first contact: any folder is scored offline against
its floor, trained extractors say what they do, channels follow the data, and
a CycleGAN trained on folders is evaluated."""

import json
import os
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

import keras_gans
from keras_gans import classifier, cli, data, evaluation, metrics

URL_FAILURE = ("URL fetch failure on https://storage.googleapis.com/tensorflow/"
               "keras-applications/inception_v3/inception_v3_weights_tf_dim_ordering_tf_"
               "kernels.h5: None -- [Errno -3] Temporary failure in name resolution")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def fast_extractors(cache, monkeypatch):
    """One cache for the module, and extractors trained for a few steps only."""
    monkeypatch.setenv("KERAS_GANS_CACHE", str(cache))
    monkeypatch.setattr(classifier, "SELF_SUPERVISED_STEPS", 3)
    monkeypatch.setattr(classifier, "SELF_SUPERVISED_BATCH_SIZE", 16)
    monkeypatch.setattr(classifier, "FOLDER_TRAINING_STEPS", 3)


def drawing(kind, side, rng, colour=None):
    """A square outline (kind 0) or a cross (kind 1) on black, with noise."""
    image = np.zeros((side, side), np.uint8)
    quarter = side // 4
    if kind == 0:
        image[quarter:-quarter, quarter:-quarter] = 220
        image[quarter + 2:-quarter - 2, quarter + 2:-quarter - 2] = 0
    else:
        image[:, side // 2 - 1:side // 2 + 1] = 220
        image[side // 2 - 1:side // 2 + 1, :] = 220
    image = np.clip(image + rng.integers(0, 30, image.shape), 0, 255).astype(np.uint8)
    if colour is None:
        return Image.fromarray(image)
    return Image.fromarray((image[..., None] * np.asarray(colour) / 255).astype(np.uint8))


def write_folder(directory, n, side=16, classes=False, colour=None, seed=0):
    """`n` drawings of both kinds, flat or in the class folders `square/`, `cross/`."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        kind = i % 2
        folder = directory / ("square", "cross")[kind] if classes else directory
        folder.mkdir(parents=True, exist_ok=True)
        drawing(kind, side, rng, colour).save(folder / f"{i:03d}.png")
    return str(directory)


def last_json(captured):
    return json.loads(captured.out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def flat_dcgan(tmp_path_factory):
    """An untrained DCGAN of 16x16 gray images, exported with the metadata
    `keras-gans train dcgan --data-dir FLAT` writes, and that flat folder."""
    root = tmp_path_factory.mktemp("first_contact")
    folder = write_folder(root / "flat", 64)
    generator = str(root / "generator")
    keras_gans.DCGAN(image_shape=(16, 16, 1), seed=0).export(
        generator, metadata={"dataset": "flat", "data_dir": folder})
    return generator, folder


# --------------------------------------------------------- any folder, offline
def test_evaluate_scores_a_flat_folder_offline_and_states_the_floor(flat_dcgan, cache,
                                                                   capsys):
    generator, folder = flat_dcgan
    shutil.rmtree(cache / "classifiers", ignore_errors=True)

    status = cli.main(["evaluate", generator, "--n", "32"])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = last_json(captured)
    assert result["feature_space"].startswith("flat_contrastive_")
    assert result["real_split"] == "all" and result["n_real"] == 64
    assert result["floor_n"] == 32 and 0 <= result["fid_floor"] < result["fid"]
    assert result["is"] is None and result["coverage"] is None
    assert f"{folder} has no class folders, so the feature space is an encoder" in captured.err
    assert f"Training a feature extractor on 64 images of {folder}" in captured.err
    assert "step 3/3" in captured.err and "cached at" in captured.err

    # Cached: the same space, no training; --data-dir names the same folder.
    assert cli.main(["evaluate", generator, "--n", "32", "--data-dir", folder]) == 0
    again = capsys.readouterr()
    assert "Training" not in again.err and "has no class folders" in again.err
    assert last_json(again)["feature_space"] == result["feature_space"]
    assert last_json(again)["fid"] == pytest.approx(result["fid"])


def test_evaluate_a_preset_trained_on_a_flat_folder(flat_dcgan, tmp_path, capsys):
    _, folder = flat_dcgan
    preset = str(tmp_path / "preset")
    gan = keras_gans.DCGAN(image_shape=(16, 16, 1), seed=0)
    gan.compile()
    gan.save_to_preset(preset, metadata={"dataset": "flat", "data_dir": folder})

    assert cli.main(["evaluate", preset, "--n", "16"]) == 0

    result = last_json(capsys.readouterr())
    assert result["fid"] >= 0 and result["feature_space"].startswith("flat_contrastive_")


def test_inception_offline_gives_the_whole_reason_and_what_works(flat_dcgan, monkeypatch,
                                                                 capsys):
    generator, _ = flat_dcgan

    def offline(*args, **kwargs):
        raise Exception(URL_FAILURE)

    monkeypatch.setattr(metrics, "inception_v3_extractor", offline)

    assert cli.main(["evaluate", generator, "--n", "16", "--features", "inception"]) == 2

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-gans evaluate: error: ")
    assert URL_FAILURE in lines[0]
    assert "measure offline: features 'classifier'" in lines[0]


def test_the_check_before_a_run_passes_any_folder_without_training(flat_dcgan, cache):
    _, folder = flat_dcgan
    before = sorted(os.listdir(cache / "classifiers")) if (cache / "classifiers").exists() else []

    evaluation.check_features("classifier", "flat", folder, (16, 16, 1))
    evaluation.check_features("self_supervised", "flat", folder, (16, 16, 1))

    after = sorted(os.listdir(cache / "classifiers")) if (cache / "classifiers").exists() else []
    assert after == before
    with pytest.raises(ValueError, match="'self_supervised' learns from a folder"):
        evaluation.check_features("self_supervised", "fashion_mnist", None, (32, 32, 1))


# ------------------------------------------- a classifier that says what it does
def test_a_class_folder_classifier_announces_its_training_and_cache(flat_dcgan, tmp_path,
                                                                     capsys):
    generator, _ = flat_dcgan
    folder = write_folder(tmp_path / "shapes", 64, classes=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = cli.main(["evaluate", generator, "--n", "16", "--data-dir", folder])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    path = classifier.folder_classifier_path(folder, (16, 16, 1))
    assert f"Training a classifier on the 2 class folders of {folder}" in captured.err
    assert f"it will be cached at {path}" in captured.err and os.path.exists(path)
    assert "step 3/3" in captured.err and "later evaluations load it" in captured.err
    assert not [w for w in caught if "shuffle" in str(w.message)]
    result = last_json(captured)
    assert result["feature_space"].startswith("folder_classifier_")
    assert len(result["coverage_real"]) == 2 and result["fid_floor"] is not None


# ------------------------------------------------------ channels follow the data
def test_load_domains_follows_the_data_and_replicates_a_gray_domain(tmp_path, capsys):
    gray = write_folder(tmp_path / "gray", 4)
    other_gray = write_folder(tmp_path / "gray_too", 4, seed=1)
    colour = write_folder(tmp_path / "colour", 4, colour=(255, 128, 0))

    a, b = data.load_domains(gray, other_gray)
    assert a.image_shape == b.image_shape == (16, 16, 1)
    assert capsys.readouterr().err == ""

    a, b = data.load_domains(gray, colour)
    assert a.image_shape == b.image_shape == (16, 16, 3)
    np.testing.assert_array_equal(a.images[..., 0], a.images[..., 2])
    err = capsys.readouterr().err.strip()
    assert err == (f"{gray} is gray and {colour} colour: the gray images are repeated into "
                   "RGB, so both have 3 channels (channels=1, --channels 1, makes both gray).")

    a, b = data.load_domains(gray, colour, channels=1)
    assert a.image_shape == b.image_shape == (16, 16, 1)


# ------------------------------------------------- a CycleGAN trained on folders
def test_evaluate_a_cyclegan_of_flat_folders_reports_cycle_l1_fid_and_the_split(
        tmp_path, capsys):
    horses = write_folder(tmp_path / "horses", 8, side=32)
    zebras = write_folder(tmp_path / "zebras", 6, side=32, seed=1)
    preset = str(tmp_path / "preset")
    cyclegan = keras_gans.CycleGAN(image_shape=(32, 32, 1), generator_filters=4,
                                   residual_blocks=1, discriminator_filters=4, seed=0)
    cyclegan.compile()
    cyclegan.save_to_preset(preset, metadata={"dataset": "horses_to_zebras",
                                              "domain_a": horses, "domain_b": zebras})

    status = cli.main(["evaluate", preset])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = last_json(captured)
    assert result["split"] == "all" and (result["n_a"], result["n_b"]) == (8, 6)
    assert "contrastive" in result["feature_space"] and not result["paired"]
    for direction in ("a2b", "b2a"):
        scores = result[direction]
        assert 0 < scores["cycle_l1"] < 1
        assert scores["fid"] >= 0 and scores["fid_floor"] is not None
    assert f"Training a feature extractor on 14 images of {horses} and {zebras}" in captured.err


@pytest.mark.slow
def test_a_cyclegan_of_gray_folders_trains_a_gray_model(tmp_path, capsys):
    horses = write_folder(tmp_path / "horses", 4, side=32)
    zebras = write_folder(tmp_path / "zebras", 4, side=32, seed=1)
    status = cli.main(["train", "cyclegan", "--domain-a", horses, "--domain-b", zebras,
                       "--epochs", "1", "--batch-size", "2", "--generator-filters", "4",
                       "--residual-blocks", "1", "--pool-size", "2", "--quiet",
                       "--out", str(tmp_path / "run")])
    assert status == 0, capsys.readouterr().err
    model = keras_gans.CycleGAN.from_preset(str(tmp_path / "run" / "preset"))
    assert model.image_shape == (32, 32, 1)


def test_a_missing_domain_folder_is_named(tmp_path, capsys):
    zebras = write_folder(tmp_path / "zebras", 4, side=32)
    status = cli.main(["train", "cyclegan", "--domain-a", str(tmp_path / "horses"),
                       "--domain-b", zebras, "--quiet", "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err.strip()
    assert status == 2 and error.splitlines() == [
        f"keras-gans train: error: Domain A: {tmp_path / 'horses'} does not exist (a domain "
        "is emoji:google, emoji:twitter, tfds:cycle_gan/<name> or a folder of images)."]
    assert not (tmp_path / "run").exists()
