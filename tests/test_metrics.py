"""FID, KID, Inception Score, coverage and the feature extractors."""

import keras
import numpy as np
import pytest

import keras_gans
from keras_gans import metrics


def gaussian_statistics(mean, std, n, seed, batch_size=1000):
    rng = np.random.default_rng(seed)
    statistics = metrics.FeatureStatistics(seed=seed)
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        statistics.update(mean + std * rng.standard_normal((count, len(mean))))
    return statistics


def diagonal_closed_form(mu1, var1, mu2, var2):
    return float(np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2)))


def random_rotation(dim, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return q * np.sign(np.diagonal(r))


# ------------------------------------------------------------------ streaming
def test_streaming_statistics_equal_batch_statistics():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((1003, 6)) @ rng.standard_normal((6, 6)) + 40.0
    statistics = metrics.FeatureStatistics()
    start = 0
    for size in rng.integers(1, 200, size=100):
        statistics.update(features[start:start + size])
        start += size
        if start >= len(features):
            break
    assert statistics.count == len(features)
    np.testing.assert_allclose(statistics.mean, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(statistics.covariance, np.cov(features, rowvar=False),
                               rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(statistics.samples, features.astype(np.float32))


def test_reservoir_is_bounded_uniform_and_repeatable():
    index = np.arange(20000, dtype=np.float64)[:, np.newaxis]

    def reservoir(seed):
        statistics = metrics.FeatureStatistics(max_samples=2000, seed=seed)
        for start in range(0, len(index), 300):
            statistics.update(index[start:start + 300])
        return statistics.samples[:, 0]

    kept = reservoir(seed=1)
    assert len(kept) == 2000
    assert len(np.unique(kept)) == 2000
    # A uniform sample: each tenth of the stream holds about a tenth of it.
    fractions = np.bincount((kept // 2000).astype(int), minlength=10) / 2000
    np.testing.assert_allclose(fractions, 0.1, atol=0.03)
    np.testing.assert_array_equal(kept, reservoir(seed=1))
    assert not np.array_equal(kept, reservoir(seed=2))


def test_statistics_reject_mismatched_and_non_finite_features():
    statistics = metrics.FeatureStatistics()
    statistics.update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="dimension 4"):
        statistics.update(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        statistics.update(np.full((3, 4), np.nan))


# ------------------------------------------------------------------------ FID
def test_fid_of_a_set_against_itself_is_zero():
    statistics = gaussian_statistics(np.arange(8.0), np.linspace(0.5, 3, 8), 5000, seed=0)
    assert metrics.fid_from_statistics(statistics, statistics) == pytest.approx(0, abs=1e-6)


def test_fid_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    var1, var2 = rng.uniform(0.1, 4, 16), rng.uniform(0.1, 4, 16)
    expected = diagonal_closed_form(mu1, var1, mu2, var2)
    assert metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == (
        pytest.approx(expected, rel=1e-9))
    # The same Gaussians rotated: the distance is unchanged.
    rotation = random_rotation(16, seed=1)
    rotated = metrics.frechet_distance(
        rotation @ mu1, rotation @ np.diag(var1) @ rotation.T,
        rotation @ mu2, rotation @ np.diag(var2) @ rotation.T)
    assert rotated == pytest.approx(expected, rel=1e-6)


def test_fid_of_samples_approaches_the_closed_form():
    mu1, mu2 = np.zeros(4), np.array([1.0, 0.0, -2.0, 0.5])
    std1, std2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([1.0, 1.0, 1.5, 3.0])
    first = gaussian_statistics(mu1, std1, 100000, seed=0)
    second = gaussian_statistics(mu2, std2, 100000, seed=1)
    expected = diagonal_closed_form(mu1, std1**2, mu2, std2**2)
    assert metrics.fid_from_statistics(first, second) == pytest.approx(expected, rel=0.02)


def test_fid_handles_singular_covariances():
    rng = np.random.default_rng(0)
    low_rank = rng.standard_normal((500, 3)) @ rng.standard_normal((3, 10))
    first, second = metrics.FeatureStatistics(), metrics.FeatureStatistics()
    first.update(low_rank)
    second.update(low_rank[::-1] + 1.0)
    fid = metrics.fid_from_statistics(first, second)
    assert np.isfinite(fid)
    assert fid == pytest.approx(10.0, rel=0.01)  # only the means differ, by 1 per axis


def test_fid_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="Mismatched"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ------------------------------------------------------------------------ KID
def test_polynomial_mmd2_matches_its_definition():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((5, 3)) + 0.5

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(5)) / (7 * 5)
    assert metrics.polynomial_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    first = rng.standard_normal((3000, 32))
    second = rng.standard_normal((3000, 32))
    shifted = rng.standard_normal((3000, 32)) * 1.2 + 0.3
    same, same_std = metrics.kernel_inception_distance(first, second, num_subsets=20)
    different, different_std = metrics.kernel_inception_distance(first, shifted,
                                                                 num_subsets=20)
    assert abs(same) < 3 * same_std + 1e-3
    assert different > 10 * different_std
    assert different > 100 * abs(same)


def test_kid_is_seeded_and_caps_the_subset_size():
    rng = np.random.default_rng(0)
    first, second = rng.standard_normal((50, 4)), rng.standard_normal((80, 4)) + 1
    assert metrics.kernel_inception_distance(first, second, seed=3) == (
        metrics.kernel_inception_distance(first, second, seed=3))
    assert metrics.kernel_inception_distance(first, second, seed=3) != (
        metrics.kernel_inception_distance(first, second, seed=4))
    # Subsets of 50 (all of the first set) from a subset_size of 1000.
    kid, _ = metrics.kernel_inception_distance(first, second, num_subsets=1,
                                               subset_size=1000, seed=0)
    full, _ = metrics.kernel_inception_distance(first, second, num_subsets=1,
                                                subset_size=50, seed=0)
    assert kid == full


# -------------------------------------------------------------------------- IS
def test_inception_score_of_uniform_predictions_is_one():
    score, std = metrics.inception_score(np.full((1000, 10), 0.1))
    assert score == pytest.approx(1.0)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_confident_diverse_predictions_is_num_classes():
    confident = np.eye(10)[np.arange(1000) % 10] * 0.99 + 0.001
    score, _ = metrics.inception_score(confident)
    assert score == pytest.approx(10.0, rel=0.1)
    collapsed = np.eye(10)[np.zeros(1000, int)] * 0.99 + 0.001
    assert metrics.inception_score(collapsed)[0] == pytest.approx(1.0)


def test_inception_score_rejects_non_distributions():
    with pytest.raises(ValueError, match="summing to 1"):
        metrics.inception_score(np.ones((10, 3)))


# -------------------------------------------------------- coverage, accuracy
def test_class_coverage_detects_a_collapsed_generator():
    diverse = metrics.class_coverage(np.arange(1000) % 10, 10)
    assert diverse["coverage"] == pytest.approx([0.1] * 10)
    assert diverse["classes_covered"] == 10
    collapsed = metrics.class_coverage(np.r_[np.full(970, 3), np.arange(30) % 10], 10)
    assert collapsed["classes_covered"] == 1
    assert collapsed["coverage_min"] == pytest.approx(0.003)
    assert sum(collapsed["coverage"]) == pytest.approx(1.0)


def test_conditional_accuracy():
    assert metrics.conditional_accuracy([1, 2, 3, 3], [1, 2, 3, 4]) == 0.75


def fixed_discriminator(image_shape, sign):
    """Scores an image by `sign * (-0.7 - mean pixel)`: dark images look real."""
    inputs = keras.Input(image_shape)
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(1)
    outputs = dense(x)
    dense.set_weights([np.full((image_shape[-1], 1), -sign, np.float32),
                       np.full((1,), -0.7 * sign, np.float32)])
    return keras.Model(inputs, outputs)


def test_discriminator_accuracy_counts_real_and_fake_decisions():
    gan = keras_gans.DCGAN(seed=0)
    generated_mean = gan.generate(200, seed=0).mean()
    dark = np.full((100, 28, 28, 1), 10, np.uint8)  # about -0.92 in [-1, 1]
    assert generated_mean > -0.5
    gan.discriminator = fixed_discriminator((28, 28, 1), sign=1.0)
    scores = metrics.discriminator_accuracy(gan, dark, batch_size=64)
    assert scores == {"d_acc_real": 1.0, "d_acc_fake": 1.0}
    gan.discriminator = fixed_discriminator((28, 28, 1), sign=-1.0)
    scores = metrics.discriminator_accuracy(gan, dark, batch_size=64)
    assert scores == {"d_acc_real": 0.0, "d_acc_fake": 0.0}


# ------------------------------------------------------------------ extractors
def test_feature_extractor_reads_named_layers_and_callables():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(5, name="features")(x)
    logits = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, logits)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype(np.float32)

    features, predicted = metrics.FeatureExtractor.from_layers(model, "features",
                                                               "logits")(images)
    assert features.shape == (4, 5) and predicted.shape == (4, 3)
    np.testing.assert_allclose(predicted, model.predict(images, verbose=0), rtol=1e-5)

    flat, none = metrics.FeatureExtractor(lambda x: x * 2.0, name="double")(images)
    assert none is None
    np.testing.assert_allclose(flat, images.reshape(4, -1) * 2.0)


@pytest.mark.parametrize("include_top", [True, False])
def test_inception_v3_extractor_on_small_inputs(include_top):
    extractor = metrics.inception_v3_extractor(weights=None, include_top=include_top,
                                               input_size=75)
    grayscale = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    features, logits = extractor(grayscale)
    assert extractor.name == "inception_v3"
    assert features.shape == (3, 2048)
    assert np.isfinite(features).all()
    if include_top:
        assert logits.shape == (3, 1000)
    else:
        assert logits is None
    rgb = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    assert extractor(rgb)[0].shape == (2, 2048)
