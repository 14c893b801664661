"""CycleGAN: its networks, image pool, losses, schedule, translation, export,
saving, presets, unpaired data, evaluation and command line, on 32x32 images
and networks a few filters wide."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import max_abs_difference, run_cli
from PIL import Image

import keras_gans
from keras_gans import classifier, data, emoji, evaluation, saving
from keras_gans.layers import ImagePool, swap_into_pool
from keras_gans.losses import least_squares, mean_absolute_error
from keras_gans.networks.cyclegan import (
    CycleGANGenerator,
    PatchGANDiscriminator,
    instance_normalization,
)
from keras_gans.schedules import ConstantThenLinearDecay

SHAPE = (32, 32, 3)
TINY = dict(image_shape=SHAPE, generator_filters=4, residual_blocks=1,
            discriminator_filters=4, pool_size=4)
HAS_EMOJI = all(os.path.isdir(os.path.join(emoji.cache_root(), "emoji",
                                           f"{package}-{emoji.VERSION}"))
                for package in emoji.PACKAGES.values())
requires_emoji = pytest.mark.skipif(not HAS_EMOJI, reason="the emoji packages are not cached "
                                    "(set KERAS_GANS_CACHE)")


def random_images(n, seed):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


def unpaired(n=8, batch_size=2):
    return tf.data.Dataset.from_tensor_slices(
        (random_images(n, 1), random_images(n, 2))).batch(batch_size, drop_remainder=True)


PLAYERS = ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b")


@pytest.fixture(scope="module")
def trained():
    """A tiny CycleGAN after two steps of batch 2 (its pools hold 4 images
    each), with its players' weights from before and its history."""
    model = keras_gans.CycleGAN(seed=0, **TINY)
    model.compile()
    before = {name: getattr(model, name).get_weights() for name in PLAYERS}
    history = model.fit(unpaired(4), epochs=1, verbose=0)
    model.weights_before, model.history_logs = before, history.history
    return model


# ---------------------------------------------------------------- networks
def test_networks_keep_the_image_shape_and_score_patches():
    assert CycleGANGenerator(SHAPE, 4, 1).output_shape == (None, *SHAPE)
    assert PatchGANDiscriminator(SHAPE, 4).output_shape == (None, 2, 2, 1)
    assert PatchGANDiscriminator((64, 64, 3), 4).output_shape == (None, 6, 6, 1)
    with pytest.raises(ValueError, match=r"square images of side 32, 64, 128, 256; got "
                                         r"\(48, 48, 3\)"):
        CycleGANGenerator((48, 48, 3))


def test_instance_normalisation_is_per_image_and_channel():
    scales = np.array([1.0, 5.0, 50.0], np.float32)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32) * scales + 7.0
    y = np.asarray(instance_normalization()(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-2)


# -------------------------------------------------------------- image pool
def test_pool_fills_first_then_swaps_the_drawn_images():
    pool = np.zeros((4, 1, 1, 1), np.float32)
    images = np.arange(1, 4, dtype=np.float32).reshape(3, 1, 1, 1)
    returned, pool, count = swap_into_pool(pool, 0, images, np.ones(3), np.arange(4.0))
    np.testing.assert_array_equal(returned, images)  # filling returns the new images
    np.testing.assert_array_equal(np.ravel(pool), [1, 2, 3, 0])
    assert int(count) == 3

    # Image 10 fills the last slot; 20 draws > 1/2 and trades places with the
    # stored image in slot argsort(slot_draws)[1] = 2; 30 draws < 1/2 and passes.
    images = np.array([10.0, 20.0, 30.0], np.float32).reshape(3, 1, 1, 1)
    returned, pool, count = swap_into_pool(pool, count, images, np.array([0.9, 0.9, 0.1]),
                                           np.array([0.5, 0.0, 0.2, 0.9]))
    np.testing.assert_array_equal(np.ravel(returned), [10, 3, 30])
    np.testing.assert_array_equal(np.ravel(pool), [1, 2, 20, 10])
    assert int(count) == 4


def test_a_full_pool_swaps_about_half_the_images():
    pool = ImagePool(8, (1, 1, 1))
    seed = keras.random.SeedGenerator(0)
    pool.query(np.full((8, 1, 1, 1), -1.0, np.float32), seed)
    assert int(pool.count.numpy()) == 8
    swapped = 0
    for step in range(25):
        new = np.full((8, 1, 1, 1), float(step), np.float32)
        swapped += int(np.sum(np.asarray(pool.query(new, seed)) != step))
    assert 0.35 < swapped / 200 < 0.65
    assert int(pool.count.numpy()) == 8


def test_pool_size_must_be_a_whole_number():
    with pytest.raises(ValueError, match="pool_size must be a whole number >= 0"):
        ImagePool(-1, SHAPE)


# --------------------------------------------------------------- the game
def test_players_sharing_an_optimizer_take_one_step_together(trained):
    assert trained.g_optimizer is trained.optimizer_of("generator_b2a")
    assert trained.d_optimizer is trained.optimizer_of("discriminator_b")
    assert int(trained.g_optimizer.iterations) == int(trained.d_optimizer.iterations) == 2
    model = keras_gans.CycleGAN(**TINY)
    with pytest.raises(ValueError, match="share the g_optimizer"):
        keras_gans.AdversarialModel.compile(
            model, {"generator_a2b": keras.optimizers.Adam(),
                    "generator_b2a": keras.optimizers.Adam()}, {})


def test_a_few_steps_change_all_four_players(trained):
    assert set(trained.history_logs) == set(trained.tracker_names)
    for name in PLAYERS:
        change = max_abs_difference(trained.weights_before[name],
                                    getattr(trained, name).get_weights())
        assert change > 0, name
    # One Adam for both generators: moments of both, one step count, one rate.
    assert len(trained.g_optimizer.variables) == 2 + 2 * len(
        trained.generator_a2b.trainable_variables + trained.generator_b2a.trainable_variables)


def constant_model(generator_gain, score_a, score_b, **kwargs):
    """G(x) = F(x) = gain * x, D_A = score_a and D_B = score_b everywhere."""
    def scaling():
        image = keras.Input(SHAPE)
        model = keras.Model(image, keras.layers.Conv2D(3, 1, use_bias=False)(image))
        model.set_weights([generator_gain * np.eye(3).reshape(1, 1, 3, 3)])
        return model

    def constant(score):
        image = keras.Input(SHAPE)
        scores = keras.layers.Conv2D(1, 4, strides=8, kernel_initializer="zeros",
                                     bias_initializer=keras.initializers.Constant(score))(image)
        return keras.Model(image, scores)

    return keras_gans.CycleGAN(SHAPE, generator_a2b=scaling(), generator_b2a=scaling(),
                               discriminator_a=constant(score_a),
                               discriminator_b=constant(score_b), **kwargs)


def test_the_losses_on_a_hand_made_case():
    assert float(least_squares(np.array([[1.0, 3.0]]), 1.0)) == pytest.approx(2.0)
    assert float(mean_absolute_error(np.array([1.0, -1.0]), np.zeros(2))) == pytest.approx(1.0)
    model = constant_model(0.5, score_a=0.25, score_b=2.0, pool_size=2)
    model.compile(run_eagerly=True)
    a, b = random_images(2, 3), random_images(2, 4)
    logs = model.fit(tf.data.Dataset.from_tensors((a, b)), verbose=0).history
    size_a, size_b = np.abs(a).mean(), np.abs(b).mean()
    expected = {
        "g_a2b_loss": (2.0 - 1.0) ** 2,                 # D_B(G(a)) against 1
        "g_b2a_loss": (0.25 - 1.0) ** 2,                # D_A(F(b)) against 1
        "cycle_loss": 10 * 0.75 * (size_a + size_b),    # |0.25 a - a| + |0.25 b - b|
        "identity_loss": 5 * 0.5 * (size_a + size_b),   # |0.5 b - b| + |0.5 a - a|
        "d_a_loss": 0.5 * ((0.25 - 1.0) ** 2 + 0.25 ** 2),
        "d_b_loss": 0.5 * ((2.0 - 1.0) ** 2 + 2.0 ** 2),
    }
    for name, value in expected.items():
        assert logs[name][0] == pytest.approx(value, rel=1e-5), name


def test_the_identity_loss_can_be_left_out():
    model = constant_model(0.5, 0.0, 0.0, identity_weight=0.0)
    model.compile(run_eagerly=True)
    logs = model.fit(unpaired(2), verbose=0).history
    assert logs["identity_loss"] == [0.0] and logs["cycle_loss"][0] > 0


@pytest.mark.parametrize("images_in, cycle_weight, translators_move", [
    ("a", 10.0, True),   # the cycle a -> G -> F -> a alone moves G and F
    ("b", 10.0, True),   # and so does b -> F -> G -> b
    ("a", 0.0, False),   # without it nothing else does, so the two above are the cycle's
])
def test_the_cycle_loss_of_each_direction_trains_both_translators(images_in, cycle_weight,
                                                                   translators_move):
    # Discriminators with zero kernels pass the translators no gradient, the
    # identity loss is off, and the other domain is all zeros, which both linear
    # translators map to zeros: only one cycle term can move G and F.
    model = constant_model(0.5, 0.0, 0.0, identity_weight=0.0, cycle_weight=cycle_weight)
    model.compile(run_eagerly=True)
    images, zeros = random_images(2, 3), np.zeros((2, *SHAPE), "float32")
    a, b = (images, zeros) if images_in == "a" else (zeros, images)
    translators = (model.generator_a2b, model.generator_b2a)
    before = [translator.get_weights() for translator in translators]
    model.fit(tf.data.Dataset.from_tensors((a, b)), verbose=0)
    for translator, weights in zip(translators, before, strict=True):
        moved = max_abs_difference(weights, translator.get_weights()) > 0
        assert moved == translators_move, translator.name


def test_the_schedule_holds_then_falls_linearly_to_zero():
    schedule = ConstantThenLinearDecay(2e-4, constant_steps=10, decay_steps=4)
    rates = [float(schedule(step)) for step in (0, 10, 11, 12, 14, 20)]
    np.testing.assert_allclose(rates, [2e-4, 2e-4, 1.5e-4, 1e-4, 0.0, 0.0], atol=1e-9)
    copy = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule))
    assert copy.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="decay_steps >= 1"):
        ConstantThenLinearDecay(2e-4, 10, 0)


# ----------------------------------------------------- translation, saving
def test_translate_both_ways(trained):
    images = random_images(3, 5)
    for direction in ("a2b", "b2a"):
        translated = trained.translate(images, direction, batch_size=2)
        assert translated.shape == (3, *SHAPE) and translated.dtype == np.float32
        assert np.abs(translated).max() <= 1.0
    pixels = np.round((images + 1) * 127.5).astype(np.uint8)
    np.testing.assert_allclose(trained.translate(pixels), trained.translate(pixels / 127.5 - 1),
                               atol=1e-5)
    with pytest.raises(ValueError, match="Unknown direction 'a2c'"):
        trained.translate(images, "a2c")
    with pytest.raises(ValueError, match=r"shape \(N, 32, 32, 3\), got shape \(3, 32, 32\)"):
        trained.translate(images[..., 0])
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        trained.translate(images * 3)


def test_export_serves_images_to_images(trained, tmp_path):
    path = str(tmp_path / "b2a")
    trained.export(path, direction="b2a", metadata={"dataset": "toy"})
    images = random_images(2, 6)
    served = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(served["images"].numpy(), trained.translate(images, "b2a"),
                               atol=1e-5)
    exported = saving.load_export(path)
    assert isinstance(exported, saving.ExportedTranslator)
    assert exported.direction == "b2a" and exported.metadata["dataset"] == "toy"
    np.testing.assert_allclose(exported.translate(images), served["images"].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="translates b2a, not a2b"):
        exported.translate(images, "a2b")


def test_keras_file_round_trip_keeps_the_pools(trained, tmp_path):
    path = str(tmp_path / "cyclegan.keras")
    trained.save(path)
    loaded = keras_gans.load_gan(path)
    assert loaded.get_config() == trained.get_config()
    for pool in ("fake_a_pool", "fake_b_pool"):
        assert int(getattr(loaded, pool).count.numpy()) == 4
        np.testing.assert_array_equal(getattr(loaded, pool).images.numpy(),
                                      getattr(trained, pool).images.numpy())
    assert int(loaded.g_optimizer.iterations) == 2
    np.testing.assert_array_equal(loaded.g_optimizer.variables[1].numpy(),
                                  trained.g_optimizer.variables[1].numpy())
    images = random_images(2, 7)
    np.testing.assert_array_equal(loaded.translate(images), trained.translate(images))


def test_preset_round_trip(trained, tmp_path):
    trained.save_to_preset(str(tmp_path / "preset"), metadata={"dataset": "toy"})
    preset = keras_gans.CycleGAN.from_preset(str(tmp_path / "preset"))
    images = random_images(2, 8)
    np.testing.assert_array_equal(preset.translate(images, "b2a"),
                                  trained.translate(images, "b2a"))
    assert saving.read_metadata(str(tmp_path / "preset"))["task"] == "image_to_image"
    with pytest.raises(ValueError, match="holds a CycleGAN, not a DCGAN"):
        keras_gans.DCGAN.from_preset(str(tmp_path / "preset"))


# -------------------------------------------------------------------- data
def test_unpaired_streams_are_shuffled_independently():
    # Image i of domain A is all i, of domain B all 100 + i.
    a = np.arange(12, dtype=np.uint8)[:, None, None, None] * np.ones((1, 32, 32, 3), np.uint8)
    b = a[:5] + 100
    dataset = data.unpaired_dataset(a, b, batch_size=3, seed=0)
    assert int(dataset.cardinality()) == 4  # the larger domain once an epoch
    epochs = []
    for _ in range(2):
        pairs = [(int(round((x + 1) * 127.5)), int(round((y + 1) * 127.5)))
                 for images_a, images_b in dataset
                 for x, y in zip(images_a.numpy()[:, 0, 0, 0], images_b.numpy()[:, 0, 0, 0],
                                 strict=True)]
        assert sorted(x for x, _ in pairs) == list(range(12))  # each A image once
        assert {y for _, y in pairs} == set(range(100, 105))  # B's images come round again
        epochs.append(pairs)
    assert epochs[0] != epochs[1]  # reshuffled every epoch


@requires_emoji
def test_load_unpaired_trains_on_the_train_split_only():
    google = data.load_domain("emoji:google", "train", image_size=32)
    held_out = data.load_domain("emoji:twitter", "test", image_size=32)
    assert not set(google.ids) & set(held_out.ids)
    dataset = data.load_unpaired("emoji:google", "emoji:twitter", 32, batch_size=8, seed=0)
    # An epoch: the larger training split once (the styles differ by a few images).
    assert abs(int(dataset.cardinality()) - len(google.images) // 8) <= 2
    images_a, images_b = next(iter(dataset))
    assert images_a.shape == images_b.shape == (8, *SHAPE)


def test_tfds_cycle_gan_domains_map_to_their_splits(monkeypatch):
    asked = []

    def fake_tfds(name, split):
        asked.append((name, split))
        images = np.full((3, 64, 64, 3), 9, np.uint8)
        return data.ImageData(images, np.zeros(3, np.int32), name, f"tfds:{name}", ["A", "B"])

    monkeypatch.setattr(data, "load_from_tfds", fake_tfds)
    zebras = data.load_domain("tfds:cycle_gan/horse2zebra", "test", "B", image_size=32)
    assert asked == [("cycle_gan/horse2zebra", "testB")]
    assert zebras.images.shape == (3, *SHAPE) and zebras.labels is None
    assert data.domain_name("tfds:cycle_gan/horse2zebra") == "horse2zebra"
    with pytest.raises(ValueError, match="cycle_gan/<name>"):
        data.load_domain("tfds:mnist")


# -------------------------------------------------------------- evaluation
@requires_emoji
def test_evaluate_translation_against_the_no_translation_baseline(trained):
    result = evaluation.evaluate_translation(trained, batch_size=512)
    google, twitter = data.load_pairs("emoji:google", "emoji:twitter", 32)
    assert result["paired"] and result["n_a"] == len(google.images) > 300
    assert result["feature_space"] == "emoji_32_classifier"
    direct = evaluation.paired_distances(google.images, twitter.images)
    for direction in ("a2b", "b2a"):
        scores = result[direction]
        assert all(np.isfinite(value) for value in scores.values()), direction
        assert 0 <= scores["class_accuracy"] <= 1 and scores["cycle_l1"] > 0
    for name in ("l1", "ssim", "psnr"):
        assert result["a2b"][f"{name}_baseline"] == pytest.approx(direct[name])
        assert result["b2a"][f"{name}_baseline"] == pytest.approx(direct[name])
    assert result["a2b"]["class_accuracy_baseline"] > 0.5  # the classifier knows both styles


# ----------------------------------------------------------- command line
def write_folder(directory, seed, names):
    directory.mkdir()
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(directory / name)
    return directory


@pytest.mark.slow
def test_cli_trains_cyclegan_translates_and_evaluates_folders(tmp_path, capsys):
    domain_a = write_folder(tmp_path / "horses", 0, [f"h{i}.png" for i in range(6)])
    domain_b = write_folder(tmp_path / "zebras", 1, [f"z{i}.jpg" for i in range(4)])
    out = tmp_path / "run"
    status = run_cli(["train", "cyclegan", "--domain-a", str(domain_a), "--domain-b",
                      str(domain_b), "--image-size", "32", "--batch-size", "2", "--epochs", "2",
                      "--generator-filters", "4", "--residual-blocks", "1", "--pool-size", "2",
                      "--out", str(out), "--quiet"])
    assert status == 0
    assert (out / "samples" / "epoch_002.png").exists()
    metadata = json.loads((out / "generator_a2b" / "metadata.json").read_text())
    assert metadata["direction"] == "a2b" and metadata["dataset"] == "horses_to_zebras"
    assert metadata["domain_b"] == str(domain_b)
    model = keras_gans.CycleGAN.from_preset(str(out / "preset"))
    # The paper's schedule: 3 steps an epoch, held for the first epoch, falling over the last.
    schedule = model.g_optimizer.get_config()["learning_rate"]["config"]
    assert (schedule["constant_steps"], schedule["decay_steps"]) == (3, 3)

    for source, direction in ((out / "preset", "b2a"), (out / "generator_a2b", None)):
        translations = tmp_path / f"out_{source.name}"
        assert run_cli(["translate", str(source), "--in", str(domain_b), "--out",
                        str(translations)] + (["--direction", direction] if direction else [])
                       ) == 0
        assert sorted(os.listdir(translations)) == [f"z{i}.png" for i in range(4)]
        assert Image.open(translations / "z0.png").size == (32, 32)
    assert run_cli(["sample", str(out / "preset")]) == 2
    assert run_cli(["train", "dcgan", "--domain-a", str(domain_a)]) == 2
    capsys.readouterr()

    # Folders are unpaired: FID against the other domain and the cycle error only.
    features = os.path.join(classifier.ASSETS_DIR, "emoji_32_classifier.weights.h5")
    assert run_cli(["evaluate", str(out / "preset"), "--features", features]) == 0
    result = json.loads(capsys.readouterr().out)
    assert not result["paired"] and (result["n_a"], result["n_b"]) == (6, 4)
    assert {"fid", "fid_baseline", "cycle_l1"} <= set(result["b2a"])
    assert "ssim" not in result["b2a"]


def test_the_shipped_translator_beats_no_translation():
    info = keras_gans.list_pretrained()["cyclegan_emoji_64"]
    assert info["command"].startswith("keras-gans train cyclegan --domain-a emoji:google")
    for direction in ("a2b", "b2a"):
        measures = info["evaluation"][direction]
        assert measures["fid"] < measures["fid_baseline"]
        assert measures["l1"] < measures["l1_baseline"]
        assert measures["psnr"] > measures["psnr_baseline"]
    model = keras_gans.load_pretrained("cyclegan_emoji_64")
    images = np.zeros((2, 64, 64, 3), np.uint8)
    for direction in ("a2b", "b2a"):
        translated = model.translate(images, direction)
        assert translated.shape == (2, 64, 64, 3) and np.abs(translated).max() <= 1.0
