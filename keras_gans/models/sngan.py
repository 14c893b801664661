"""SNGAN: spectral normalisation for GANs (Miyato et al. 2018), and its
class-conditional form with a projection discriminator (Miyato & Koyama 2018)."""

import keras
from keras import ops

from keras_gans.models.wgan import CriticGame
from keras_gans.networks import SNGANDiscriminator, SNGANGenerator


@keras.saving.register_keras_serializable(package="keras_gans")
class SNGAN(CriticGame):
    """ResNet GAN whose discriminator is spectrally normalised, trained with
    the hinge loss and `n_critic` discriminator updates per generator update.

    Each `fit` step is one generator iteration of the paper's training (the
    alternating game of `CriticGame`): the batch (and its labels) is split
    into `n_critic` minibatches; on each, D takes
    an Adam step on the hinge loss, and every spectrally normalised layer of
    D runs Algorithm 1 as D is called in training: one power iteration for
    its singular vectors, then it computes with `W / sigma(W)`, the gradient
    flowing through `sigma(W)` to the raw `W` the optimizer updates. Then G
    takes one step on `-E[D(G(z))]` with one minibatch of noise. A batch of
    `n_critic * m` images thus trains with minibatches of `m` (the paper: 5 x 64).

    With `num_classes`, G takes `[z, label]` and has class-conditional
    BatchNorm in every block, and D takes `[image, label]` and adds the
    projection term `sum(embed(y) * h)` to its score. The fakes of a step are
    asked for the real minibatch's classes, so the dataset must yield
    `(images, labels)`.

    Args:
        image_shape: `(size, size, channels)`, size `4 * 2**k` or `7 * 2**k`
            (28, 32, 64, ...), 1 or 3 channels.
        latent_dim: size of `z` (128 in the paper).
        width: channels of both networks' blocks up to 32x32 images; from
            64x64 up, of G's last and D's first block (see
            `keras_gans.networks.sngan`). The paper's 32x32 networks are G 256 and
            D 128; the default 32 is sized for a CPU (64 gives 28x28
            networks about the DCGAN's size, at under half the speed).
        num_classes: train a class-conditional model (projection
            discriminator); `None` for an unconditional one.
        n_critic: discriminator updates per generator update (5); `n_dis`,
            the paper's name, is accepted too.
        generator, discriminator: your own networks instead of the ResNets.
        class_names: the classes' names, so that `generate` takes them as
            labels.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`; see
            `AdversarialModel`.

    Example:

    ```python
    sngan = keras_gans.SNGAN(image_shape=(28, 28, 1), seed=0)
    sngan.compile()  # hinge loss, Adam(2e-4, beta_1=0, beta_2=0.9) for both
    sngan.fit(load_dataset("fashion_mnist", batch_size=5 * 64), epochs=5)

    conditional = keras_gans.SNGAN(num_classes=10, seed=0)
    conditional.compile()
    conditional.fit(load_dataset("fashion_mnist", batch_size=5 * 64,
                                 with_labels=True), epochs=5)
    boots = conditional.generate(8, labels=9)
    ```
    """

    presets = {"sngan_fashion_mnist": "Fashion-MNIST at 28x28, n_critic 1, EMA"}
    tracker_names = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")
    supported_options = frozenset({
        "loss", "instance_noise", "instance_noise_steps", "diff_augment", "ada", "ada_target",
        "ada_kimg", "ada_interval"})
    default_loss = "hinge"
    label_conditioning = "optional"

    def __init__(self, image_shape=(28, 28, 1), latent_dim=128, width=32, num_classes=None,
                 n_critic=5, generator=None, discriminator=None, class_names=None, **kwargs):
        n_critic = kwargs.pop("n_dis", n_critic)
        if num_classes is not None and int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        if class_names is not None and len(class_names) != (num_classes or 0):
            raise ValueError(f"{len(class_names)} class_names for num_classes={num_classes}.")
        super().__init__(
            generator=generator or (lambda: SNGANGenerator(
                image_shape, latent_dim, width, num_classes=num_classes)),
            discriminator=discriminator or (lambda: SNGANDiscriminator(
                image_shape, width, num_classes=num_classes)),
            n_critic=n_critic, **kwargs)
        inputs = 1 if num_classes is None else 2
        if len(self.generator.inputs) != inputs or len(self.discriminator.inputs) != inputs:
            raise ValueError("With num_classes, the generator must take [z, label] and the "
                             "discriminator [image, label]; without, z and images alone.")
        self._num_classes = None if num_classes is None else int(num_classes)
        self.width = int(width)
        self.class_names = None if class_names is None else [str(c) for c in class_names]

    @property
    def n_dis(self):
        """The paper's name for `n_critic`."""
        return self.n_critic

    @property
    def num_classes(self):
        return self._num_classes

    def default_optimizer(self):
        """Adam(2e-4, beta_1=0, beta_2=0.9), the paper's setting for its ResNets."""
        return keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9)

    def critic_logs(self, real_scores, fake_scores):
        """How often D scores reals above and fakes below the hinge's threshold."""
        threshold = self.adversarial_loss.decision_threshold
        return {"d_acc_real": ops.mean(ops.cast(real_scores > threshold, "float32")),
                "d_acc_fake": ops.mean(ops.cast(fake_scores <= threshold, "float32"))}
