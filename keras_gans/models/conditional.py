"""Conditional GAN (Mirza & Osindero 2014) with DCGAN networks."""

import keras

from keras_gans.models.gan import GAN
from keras_gans.networks import DCGANDiscriminator, DCGANGenerator


@keras.saving.register_keras_serializable(package="keras_gans")
class ConditionalGAN(GAN):
    """The GAN game with the class label given to both players.

    The generator takes `[z, label]` and concatenates a learned 50-dimensional
    label embedding to `z`; the discriminator takes `[image, label]` and adds a
    learned image-sized label map as one more input channel. Both embeddings
    are learned, so the labels need no one-hot encoding. The step is `GAN`'s:
    D judges whether an image is a real example *of this class*, and the fakes
    are asked for the real batch's classes.

    The dataset must yield `(images, labels)` with integer labels in
    `[0, num_classes)`, e.g. `load_dataset(..., with_labels=True)`.

    Args:
        num_classes: number of classes.
        image_shape: `(height, width, channels)`.
        latent_dim: size of `z`.
        generator, discriminator: your own conditional networks, taking
            `[z, label]` and `[image, label]`.
        spectral_norm, minibatch_stddev: as in `DCGAN`.
        class_names: the classes' names, so that `generate` takes them as
            labels (`labels="Ankle boot"`).
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`.

    Example:

    ```python
    cgan = keras_gans.ConditionalGAN(num_classes=10, seed=0)
    cgan.compile()
    cgan.fit(load_dataset("fashion_mnist", with_labels=True), epochs=5)
    boots = cgan.generate(8, labels=[9] * 8)
    ```
    """

    presets = {"cgan_fashion_mnist": "Fashion-MNIST; generator trained 8 epochs (EMA), "
                                     "discriminator untrained"}
    label_conditioning = "always"

    def __init__(self, num_classes=10, image_shape=(28, 28, 1), latent_dim=100,
                 generator=None, discriminator=None, spectral_norm=False,
                 minibatch_stddev=False, class_names=None, **kwargs):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        if class_names is not None and len(class_names) != int(num_classes):
            raise ValueError(f"{len(class_names)} class_names for {num_classes} classes.")
        super().__init__(
            generator=generator or (lambda: DCGANGenerator(
                image_shape, latent_dim, num_classes=num_classes)),
            discriminator=discriminator or (lambda: DCGANDiscriminator(
                image_shape, normalization=None if spectral_norm else "batch",
                spectral_norm=spectral_norm, minibatch_stddev=minibatch_stddev,
                num_classes=num_classes)),
            **kwargs)
        if len(self.generator.inputs) != 2 or len(self.discriminator.inputs) != 2:
            raise ValueError("A conditional generator must take [z, label] and a "
                             "conditional discriminator [image, label].")
        self._num_classes = int(num_classes)
        self.spectral_norm = bool(spectral_norm)
        self.minibatch_stddev = bool(minibatch_stddev)
        self.class_names = None if class_names is None else [str(c) for c in class_names]

    @property
    def num_classes(self):
        return self._num_classes
