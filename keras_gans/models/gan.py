"""The GAN game of Goodfellow et al. (2014), both players updated from one forward pass."""

import keras
from keras import ops

from keras_gans.models.noise_to_image import NoiseToImage


@keras.saving.register_keras_serializable(package="keras_gans")
class GAN(NoiseToImage):
    """A generative adversarial network for any generator and discriminator.

    Each `fit` step is one iteration of Algorithm 1 of Goodfellow et al. (2014)
    with k = 1, with both players updated simultaneously from one forward pass.
    `VanillaGAN`, `DCGAN` and `ConditionalGAN` are this game with their
    papers' networks.

    Datasets may yield images or `(images, labels)` pairs; labels are ignored.

    Example:

    ```python
    gan = keras_gans.GAN(my_generator, my_discriminator, seed=0)
    gan.compile(loss="hinge")
    gan.fit(keras_gans.data.load_dataset("fashion_mnist"), epochs=5)
    images = gan.generate(16)
    ```
    """

    tracker_names = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")
    supported_options = frozenset({
        "loss", "label_smoothing", "instance_noise", "instance_noise_steps",
        "diff_augment", "r1_weight", "feature_matching", "ada", "ada_target", "ada_kimg",
        "ada_interval"})

    def train_step(self, data):
        real_images, labels = self.unpack(data)

        # Sample a minibatch of noise z ~ N(0, I).
        z = self.sample_latent(ops.shape(real_images)[0])

        def play():
            fake_images = self.generator(self.generator_inputs(z, labels), training=True)
            real_logits, fake_logits = self.discriminate(real_images, fake_images, labels)
            # D ascends log D(x) + log(1 - D(G(z))), i.e. descends d_loss.
            d_loss = self.adversarial_loss.discriminator_loss(
                real_logits, fake_logits, real_target=1.0 - self.label_smoothing)
            # G descends log(1 - D(G(z))) or, non-saturating, -log D(G(z)).
            g_loss = self.adversarial_loss.generator_loss(fake_logits)

            d_objective = d_loss + self.r1_penalty(real_images, labels)
            g_objective = (self.feature_matching_loss(real_images, fake_images, labels)
                           if self.feature_matching else g_loss)
            threshold = self.adversarial_loss.decision_threshold
            return {"discriminator": d_objective, "generator": g_objective}, {
                "d_loss": d_loss,
                "g_loss": g_loss,
                "d_acc_real": ops.mean(ops.cast(real_logits > threshold, "float32")),
                "d_acc_fake": ops.mean(ops.cast(fake_logits <= threshold, "float32")),
            }

        # Both players step on their objectives from the same forward pass.
        return self.update_trackers(**self.minimize(play))
