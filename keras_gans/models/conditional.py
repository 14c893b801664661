"""Conditional GAN (Mirza & Osindero 2014) with DCGAN networks."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_gans import losses
from keras_gans.models.base import latent_noise, predict_in_batches
from keras_gans.models.gan import GAN
from keras_gans.models.networks import conv_discriminator, conv_generator


@keras.saving.register_keras_serializable(package="keras_gans")
class ConditionalGAN(GAN):
    """A GAN whose generator and discriminator both see the class label.

    The generator takes `[z, label]` and concatenates a learned 50-dimensional
    label embedding to `z`; the discriminator takes `[image, label]` and adds a
    learned image-sized label map as one more input channel. Both embeddings
    are learned, so the labels need no one-hot encoding.

    The dataset must yield `(images, labels)` with integer labels in
    `[0, num_classes)`, e.g. `load_dataset(..., with_labels=True)`.

    Args:
        num_classes: number of classes.
        image_shape: `(height, width, channels)`.
        latent_dim: size of `z`.
        generator, discriminator: your own conditional networks, taking
            `[z, label]` and `[image, label]`.
        spectral_norm, minibatch_stddev: as in `DCGAN`.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`.

    Example:

    ```python
    cgan = keras_gans.ConditionalGAN(num_classes=10, seed=0)
    cgan.compile()
    cgan.fit(load_dataset("fashion_mnist", with_labels=True), epochs=5)
    boots = cgan.generate(8, labels=[9] * 8)
    ```
    """

    conditional = True

    def __init__(self, num_classes=10, image_shape=(28, 28, 1), latent_dim=100,
                 generator=None, discriminator=None, spectral_norm=False,
                 minibatch_stddev=False, **kwargs):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        self._num_classes = int(num_classes)
        generator = generator or conv_generator(
            image_shape, latent_dim, num_classes=num_classes)
        discriminator = discriminator or conv_discriminator(
            image_shape,
            normalization=None if spectral_norm else "batch",
            spectral_norm=spectral_norm,
            minibatch_stddev=minibatch_stddev,
            num_classes=num_classes,
        )
        if len(generator.inputs) != 2 or len(discriminator.inputs) != 2:
            raise ValueError(
                "A conditional generator must take [z, label] and a conditional "
                "discriminator [image, label]."
            )
        super().__init__(generator, discriminator, **kwargs)

    @property
    def num_classes(self):
        return self._num_classes

    def check_labels(self, labels):
        """Returns labels as int32 `(batch,)`, or raises a clear error."""
        if labels is None:
            raise ValueError(
                "ConditionalGAN needs (images, labels) batches, but the dataset "
                "yields images only: load it with load_dataset(..., "
                "with_labels=True)."
            )
        if not labels.dtype.is_integer:
            raise ValueError(
                f"Labels must be integer class indices, got dtype "
                f"{labels.dtype.name}."
            )
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        checks = [
            tf.debugging.assert_non_negative(labels, message="Labels must be >= 0."),
            tf.debugging.assert_less(
                labels, self.num_classes,
                message=f"Labels must lie in [0, {self.num_classes})."),
        ]
        # Run the checks before the embedding lookups, whose own error for an
        # out-of-range index would otherwise often come first.
        with tf.control_dependencies(checks):
            return tf.identity(labels)

    def train_step(self, data):
        real_images, labels = self.unpack(data)
        labels = self.check_labels(labels)
        batch_size = ops.shape(real_images)[0]

        # Sample z ~ N(0, I); the fakes are asked for the real batch's classes.
        z = self.sample_latent(batch_size)

        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake_images = self.generator([z, labels], training=True)
            real_logits, fake_logits = self.discriminate(
                [self.discriminator_view(real_images), labels],
                [self.discriminator_view(fake_images), labels],
            )
            # D: is this image a real example *of this class*?
            d_loss = self.adversarial_loss.discriminator_loss(
                real_logits, fake_logits, real_target=1.0 - self.label_smoothing
            )
            # G: make D believe the fake belongs to its requested class.
            g_loss = self.adversarial_loss.generator_loss(fake_logits)

            d_objective = d_loss + self.historical_penalty(
                self.discriminator.trainable_variables)
            if self.r1_weight:
                d_objective += 0.5 * self.r1_weight * losses.r1_penalty(
                    lambda x: self.discriminator([x, labels], training=True),
                    real_images)
            g_objective = g_loss
            if self.feature_matching:
                g_objective = losses.feature_matching_loss(
                    self.feature_extractor([real_images, labels], training=True),
                    self.feature_extractor([fake_images, labels], training=True))
            g_objective += self.historical_penalty(self.generator.trainable_variables)

        self.apply_gradients(self.d_optimizer, d_tape, d_objective,
                             self.discriminator.trainable_variables)
        if self.train_generator:  # False while pretrain_discriminator runs
            self.apply_gradients(self.g_optimizer, g_tape, g_objective,
                                 self.generator.trainable_variables)
        self.after_step()

        return self.game_logs(d_loss, g_loss, real_logits, fake_logits)

    def generate(self, n, seed=None, labels=None, batch_size=256):
        """Generates `n` images of the requested classes.

        Args:
            n: how many images.
            seed: integer seed for repeatable samples.
            labels: one class index per image, or a single index for all;
                `None` cycles through the classes 0, 1, ..., num_classes - 1.
        """
        labels = np.arange(n) % self.num_classes if labels is None else labels
        labels = np.broadcast_to(np.asarray(labels), (n,)).astype(np.int32)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"Labels must lie in [0, {self.num_classes}), got values from "
                f"{labels.min()} to {labels.max()}."
            )
        z = latent_noise(n, self.latent_dim, seed)
        return predict_in_batches(self.sampling_generator, [z, labels], batch_size)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
