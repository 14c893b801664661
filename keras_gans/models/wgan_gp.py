"""WGAN with gradient penalty (Gulrajani et al. 2017)."""

import keras
from keras import ops

from keras_gans import losses
from keras_gans.models.wgan import CriticGame
from keras_gans.networks import DCGANDiscriminator, DCGANGenerator


@keras.saving.register_keras_serializable(package="keras_gans")
class WGANGP(CriticGame):
    """WGAN-GP: the critic's Lipschitz constraint as a gradient penalty.

    Each `fit` step is one iteration of Algorithm 1 of the paper (see
    `CriticGame`): for each of the `n_critic` critic minibatches, draw z and
    alpha ~ U(0, 1) per example, penalise `(||grad f(x_hat)||_2 - 1)^2` on
    `x_hat = alpha x + (1 - alpha) G(z)`, and take an Adam step; then one
    generator step. The default critic uses LayerNorm, not BatchNorm, because
    the penalty is per example.

    Args:
        image_shape, latent_dim, generator, discriminator: as in `DCGAN`.
        n_critic: critic updates per generator update (5).
        gp_weight: lambda (10).
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`.

    Example:

    ```python
    wgan_gp = keras_gans.WGANGP(seed=0)
    wgan_gp.compile()  # Adam(1e-4, beta_1=0.5, beta_2=0.9), as in the paper
    wgan_gp.fit(load_dataset("fashion_mnist", batch_size=5 * 64), epochs=3)
    ```
    """

    tracker_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")
    presets = {"wgan-gp_fashion_mnist": "Fashion-MNIST, n_critic 1; generator trained 18 "
                                        "epochs (EMA), critic untrained"}

    def __init__(self, image_shape=(28, 28, 1), latent_dim=100, generator=None,
                 discriminator=None, n_critic=5, gp_weight=10.0, **kwargs):
        super().__init__(
            generator=generator or (lambda: DCGANGenerator(image_shape, latent_dim)),
            discriminator=discriminator or (lambda: DCGANDiscriminator(
                image_shape, normalization="layer")),
            n_critic=n_critic, **kwargs)
        self.gp_weight = float(gp_weight)

    def default_optimizer(self):
        return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)

    def critic(self, images):
        """The critic's scores `f(x)` of a batch of images, as the penalty
        differentiates them."""
        return self.discriminator(images, training=True)

    def critic_penalty(self, real_images, fake_images, real_scores):
        """`lambda * E[(||grad f(x_hat)||_2 - 1)^2]`, one alpha ~ U(0, 1) per example."""
        alpha = self.sample("uniform", (ops.shape(real_images)[0], 1, 1, 1))
        penalty = losses.gradient_penalty(self.critic, real_images, fake_images, alpha)
        return self.gp_weight * penalty, {"gradient_penalty": penalty}
