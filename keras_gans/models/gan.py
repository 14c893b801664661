"""The GAN game of Goodfellow et al. (2014), trained with paired tapes."""

import keras
import tensorflow as tf
from keras import ops

from keras_gans import losses
from keras_gans.models.base import BaseGAN


@keras.saving.register_keras_serializable(package="keras_gans")
class GAN(BaseGAN):
    """A generative adversarial network for any generator and discriminator.

    Each `fit` step is one iteration of Algorithm 1 of Goodfellow et al. (2014)
    with k = 1, with both players updated simultaneously from one forward pass.
    `VanillaGAN` and `DCGAN` are this model with their papers' networks.

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

    def train_step(self, data):
        real_images, _ = self.unpack(data)
        batch_size = ops.shape(real_images)[0]

        # Sample a minibatch of noise z ~ N(0, I).
        z = self.sample_latent(batch_size)

        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake_images = self.generator(z, training=True)
            real_logits, fake_logits = self.discriminate(
                self.discriminator_view(real_images),
                self.discriminator_view(fake_images),
            )
            # D ascends log D(x) + log(1 - D(G(z))), i.e. descends d_loss.
            d_loss = self.adversarial_loss.discriminator_loss(
                real_logits, fake_logits, real_target=1.0 - self.label_smoothing
            )
            # G descends log(1 - D(G(z))) or, non-saturating, -log D(G(z)).
            g_loss = self.adversarial_loss.generator_loss(fake_logits)

            d_objective = d_loss + self.historical_penalty(
                self.discriminator.trainable_variables)
            if self.r1_weight:
                d_objective += 0.5 * self.r1_weight * losses.r1_penalty(
                    lambda x: self.discriminator(x, training=True), real_images)
            g_objective = g_loss
            if self.feature_matching:
                g_objective = losses.feature_matching_loss(
                    self.feature_extractor(real_images, training=True),
                    self.feature_extractor(fake_images, training=True))
            g_objective += self.historical_penalty(self.generator.trainable_variables)

        self.apply_gradients(self.d_optimizer, d_tape, d_objective,
                             self.discriminator.trainable_variables)
        if self.train_generator:  # False while pretrain_discriminator runs
            self.apply_gradients(self.g_optimizer, g_tape, g_objective,
                                 self.generator.trainable_variables)
        self.after_step()

        return self.game_logs(d_loss, g_loss, real_logits, fake_logits)

    def game_logs(self, d_loss, g_loss, real_logits, fake_logits):
        """Updates the trackers: both losses and D's accuracy on each side."""
        threshold = self.adversarial_loss.decision_threshold
        return self.update_trackers(
            d_loss=d_loss,
            g_loss=g_loss,
            d_acc_real=ops.mean(ops.cast(real_logits > threshold, "float32")),
            d_acc_fake=ops.mean(ops.cast(fake_logits <= threshold, "float32")),
        )
