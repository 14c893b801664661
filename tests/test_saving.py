"""`.keras` round trips of the whole training state, and SavedModel exports."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import batches

import keras_gans
from keras_gans import saving
from keras_gans.sampling import latent_noise

# variant key -> (model factory, batch size, labelled)
VARIANTS = {
    "vanilla": (lambda: keras_gans.VanillaGAN(latent_dim=32, seed=3, ema_decay=0.9), 32,
                False),
    "dcgan": (lambda: keras_gans.DCGAN(seed=3, ema_decay=0.9), 32, False),
    "cgan": (lambda: keras_gans.ConditionalGAN(num_classes=10, seed=3, ema_decay=0.9), 32,
             True),
    "wgan": (lambda: keras_gans.WGAN(n_critic=2, clip_value=0.02, seed=3, ema_decay=0.9),
             2 * 16, False),
    "wgan_gp": (lambda: keras_gans.WGANGP(n_critic=2, gp_weight=5.0, seed=3, ema_decay=0.9),
                2 * 16, False),
}


def assert_same_arrays(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def optimizer_state(optimizer):
    return [v.numpy() for v in optimizer.variables]


class SavedRun:
    """A model trained for two steps, saved, and loaded back."""

    def __init__(self, key, images, labels, directory):
        factory, batch_size, labelled = VARIANTS[key]
        self.model = factory()
        # An option each variant supports, to see it survive the round trip.
        options = ({"loss": "hinge", "label_smoothing": 0.1}
                   if key in ("vanilla", "dcgan", "cgan") else {"instance_noise": 0.1})
        self.model.compile(
            d_optimizer=keras.optimizers.Adam(3e-4, beta_1=0.5),
            g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.0), **options)
        self.dataset = batches(images[:2 * batch_size],
                               labels[:2 * batch_size] if labelled else None, batch_size)
        self.model.fit(self.dataset, epochs=1, verbose=0)
        self.path = str(directory / f"{key}.keras")
        self.model.save(self.path)
        self.loaded = saving.load_gan(self.path)


@pytest.fixture(scope="module")
def saved(fashion_arrays, tmp_path_factory):
    directory = tmp_path_factory.mktemp("saved")
    runs = {}

    def get(key):
        if key not in runs:
            runs[key] = SavedRun(key, *fashion_arrays, directory)
        return runs[key]

    return get


# --------------------------------------------------------------- .keras
@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_round_trip_keeps_class_config_and_weights(saved, key):
    run = saved(key)
    model, loaded = run.model, run.loaded
    assert type(loaded) is type(model)
    assert loaded.get_config().keys() == model.get_config().keys()
    assert loaded.image_shape == model.image_shape
    assert loaded.latent_dim == model.latent_dim
    assert loaded.num_classes == model.num_classes
    assert_same_arrays(model.generator.get_weights(), loaded.generator.get_weights())
    assert_same_arrays(model.discriminator.get_weights(), loaded.discriminator.get_weights())


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_round_trip_keeps_both_optimizers_state(saved, key):
    run = saved(key)
    model, loaded = run.model, run.loaded
    for name in ("d_optimizer", "g_optimizer"):
        original, restored = getattr(model, name), getattr(loaded, name)
        assert int(restored.iterations) == int(original.iterations) > 0
        assert type(restored) is type(original)
        assert float(restored.learning_rate) == pytest.approx(float(original.learning_rate))
        state = optimizer_state(original)
        assert len(state) > 2, "Adam moments are optimizer variables"
        assert any(np.abs(v).max() > 0 for v in state[2:]), "moments were updated"
        assert_same_arrays(state, optimizer_state(restored))
    assert float(loaded.g_optimizer.beta_1) == 0.0


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_round_trip_keeps_seed_state_ema_and_compile_config(saved, key):
    run = saved(key)
    model, loaded = run.model, run.loaded
    state = model.seed_generator.state.numpy()
    assert not np.array_equal(state, keras.random.SeedGenerator(3).state.numpy())
    np.testing.assert_array_equal(loaded.seed_generator.state.numpy(), state)

    assert loaded.ema_decay == 0.9
    ema = model.ema_generator.get_weights()
    assert_same_arrays(ema, loaded.ema_generator.get_weights())
    assert any(not np.array_equal(a, b)
               for a, b in zip(ema, model.generator.get_weights(), strict=True))

    assert loaded.adversarial_loss.name == model.adversarial_loss.name
    assert loaded.get_compile_config() == model.get_compile_config()
    assert loaded.get_compile_config()["loss"] == model.get_compile_config()["loss"]
    np.testing.assert_array_equal(loaded.generate(3, seed=0), model.generate(3, seed=0))


def test_round_trip_keeps_variant_settings(saved):
    wgan = saved("wgan").loaded
    assert wgan.n_critic == 2 and wgan.clip_value == pytest.approx(0.02)
    wgan_gp = saved("wgan_gp").loaded
    assert wgan_gp.n_critic == 2 and wgan_gp.gp_weight == pytest.approx(5.0)
    assert saved("dcgan").loaded.adversarial_loss.name == "hinge"
    assert wgan_gp.adversarial_loss.name == "wasserstein"


@pytest.mark.parametrize("key", ["dcgan", "cgan", "wgan_gp"])
def test_fit_after_loading_continues_exactly_where_training_stopped(saved, key):
    run = saved(key)
    iterations = int(run.loaded.d_optimizer.iterations)
    run.model.fit(run.dataset, epochs=1, verbose=0)
    run.loaded.fit(run.dataset, epochs=1, verbose=0)
    assert int(run.loaded.d_optimizer.iterations) > iterations
    assert int(run.loaded.g_optimizer.iterations) == int(run.model.g_optimizer.iterations)
    for a, b in zip(run.model.get_weights(), run.loaded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_save_before_training_round_trips(tmp_path):
    model = keras_gans.VanillaGAN(latent_dim=8, seed=5)
    model.compile()
    model.save(tmp_path / "fresh.keras")
    loaded = saving.load_gan(str(tmp_path / "fresh.keras"))
    assert int(loaded.d_optimizer.iterations) == 0
    np.testing.assert_array_equal(loaded.generate(2, seed=0), model.generate(2, seed=0))


def test_loading_a_corrupt_file_is_a_clear_value_error(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="is not a loadable keras-gans model"):
        saving.load_gan(str(path))


def test_loading_a_truncated_file_is_a_clear_value_error(saved, tmp_path):
    with open(saved("vanilla").path, "rb") as f:
        data = f.read()
    path = tmp_path / "truncated.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.keras is not a loadable"):
        saving.load_gan(str(path))


def test_loading_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved model"):
        saving.load_gan(str(tmp_path / "missing.keras"))


# ---------------------------------------------------------------- export
class Export:
    """A model loaded from its saved file, so no other test has trained it
    further, and its export."""

    def __init__(self, run, directory):
        self.model = saving.load_gan(run.path)
        self.path = str(directory / type(self.model).__name__)
        self.model.export(self.path, metadata={"dataset": "fashion_mnist"})


@pytest.fixture(scope="module")
def exported(saved, tmp_path_factory):
    directory = tmp_path_factory.mktemp("exports")
    return {key: Export(saved(key), directory) for key in ("dcgan", "cgan")}


def test_export_serves_images_from_z(exported):
    model = exported["dcgan"].model
    signature = tf.saved_model.load(exported["dcgan"].path).signatures["serving_default"]
    z = latent_noise(5, model.latent_dim, seed=0)
    images = signature(z=tf.constant(z))["images"].numpy()
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    np.testing.assert_allclose(images, model.generate(5, seed=0), atol=1e-5)


def test_export_uses_the_ema_generator(exported):
    model = exported["dcgan"].model
    z = latent_noise(4, model.latent_dim, seed=0)
    signature = tf.saved_model.load(exported["dcgan"].path).signatures["serving_default"]
    served = signature(z=tf.constant(z))["images"].numpy()
    raw = model.generator(z, training=False).numpy()
    assert not np.allclose(served, raw, atol=1e-4)


def test_conditional_export_takes_z_and_label(exported):
    model = exported["cgan"].model
    signature = tf.saved_model.load(exported["cgan"].path).signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"z", "label"}
    z = latent_noise(4, model.latent_dim, seed=0)
    labels = np.array([0, 1, 2, 9], np.int32)
    images = signature(z=tf.constant(z), label=tf.constant(labels))["images"].numpy()
    assert images.shape == (4, 28, 28, 1)
    np.testing.assert_allclose(images, model.generate(4, seed=0, labels=labels), atol=1e-5)
    other = signature(z=tf.constant(z), label=tf.constant(labels[::-1].copy()))["images"]
    assert not np.allclose(images, other.numpy())


def test_export_metadata(exported):
    with open(os.path.join(exported["dcgan"].path, "metadata.json")) as f:
        metadata = json.load(f)
    assert metadata["variant"] == "DCGAN"
    assert metadata["image_shape"] == [28, 28, 1]
    assert metadata["latent_dim"] == 100
    assert metadata["keras_version"] == keras.__version__
    assert metadata["tensorflow_version"] == tf.__version__
    assert isinstance(metadata["command"], str) and metadata["command"]
    assert metadata["conditional"] is False and metadata["ema"] is True
    assert metadata["dataset"] == "fashion_mnist"
    with open(os.path.join(exported["cgan"].path, "metadata.json")) as f:
        conditional = json.load(f)
    assert conditional["variant"] == "ConditionalGAN"
    assert conditional["num_classes"] == 10 and conditional["conditional"] is True


@pytest.mark.slow
@pytest.mark.subprocess
def test_export_loads_in_a_process_without_keras_gans(exported):
    script = textwrap.dedent(f"""
        import os, sys
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import numpy as np
        import tensorflow as tf
        signature = tf.saved_model.load({exported["cgan"].path!r}).signatures["serving_default"]
        z = tf.constant(np.random.default_rng(0).normal(size=(3, 100)), tf.float32)
        images = signature(z=z, label=tf.constant([1, 2, 3]))["images"].numpy()
        assert "keras_gans" not in sys.modules, "keras_gans was imported"
        print(images.shape, float(images.min()) >= -1.0, float(images.max()) <= 1.0)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd="/", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "(3, 28, 28, 1) True True"


def test_exported_generator_generates_like_the_model(exported):
    generator = saving.load_generator(exported["dcgan"].path)
    assert generator.latent_dim == 100 and generator.image_shape == (28, 28, 1)
    assert not generator.conditional
    assert generator.metadata["variant"] == "DCGAN"
    np.testing.assert_allclose(generator.generate(6, seed=1, batch_size=4),
                               exported["dcgan"].model.generate(6, seed=1), atol=1e-5)
    assert generator.generate(0).shape == (0, 28, 28, 1)


def test_exported_generator_rejects_wrong_latent_size(exported):
    generator = saving.load_generator(exported["dcgan"].path)
    with pytest.raises(ValueError, match=r"z of shape \(N, 100\), got \(2, 64\)"):
        generator(np.zeros((2, 64), np.float32))
    with pytest.raises(ValueError, match="unconditional"):
        generator(np.zeros((2, 100), np.float32), labels=[0, 1])


def test_exported_conditional_generator_checks_labels(exported):
    generator = saving.load_generator(exported["cgan"].path)
    assert generator.conditional and generator.num_classes == 10
    assert generator.generate(4, labels=3, seed=0).shape == (4, 28, 28, 1)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        generator.generate(2, labels=[0, 10])
    with pytest.raises(ValueError, match="Unknown class 0.5: a label is a class index"):
        generator.generate(2, labels=[0.5, 1.5])


def test_load_generator_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        saving.load_generator(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a SavedModel"):
        saving.load_generator(str(tmp_path / "empty"))
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt or unreadable"):
        saving.load_generator(str(tmp_path / "corrupt"))


def test_failed_export_leaves_the_previous_export_intact(saved, tmp_path, monkeypatch):
    model = saved("vanilla").model
    path = tmp_path / "generator"
    model.export(str(path), metadata={"attempt": 1})
    files_before = sorted(os.listdir(path))
    z = latent_noise(2, model.latent_dim, seed=0)
    before = saving.load_generator(str(path))(z)

    archive_class = type(keras.export.ExportArchive())  # the backend's class
    write_out = archive_class.write_out

    def write_then_fail(self, filepath, **kwargs):
        write_out(self, filepath, **kwargs)
        with open(os.path.join(filepath, "saved_model.pb"), "wb") as f:
            f.write(b"half written")
        raise OSError("disk full")

    monkeypatch.setattr(archive_class, "write_out", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        model.export(str(path), metadata={"attempt": 2})

    assert sorted(os.listdir(path)) == files_before
    assert saving.read_metadata(str(path))["attempt"] == 1
    np.testing.assert_array_equal(saving.load_generator(str(path))(z), before)
    assert sorted(os.listdir(tmp_path)) == ["generator"], "temporary files are removed"


def test_export_replaces_a_previous_export(saved, tmp_path):
    path = str(tmp_path / "generator")
    saved("vanilla").model.export(path, metadata={"attempt": 1})
    saved("vanilla").model.export(path, metadata={"attempt": 2})
    assert saving.read_metadata(path)["attempt"] == 2
    assert sorted(os.listdir(tmp_path)) == ["generator"]


def test_the_loaders_work_when_only_the_saving_module_is_imported(tmp_path):
    gan = keras_gans.DCGAN(seed=0)
    gan.compile()
    gan.save(tmp_path / "gan.keras")
    gan.save_to_preset(str(tmp_path / "preset"))
    code = textwrap.dedent(f"""
        from keras_gans.saving import load_gan, load_preset
        print(type(load_gan({str(tmp_path / "gan.keras")!r})).__name__,
              type(load_preset({str(tmp_path / "preset")!r})).__name__)
    """)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert output.returncode == 0, output.stderr[-2000:]
    assert output.stdout.split()[-2:] == ["DCGAN", "DCGAN"]
