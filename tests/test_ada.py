"""Adaptive discriminator augmentation: the augmentations, the adaptive p,
its saving, `compile(ada=True)` in the games and the command line.

Runs on every backend: `KERAS_BACKEND=jax python -m pytest tests/test_ada.py`.
"""

import os

import h5py
import keras
import numpy as np
import pytest
from conftest import run_cli
from keras import ops

import keras_gans
from keras_gans import ada, backend, cli, run
from keras_gans.networks import DCGANDiscriminator, DCGANGenerator

SHAPE = (16, 16, 3)


def _images(n=8, shape=SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def _augmented(images, names, p=1.0, seed=0):
    multipliers = None if names is None else {name: 1.0 for name in names}
    out = ada.augment(
        ops.convert_to_tensor(images), p, keras.random.SeedGenerator(seed), multipliers
    )
    return out


# ---------------------------------------------------------------- the pipeline
@pytest.mark.parametrize("name", list(ada.BGC))
def test_each_augmentation_keeps_shape_and_dtype_changes_images_and_passes_gradients(name):
    images = _images()
    out = _augmented(images, [name])
    assert tuple(out.shape) == images.shape
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    out = ops.convert_to_numpy(out)
    assert np.all(np.isfinite(out)) and not np.allclose(out, images)

    weights = ops.convert_to_tensor(_images(seed=1))
    gradient = ops.convert_to_numpy(
        backend.input_gradients(
            lambda x: _augmented(x, [name]) * weights, ops.convert_to_tensor(images)
        )
    )
    assert np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) > 0


@pytest.mark.parametrize("channels", [1, 3])
def test_p_zero_is_the_identity_and_the_dtype_is_kept(channels):
    images = _images(shape=(16, 16, channels)).astype("float16")
    out = _augmented(images, None, p=0.0)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_array_equal(ops.convert_to_numpy(out), images)
    everything = ops.convert_to_numpy(_augmented(images, None, p=1.0))
    assert everything.shape == images.shape and np.all(np.isfinite(everything))


def test_the_geometric_augmentations_keep_the_value_range():
    images = np.sign(_images(32, (16, 16, 1)))  # only -1 and 1: the extremes
    out = ops.convert_to_numpy(_augmented(images, ada.GEOMETRIC))
    assert out.min() >= -1.0 - 1e-6 and out.max() <= 1.0 + 1e-6
    assert len(np.unique(out)) > 2  # interpolated, not only blitted


def test_blits_move_pixels_without_interpolating():
    images = _images(16, (8, 8, 1))
    flipped = ops.convert_to_numpy(_augmented(images, ["xflip"]))
    for image, out in zip(images, flipped, strict=True):
        assert np.array_equal(out, image) or np.array_equal(out, image[:, ::-1])
    rotated = ops.convert_to_numpy(_augmented(images, ["rotate90"]))
    for image, out in zip(images, rotated, strict=True):
        assert any(np.array_equal(out, np.rot90(image, k)) for k in range(4))
    shifted = ops.convert_to_numpy(_augmented(images, ["xint"]))
    for image, out in zip(images, shifted, strict=True):
        assert np.all(np.isin(out, image))


def test_the_colour_transforms_act_along_and_around_the_luma_axis():
    images = _images(16)
    luma = images.mean(axis=-1)
    for name in ("hue", "saturation"):  # rotate or scale chroma only
        out = ops.convert_to_numpy(_augmented(images, [name]))
        np.testing.assert_allclose(out.mean(axis=-1), luma, atol=1e-5)
    out = ops.convert_to_numpy(_augmented(images, ["lumaflip"]))
    flipped = [np.allclose(o.mean(-1), -m, atol=1e-5) for o, m in zip(out, luma, strict=True)]
    kept = [np.allclose(o.mean(-1), m, atol=1e-5) for o, m in zip(out, luma, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and any(flipped)
    shift = ops.convert_to_numpy(_augmented(images, ["brightness"])) - images
    np.testing.assert_allclose(shift, shift[:, :1, :1, :1] + 0 * shift, atol=1e-5)
    grey = _images(16, (16, 16, 1))
    ratio = ops.convert_to_numpy(_augmented(grey, ["contrast"])) / grey
    np.testing.assert_allclose(ratio, ratio[:, :1, :1, :1] + 0 * ratio, rtol=1e-4)


def test_bad_pipelines_are_refused():
    with pytest.raises(ValueError, match="Unknown ADA augmentation 'cutout'"):
        _augmented(_images(), ["cutout"])
    with pytest.raises(ValueError, match="1 or 3 channels"):
        _augmented(_images(shape=(16, 16, 4)), ["hue"])


# ------------------------------------------------------------------ adaptive p
def _scores(positive, n=8):
    """D's scores of a minibatch of `n` reals, `positive` of them above 0."""
    return ops.convert_to_tensor(np.where(np.arange(n) < positive, 2.0, -2.0)[:, None])


def test_p_rises_while_d_overfits_and_falls_when_it_does_not():
    # 4 minibatches of 8 images per interval, p moving 32 / 320 = 0.1.
    pipe = ada.AdaptiveAugment(target=0.6, kimg=0.32, interval=4)
    for _ in range(3):
        pipe.observe(_scores(8))
    assert float(pipe.p) == 0.0  # no adjustment within the interval
    pipe.observe(_scores(8))
    assert float(pipe.p) == pytest.approx(0.1) and float(pipe.rt) == 1.0
    for _ in range(4 * 3):
        pipe.observe(_scores(7))  # r_t = 0.75 > 0.6
    assert float(pipe.p) == pytest.approx(0.4) and float(pipe.rt) == 0.75
    for _ in range(4):
        pipe.observe(_scores(5))  # r_t = 0.25 < 0.6
    assert float(pipe.p) == pytest.approx(0.3) and float(pipe.rt) == 0.25
    for _ in range(4 * 10):
        pipe.observe(_scores(0))
    assert float(pipe.p) == 0.0  # kept in [0, 1]
    for _ in range(4 * 20):
        pipe.observe(_scores(8))
    assert float(pipe.p) == 1.0


def test_rt_counts_scores_above_the_threshold():
    pipe = ada.AdaptiveAugment(interval=1)
    pipe.observe(ops.full((8, 1), 0.4), threshold=0.5)
    assert float(pipe.rt) == -1.0
    pipe.observe(ops.full((8, 1), 0.6), threshold=0.5)
    assert float(pipe.rt) == 1.0


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("target", 1.0, "ada_target must lie in"),
        ("kimg", 0.0, "ada_kimg must be positive"),
        ("interval", 0, "ada_interval must be a whole number"),
    ],
)
def test_bad_settings_are_refused(setting, value, message):
    with pytest.raises(ValueError, match=message):
        ada.AdaptiveAugment(**{setting: value})


# -------------------------------------------------------------------- the games
def _dcgan(**kwargs):
    return keras_gans.DCGAN(
        generator=DCGANGenerator((16, 16, 1), 8, base_filters=8),
        discriminator=DCGANDiscriminator((16, 16, 1), base_filters=8),
        seed=0,
        **kwargs,
    )


def _wgan_gp():
    return keras_gans.WGANGP(
        generator=DCGANGenerator((16, 16, 1), 8, base_filters=8),
        discriminator=DCGANDiscriminator((16, 16, 1), base_filters=8, normalization="layer"),
        n_critic=2,
        seed=0,
    )


def _cgan():
    return keras_gans.ConditionalGAN(
        num_classes=3,
        generator=DCGANGenerator((16, 16, 1), 8, base_filters=8, num_classes=3),
        discriminator=DCGANDiscriminator((16, 16, 1), base_filters=8, num_classes=3),
        seed=0,
    )


# Each fit reads 16 real images in 4 (WGAN-GP: critic) minibatches: one
# interval, after which p moves by 16 / 160 = 0.1 from 0, up or down by r_t.
# The DCGAN's step is compiled (tf.function, jax.jit); the others run
# eagerly, which is quicker for two steps on TensorFlow and PyTorch.
@pytest.mark.parametrize(
    "build, options",
    [
        (_dcgan, {"ada_interval": 2, "r1_weight": 1.0}),
        (_wgan_gp, {"ada_interval": 4, "run_eagerly": True}),
        (_cgan, {"ada_interval": 2, "run_eagerly": True}),
    ],
    ids=["dcgan_r1", "wgan_gp", "cgan"],
)
def test_fit_with_ada_adjusts_p_in_the_step_and_logs_it(build, options):
    model = build()
    model.compile(ada=True, ada_kimg=0.16, **options)
    images = _images(16, (16, 16, 1))
    labels = np.arange(16, dtype="int32") % 3 if model.conditional else None
    history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0).history
    pipe = model.adaptive_augment
    rt = history["ada_rt"][-1]
    assert -1.0 <= rt <= 1.0 and rt == pytest.approx(float(pipe.rt))
    expected = max(0.0, float(np.sign(rt - 0.6)) * 0.1)
    assert history["ada_p"][-1] == pytest.approx(expected)
    assert float(pipe.p) == pytest.approx(expected)
    assert float(pipe.minibatch_count) == 0.0 and float(pipe.image_count) == 0.0
    assert all(np.all(np.isfinite(log)) for log in history.values())


def test_d_sees_augmented_images_only_with_ada_on():
    images = ops.convert_to_tensor(_images(4, (16, 16, 1)))
    model = _dcgan()
    model.compile(ada=True)
    model.adaptive_augment.p.assign(1.0)
    assert not np.allclose(
        ops.convert_to_numpy(model.discriminator_view(images)), ops.convert_to_numpy(images)
    )
    model.compile()
    np.testing.assert_array_equal(
        ops.convert_to_numpy(model.discriminator_view(images)), ops.convert_to_numpy(images)
    )


def test_which_games_and_option_combinations_take_ada():
    model = _dcgan()
    with pytest.raises(ValueError, match="^ada and diff_augment both augment"):
        model.compile(ada=True, diff_augment="translation")
    with pytest.raises(ValueError, match="^ada_target is a setting of adaptive augmentation"):
        model.compile(ada_target=0.7)
    for cls in (keras_gans.ProGAN, keras_gans.CycleGAN):
        with pytest.raises(ValueError, match=f"^{cls.__name__} does not support ada"):
            cls.check_supported({"ada": True})
    settings = {"ada": True, "ada_target": 0.6, "ada_kimg": 100.0, "ada_interval": 4}
    for cls in (
        keras_gans.VanillaGAN,
        keras_gans.DCGAN,
        keras_gans.ConditionalGAN,
        keras_gans.WGAN,
        keras_gans.WGANGP,
        keras_gans.SNGAN,
    ):
        cls.check_supported(settings)


def test_p_and_the_settings_resume_from_a_keras_file_a_preset_and_weights(tmp_path):
    model = _dcgan()
    model.compile(ada=True, ada_target=0.7, ada_kimg=50)
    pipe = model.adaptive_augment
    pipe.p.assign(0.37)
    pipe.sign_sum.assign(3.0)
    pipe.minibatch_count.assign(2.0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.ada and loaded.adaptive_augment.target == 0.7
    assert loaded.adaptive_augment.kimg == 50.0
    assert float(loaded.adaptive_augment.p) == pytest.approx(0.37)
    assert float(loaded.adaptive_augment.sign_sum) == 3.0
    assert float(loaded.adaptive_augment.minibatch_count) == 2.0

    model.save_to_preset(str(tmp_path / "preset"))
    preset = keras_gans.DCGAN.from_preset(str(tmp_path / "preset"))
    assert preset.ada and float(preset.adaptive_augment.p) == pytest.approx(0.37)

    # Weights saved before models had ADA's state load with p = 0.
    weights = str(tmp_path / "model.weights.h5")
    model.save_weights(weights)
    with h5py.File(weights, "a") as file:
        del file["adaptive_augment"]
    older = _dcgan()
    older.load_weights(weights)
    assert float(older.adaptive_augment.p) == 0.0


# ------------------------------------------------------------- command line
def test_the_command_line_trains_with_ada():
    args = cli.build_parser().parse_args(
        ["train", "dcgan", "--ada", "--ada-target", "0.7", "--ada-kimg", "20"]
    )
    model = run.build_model(
        cli.train_config(args), {"image_shape": (16, 16, 1)}, steps_per_epoch=1, epochs=1
    )
    assert model.ada and model.adaptive_augment.target == 0.7
    assert model.get_compile_config()["ada_kimg"] == 20.0


def test_the_command_line_refuses_ada_with_diff_augment(tmp_path, capsys):
    status = run_cli(
        ["train", "dcgan", "--ada", "--diff-augment", "translation", "--out", str(tmp_path / "run")]
    )
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "keras-gans train: error: ada and diff_augment both augment what the "
        "discriminator sees: give one of them."
    ]
    assert not os.path.exists(tmp_path / "run")
