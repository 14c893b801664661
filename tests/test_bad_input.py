"""Bad input gets a clear error that names the problem; unsafe files are refused;
the command line writes only under --out."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gans
from keras_gans import data
from keras_gans.networks import MLPDiscriminator, MLPGenerator
from keras_gans.saving import export_generator, load_gan, load_generator

LATENT_DIM = 8


@pytest.fixture(scope="module")
def dcgan():
    model = keras_gans.DCGAN(latent_dim=LATENT_DIM, seed=0)
    model.compile()
    return model


@pytest.fixture(scope="module")
def cgan():
    model = keras_gans.ConditionalGAN(num_classes=3, latent_dim=LATENT_DIM, seed=0)
    model.compile()
    return model


def small_gan(generator=None):
    generator = generator or MLPGenerator(latent_dim=LATENT_DIM, units=(16,))
    model = keras_gans.GAN(generator, MLPDiscriminator(units=(16,), dropout=0), seed=0)
    model.compile()
    return model


def one_batch(*arrays):
    return tf.data.Dataset.from_tensors(arrays if len(arrays) > 1 else arrays[0])


def weights_of(model):
    return [np.array(w) for w in model.generator.weights + model.discriminator.weights]


# -------------------------------------------------------------------- images
@pytest.mark.parametrize("shape", [(8, 32, 32, 3), (8, 28, 28, 3), (8, 28, 28)],
                         ids=["size", "channels", "rank"])
def test_images_of_the_wrong_shape(dcgan, shape):
    images = np.zeros(shape, "float32")
    with pytest.raises(ValueError, match=r"generates images of shape \(28, 28, 1\)") as error:
        dcgan.fit(one_batch(images), verbose=0)
    assert str(shape) in str(error.value)
    assert "(batch, height, width, channels)" in str(error.value)


def test_uint8_images(dcgan):
    images = np.full((8, 28, 28, 1), 255, "uint8")
    with pytest.raises(ValueError, match=r"floats in \[-1, 1\], got dtype uint8") as error:
        dcgan.fit(one_batch(images), verbose=0)
    assert "x / 127.5 - 1" in str(error.value)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager_step", "xla"])
def test_float_images_outside_unit_range_train_nothing(jit_compile):
    """0-255 floats are refused before the step uses them: no weight moves.
    XLA drops assertions, so under XLA `fit` checks the dataset's batches."""
    model = small_gan()
    model.compile(jit_compile=jit_compile)
    before = weights_of(model)
    images = np.full((8, 28, 28, 1), 255.0, "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Images must lie in \[-1, 1\]"):
        model.fit(one_batch(images), verbose=0)
    for old, new in zip(before, weights_of(model), strict=True):
        np.testing.assert_array_equal(old, new)


def test_empty_image_array():
    with pytest.raises(ValueError, match="empty"):
        data.make_dataset(np.zeros((0, 28, 28, 1), "uint8"))


def test_fewer_images_than_one_batch():
    with pytest.raises(ValueError, match="fewer than one batch of 64"):
        data.make_dataset(np.zeros((10, 28, 28, 1), "uint8"), batch_size=64)


# -------------------------------------------------------------------- labels
def test_conditional_gan_without_labels(cgan):
    images = np.zeros((8, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match=r"needs \(images, labels\) batches") as error:
        cgan.fit(one_batch(images), verbose=0)
    assert "with_labels=True" in str(error.value)


def test_conditional_gan_with_float_labels(cgan):
    images = np.zeros((8, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match="integer class indices, got dtype float32"):
        cgan.fit(one_batch(images, np.zeros(8, "float32")), verbose=0)


@pytest.mark.parametrize("label, message", [(3, r"Labels must lie in \[0, 3\)"),
                                            (-1, r"Labels must be >= 0")])
def test_conditional_gan_with_labels_out_of_range(cgan, label, message):
    images = np.zeros((8, 28, 28, 1), "float32")
    before = weights_of(cgan)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        cgan.fit(one_batch(images, np.full(8, label, "int32")), verbose=0)
    for old, new in zip(before, weights_of(cgan), strict=True):
        np.testing.assert_array_equal(old, new)


# ---------------------------------------------------------------- under XLA
def xla(model):
    model.compile(jit_compile=True)
    return model


def test_xla_refuses_images_outside_unit_range_from_arrays():
    model = xla(small_gan())
    images = np.full((8, 28, 28, 1), 255.0, "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Images must lie in \[-1, 1\]"):
        model.fit(images, batch_size=8, verbose=0)


def test_xla_refuses_labels_out_of_range():
    model = xla(keras_gans.ConditionalGAN(num_classes=3, latent_dim=LATENT_DIM, seed=0))
    images = np.zeros((8, 28, 28, 1), "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Labels must lie in \[0, 3\)"):
        model.fit(one_batch(images, np.full(8, 42, "int32")), verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Labels must lie in \[0, 3\)"):
        model.fit(images, np.full(8, 42, "int32"), batch_size=8, verbose=0)


def test_xla_checks_a_pydataset_and_warns_about_inputs_it_cannot_check():
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return np.full((8, 28, 28, 1), 255.0, "float32")

    model = xla(small_gan())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Images must lie in \[-1, 1\]"):
        model.fit(Batches(), verbose=0)

    def batches():
        yield (np.zeros((8, 28, 28, 1), "float32"),)

    with pytest.warns(UserWarning, match="not of generator input"):
        model.fit(batches(), steps_per_epoch=1, verbose=0)


def test_xla_trains_on_good_batches():
    model = xla(keras_gans.ConditionalGAN(num_classes=3, latent_dim=LATENT_DIM, seed=0))
    before = weights_of(model)
    images = np.zeros((8, 28, 28, 1), "float32")
    model.fit(one_batch(images, np.arange(8, dtype="int32") % 3), verbose=0)
    assert any(not np.array_equal(old, new)
               for old, new in zip(before, weights_of(model), strict=True))


def test_conditional_generate_with_labels_out_of_range(cgan):
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 3\), got values from 0 to 7"):
        cgan.generate(4, labels=[0, 1, 2, 7])


# ------------------------------------------------------------ unknown names
def test_unknown_variant_lists_the_variants():
    with pytest.raises(ValueError, match="Unknown variant 'stylegan'") as error:
        keras_gans.get_variant("stylegan")
    for name in keras_gans.VARIANTS:
        assert repr(name) in str(error.value)


def test_unknown_dataset_lists_the_sources_tried():
    with pytest.raises(data.DatasetNotFoundError, match="'no_such_dataset'") as error:
        data.load_images("no_such_dataset", source="debian")
    message = str(error.value)
    assert "Tried: debian" in message
    assert os.path.join(data.DEBIAN_DATASETS_DIR, "no_such_dataset") in message
    assert "data_dir=" in message


def test_unknown_source_lists_the_sources():
    with pytest.raises(ValueError, match="Unknown source 'ftp'") as error:
        data.load_images("fashion_mnist", source="ftp")
    for source in data.SOURCES:
        assert repr(source) in str(error.value)


def test_unknown_pretrained_name_lists_the_models(tmp_path, monkeypatch):
    export_generator(small_gan(), str(tmp_path / "tiny_gan"))
    monkeypatch.setenv("KERAS_GANS_MODELS", str(tmp_path))
    with pytest.raises(ValueError, match="Unknown pretrained model 'nope'") as error:
        keras_gans.load_pretrained("nope")
    assert "Known models: " in str(error.value) and "tiny_gan" in str(error.value)
    assert str(tmp_path) in str(error.value)
    assert keras_gans.load_pretrained("tiny_gan").latent_dim == LATENT_DIM


# ------------------------------------------------------- missing or corrupt
def test_missing_export_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="No exported generator at"):
        load_generator(str(tmp_path / "missing"))


def test_directory_that_is_not_a_savedmodel(tmp_path):
    with pytest.raises(ValueError, match=r"not a SavedModel directory \(no saved_model.pb\)"):
        load_generator(str(tmp_path))


def test_corrupt_savedmodel(tmp_path):
    export = tmp_path / "export"
    export_generator(small_gan(), str(export))
    pb = export / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[: len(pb.read_bytes()) // 3])
    with pytest.raises(ValueError, match="corrupt or unreadable SavedModel"):
        load_generator(str(export))


def test_missing_keras_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved model at"):
        load_gan(str(tmp_path / "missing.keras"))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_keras_file(tmp_path, damage):
    path = tmp_path / "gan.keras"
    if damage == "garbage":
        path.write_bytes(b"not a zip archive at all")
    else:
        small_gan().save(str(path))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="is not a loadable keras-gans model"):
        load_gan(str(path))


# ------------------------------------------------------------- latent size
def test_exported_generator_refuses_wrong_latent_size(tmp_path):
    export_generator(small_gan(), str(tmp_path / "export"))
    generator = load_generator(str(tmp_path / "export"))
    assert generator(np.zeros((2, LATENT_DIM))).shape == (2, 28, 28, 1)
    for z in (np.zeros((2, LATENT_DIM + 1)), np.zeros(LATENT_DIM)):
        with pytest.raises(ValueError, match=rf"takes z of shape \(N, {LATENT_DIM}\)"):
            generator(z)


def test_generator_model_refuses_wrong_latent_size():
    model = small_gan()
    with pytest.raises(ValueError, match=rf"expected shape=\(None, {LATENT_DIM}\)"):
        model.generator(np.zeros((2, LATENT_DIM + 3), "float32"))


# ------------------------------------------------------------------ safety
def test_load_gan_refuses_lambda_layers(tmp_path):
    """A `.keras` file whose Lambda layer would run code on loading is refused
    by `load_gan`; Keras' unsafe mode shows the code would have run."""
    marker = tmp_path / "lambda_ran"
    base = MLPGenerator(latent_dim=LATENT_DIM, units=(16,))
    payload = eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]")  # noqa: S307
    generator = keras.Model(base.input, keras.layers.Lambda(payload)(base.output),
                            name="generator")
    path = tmp_path / "lambda.keras"
    small_gan(generator).save(str(path))
    marker.unlink()

    with pytest.raises(ValueError, match="Lambda") as error:
        load_gan(str(path))
    assert "safe_mode" in str(error.value)
    assert not marker.exists()

    keras.saving.load_model(str(path), safe_mode=False)
    assert marker.exists()


def test_cli_writes_only_under_out(tmp_path, data_args):
    result = subprocess.run(
        [sys.executable, "-m", "keras_gans.cli", "train", "dcgan", "--limit", "64",
         "--batch-size", "32", "--epochs", "1", "--latent-dim", "8", "--out", "out",
         "--quiet", *data_args],
        cwd=tmp_path, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert (tmp_path / "out" / "generator" / "saved_model.pb").exists()
    assert (tmp_path / "out" / "checkpoint" / "checkpoint.keras").exists()
