"""Using a trained generator: truncation, latent interpolation and walks,
`keras-gans interpolate`, and TensorBoard logging of the sample grids."""

import glob
import importlib.util

import numpy as np
import pytest
from conftest import run_cli

import keras_gans
from keras_gans import latent

HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


@pytest.fixture(scope="module")
def gan():
    return keras_gans.DCGAN(image_shape=(16, 16, 1), latent_dim=8, seed=0)


@pytest.fixture(scope="module")
def saved_gan(gan, tmp_path_factory):
    path = tmp_path_factory.mktemp("latent") / "dcgan.keras"
    gan.compile()
    gan.save(path)
    return str(path)


def test_truncation_zero_gives_every_sample_the_mean_latents_image(gan):
    images = gan.generate(4, seed=1, truncation=0.0)
    np.testing.assert_allclose(images, np.repeat(images[:1], 4, axis=0), atol=1e-6)
    np.testing.assert_allclose(
        images[0], gan.generate_from(np.zeros((1, 8), np.float32))[0], atol=1e-6
    )
    assert np.ptp(gan.generate(4, seed=1), axis=0).max() > 1e-3


def test_truncation_one_is_no_truncation_and_between_pulls_toward_the_mean(gan):
    np.testing.assert_array_equal(gan.generate(3, seed=2, truncation=1.0), gan.generate(3, seed=2))
    z = keras_gans.sampling.latent_noise(3, 8, seed=2)
    np.testing.assert_allclose(
        gan.generate(3, seed=2, truncation=0.5), gan.generate_from(0.5 * z), atol=1e-6
    )


@pytest.mark.parametrize("psi", [-0.1, 1.5, "0.5"])
def test_a_truncation_out_of_range_is_a_one_line_error(gan, psi):
    with pytest.raises(ValueError, match=r"^truncation must .*\[0, 1\], got") as error:
        gan.generate(2, truncation=psi)
    assert "\n" not in str(error.value)


@pytest.mark.skipif(not HAS_TENSORFLOW, reason="exports are TensorFlow SavedModels")
def test_an_export_honours_truncation(gan, tmp_path):
    gan.export(str(tmp_path / "generator"))
    exported = keras_gans.saving.load_generator(str(tmp_path / "generator"))
    mean = exported.generate(3, seed=0, truncation=0.0)
    np.testing.assert_allclose(mean, np.repeat(mean[:1], 3, axis=0), atol=1e-6)
    np.testing.assert_allclose(
        exported.generate(3, seed=0, truncation=0.3),
        gan.generate(3, seed=0, truncation=0.3),
        atol=1e-5,
    )


def test_interpolation_ends_are_the_given_latents():
    rng = np.random.default_rng(0)
    start, end = rng.standard_normal((2, 3, 8)).astype(np.float32)
    for method in ("slerp", "linear"):
        path = latent.interpolate(start, end, 5, method)
        assert path.shape == (5, 3, 8)
        np.testing.assert_allclose(path[0], start, atol=1e-6)
        np.testing.assert_allclose(path[-1], end, atol=1e-6)


def test_slerp_keeps_the_norm_of_equal_norm_ends_and_linear_does_not():
    rng = np.random.default_rng(1)
    start, end = rng.standard_normal((2, 16))
    end *= np.linalg.norm(start) / np.linalg.norm(end)
    norms = np.linalg.norm(latent.interpolate(start, end, 9), axis=-1)
    np.testing.assert_allclose(norms, np.linalg.norm(start), rtol=1e-5)
    assert np.linalg.norm(latent.interpolate(start, end, 9, "linear")[4]) < 0.9 * norms[4]
    # Parallel ends take the straight line rather than dividing by sin(0).
    np.testing.assert_allclose(latent.interpolate(start, 2 * start, 3)[1], 1.5 * start, rtol=1e-5)


def test_a_walks_key_frames_are_the_images_of_its_latents(gan):
    keys = keras_gans.sampling.latent_noise(3, 8, seed=5)
    frames = latent.latent_walk(gan, 3, 4, latents=keys)
    assert frames.shape == (3 + 2 * 4, 16, 16, 1)
    np.testing.assert_allclose(frames[::5], gan.generate_from(keys), atol=1e-5)
    with pytest.raises(ValueError, match="Unknown interpolation method 'cubic'"):
        latent.latent_walk(gan, 3, 4, method="cubic")


def test_a_conditional_walk_keeps_z_and_steps_between_classes():
    cgan = keras_gans.ConditionalGAN(image_shape=(16, 16, 1), latent_dim=8, num_classes=3, seed=0)
    frames = latent.latent_walk(cgan, 3, 3, seed=0, labels=[2, 0, 1])
    assert frames.shape == (9, 16, 16, 1)
    z = keras_gans.sampling.latent_noise(1, 8, seed=0)
    expected = cgan.generate_from(np.repeat(z, 3, axis=0), np.array([2, 0, 1], np.int32))
    np.testing.assert_allclose(frames[::4], expected, atol=1e-5)
    np.testing.assert_allclose(frames[1], frames[0], atol=1e-6)  # before the halfway step
    np.testing.assert_allclose(frames[2], frames[4], atol=1e-6)  # after it


def test_interpolate_writes_a_gif_with_one_frame_per_step(saved_gan, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "walk.gif"
    assert (
        run_cli(
            [
                "interpolate",
                saved_gan,
                "--out",
                str(out),
                "--points",
                "3",
                "--steps",
                "2",
                "--fps",
                "5",
                "--method",
                "linear",
            ]
        )
        == 0
    )
    assert "Wrote 7 frames" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == 7 and gif.size == (16, 16)
    assert glob.glob(str(tmp_path / ".walk.gif.tmp-*")) == []


def test_interpolate_refuses_mp4_without_ffmpeg_and_other_formats(
    saved_gan, tmp_path, capsys, monkeypatch
):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "imageio_ffmpeg" else real_find_spec(name, *a),
    )
    assert run_cli(["interpolate", saved_gan, "--out", str(tmp_path / "walk.mp4")]) == 2
    assert capsys.readouterr().err == (
        "keras-gans interpolate: error: Writing .mp4 needs "
        "FFmpeg: pip install imageio[ffmpeg] (or write a "
        ".gif).\n"
    )
    assert run_cli(["interpolate", saved_gan, "--out", str(tmp_path / "walk.png")]) == 2
    assert "a walk is written as .gif or .mp4, not .png" in capsys.readouterr().err


def test_sample_truncation_out_of_range_is_a_one_line_usage_error(capsys):
    assert run_cli(["sample", "dcgan_fashion_mnist", "--truncation", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "argument --truncation: 1.5 must lie in [0, 1]" in err


def test_sample_truncation_zero_writes_identical_samples(saved_gan, tmp_path):
    from PIL import Image

    out = tmp_path / "samples"
    assert run_cli(["sample", saved_gan, "--n", "3", "--truncation", "0", "--out", f"{out}/"]) == 0
    images = [np.asarray(Image.open(path)) for path in sorted(out.glob("*.png"))]
    assert len(images) == 3 and all(np.array_equal(image, images[0]) for image in images)


@pytest.mark.skipif(not HAS_TENSORFLOW, reason="TensorBoard summaries need TensorFlow")
def test_a_sample_grid_logs_its_images_and_fid_scores_to_tensorboard(gan, tmp_path):
    import tensorflow as tf

    grid = keras_gans.callbacks.SampleGrid(
        str(tmp_path / "png"), num_images=4, tensorboard=str(tmp_path / "logs")
    )
    grid.set_model(gan)
    grid.on_train_begin()
    grid.on_epoch_end(0, {"fid": 12.5, "d_loss": 0.7})
    grid.on_train_end()
    events = glob.glob(str(tmp_path / "logs" / "samples" / "events.out.tfevents.*"))
    assert len(events) == 1
    values = [
        (event.step, value)
        for event in tf.compat.v1.train.summary_iterator(events[0])
        for value in event.summary.value
    ]
    images = [value for step, value in values if value.metadata.plugin_data.plugin_name == "images"]
    assert [value.tag for value in images] == ["samples"]
    width, height = tf.make_ndarray(images[0].tensor)[:2]
    assert (int(width), int(height)) == (2 * 17 + 1, 2 * 17 + 1)
    fid = [
        (step, float(tf.make_ndarray(value.tensor))) for step, value in values if value.tag == "fid"
    ]
    assert fid == [(1, 12.5)]
    assert not [value for _, value in values if value.tag == "d_loss"]
