"""pix2pix: paired image-to-image translation (Isola et al. 2017)."""

import keras

from keras_gans import losses
from keras_gans.losses import mean_absolute_error
from keras_gans.models.image_to_image import PairedImageToImage
from keras_gans.networks.pix2pix import ConditionalPatchGAN, UNetGenerator, paired_sizes


@keras.saving.register_keras_serializable(package="keras_gans")
class Pix2Pix(PairedImageToImage):
    """A conditional GAN that translates images of domain A into their
    partners in domain B, learnt from aligned pairs.

    Each `fit` step on a batch of pairs `(x, y)` is one iteration of the
    paper's training (section 3.3), its objective
    `G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G)`:

    - the discriminator takes one step on the conditional adversarial loss:
      it sees real pairs `(x, y)` and translated pairs `(x, G(x))`, pushes
      their scores towards 1 and 0 (cross-entropy on its raw scores), and
      its loss is halved, as in the paper;
    - then the generator takes one step against the updated discriminator:
      the non-saturating loss `-log D(x, G(x))` plus `lambda |y - G(x)|_1`
      (the mean per pixel, on images in [-1, 1]), lambda = 100.

    There is no `z`: the generator's noise is dropout in its first decoder
    blocks, in training, drawn from the model's `seed`. `translate` and the
    export run without dropout, and BatchNorm with its moving statistics, so
    a translation is deterministic (the paper keeps both in training mode at
    test time too).

    Networks (`keras_gans.networks.pix2pix`): the U-Net generator, down to
    1x1 with skip connections, and the PatchGAN discriminator of pairs, 70x70
    patches at 128 and 256 pixels and smaller ones on smaller images (see
    `PAIRED_SIZES`). Adam(2e-4, beta_1=0.5) for each, as in the paper.

    Args:
        image_shape: `(side, side, channels)` of sources and targets, side
            32, 64, 128 or 256.
        generator_filters, discriminator_filters: the networks' first
            layers' filters; `None`: 64, as in the paper, at every size.
        dropout_blocks: decoder blocks with dropout; `None` takes the image
            side's (3 at 256 pixels, as in the paper).
        discriminator_depth: the discriminator's stride-2 convolutions;
            `None` takes the image side's (3 at 256: 70x70 patches).
        l1_weight: lambda, the weight of the L1 loss (100).
        generator, discriminator: your own networks instead of the
            builders': the discriminator takes `[sources, targets]`.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`; see
            `AdversarialModel`.

    Example:

    ```python
    model = keras_gans.Pix2Pix(image_shape=(64, 64, 3), seed=0)
    model.compile()
    model.fit(keras_gans.data.load_paired("emoji:google", "emoji:twitter", 64,
                                          batch_size=4), epochs=5)
    twitter_style = model.translate(google_images)
    ```
    """

    tracker_names = ("d_loss", "g_loss", "g_gan_loss", "l1_loss")

    def __init__(
        self,
        image_shape=(64, 64, 3),
        generator_filters=None,
        discriminator_filters=None,
        dropout_blocks=None,
        discriminator_depth=None,
        l1_weight=100.0,
        generator=None,
        discriminator=None,
        **kwargs,
    ):
        default_dropout, default_depth = paired_sizes(image_shape)
        generator_filters = 64 if generator_filters is None else int(generator_filters)
        discriminator_filters = 64 if discriminator_filters is None else int(discriminator_filters)
        dropout_blocks = default_dropout if dropout_blocks is None else int(dropout_blocks)
        discriminator_depth = (
            default_depth if discriminator_depth is None else int(discriminator_depth)
        )
        if l1_weight < 0:
            raise ValueError(f"l1_weight must be >= 0, got {l1_weight}.")
        super().__init__(
            generator=generator
            or (
                lambda: UNetGenerator(
                    image_shape,
                    generator_filters,
                    dropout_blocks,
                    seed=kwargs.get("seed"),
                    name="generator",
                )
            ),
            discriminator=discriminator
            or (
                lambda: ConditionalPatchGAN(
                    image_shape, discriminator_filters, discriminator_depth, name="discriminator"
                )
            ),
            **kwargs,
        )
        self.generator_filters = generator_filters
        self.discriminator_filters = discriminator_filters
        self.dropout_blocks = dropout_blocks
        self.discriminator_depth = discriminator_depth
        self.l1_weight = float(l1_weight)
        self.adversarial_loss = losses.get("non_saturating")

    def train_step(self, data):
        x, y = self.unpack(data)  # sources and their targets, the paper's names
        G, D = self.generator, self.discriminator

        # The discriminator's step: D(x, y) towards 1, D(x, G(x)) towards 0, halved.
        translated = G(x, training=True)

        def discriminator_play():
            real_scores = D([x, y], training=True)
            fake_scores = D([x, translated], training=True)
            d_loss = 0.5 * self.adversarial_loss.discriminator_loss(real_scores, fake_scores)
            return {"discriminator": d_loss}, {"d_loss": d_loss}

        d_logs = self.minimize(discriminator_play)

        # The generator's step, against the updated D: -log D(x, G(x)) + lambda |y - G(x)|_1.
        def generator_play():
            translated = G(x, training=True)
            g_gan_loss = self.adversarial_loss.generator_loss(D([x, translated], training=True))
            l1_loss = mean_absolute_error(translated, y)
            g_loss = g_gan_loss + self.l1_weight * l1_loss
            return {"generator": g_loss}, {
                "g_loss": g_loss,
                "g_gan_loss": g_gan_loss,
                "l1_loss": l1_loss,
            }

        g_logs = self.minimize(generator_play)
        return self.update_trackers(**d_logs, **g_logs)
