"""pix2pix: the U-Net and its skips, the discriminator of pairs, the step
(D, then G against the updated D) and its L1 weight, paired data from emoji
and folders, saving, presets, export and the command line, on 32x32 images
and networks a few filters wide."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli
from PIL import Image

import keras_gans
from keras_gans import classifier, cli, data, emoji, run, saving
from keras_gans.networks import ConditionalPatchGAN, UNetGenerator

SHAPE = (32, 32, 3)
TINY = dict(image_shape=SHAPE, generator_filters=4, discriminator_filters=4)
HAS_EMOJI = all(
    os.path.isdir(os.path.join(emoji.cache_root(), "emoji", f"{package}-{emoji.VERSION}"))
    for package in emoji.PACKAGES.values()
)
requires_emoji = pytest.mark.skipif(
    not HAS_EMOJI, reason="the emoji packages are not cached (set KERAS_GANS_CACHE)"
)


def random_images(n, seed):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


def scores(discriminator, sources, targets):
    return keras.ops.convert_to_numpy(discriminator([sources, targets], training=False))


@pytest.fixture(scope="module")
def trained():
    """A tiny Pix2Pix after one step on two pairs."""
    model = keras_gans.Pix2Pix(seed=0, **TINY)
    model.compile()
    model.fit(random_images(2, 1), random_images(2, 2), batch_size=2, verbose=0)
    return model


# ---------------------------------------------------------------- networks
def test_each_decoder_block_is_joined_by_the_encoder_features_of_its_resolution():
    generator = UNetGenerator(SHAPE, filters=2)
    joins = {}
    for layer in generator.layers:
        if layer.name.startswith("skip_"):
            side = int(layer.name.split("_")[1])
            joins[side] = [tensor._keras_history.operation.name for tensor in layer.input]
            assert all(tuple(t.shape[1:3]) == (side, side) for t in layer.input)
    assert joins == {side: [f"up_{side}", f"down_{side}"] for side in (2, 4, 8, 16)}
    # Down to 1x1: one encoder block per halving of the side.
    downs = [layer.name for layer in generator.layers if layer.name.startswith("down_")]
    assert [name for name in downs if not name.endswith(("_conv", "_norm"))] == [
        "down_16",
        "down_8",
        "down_4",
        "down_2",
        "down_1",
    ]


def test_dropout_is_the_generators_noise_in_training_only():
    generator = UNetGenerator((64, 64, 3), filters=2)
    dropouts = [layer.name for layer in generator.layers if "dropout" in layer.name]
    assert dropouts == ["up_2_dropout", "up_4_dropout"]  # the first two decoder blocks at 64
    images = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    first, second = (keras.ops.convert_to_numpy(generator(images, training=True)) for _ in range(2))
    assert not np.allclose(first, second)
    inference = [keras.ops.convert_to_numpy(generator(images)) for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    assert inference[0].shape == (2, 64, 64, 3) and np.abs(inference[0]).max() <= 1
    assert UNetGenerator((256, 256, 3), filters=1).get_config()["dropout_blocks"] == 3


def test_the_discriminator_sees_the_pair():
    discriminator = ConditionalPatchGAN(SHAPE, filters=2)
    assert discriminator.get_layer("pair").output.shape[-1] == 2 * SHAPE[-1]
    sources, other_sources, targets = random_images(2, 3), random_images(2, 4), random_images(2, 5)
    judged = scores(discriminator, sources, targets)
    assert judged.shape == (2, 14, 14, 1)  # 16x16 patches at 32 pixels
    assert not np.allclose(judged, scores(discriminator, other_sources, targets))
    assert not np.allclose(judged, scores(discriminator, sources, other_sources))
    # The paper's 70x70 PatchGAN at 256 pixels: 30x30 scores.
    assert ConditionalPatchGAN((256, 256, 3), filters=1).output.shape == (None, 30, 30, 1)


@pytest.mark.parametrize(
    "build",
    [
        lambda: UNetGenerator(SHAPE, filters=2, dropout_blocks=1),
        lambda: ConditionalPatchGAN(SHAPE, filters=2, depth=2),
    ],
)
def test_the_networks_rebuild_from_their_config_and_save(build, tmp_path):
    network = build()
    inputs = (
        random_images(2, 6)
        if isinstance(network, UNetGenerator)
        else [random_images(2, 6), random_images(2, 7)]
    )
    expected = keras.ops.convert_to_numpy(network(inputs))
    network.save(tmp_path / "network.keras")
    loaded = keras.saving.load_model(tmp_path / "network.keras")
    assert type(loaded) is type(network) and loaded.get_config() == network.get_config()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs)), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: UNetGenerator((48, 48, 3)), "square images of side 32, 64, 128, 256; got"),
        (lambda: UNetGenerator(SHAPE, dropout_blocks=5), r"dropout_blocks must lie in \[0, 4\]"),
        (lambda: ConditionalPatchGAN(SHAPE, depth=4), "depth 4 halves 32x32 images below 4x4"),
        (lambda: keras_gans.Pix2Pix(l1_weight=-1), "l1_weight must be >= 0"),
    ],
)
def test_bad_sizes_are_named_in_one_line(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --------------------------------------------------------------- the step
def test_d_steps_on_the_pairs_then_g_against_the_updated_d():
    model = keras_gans.Pix2Pix(dropout_blocks=0, seed=0, **TINY)  # no noise: G(x) repeats
    model.compile(d_optimizer=keras.optimizers.Adam(0.01, beta_1=0.5))  # D's step shows
    x, y = random_images(2, 8), random_images(2, 9)
    G, D = model.generator, model.discriminator
    translated = keras.ops.convert_to_numpy(G(x, training=True))
    d_before = [D([x, y], training=True), D([x, translated], training=True)]
    logs = model.fit(x, y, batch_size=2, verbose=0).history
    softplus = keras.ops.softplus
    expected_d = 0.5 * float(
        keras.ops.mean(softplus(-d_before[0])) + keras.ops.mean(softplus(d_before[1]))
    )
    assert logs["d_loss"][0] == pytest.approx(expected_d, rel=1e-4)
    # -log D(x, G(x)), with the discriminator as its step left it.
    after = float(keras.ops.mean(softplus(-D([x, translated], training=True))))
    before = float(keras.ops.mean(softplus(-d_before[1])))
    assert logs["g_gan_loss"][0] == pytest.approx(after, rel=1e-4)
    assert abs(after - before) > 0.01
    l1 = np.mean(np.abs(translated - y))
    assert logs["l1_loss"][0] == pytest.approx(float(l1), rel=1e-4)


def test_the_generator_objective_adds_l1_weight_times_the_l1_distance():
    x, y = random_images(2, 10), random_images(2, 11)
    logs = {}
    for weight in (0.0, 100.0):
        keras.utils.set_random_seed(0)  # the same weights and dropout for both
        model = keras_gans.Pix2Pix(l1_weight=weight, seed=0, **TINY)
        model.compile()
        logs[weight] = {
            k: v[0] for k, v in model.fit(x, y, batch_size=2, verbose=0).history.items()
        }
    for name in ("d_loss", "g_gan_loss", "l1_loss"):
        assert logs[0.0][name] == pytest.approx(logs[100.0][name], rel=1e-5), name
    assert logs[0.0]["g_loss"] == pytest.approx(logs[0.0]["g_gan_loss"], rel=1e-6)
    assert logs[100.0]["g_loss"] - logs[0.0]["g_loss"] == pytest.approx(
        100.0 * logs[100.0]["l1_loss"], rel=1e-4
    )


def test_batches_must_be_pairs():
    model = keras_gans.Pix2Pix(seed=0, **TINY)
    model.compile()
    with pytest.raises(ValueError, match=r"trains on \(sources, targets\) batches"):
        model.fit(random_images(2, 12), batch_size=2, verbose=0)


# ------------------------------------------------- translation and saving
def test_translate_one_direction(trained):
    images = random_images(3, 13)
    translated = trained.translate(images, batch_size=2)
    assert translated.shape == (3, *SHAPE) and np.abs(translated).max() <= 1
    with pytest.raises(ValueError, match="Unknown direction 'b2a'; expected 'a2b'"):
        trained.translate(images, "b2a")


def test_keras_file_round_trip(trained, tmp_path):
    trained.save(tmp_path / "pix2pix.keras")
    loaded = keras_gans.load_gan(str(tmp_path / "pix2pix.keras"))
    assert type(loaded) is keras_gans.Pix2Pix and loaded.get_config() == trained.get_config()
    assert loaded.l1_weight == 100.0 and loaded.dropout_blocks == 1
    assert int(loaded.g_optimizer.iterations) == int(loaded.d_optimizer.iterations) == 1
    images = random_images(2, 14)
    np.testing.assert_array_equal(loaded.translate(images), trained.translate(images))


def test_preset_round_trip(trained, tmp_path):
    trained.save_to_preset(str(tmp_path / "preset"), metadata={"dataset": "toy"})
    preset = keras_gans.Pix2Pix.from_preset(str(tmp_path / "preset"))
    images = random_images(2, 15)
    np.testing.assert_array_equal(preset.translate(images), trained.translate(images))
    assert saving.read_metadata(str(tmp_path / "preset"))["variant"] == "Pix2Pix"
    with pytest.raises(ValueError, match="holds a Pix2Pix, not a CycleGAN"):
        keras_gans.CycleGAN.from_preset(str(tmp_path / "preset"))


def test_export_serves_images_to_images(trained, tmp_path):
    path = str(tmp_path / "export")
    trained.export(path, metadata={"dataset": "toy"})
    images = random_images(2, 16)
    served = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(served["images"].numpy(), trained.translate(images), atol=1e-5)
    exported = saving.load_export(path)
    assert isinstance(exported, saving.ExportedTranslator) and exported.direction == "a2b"


# -------------------------------------------------------------------- data
@requires_emoji
def test_the_held_out_emoji_never_reach_training():
    task = run.TASK_DATA["paired"](
        run.RunConfig("pix2pix", domain_a="emoji:google", domain_b="emoji:twitter", image_size=32)
    )
    task.load()  # what a run trains on
    google, twitter = data.load_pairs("emoji:google", "emoji:twitter", 32, split="test")
    np.testing.assert_array_equal(task.a.ids, task.b.ids)  # aligned by code point
    np.testing.assert_array_equal(google.ids, twitter.ids)
    assert len(task.a.ids) > 3000 and len(google.ids) > 300
    assert not set(task.a.ids) & set(google.ids)


def write_pairs(tmp_path, names=("x0", "x1", "x2", "x3"), size=32):
    """Folders a/ (PNG) and b/ (BMP) of the same names, each B image its A
    image's negative."""
    rng = np.random.default_rng(0)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir(exist_ok=True)
    for name in names:
        image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(image).save(tmp_path / "a" / f"{name}.png")
        Image.fromarray(255 - image).save(tmp_path / "b" / f"{name}.bmp")
    return str(tmp_path / "a"), str(tmp_path / "b")


def test_folders_pair_by_file_name(tmp_path):
    domain_a, domain_b = write_pairs(tmp_path)
    a, b = data.load_pairs(domain_a, domain_b, split="train")
    assert list(a.ids) == [f"x{i}.png" for i in range(4)]
    assert list(b.ids) == [f"x{i}.bmp" for i in range(4)]
    np.testing.assert_array_equal(b.images, 255 - a.images)


def one_line_error(domain_a, domain_b, **conversion):
    with pytest.raises(ValueError) as error:
        data.load_pairs(domain_a, domain_b, split="train", **conversion)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_bad_pairs_are_named_in_one_line(tmp_path):
    domain_a, domain_b = write_pairs(tmp_path)
    os.remove(os.path.join(domain_b, "x3.bmp"))
    assert one_line_error(domain_a, domain_b).startswith(
        f"{os.path.join(domain_a, 'x3.png')} has no partner of its name in {domain_b}"
    )

    domain_a, domain_b = write_pairs(tmp_path)
    Image.new("RGB", (40, 32)).save(os.path.join(domain_b, "x1.bmp"))
    assert one_line_error(domain_a, domain_b, image_size=32).startswith(
        f"{os.path.join(domain_a, 'x1.png')} is 32x32 but its partner "
        f"{os.path.join(domain_b, 'x1.bmp')} is 40x32"
    )

    domain_a, domain_b = write_pairs(tmp_path)
    Image.new("L", (32, 32), 128).save(os.path.join(domain_a, "x2.png"))
    message = one_line_error(domain_a, domain_b)
    assert f"but {os.path.join(domain_a, 'x2.png')} is gray and " in message
    assert "pairs must agree on which side is gray" in message
    a, _ = data.load_pairs(domain_a, domain_b, split="train", channels=3)  # colour it is
    assert a.image_shape == SHAPE

    domain_a, domain_b = write_pairs(tmp_path)
    Image.new("RGB", (32, 32)).save(os.path.join(domain_a, "x0.jpg"))
    assert "share a file name" in one_line_error(domain_a, domain_b)
    assert "cannot be paired" in one_line_error("emoji:google", domain_b)


def epoch_of_pairs(dataset):
    """The `(A pixel, B pixel)` of every pair of one epoch, in order."""
    if isinstance(dataset, keras.utils.PyDataset):
        batches = [dataset[index] for index in range(dataset.num_batches)]
        dataset.on_epoch_end()
    else:
        batches = [(a.numpy(), b.numpy()) for a, b in dataset]
    return [
        (int(x), int(y))
        for a, b in batches
        for x, y in zip(data.to_uint8(a)[:, 0, 0, 0], data.to_uint8(b)[:, 0, 0, 0], strict=True)
    ]


@pytest.mark.parametrize("use_tf_data", [False, True])
def test_pairs_stay_together_through_the_shuffles(use_tf_data):
    # Pair i: A all i, B all 100 + i.
    a = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 1), np.uint8)
    dataset = data.paired_dataset(a, a + 100, batch_size=3, seed=0, use_tf_data=use_tf_data)
    assert data.batch_count(dataset) == 3  # the last partial batch dropped
    epochs = [epoch_of_pairs(dataset) for _ in range(2)]
    for pairs in epochs:
        assert all(y == x + 100 for x, y in pairs) and len(set(pairs)) == 9
    assert epochs[0] != epochs[1]  # reshuffled every epoch


# ----------------------------------------------------------- command line
def test_the_command_line_knows_every_variant():
    assert set(cli.VARIANT_NAMES) == set(keras_gans.VARIANTS)


@pytest.mark.slow
def test_cli_trains_pix2pix_on_two_folders_translates_and_evaluates(tmp_path, capsys):
    domain_a, domain_b = write_pairs(tmp_path, size=40)
    out = tmp_path / "run"
    assert (
        run_cli(
            [
                "train",
                "pix2pix",
                "--domain-a",
                domain_a,
                "--domain-b",
                domain_b,
                "--image-size",
                "32",
                "--batch-size",
                "2",
                "--epochs",
                "1",
                "--generator-filters",
                "4",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert (out / "samples" / "epoch_001.png").exists()
    metadata = json.loads((out / "generator" / "metadata.json").read_text())
    assert metadata["direction"] == "a2b" and metadata["dataset"] == "a_to_b"
    assert metadata["pairs"] == 4 and metadata["domain_b"] == domain_b

    for source in (out / "preset", out / "generator"):
        translations = tmp_path / f"out_{source.name}"
        assert (
            run_cli(["translate", str(source), "--in", domain_a, "--out", str(translations)]) == 0
        )
        assert sorted(os.listdir(translations)) == [f"x{i}.png" for i in range(4)]
        assert Image.open(translations / "x0.png").size == (32, 32)
    assert (
        run_cli(
            [
                "translate",
                str(out / "preset"),
                "--direction",
                "b2a",
                "--in",
                domain_a,
                "--out",
                str(tmp_path / "b2a"),
            ]
        )
        == 2
    )
    capsys.readouterr()

    # Pairs: the distances to each source's partner, against no translation.
    features = os.path.join(classifier.ASSETS_DIR, "emoji_32_classifier.weights.h5")
    assert run_cli(["evaluate", str(out / "preset"), "--features", features]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["paired"] and (result["n_a"], result["n_b"]) == (4, 4)
    assert "b2a" not in result and "cycle_l1" not in result["a2b"]
    assert {"l1", "ssim", "psnr", "l1_baseline", "fid", "fid_baseline"} <= set(result["a2b"])
