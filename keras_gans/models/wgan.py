"""Wasserstein GAN with weight clipping (Arjovsky et al. 2017)."""

import keras
from keras import ops

from keras_gans.models.noise_to_image import NoiseToImage
from keras_gans.networks import DCGANDiscriminator, DCGANGenerator


class CriticGame(NoiseToImage):
    """The alternating critic game: `n_critic` critic updates, then one
    generator update (WGAN, WGAN-GP, SNGAN, ProGAN).

    The batch (and its labels, for a conditional game) is split into
    `n_critic` critic minibatches; on each, with fresh z, the critic takes
    one step on its adversarial loss plus `critic_penalty`, and then
    `constrain_critic` runs; then the generator takes one step on its
    adversarial loss with fresh z. So a batch of `n_critic * m` images trains
    with critic minibatches of `m`. A variant supplies hooks, not loops:

    - `critic_penalty(real_images, fake_images, real_scores)`: what the
      critic's loss adds (WGAN-GP's gradient penalty, ProGAN's drift);
    - `constrain_critic()`: what runs after each critic update (WGAN's
      clipping);
    - `critic_logs(real_scores, fake_scores)`: logs of the last critic
      minibatch; by default the critic's estimate `wasserstein`
      `E[f(x)] - E[f(G(z))]`;
    - `fake_images(z, labels)`, `discriminate(real, fake, labels)` and
      `score_fakes(fake_images, labels)`: how the players are called
      (ProGAN's at the active stage).

    Args:
        generator, discriminator: as in `NoiseToImage`.
        n_critic: critic updates per generator update.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`.
    """

    tracker_names = ("d_loss", "g_loss", "wasserstein")
    supported_options = frozenset({
        "loss", "instance_noise", "instance_noise_steps", "diff_augment", "ada", "ada_target",
        "ada_kimg", "ada_interval"})
    default_loss = "wasserstein"

    def __init__(self, generator, discriminator, n_critic=5, **kwargs):
        if int(n_critic) < 1:
            raise ValueError(f"n_critic must be at least 1, got {n_critic}.")
        super().__init__(generator, discriminator, **kwargs)
        self.n_critic = int(n_critic)

    def critic_penalty(self, real_images, fake_images, real_scores):
        """`(penalty added to the critic's loss, its logs)`; none here."""
        return 0.0, {}

    @classmethod
    def minibatches_per_step(cls, options):
        return int(options["n_critic"])

    def constrain_critic(self):
        """Runs after every critic update; nothing here."""

    def critic_logs(self, real_scores, fake_scores):
        """The logs of a critic minibatch's scores."""
        return {"wasserstein": ops.mean(real_scores) - ops.mean(fake_scores)}

    def fake_images(self, z, labels=None):
        """G(z), in training mode."""
        return self.generator(self.generator_inputs(z, labels), training=True)

    def score_fakes(self, fake_images, labels=None):
        """The critic's scores of fakes as the generator step sees them."""
        return self.discriminator(
            self.discriminator_inputs(self.discriminator_view(fake_images), labels),
            training=True)

    def training_images(self, real_images):
        """The real batch the step trains on; as it is here."""
        return real_images

    def train_step(self, data):
        real_images, labels = self.unpack(data)
        real_images = self.training_images(real_images)

        for real_batch, batch_labels in self.minibatches(real_images, labels, self.n_critic,
                                                         "n_critic"):
            # Critic step: sample x and z, ascend E[f(x)] - E[f(G(z))] (less a penalty).
            z = self.sample_latent(ops.shape(real_batch)[0])
            fake_batch = self.fake_images(z, batch_labels)

            def critic_play(real_batch=real_batch, fake_batch=fake_batch, labels=batch_labels):
                real_scores, fake_scores = self.discriminate(real_batch, fake_batch, labels)
                d_loss = self.adversarial_loss.discriminator_loss(real_scores, fake_scores)
                penalty, penalty_logs = self.critic_penalty(real_batch, fake_batch, real_scores)
                return {"discriminator": d_loss + penalty}, {
                    "d_loss": d_loss + penalty, **penalty_logs,
                    **self.critic_logs(real_scores, fake_scores)}

            critic_logs = self.minimize(critic_play)
            self.constrain_critic()

        # Generator step: sample z, descend the generator's loss, e.g. -E[f(G(z))].
        z = self.sample_latent(ops.shape(real_batch)[0])

        def generator_play():
            scores = self.score_fakes(self.fake_images(z, batch_labels), batch_labels)
            g_loss = self.adversarial_loss.generator_loss(scores)
            return {"generator": g_loss}, {"g_loss": g_loss}

        generator_logs = self.minimize(generator_play)
        return self.update_trackers(**critic_logs, **generator_logs)


@keras.saving.register_keras_serializable(package="keras_gans")
class WGAN(CriticGame):
    """WGAN: a critic estimates the Wasserstein-1 distance; G descends it.

    Each `fit` step is one iteration of Algorithm 1 of the paper (see
    `CriticGame`): after each of the `n_critic` RMSprop critic steps the
    critic's weights are clipped to `[-clip_value, clip_value]`. `batch_size`
    must be a multiple of `n_critic`.

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

    presets = {"wgan_fashion_mnist": "Fashion-MNIST, clip 0.05; generator trained 14 epochs "
                                     "(EMA), critic untrained"}

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator=None,
                 discriminator=None, n_critic=5, clip_value=0.01, **kwargs):
        super().__init__(
            generator=generator or (lambda: DCGANGenerator(image_shape, latent_dim)),
            discriminator=discriminator or (lambda: DCGANDiscriminator(
                image_shape, normalization=None)),
            n_critic=n_critic, **kwargs)
        self.clip_value = float(clip_value)

    def default_optimizer(self):
        return keras.optimizers.RMSprop(5e-5)

    def constrain_critic(self):
        """w <- clip(w, -c, c)."""
        for weight in self.discriminator.trainable_variables:
            weight.assign(ops.clip(weight, -self.clip_value, self.clip_value))
