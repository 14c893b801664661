"""Adversarial losses and penalties, written in `keras.ops`.

Every discriminator here returns raw scores (logits): no sigmoid. A loss is a
pair of functions of those scores:

- `discriminator_loss(real_logits, fake_logits, real_target=1.0)`, minimised
  by the discriminator (critic);
- `generator_loss(fake_logits)`, minimised by the generator.

Both return a scalar: the mean over the batch.

```python
loss = keras_gans.losses.get("hinge")
d_loss = loss.discriminator_loss(real_logits, fake_logits)
```
"""

import math
from dataclasses import dataclass

from keras import ops

from keras_gans import backend


def _bce_with_logits(target, logits):
    """Binary cross-entropy of a sigmoid output against a (soft) target."""
    return target * ops.softplus(-logits) + (1.0 - target) * ops.softplus(logits)


def _mean(x):
    return ops.mean(ops.cast(x, "float32"))


def least_squares(scores, target):
    """`mean((scores - target)^2)`: the least-squares GAN loss of scores
    against the target 1 (real) or 0 (fake) (Mao et al. 2017)."""
    return _mean(ops.square(ops.cast(scores, "float32") - target))


def mean_absolute_error(images, targets):
    """`mean(|images - targets|)`: the L1 distance, per pixel, of two batches."""
    return _mean(ops.abs(ops.cast(images, "float32") - ops.cast(targets, "float32")))


@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of discriminator and generator losses."""

    name: str
    decision_threshold = 0.0  # scores above it count as "real" for accuracy

    def discriminator_loss(self, real_logits, fake_logits, real_target=1.0):
        raise NotImplementedError

    def generator_loss(self, fake_logits):
        raise NotImplementedError


class MinimaxLoss(AdversarialLoss):
    """The original GAN game (Goodfellow et al. 2014, eq. 1).

    D minimises `-log D(x) - log(1 - D(G(z)))`; G minimises `log(1 - D(G(z)))`,
    whose gradient vanishes when D confidently rejects the fakes.
    `real_target < 1` gives one-sided label smoothing (Salimans et al. 2016).
    """

    def discriminator_loss(self, real_logits, fake_logits, real_target=1.0):
        return _mean(_bce_with_logits(real_target, real_logits)) + _mean(
            ops.softplus(fake_logits)
        )

    def generator_loss(self, fake_logits):
        return -_mean(ops.softplus(fake_logits))


class NonSaturatingLoss(MinimaxLoss):
    """The minimax game with G maximising `log D(G(z))` instead (Goodfellow et
    al. 2014, section 3): the same fixed point, strong early gradients."""

    def generator_loss(self, fake_logits):
        return _mean(ops.softplus(-fake_logits))


class LeastSquaresLoss(AdversarialLoss):
    """LSGAN (Mao et al. 2017) with targets a=0, b=1, c=1."""

    decision_threshold = 0.5

    def discriminator_loss(self, real_logits, fake_logits, real_target=1.0):
        return 0.5 * _mean(ops.square(real_logits - real_target)) + 0.5 * _mean(
            ops.square(fake_logits)
        )

    def generator_loss(self, fake_logits):
        return 0.5 * _mean(ops.square(fake_logits - 1.0))


class HingeLoss(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018, SNGAN)."""

    def discriminator_loss(self, real_logits, fake_logits, real_target=1.0):
        return _mean(ops.relu(real_target - real_logits)) + _mean(
            ops.relu(1.0 + fake_logits)
        )

    def generator_loss(self, fake_logits):
        return -_mean(fake_logits)


class WassersteinLoss(AdversarialLoss):
    """Wasserstein critic loss (Arjovsky et al. 2017): the critic maximises
    `E[f(x)] - E[f(G(z))]`, an estimate of the Wasserstein-1 distance."""

    def discriminator_loss(self, real_logits, fake_logits, real_target=1.0):
        return _mean(fake_logits) - _mean(real_logits)

    def generator_loss(self, fake_logits):
        return -_mean(fake_logits)


@dataclass(frozen=True)
class FDivergenceLoss(AdversarialLoss):
    """f-GAN (Nowozin et al. 2016): variational divergence minimisation.

    The discriminator output `v` passes through the output activation `g_f`
    (Table 2). D maximises `E_P[g_f(v)] - E_Q[f*(g_f(v))]`; G maximises
    `E_Q[g_f(v)]`, the paper's alternative generator objective (section 3.2).
    """

    activation: callable = None
    conjugate: callable = None

    def discriminator_loss(self, real_logits, fake_logits, real_target=1.0):
        real_t = self.activation(ops.cast(real_logits, "float32"))
        fake_t = self.activation(ops.cast(fake_logits, "float32"))
        return -(ops.mean(real_t) - ops.mean(self.conjugate(fake_t)))

    def generator_loss(self, fake_logits):
        return -ops.mean(self.activation(ops.cast(fake_logits, "float32")))


_LOG2 = math.log(2.0)

LOSSES = {
    "minimax": MinimaxLoss("minimax"),
    "non_saturating": NonSaturatingLoss("non_saturating"),
    "lsgan": LeastSquaresLoss("lsgan"),
    "hinge": HingeLoss("hinge"),
    "wasserstein": WassersteinLoss("wasserstein"),
    # f-GAN, Table 2 of Nowozin et al. 2016: (g_f(v), f*(t)).
    "kl": FDivergenceLoss("kl", lambda v: v, lambda t: ops.exp(t - 1.0)),
    "reverse_kl": FDivergenceLoss(
        "reverse_kl", lambda v: -ops.exp(-v), lambda t: -1.0 - ops.log(-t)
    ),
    "pearson": FDivergenceLoss(
        "pearson", lambda v: v, lambda t: 0.25 * ops.square(t) + t
    ),
    "jensen_shannon": FDivergenceLoss(
        "jensen_shannon",
        lambda v: _LOG2 - ops.softplus(-v),
        lambda t: -ops.log(2.0 - ops.exp(t)),
    ),
}


def get(name):
    """Returns the `AdversarialLoss` called `name` (or `name` if it is one)."""
    if isinstance(name, AdversarialLoss):
        return name
    if name not in LOSSES:
        raise ValueError(
            f"Unknown adversarial loss {name!r}. Known losses: {sorted(LOSSES)}."
        )
    return LOSSES[name]


def gradient_penalty(critic, real_images, fake_images, alpha):
    """WGAN-GP penalty `E[(||grad f(x_hat)||_2 - 1)^2]` (Gulrajani et al. 2017).

    Args:
        critic: a function of a batch of images returning one score per example
            (wrap a conditional critic to bind its labels).
        real_images, fake_images: batches of equal shape.
        alpha: per-example interpolation weights of shape `(batch, 1, 1, 1)`,
            drawn from U(0, 1).

    Returns:
        The scalar penalty, in float32.
    """
    real_images = ops.cast(real_images, "float32")
    fake_images = ops.cast(fake_images, "float32")
    interpolates = real_images + alpha * (fake_images - real_images)
    gradients = backend.input_gradients(critic, interpolates)
    norms = ops.sqrt(ops.sum(ops.square(gradients), axis=[1, 2, 3]) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def r1_penalty(discriminator, real_images):
    """R1 penalty `E[||grad D(x)||^2]` on real data (Mescheder et al. 2018).

    `discriminator` is a function of a batch of images. Multiply the result by
    `gamma / 2` as the paper does.
    """
    gradients = backend.input_gradients(discriminator, real_images)
    return ops.mean(ops.sum(ops.square(gradients), axis=[1, 2, 3]))


def feature_matching_loss(real_features, fake_features):
    """`||E[f(x)] - E[f(G(z))]||^2` on intermediate D features (Salimans et al.
    2016, section 3.1)."""
    real_mean = ops.mean(ops.cast(real_features, "float32"), axis=0)
    fake_mean = ops.mean(ops.cast(fake_features, "float32"), axis=0)
    return ops.mean(ops.square(real_mean - fake_mean))
