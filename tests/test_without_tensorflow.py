"""keras-gans on the JAX and PyTorch Keras backends, with or without TensorFlow.

Run where Keras does not use TensorFlow, e.g. `KERAS_BACKEND=jax` in an
environment without it; on the TensorFlow backend the module is skipped.
Tests marked `without_tensorflow_installed` check the one-line errors of
what needs TensorFlow, so they run only where it is not installed.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zlib

import keras
import numpy as np
import pytest
from conftest import FASHION_MNIST_DIR, requires_fashion_mnist, run_cli, write_idx
from PIL import Image

import keras_gans
from keras_gans import (
    callbacks,
    classifier,
    data,
    emoji,
    evaluation,
    hardware,
    metrics,
    sampling,
    saving,
)

pytestmark = pytest.mark.skipif(
    keras.backend.backend() == "tensorflow",
    reason="checks the JAX and PyTorch backends: run with KERAS_BACKEND=jax (or torch)")

without_tensorflow_installed = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None,
    reason="checks the errors of what needs TensorFlow, which is installed here")

FASTEST_SETTINGS = hardware.fastest_settings  # before the suite's fixture replaces it
EXPORT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "saved_models", "dcgan_fashion_mnist")


def random_images(n, side=16, channels=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, channels), np.uint8)


@pytest.fixture(scope="module")
def gan():
    """A VanillaGAN on 16x16 images, trained for two steps."""
    model = keras_gans.VanillaGAN(image_shape=(16, 16, 1), latent_dim=8, seed=0)
    model.compile()
    model.fit(data.make_dataset(random_images(16), batch_size=8, seed=0), epochs=1, verbose=0)
    return model


# ---------------------------------------------------------------- imports
def test_the_package_and_its_command_import_no_tensorflow(tmp_path):
    script = textwrap.dedent("""
        import sys
        import keras_gans, keras_gans.cli
        from keras_gans import (callbacks, classifier, data, evaluation, hardware, metrics,
                                pretrained, sampling, saving)
        batches = data.make_dataset(data.as_uint8_images([[[0, 255]]] * 4), batch_size=2)
        batches[0]
        hardware.describe()
        keras_gans.DCGAN
        print(sorted(name for name in sys.modules if name.startswith("tensorflow")))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


# ------------------------------------------------------------------- data
def test_make_dataset_gives_shuffled_float_batches_with_int32_labels():
    images, labels = random_images(20), np.arange(20) % 4
    batches = data.make_dataset(images, labels, batch_size=8, seed=3)
    assert isinstance(batches, keras.utils.PyDataset) and batches.num_batches == 2
    x, y = batches[0]
    assert x.dtype == np.float32 and x.shape == (8, 16, 16, 1)
    assert y.dtype == np.int32 and y.shape == (8,)
    # Each image keeps its label, scaled to [-1, 1].
    rows = [int(np.flatnonzero((images == np.round((image + 1) * 127.5)).all(axis=(1, 2, 3)))[0])
            for image in x]
    np.testing.assert_array_equal(labels[rows], y)
    assert rows != list(range(8)), "not shuffled"

    again = data.make_dataset(images, labels, batch_size=8, seed=3)
    np.testing.assert_array_equal(again[1][0], batches[1][0])
    first_epoch = np.concatenate([batches[i][1] for i in range(2)])
    batches.on_epoch_end()
    second_epoch = np.concatenate([batches[i][1] for i in range(2)])
    assert not np.array_equal(first_epoch, second_epoch), "not reshuffled every epoch"


def test_make_dataset_batch_sizes_follow_drop_remainder_and_repeat():
    images = random_images(20)
    kept = data.make_dataset(images, batch_size=8, shuffle=False, drop_remainder=False)
    assert [len(batch) for batch in kept] == [8, 8, 4]
    np.testing.assert_array_equal(kept[2], data.to_unit_range(images[16:]))
    assert [len(batch) for batch in data.make_dataset(images, batch_size=8)] == [8, 8]
    repeated = data.make_dataset(images, batch_size=8, shuffle=False, repeat=True)
    assert repeated.num_batches is None
    # One stream of images across passes: batch 2 holds the last 4 and the first 4.
    np.testing.assert_array_equal(repeated[2], data.to_unit_range(
        np.concatenate([images[16:], images[:4]])))
    assert data.batch_count(kept) == 3
    with pytest.raises(IndexError):
        kept[3]


@pytest.mark.parametrize("images, labels, batch_size, match", [
    (np.zeros((0, 8, 8, 1), np.uint8), None, 4, "empty"),
    (np.zeros((3, 8, 8, 1), np.uint8), None, 4, "fewer than one batch"),
    (np.zeros((8, 8, 8, 1), np.uint8), np.zeros(7, np.int32), 4, "8 images but 7 labels"),
    (np.full((8, 8, 8, 1), 0.5), None, 4, r"\[0, 1\]"),
    (np.zeros((8, 8, 8, 1), np.uint8), None, 0, "batch_size"),
])
def test_make_dataset_refuses_bad_input_in_one_line(images, labels, batch_size, match):
    with pytest.raises(ValueError, match=match) as error:
        data.make_dataset(images, labels, batch_size=batch_size)
    assert "\n" not in str(error.value)


@requires_fashion_mnist
def test_load_dataset_of_debian_fashion_mnist():
    batches = data.load_dataset("fashion_mnist", batch_size=32, limit=100, with_labels=True,
                                seed=0)
    assert batches.num_batches == 3
    images, labels = batches[0]
    assert images.shape == (32, 28, 28, 1) and images.dtype == np.float32
    assert -1.0 <= images.min() < images.max() <= 1.0
    assert labels.dtype == np.int32 and set(labels) <= set(range(10))


def test_load_dataset_reads_idx_files(tmp_path):
    images = random_images(24, side=28)[..., 0]
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(24) % 10)
    batches = data.load_dataset("fashion_mnist", data_dir=str(tmp_path), batch_size=10,
                                with_labels=True, shuffle=False)
    x, y = batches[0]
    np.testing.assert_array_equal(y, np.arange(10))
    np.testing.assert_allclose(x[3, ..., 0], images[3] / 127.5 - 1, atol=1e-6)
    (tmp_path / "unlabelled").mkdir()
    write_idx(tmp_path / "unlabelled" / "train-images-idx3-ubyte", images)
    with pytest.raises(ValueError, match="provides no labels"):
        data.load_dataset("local", data_dir=str(tmp_path / "unlabelled"), with_labels=True)


def write_class_folders(root, classes=("cats", "dogs"), per_class=6, side=20):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.zeros((side, side, 3), np.uint8) + np.uint8([40 * c, 10 * i, 200])
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_load_dataset_reads_a_folder_of_class_folders(tmp_path):
    folder = write_class_folders(tmp_path / "pets")
    batches = data.load_dataset("pets", data_dir=str(folder), batch_size=4, with_labels=True,
                                image_size=8, seed=1)
    assert batches.num_batches == 3
    images, labels = batches[0]
    assert images.shape == (4, 8, 8, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32 and set(labels) <= {0, 1}


def write_emoji_package(root, count=24, styles=("google", "twitter")):
    """An emoji-datasource package with both styles' 64x64 RGBA images."""
    entries = []
    for i in range(count):
        code_point = f"{0x1F600 + i:X}"
        entries.append({"unified": code_point, "image": f"{code_point.lower()}.png",
                        "category": emoji.CATEGORIES[i % len(emoji.CATEGORIES)],
                        "short_name": f"e{i}", "sort_order": i,
                        **{f"has_img_{style}": True for style in styles}})
    for s, style in enumerate(styles):
        folder = root / "img" / style / "64"
        folder.mkdir(parents=True)
        for i, entry in enumerate(entries):
            pixels = np.zeros((64, 64, 4), np.uint8)
            pixels[8 + i:40 + i, 16:48] = (9 * i, 120 * s, 200, 255)
            Image.fromarray(pixels).save(folder / entry["image"])
    (root / "emoji.json").write_text(json.dumps(entries))
    return root


@pytest.fixture
def emoji_cache(tmp_path, monkeypatch):
    """Both emoji styles in a fresh `$KERAS_GANS_CACHE`, unpacked from npm
    tarballs as the loader unpacks them."""
    monkeypatch.setenv("KERAS_GANS_CACHE", str(tmp_path / "cache"))
    for style, package in emoji.PACKAGES.items():
        tarball = tmp_path / f"{package}.tgz"
        with tarfile.open(tarball, "w:gz") as archive:
            archive.add(write_emoji_package(tmp_path / package), arcname="package")
        emoji.extract_package(
            tarball, tmp_path / "cache" / "emoji" / f"{package}-{emoji.VERSION}", style)
    return tmp_path / "cache"


def test_load_dataset_of_emoji(emoji_cache):
    train = [e for e in range(24) if zlib.crc32(f"{0x1F600 + e:x}".encode()) % 10]
    batches = data.load_dataset("emoji", style="twitter", image_size=16, batch_size=4,
                                with_labels=True, seed=0)
    assert batches.num_batches == len(train) // 4
    images, labels = batches[0]
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32 and labels.max() < len(emoji.CATEGORIES)


def test_load_unpaired_streams_each_domain_on_its_own(emoji_cache, tmp_path):
    folder = write_class_folders(tmp_path / "photos", per_class=5)
    batches = data.load_unpaired("emoji:google", str(folder), image_size=16, batch_size=4,
                                 seed=0)
    google = data.load_domain("emoji:google", image_size=16).images
    assert isinstance(batches, keras.utils.PyDataset)
    assert batches.num_batches == max(len(google), 10) // 4
    a, b = batches[0]
    assert a.shape == b.shape == (4, 16, 16, 3)
    assert a.dtype == b.dtype == np.float32 and min(a.min(), b.min()) >= -1
    # Domain B's 10 images come round again within an epoch, each pass reshuffled.
    b_epoch = np.concatenate([batches[i][1] for i in range(batches.num_batches)])
    assert len({image.tobytes() for image in b_epoch[:10]}) == 10
    np.testing.assert_array_equal(data.load_unpaired(
        "emoji:google", str(folder), image_size=16, batch_size=4, seed=0)[1][0], batches[1][0])
    with pytest.raises(ValueError, match="fill no batch"):
        data.unpaired_dataset(google[:2], google[:2], batch_size=4)


@without_tensorflow_installed
def test_tensorflow_datasets_say_they_need_tensorflow():
    with pytest.raises(hardware.TensorFlowRequiredError,
                       match="needs TensorFlow and tensorflow-datasets: pip install"):
        data.load_from_tfds("mnist")
    with pytest.raises(data.DatasetNotFoundError) as error:
        data.load_images("mnist")
    assert "install TensorFlow and tensorflow-datasets" in str(error.value)
    with pytest.raises(hardware.TensorFlowRequiredError, match="^tfds:cycle_gan/horse2zebra"):
        data.load_domain("tfds:cycle_gan/horse2zebra")


# --------------------------------------------------------- fit and saving
def test_fit_trains_on_batches(gan):
    logs = gan.fit(data.make_dataset(random_images(16), batch_size=8, seed=1), epochs=2,
                   verbose=0).history
    assert len(logs["d_loss"]) == 2 and np.isfinite(logs["g_loss"]).all()
    assert int(gan.d_optimizer.iterations) == 2 + 4


def test_keras_file_and_preset_round_trips(gan, tmp_path):
    gan.save(tmp_path / "gan.keras")
    loaded = saving.load_gan(str(tmp_path / "gan.keras"))
    np.testing.assert_array_equal(loaded.generate(4, seed=1), gan.generate(4, seed=1))
    assert int(loaded.g_optimizer.iterations) == int(gan.g_optimizer.iterations) > 0
    for saved, restored in zip(gan.d_optimizer.variables, loaded.d_optimizer.variables,
                               strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(saved),
                                      keras.ops.convert_to_numpy(restored))

    gan.save_to_preset(str(tmp_path / "preset"))
    preset = keras_gans.VanillaGAN.from_preset(str(tmp_path / "preset"))
    np.testing.assert_array_equal(preset.generate(4, seed=1), gan.generate(4, seed=1))
    assert preset.compiled


def test_pretrained_presets_generate_and_write_samples(tmp_path):
    cgan = keras_gans.load_pretrained("cgan_fashion_mnist")
    boots = cgan.generate(3, labels="Ankle boot", seed=0)
    assert boots.shape == (3, 28, 28, 1) and -1 <= boots.min() < boots.max() <= 1
    sampling.write_samples(cgan, 5, str(tmp_path / "samples"), seed=0, labels=9)
    assert sorted(os.listdir(tmp_path / "samples")) == [f"00000{i}.png" for i in range(5)]
    with Image.open(tmp_path / "samples" / "000000.png") as image:
        np.testing.assert_array_equal(np.asarray(image)[..., None], data.to_uint8(boots[:1])[0])


# ---------------------------------------------------------------- exports
@without_tensorflow_installed
def test_exports_say_they_need_tensorflow(gan, tmp_path, capsys):
    with pytest.raises(hardware.TensorFlowRequiredError,
                       match="^SavedModel export needs TensorFlow: pip install tensorflow$"):
        gan.export(str(tmp_path / "generator"))
    assert not os.path.exists(tmp_path / "generator")
    with pytest.raises(hardware.TensorFlowRequiredError, match="^Loading a SavedModel export"):
        keras_gans.load_generator(EXPORT)
    assert run_cli(["sample", EXPORT, "--n", "4", "--out", str(tmp_path / "grid.png")]) == 2
    assert capsys.readouterr().err.strip() == (
        "keras-gans sample: error: Loading a SavedModel export needs TensorFlow: "
        "pip install tensorflow")


# -------------------------------------------------------------- callbacks
def test_callbacks_driven_by_hand(gan, tmp_path):
    grid = callbacks.SampleGrid(str(tmp_path / "samples"), num_images=9, gif=True)
    checkpoint = callbacks.GANCheckpoint(str(tmp_path / "checkpoint"))
    for callback in (grid, checkpoint):
        callback.set_model(gan)
        callback.on_train_begin()
    grid.on_epoch_end(0)
    grid.on_train_end()
    checkpoint.on_epoch_end(0, {"d_loss": 0.5})
    assert sorted(os.listdir(grid.directory)) == ["epoch_001.png", "training.gif"]

    resumed, epoch = callbacks.GANCheckpoint.resume(str(tmp_path / "checkpoint"))
    assert epoch == 1 and callbacks.GANCheckpoint.read_state(checkpoint.directory)[
        "history"] == {"d_loss": [0.5]}
    np.testing.assert_array_equal(resumed.generate(2, seed=0), gan.generate(2, seed=0))

    assert callbacks.non_finite_variables(resumed) == []
    kernel = resumed.generator.trainable_weights[0]
    kernel.assign(keras.ops.full(kernel.shape, np.nan))
    assert callbacks.non_finite_variables(resumed) == [f"generator/{kernel.path}"]


# ------------------------------------------------------------- evaluation
def test_evaluation_with_the_bundled_classifier(tmp_path):
    images = data.load_images("fashion_mnist", "test").images[:300] if os.path.isdir(
        FASHION_MNIST_DIR) else random_images(300, side=28)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images[..., 0])
    generator = keras_gans.load_pretrained("dcgan_fashion_mnist")
    scores = evaluation.evaluate_generator(generator, dataset="fashion_mnist",
                                           data_dir=str(tmp_path), n=300)
    assert scores["feature_space"] == "fashion_mnist_classifier"
    assert scores["n"] == 300 and scores["n_real"] == 300 and scores["real_split"] == "all"
    assert np.isfinite([scores["fid"], scores["kid"], scores["is"]]).all()

    extractor = classifier.classifier_extractor("fashion_mnist")
    features, logits = extractor(data.to_unit_range(images))
    assert features.shape == (300, classifier.FEATURE_DIM) and logits.shape == (300, 10)
    stats = metrics.FeatureStatistics()
    stats.update(features)
    assert metrics.fid_from_statistics(stats, stats) == pytest.approx(0.0, abs=1e-6)


def test_ssim_and_psnr_match_tensorflow():
    # tf.image.ssim and tf.image.psnr (TensorFlow 2.21) give these for this pair.
    i, j, c = np.meshgrid(np.arange(16), np.arange(16), np.arange(3), indexing="ij")
    x = ((i * 7 + j * 13 + c * 29) % 256 / 255.0)[None].astype(np.float32)
    y = ((i * 5 + j * 11 + c * 3 + i * j) % 256 / 255.0)[None].astype(np.float32)
    np.testing.assert_allclose(evaluation.ssim(x, y), [0.5835224], atol=1e-5)
    np.testing.assert_allclose(evaluation.psnr(x, y), [10.4886055], atol=1e-4)
    assert evaluation.psnr(x, x)[0] == np.inf and evaluation.ssim(x, x)[0] == pytest.approx(1)
    distances = evaluation.paired_distances(data.to_uint8(x * 2 - 1), y * 2 - 1)
    assert distances["ssim"] == pytest.approx(0.5835, abs=1e-3)
    with pytest.raises(ValueError, match="at least 11x11"):
        evaluation.ssim(x[:, :8, :8], y[:, :8, :8])


def test_fit_classifier_augments_and_learns_a_second_head():
    images, labels = random_images(32), np.arange(32) % 4
    model = classifier.fit_classifier(images, labels, 4, epochs=1, batch_size=16,
                                      augment=classifier.augmenter((16, 16, 1)),
                                      auxiliary_labels=np.arange(32) % 2, verbose=0)
    assert model.output.shape[-1] == 4 and "auxiliary" not in [layer.name for layer in model.layers]
    assert set(classifier.accuracy_of(model, images, labels, 4)) == {"accuracy",
                                                                      "balanced_accuracy"}


# --------------------------------------------------------------- hardware
def test_hardware_describes_the_cpu_and_the_backend():
    assert hardware.describe().count(",") >= 2
    if keras.backend.backend() == "jax":
        device = keras.distribution.list_devices()[0].split(":")[0]
        assert hardware.has_accelerator() is (device != "cpu")
    else:
        import torch

        assert hardware.has_accelerator() is torch.cuda.is_available()
    choice = {"jax": True, "torch": False}[keras.backend.backend()]
    assert hardware.jit_choices() == (choice,)
    assert {jit for _, jit in hardware.speed_candidates()} == {choice}
    settings = FASTEST_SETTINGS(has_gpu=False)
    assert settings.jit_compile is choice and settings.precision in ("float32", "mixed_bfloat16")
    assert hardware.backend_version().startswith(("JAX ", "PyTorch "))
    with pytest.raises(hardware.TensorFlowRequiredError, match="training step's FLOPs needs"):
        hardware.train_step_flops(None, np.zeros((2, 4), np.float32))


def test_speed_probe_times_a_step(gan):
    rate = hardware.measure_images_per_second(gan, data.make_dataset(
        random_images(8), batch_size=8)[0], seconds=0.05)
    assert rate > 0


# -------------------------------------------------------------------- cli
def test_cli_lists_and_helps(capsys):
    assert run_cli(["list"]) == 0
    assert "dcgan_fashion_mnist" in capsys.readouterr().out
    assert run_cli(["--help"]) == 0
    assert "train" in capsys.readouterr().out


@without_tensorflow_installed
def test_cli_trains_samples_and_evaluates(tmp_path, capsys):
    (tmp_path / "fashion_mnist").mkdir()
    write_idx(tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz",
              random_images(16, side=28)[..., 0])
    out = tmp_path / "run"
    assert run_cli(["train", "vanilla", "--data-dir", str(tmp_path / "fashion_mnist"),
                    "--batch-size", "8", "--epochs", "1", "--quiet", "--jit-compile", "on",
                    "--latent-dim", "8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "No SavedModel export (it is written on the TensorFlow backend" in printed
    assert sorted(os.listdir(out)) == ["checkpoint", "history.json", "preset", "run.json",
                                       "samples"]
    metadata = saving.read_metadata(str(out / "preset"))
    assert metadata["jit_compile"] is True and metadata["epochs"] == 1

    assert run_cli(["sample", str(out / "preset"), "--n", "4", "--out",
                    str(tmp_path / "grid.png")]) == 0
    assert os.path.getsize(tmp_path / "grid.png") > 0
    assert run_cli(["evaluate", str(out / "preset"), "--n", "50"]) == 0
    scores = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (scores["n"], scores["n_real"]) == (50, 16)
    assert scores["feature_space"] == "fashion_mnist_classifier"
