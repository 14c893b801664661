"""Fine-tuning a preset on other data (`from_preset`), with the
discriminator's first blocks frozen (FreezeD, `freeze_d`)."""

import json

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

import keras_gans
from keras_gans import data, saving
from keras_gans.models.adversarial import network_blocks

SHAPE = (16, 16, 1)


def new_images(n=32, seed=1, shape=SHAPE):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.fixture(scope="module")
def dcgan_preset(tmp_path_factory):
    model = keras_gans.DCGAN(image_shape=SHAPE, latent_dim=8, seed=0)
    model.compile()
    path = tmp_path_factory.mktemp("presets") / "tiny_dcgan"
    model.save_to_preset(str(path))
    return path


def weights_of(layers):
    return [np.asarray(weight) for layer in layers for weight in layer.weights]


def test_fine_tuning_starts_from_the_preset_and_keeps_frozen_blocks(dcgan_preset, tmp_path):
    preset = saving.load_preset(str(dcgan_preset))
    blocks = network_blocks(preset.discriminator)
    result = keras_gans.train("dcgan", images=new_images(), from_preset=str(dcgan_preset),
                              freeze_d=2, epochs=1, batch_size=16, out=str(tmp_path / "run"),
                              quiet=True)
    tuned_blocks = network_blocks(result.model.discriminator)

    for before, after in zip(weights_of(sum(blocks[:2], [])),
                             weights_of(sum(tuned_blocks[:2], [])), strict=True):
        np.testing.assert_array_equal(before, after)
    moved = [np.abs(a - b).max() for a, b in zip(weights_of(sum(blocks[2:], [])),
                                                 weights_of(sum(tuned_blocks[2:], [])),
                                                 strict=True)]
    assert max(moved) > 0
    generator_moved = [np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in zip(
        preset.generator.weights, result.model.generator.weights, strict=True)]
    assert 0 < max(generator_moved) < 0.05  # a step or two from the preset, not afresh
    assert "--from-preset" in result.metadata["command"]
    assert "--freeze-d 2" in result.metadata["command"]
    with open(tmp_path / "run" / "preset" / "config.json") as f:
        assert json.load(f)["config"]["frozen_blocks"] == {"discriminator": 2}


def test_a_resumed_fine_tuning_keeps_its_blocks_frozen(dcgan_preset, tmp_path):
    out = tmp_path / "run"
    keras_gans.train("dcgan", images=new_images(), from_preset=str(dcgan_preset),
                     freeze_d=1, epochs=1, batch_size=16, out=str(out), quiet=True)
    model = saving.load_gan(str(out / "checkpoint" / "checkpoint.keras"))
    first = network_blocks(model.discriminator)[0]
    assert not any(layer.trainable for layer in first)
    assert model.frozen_blocks == {"discriminator": 1}


def test_freeze_blocks_bounds(dcgan_preset):
    model = saving.load_preset(str(dcgan_preset))
    count = len(network_blocks(model.discriminator))
    with pytest.raises(ValueError, match=f"has {count} blocks: freeze 1 to {count - 1}"):
        model.freeze_blocks("discriminator", count)
    with pytest.raises(ValueError, match="has no player 'critic'"):
        model.freeze_blocks("critic", 1)


def write_folder(folder, shape):
    folder.mkdir()
    for i, image in enumerate(new_images(8, shape=shape)):
        Image.fromarray(image[..., 0] if shape[-1] == 1 else image).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("arguments, message", [
    (["--image-size", "32"], "draws 16x16x1 images, the data holds 32x32x1: pass "
                             "--image-size 16 --channels 1"),
    (["--freeze-d", "1", "--latent-dim", "16"], "--latent-dim: fine-tuning keeps"),
])
def test_a_preset_that_does_not_fit_the_data_is_one_line(dcgan_preset, tmp_path, capsys,
                                                         arguments, message):
    folder = write_folder(tmp_path / "images", SHAPE)
    status = run_cli(["train", "dcgan", "--from-preset", str(dcgan_preset), "--data-dir",
                      str(folder), "--out", str(tmp_path / "out"), "--quiet", "--batch-size", "4",
                      *arguments])
    error = capsys.readouterr().err.strip()
    assert status == 2 and len(error.splitlines()) == 1 and message in error, error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options, message", [
    ({"variant": "wgan"}, "holds a DCGAN, not a wgan"),
    ({"from_preset": None, "freeze_d": 1}, "give the preset to fine-tune with --from-preset"),
])
def test_fine_tuning_refusals(dcgan_preset, tmp_path, options, message):
    arguments = {"variant": "dcgan", "from_preset": str(dcgan_preset), **options}
    with pytest.raises(ValueError, match=message):
        keras_gans.train(arguments.pop("variant"), images=new_images(), epochs=1,
                         out=str(tmp_path / "out"), quiet=True, **arguments)


def test_a_conditional_preset_needs_data_of_its_classes(tmp_path):
    model = keras_gans.ConditionalGAN(num_classes=3, image_shape=SHAPE, latent_dim=8, seed=0)
    model.compile()
    model.save_to_preset(str(tmp_path / "cgan"))
    two_classes = data.ImageData(new_images(), np.arange(32) % 2, "mine", "test images",
                                 ["a", "b"])
    with pytest.raises(ValueError, match="conditional on 3 classes and the data has 2"):
        keras_gans.train("cgan", images=two_classes, from_preset=str(tmp_path / "cgan"),
                         epochs=1, out=str(tmp_path / "out"), quiet=True)
