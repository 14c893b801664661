"""Wasserstein GAN with weight clipping (Arjovsky et al. 2017)."""

import keras
import tensorflow as tf
from keras import ops

from keras_gans.models.base import BaseGAN
from keras_gans.models.networks import conv_discriminator, conv_generator


@keras.saving.register_keras_serializable(package="keras_gans")
class WGAN(BaseGAN):
    """WGAN: a critic estimates the Wasserstein-1 distance; G descends it.

    Each `fit` step is one iteration of Algorithm 1 of the paper: the batch is
    split into `n_critic` critic minibatches; the critic takes one RMSprop
    step on each and its weights are clipped to `[-clip_value, clip_value]`;
    then the generator takes one step. So a batch of `n_critic * m` images
    trains with critic minibatches of `m`, and `batch_size` must be a multiple
    of `n_critic`. The logged `wasserstein` is the critic's estimate
    `E[f(x)] - E[f(G(z))]` on the last critic minibatch.

    Args:
        image_shape, latent_dim, generator, discriminator: as in `DCGAN`; the
            default critic has no normalisation and no sigmoid.
        n_critic: critic updates per generator update (5).
        clip_value: weight clipping bound c (0.01).
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`.

    Example:

    ```python
    wgan = keras_gans.WGAN(seed=0)
    wgan.compile()  # RMSprop(5e-5) for both, as in the paper
    wgan.fit(load_dataset("fashion_mnist", batch_size=5 * 64), epochs=3)
    ```
    """

    tracker_names = ("d_loss", "g_loss", "wasserstein")
    default_loss = "wasserstein"

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator=None,
                 discriminator=None, n_critic=5, clip_value=0.01, **kwargs):
        if int(n_critic) < 1:
            raise ValueError(f"n_critic must be at least 1, got {n_critic}.")
        self.n_critic = int(n_critic)
        self.clip_value = clip_value
        generator = generator or conv_generator(image_shape, latent_dim)
        discriminator = discriminator or conv_discriminator(
            image_shape, normalization=self.critic_normalization)
        super().__init__(generator, discriminator, **kwargs)

    critic_normalization = None

    def default_optimizer(self):
        return keras.optimizers.RMSprop(5e-5)

    def critic_minibatches(self, real_images):
        """Splits the batch into `n_critic` equal critic minibatches."""
        batch_size = real_images.shape[0]
        if batch_size is not None and batch_size % self.n_critic:
            raise ValueError(
                f"{type(self).__name__} splits each batch into n_critic="
                f"{self.n_critic} critic minibatches, so the batch size must be "
                f"a multiple of {self.n_critic}; got {batch_size}. Use e.g. "
                f"batch_size={self.n_critic * 64} for critic minibatches of 64."
            )
        return ops.split(real_images, self.n_critic, axis=0)

    def train_step(self, data):
        real_images, _ = self.unpack(data)

        for real_batch in self.critic_minibatches(real_images):
            # Critic step: sample x and z, ascend E[f(x)] - E[f(G(z))].
            z = self.sample_latent(ops.shape(real_batch)[0])
            fake_batch = self.generator(z, training=True)
            with tf.GradientTape() as tape:
                real_scores, fake_scores = self.discriminate(
                    self.discriminator_view(real_batch),
                    self.discriminator_view(fake_batch))
                d_loss = self.adversarial_loss.discriminator_loss(
                    real_scores, fake_scores)
                d_objective = d_loss + self.historical_penalty(
                    self.discriminator.trainable_variables)
            self.apply_gradients(self.d_optimizer, tape, d_objective,
                                 self.discriminator.trainable_variables)
            # w <- clip(w, -c, c)
            for weight in self.discriminator.trainable_variables:
                weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))

        # Generator step: descend -E[f(G(z))].
        g_loss = self.generator_step(ops.shape(real_batch)[0])
        self.after_step()

        return self.update_trackers(
            d_loss=d_loss,
            g_loss=g_loss,
            wasserstein=ops.mean(real_scores) - ops.mean(fake_scores),
        )

    def generator_step(self, batch_size):
        """One generator update: sample z, descend -E[f(G(z))]. Returns the loss."""
        z = self.sample_latent(batch_size)
        with tf.GradientTape() as tape:
            scores = self.discriminator(
                self.discriminator_view(self.generator(z, training=True)), training=True)
            g_loss = self.adversarial_loss.generator_loss(scores)
            g_objective = g_loss + self.historical_penalty(self.generator.trainable_variables)
        self.apply_gradients(self.g_optimizer, tape, g_objective,
                             self.generator.trainable_variables)
        return g_loss

    def get_config(self):
        return {**super().get_config(), "n_critic": self.n_critic,
                "clip_value": self.clip_value}
