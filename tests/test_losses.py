"""Adversarial losses against values computed by hand, and the penalties."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_gans import losses

REAL = np.array([[2.0], [-1.0], [0.5]], np.float32)
FAKE = np.array([[-3.0], [0.0], [1.0]], np.float32)


def softplus(x):
    return np.log1p(np.exp(x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def value(tensor):
    array = np.asarray(tensor)
    assert array.shape == (), f"expected a scalar, got shape {array.shape}"
    return float(array)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_every_loss_gives_finite_scalars(name):
    loss = losses.get(name)
    rng = np.random.default_rng(0)
    real = rng.normal(size=(16, 1)).astype(np.float32)
    fake = rng.normal(size=(16, 1)).astype(np.float32)
    d_loss = value(loss.discriminator_loss(real, fake))
    g_loss = value(loss.generator_loss(fake))
    assert math.isfinite(d_loss) and math.isfinite(g_loss)
    assert loss.name == name


def test_minimax_matches_the_log_likelihood():
    loss = losses.get("minimax")
    expected_d = -np.mean(np.log(sigmoid(REAL))) - np.mean(np.log(1 - sigmoid(FAKE)))
    expected_g = np.mean(np.log(1 - sigmoid(FAKE)))
    assert value(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-5)
    assert value(loss.generator_loss(FAKE)) == pytest.approx(expected_g, rel=1e-5)


def test_non_saturating_generator_maximises_log_d():
    loss = losses.get("non_saturating")
    expected_g = -np.mean(np.log(sigmoid(FAKE)))
    assert value(loss.generator_loss(FAKE)) == pytest.approx(expected_g, rel=1e-5)
    assert value(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(
        value(losses.get("minimax").discriminator_loss(REAL, FAKE)), rel=1e-6)


def test_non_saturating_gradient_does_not_vanish_where_minimax_does():
    confident_fake = tf.constant([[-10.0]])
    gradients = {}
    for name in ("minimax", "non_saturating"):
        with tf.GradientTape() as tape:
            tape.watch(confident_fake)
            g_loss = losses.get(name).generator_loss(confident_fake)
        gradients[name] = abs(float(tape.gradient(g_loss, confident_fake)[0, 0]))
    assert gradients["minimax"] < 1e-3
    assert gradients["non_saturating"] > 0.99


def test_lsgan_is_half_squared_error_to_targets():
    loss = losses.get("lsgan")
    expected_d = 0.5 * np.mean((REAL - 1.0) ** 2) + 0.5 * np.mean(FAKE**2)
    expected_g = 0.5 * np.mean((FAKE - 1.0) ** 2)
    assert value(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-6)
    assert value(loss.generator_loss(FAKE)) == pytest.approx(expected_g, rel=1e-6)
    assert loss.decision_threshold == 0.5


def test_hinge_loss():
    loss = losses.get("hinge")
    # real: relu(1 - [2, -1, 0.5]) = [0, 2, 0.5]; fake: relu(1 + [-3, 0, 1]) = [0, 1, 2]
    assert value(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(2.5 / 3 + 3.0 / 3)
    assert value(loss.generator_loss(FAKE)) == pytest.approx(2.0 / 3)


def test_wasserstein_loss():
    loss = losses.get("wasserstein")
    # E[f(G(z))] - E[f(x)] = (-2/3) - (1.5/3)
    assert value(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(-2 / 3 - 0.5)
    assert value(loss.generator_loss(FAKE)) == pytest.approx(2 / 3)


def test_kl_f_gan_loss():
    loss = losses.get("kl")
    # g_f(v) = v, f*(t) = exp(t - 1)
    expected_d = -(np.mean(REAL) - np.mean(np.exp(FAKE - 1.0)))
    assert value(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-5)
    assert value(loss.generator_loss(FAKE)) == pytest.approx(-np.mean(FAKE), rel=1e-6)


def test_jensen_shannon_f_gan_loss():
    loss = losses.get("jensen_shannon")
    # g_f(v) = log 2 - log(1 + exp(-v)), f*(t) = -log(2 - exp(t))
    real_t = np.log(2.0) - softplus(-REAL)
    fake_t = np.log(2.0) - softplus(-FAKE)
    expected_d = -(np.mean(real_t) - np.mean(-np.log(2.0 - np.exp(fake_t))))
    assert value(loss.discriminator_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-5)
    assert value(loss.generator_loss(FAKE)) == pytest.approx(-np.mean(fake_t), rel=1e-5)


def test_pearson_and_reverse_kl_f_gan_losses():
    pearson = losses.get("pearson")
    expected = -(np.mean(REAL) - np.mean(0.25 * FAKE**2 + FAKE))
    assert value(pearson.discriminator_loss(REAL, FAKE)) == pytest.approx(expected, rel=1e-5)

    reverse_kl = losses.get("reverse_kl")
    real_t, fake_t = -np.exp(-REAL), -np.exp(-FAKE)
    expected = -(np.mean(real_t) - np.mean(-1.0 - np.log(-fake_t)))
    assert value(reverse_kl.discriminator_loss(REAL, FAKE)) == pytest.approx(expected,
                                                                              rel=1e-5)


@pytest.mark.parametrize("name", ["minimax", "non_saturating"])
def test_label_smoothing_makes_the_real_term_bce_with_a_soft_target(name):
    loss = losses.get(name)
    target = 0.9
    soft_real = np.mean(target * softplus(-REAL) + (1 - target) * softplus(REAL))
    fake_term = np.mean(softplus(FAKE))
    smoothed = value(loss.discriminator_loss(REAL, FAKE, real_target=target))
    assert smoothed == pytest.approx(soft_real + fake_term, rel=1e-5)
    assert smoothed != pytest.approx(value(loss.discriminator_loss(REAL, FAKE)), rel=1e-3)


def test_label_smoothing_leaves_the_fake_term_alone():
    loss = losses.get("non_saturating")
    real = np.zeros((3, 1), np.float32)
    sharp = [value(loss.discriminator_loss(real, FAKE + d, real_target=1.0)) for d in (0, 1)]
    soft = [value(loss.discriminator_loss(real, FAKE + d, real_target=0.8)) for d in (0, 1)]
    assert sharp[1] - sharp[0] == pytest.approx(soft[1] - soft[0], rel=1e-5)


def test_losses_accept_half_precision_logits():
    real = tf.constant(REAL, tf.float16)
    fake = tf.constant(FAKE, tf.float16)
    for name in ("non_saturating", "hinge", "kl"):
        d_loss = losses.get(name).discriminator_loss(real, fake)
        assert d_loss.dtype == tf.float32


def test_get_returns_a_loss_object_unchanged():
    hinge = losses.get("hinge")
    assert losses.get(hinge) is hinge


def test_unknown_loss_error_lists_known_losses():
    with pytest.raises(ValueError) as info:
        losses.get("wassertein")
    message = str(info.value)
    assert "'wassertein'" in message
    for name in losses.LOSSES:
        assert name in message


# ----------------------------------------------------------------- penalties
W = np.arange(1, 13, dtype=np.float32).reshape(1, 2, 2, 3) / 20.0


def linear_critic(images):
    """f(x) = sum(w * x): its gradient is w at every x."""
    return tf.reduce_sum(images * W, axis=[1, 2, 3])[:, None]


def test_gradient_penalty_of_a_linear_critic():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(4, 2, 2, 3)).astype(np.float32)
    fake = rng.normal(size=(4, 2, 2, 3)).astype(np.float32)
    alpha = rng.uniform(size=(4, 1, 1, 1)).astype(np.float32)
    expected = (np.linalg.norm(W) - 1.0) ** 2
    penalty = value(losses.gradient_penalty(linear_critic, real, fake, alpha))
    assert penalty == pytest.approx(expected, rel=1e-5)
    assert expected > 0.05


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    unit = W / np.linalg.norm(W)

    def critic(images):
        return tf.reduce_sum(images * unit, axis=[1, 2, 3])

    images = np.ones((2, 2, 2, 3), np.float32)
    alpha = np.full((2, 1, 1, 1), 0.5, np.float32)
    assert value(losses.gradient_penalty(critic, images, -images, alpha)) == pytest.approx(
        0.0, abs=1e-6)


def test_gradient_penalty_is_evaluated_at_the_interpolates():
    def quadratic(images):  # gradient 2x: norm depends on where it is taken
        return tf.reduce_sum(images**2, axis=[1, 2, 3])

    real = np.zeros((1, 1, 1, 1), np.float32)
    fake = np.ones((1, 1, 1, 1), np.float32)
    alpha = np.full((1, 1, 1, 1), 0.25, np.float32)
    # x_hat = 0.25, gradient 0.5, penalty (0.5 - 1)^2
    assert value(losses.gradient_penalty(quadratic, real, fake, alpha)) == pytest.approx(0.25)


def test_gradient_penalty_is_differentiable_with_respect_to_the_critic():
    weight = tf.Variable(W)

    def critic(images):
        return tf.reduce_sum(images * weight, axis=[1, 2, 3])

    images = np.ones((2, 2, 2, 3), np.float32)
    alpha = np.full((2, 1, 1, 1), 0.5, np.float32)
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(critic, images, images * 0, alpha)
    gradient = tape.gradient(penalty, weight).numpy()
    norm = np.linalg.norm(W)
    np.testing.assert_allclose(gradient, 2 * (norm - 1) * W / norm, rtol=1e-4)


def test_r1_penalty_of_a_linear_critic():
    images = np.random.default_rng(1).normal(size=(3, 2, 2, 3)).astype(np.float32)
    expected = float(np.sum(W**2))
    assert value(losses.r1_penalty(linear_critic, images)) == pytest.approx(expected, rel=1e-5)


def test_feature_matching_loss():
    real = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    fake = np.array([[0.0, 0.0], [2.0, 2.0]], np.float32)
    assert value(losses.feature_matching_loss(real, fake)) == pytest.approx((1 + 4) / 2)
