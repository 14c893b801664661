"""WGAN with gradient penalty (Gulrajani et al. 2017)."""

import keras
import tensorflow as tf
from keras import ops

from keras_gans import losses
from keras_gans.models.wgan import WGAN


@keras.saving.register_keras_serializable(package="keras_gans")
class WGANGP(WGAN):
    """WGAN-GP: the critic's Lipschitz constraint as a gradient penalty.

    Each `fit` step is one iteration of Algorithm 1 of the paper: for each of
    the `n_critic` critic minibatches the batch is split into, draw z and
    alpha ~ U(0, 1) per example, penalise `(||grad f(x_hat)||_2 - 1)^2` on
    `x_hat = alpha x + (1 - alpha) G(z)`, and take an Adam step; then one
    generator step. The default critic uses LayerNorm, not BatchNorm, because
    the penalty is per example.

    Args:
        gp_weight: lambda (10).
        n_critic: critic updates per generator update (5).
        image_shape, latent_dim, generator, discriminator, **kwargs: as in
            `WGAN`.
    """

    tracker_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")
    critic_normalization = "layer"

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator=None,
                 discriminator=None, n_critic=5, gp_weight=10.0, **kwargs):
        kwargs.pop("clip_value", None)
        self.gp_weight = float(gp_weight)
        super().__init__(image_shape, latent_dim, generator, discriminator,
                         n_critic=n_critic, clip_value=None, **kwargs)

    def default_optimizer(self):
        return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)

    def train_step(self, data):
        real_images, _ = self.unpack(data)

        for real_batch in self.critic_minibatches(real_images):
            batch_size = ops.shape(real_batch)[0]
            # Sample x, z and alpha ~ U(0, 1), one alpha per example.
            z = self.sample_latent(batch_size)
            alpha = self.sample_per_replica(tf.random.stateless_uniform,
                                            (batch_size, 1, 1, 1))
            fake_batch = self.generator(z, training=True)
            with tf.GradientTape() as tape:
                real_scores, fake_scores = self.discriminate(
                    self.discriminator_view(real_batch),
                    self.discriminator_view(fake_batch))
                d_loss = self.adversarial_loss.discriminator_loss(
                    real_scores, fake_scores)
                penalty = losses.gradient_penalty(
                    lambda x: self.discriminator(x, training=True),
                    real_batch, fake_batch, alpha)
                d_objective = d_loss + self.gp_weight * penalty
                d_objective += self.historical_penalty(
                    self.discriminator.trainable_variables)
            self.apply_gradients(self.d_optimizer, tape, d_objective,
                                 self.discriminator.trainable_variables)

        # Generator step: descend -E[f(G(z))].
        g_loss = self.generator_step(ops.shape(real_batch)[0])
        self.after_step()

        return self.update_trackers(
            d_loss=d_loss + self.gp_weight * penalty,
            g_loss=g_loss,
            wasserstein=ops.mean(real_scores) - ops.mean(fake_scores),
            gradient_penalty=penalty,
        )

    def get_config(self):
        config = super().get_config()
        config.pop("clip_value")
        return {**config, "gp_weight": self.gp_weight}
