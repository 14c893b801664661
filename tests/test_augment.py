"""DiffAugment: shapes, gradients, the geometry of translation and cutout."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gans
from keras_gans import augment


def _images(n=8, size=16, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 1.0, (n, size, size, channels)).astype(np.float32)


def _shifted(image, dy, dx):
    """`image` moved down by dy and right by dx, filled with zeros."""
    height, width = image.shape[:2]
    out = np.zeros_like(image)
    rows_out = slice(max(dy, 0), height + min(dy, 0))
    rows_in = slice(max(-dy, 0), height + min(-dy, 0))
    cols_out = slice(max(dx, 0), width + min(dx, 0))
    cols_in = slice(max(-dx, 0), width + min(-dx, 0))
    out[rows_out, cols_out] = image[rows_in, cols_in]
    return out


@pytest.mark.parametrize("policy", ["color", "translation", "cutout",
                                    "color,translation,cutout"])
@pytest.mark.parametrize("channels", [1, 3])
def test_diff_augment_keeps_shape_and_dtype(policy, channels):
    images = _images(4, 16, channels)
    out = augment.diff_augment(tf.constant(images), augment.parse_policy(policy),
                               keras.random.SeedGenerator(0))
    assert tuple(out.shape) == images.shape and out.dtype == tf.float32
    assert np.all(np.isfinite(out.numpy()))
    assert not np.allclose(out.numpy(), images)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_diff_augment_is_differentiable(policy):
    images = tf.Variable(_images(4, 16, 3))
    weights = tf.constant(np.random.default_rng(1).normal(size=(4, 16, 16, 3)), tf.float32)
    with tf.GradientTape() as tape:
        out = augment.diff_augment(images, (policy,), keras.random.SeedGenerator(0))
        score = tf.reduce_sum(out * weights)
    gradient = tape.gradient(score, images)
    assert gradient is not None
    assert np.all(np.isfinite(gradient.numpy()))
    assert float(tf.reduce_max(tf.abs(gradient))) > 0.0


def test_gradient_flows_through_augmentation_to_a_generator():
    generator = keras_gans.networks.DCGANGenerator((16, 16, 1), latent_dim=8)
    z = tf.random.normal((4, 8), seed=0)
    with tf.GradientTape() as tape:
        images = generator(z, training=True)
        out = augment.diff_augment(images, ("color", "translation", "cutout"),
                                   keras.random.SeedGenerator(0))
        score = tf.reduce_mean(out)
    gradients = tape.gradient(score, generator.trainable_variables)
    assert all(g is not None for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients) > 0.0


def test_shift_matrices_move_rows_by_the_shift():
    shifts = tf.constant([1, -2, 0, 6])
    matrices = augment._shift_matrices(shifts, 5, tf.float32).numpy()
    assert matrices.shape == (4, 5, 5)
    column = np.arange(5, dtype=np.float32)
    moved = matrices @ column  # row i takes source i - shift
    np.testing.assert_array_equal(moved[0], [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(moved[1], [2, 3, 4, 0, 0])
    np.testing.assert_array_equal(moved[2], column)
    np.testing.assert_array_equal(moved[3], 0)


def test_random_translation_is_a_zero_filled_shift_within_the_ratio():
    images = _images(32, 16, 2)
    out = augment.random_translation(tf.constant(images), keras.random.SeedGenerator(3),
                                     ratio=0.125).numpy()
    max_shift = 2  # 16 * 0.125
    shifts = []
    for image, moved in zip(images, out, strict=True):
        matches = [(dy, dx) for dy, dx in itertools.product(range(-max_shift, max_shift + 1),
                                                            repeat=2)
                   if np.allclose(moved, _shifted(image, dy, dx))]
        assert len(matches) == 1, "every image is one zero-filled shift of the original"
        shifts.append(matches[0])
    assert len(set(shifts)) > 3, "shifts are drawn per example"
    assert any(dy != 0 for dy, _ in shifts) and any(dx != 0 for _, dx in shifts)


def test_random_translation_is_repeatable_from_the_seed():
    images = tf.constant(_images(8))
    first = augment.random_translation(images, keras.random.SeedGenerator(7))
    second = augment.random_translation(images, keras.random.SeedGenerator(7))
    np.testing.assert_array_equal(first.numpy(), second.numpy())


def test_random_cutout_zeroes_one_square_of_half_the_size():
    images = np.ones((64, 16, 16, 1), np.float32)
    out = augment.random_cutout(tf.constant(images), keras.random.SeedGenerator(0)).numpy()
    side = 8  # 16 * 0.5
    full_squares = 0
    for image in out[..., 0]:
        zero_rows = np.flatnonzero((image == 0).any(axis=1))
        zero_cols = np.flatnonzero((image == 0).any(axis=0))
        assert len(zero_rows) and len(zero_cols)
        block = image[zero_rows[0]:zero_rows[-1] + 1, zero_cols[0]:zero_cols[-1] + 1]
        assert np.all(block == 0), "the zeroed pixels form one rectangle"
        assert (image == 0).sum() == block.size
        assert len(zero_rows) <= side and len(zero_cols) <= side
        for span in (zero_rows, zero_cols):
            if span[0] > 0 and span[-1] < 15:  # not clipped by the border
                assert len(span) == side
        if block.shape == (side, side):
            full_squares += 1
        np.testing.assert_array_equal(image[image != 0], 1.0)
    assert full_squares > 3


def test_random_color_shifts_brightness_per_example():
    images = np.zeros((16, 8, 8, 1), np.float32)
    out = augment.random_color(tf.constant(images), keras.random.SeedGenerator(0)).numpy()
    per_image = out.reshape(16, -1)
    np.testing.assert_allclose(per_image, per_image[:, :1] * np.ones_like(per_image),
                               atol=1e-6)
    assert np.all(np.abs(per_image[:, 0]) <= 0.5)
    assert np.std(per_image[:, 0]) > 0.05


@pytest.mark.parametrize(
    "policy, expected",
    [
        (None, ()),
        ("", ()),
        ("translation, cutout", ("translation", "cutout")),
        (["color"], ("color",)),
    ],
)
def test_parse_policy(policy, expected):
    assert augment.parse_policy(policy) == expected


def test_unknown_policy_error_names_it_and_the_choices():
    with pytest.raises(ValueError) as info:
        augment.parse_policy("translation,zoom")
    message = str(info.value)
    assert "zoom" in message
    for name in augment.POLICIES:
        assert name in message


def test_compile_rejects_unknown_policy():
    gan = keras_gans.VanillaGAN(image_shape=(28, 28, 1), latent_dim=8, seed=0)
    with pytest.raises(ValueError, match="Unknown DiffAugment policy"):
        gan.compile(diff_augment="flip")
