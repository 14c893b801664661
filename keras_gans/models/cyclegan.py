"""CycleGAN: unpaired image-to-image translation (Zhu et al. 2017)."""

import keras

from keras_gans.layers import ImagePool
from keras_gans.losses import least_squares, mean_absolute_error
from keras_gans.models.image_to_image import ImageToImage
from keras_gans.networks.cyclegan import (
    CycleGANGenerator,
    PatchGANDiscriminator,
    translation_sizes,
)


@keras.saving.register_keras_serializable(package="keras_gans")
class CycleGAN(ImageToImage):
    """Two translators, G: A -> B and F: B -> A, trained against discriminators
    D_A and D_B with the cycle-consistency loss.

    Each `fit` step minimises the paper's objective (section 3, and 5.2 for
    the identity term) on a batch of unpaired `(images_a, images_b)`:

    - least-squares adversarial losses: G and F push `D_B(G(a))` and
      `D_A(F(b))` towards 1; each discriminator pushes real images towards 1
      and translations towards 0, its loss halved as in the paper's code;
    - cycle consistency `lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)`;
    - identity `0.5 lambda (|G(b) - b|_1 + |F(a) - a|_1)`, which keeps colours;
    - the discriminators see translations through a history of 50 earlier
      ones (`keras_gans.layers.ImagePool`), saved with the model.

    Two optimizers, as in the paper's code: one steps both generators on
    their joint loss (it couples them through the cycle terms) and one both
    discriminators; Adam(2e-4, beta_1=0.5) each. The paper's schedule, the
    rate held for 100 epochs then falling linearly to zero over 100 more, is
    `keras_gans.schedules.ConstantThenLinearDecay` (the command line's
    default for cyclegan). Both players of a pair are updated at once from
    one forward pass; since the discriminators judge translations made
    before the generators' step, this is the paper's alternating update.

    Networks (`keras_gans.networks.cyclegan`): the ResNet generator and the
    70x70 PatchGAN discriminator with instance normalisation, sized by the
    image side (`TRANSLATION_SIZES`): 9 residual blocks of 64 filters at
    256 pixels and 6 at 128, as in the paper; 6 blocks at half width (32
    filters) at 64 pixels and 4 at 32, so that small images train on a CPU.

    Args:
        image_shape: `(side, side, channels)`, side 32, 64, 128 or 256.
        generator_filters, residual_blocks, discriminator_filters: the
            networks' sizes; `None` takes the image side's.
        pool_size: translations kept for the discriminators (50); 0 shows
            them the latest only.
        cycle_weight: lambda, the weight of the cycle-consistency loss (10).
        identity_weight: the identity loss's weight as a fraction of lambda
            (0.5); 0 leaves the identity loss out.
        generator_a2b, generator_b2a, discriminator_a, discriminator_b: your
            own networks instead of the builders'.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`; see
            `AdversarialModel`.

    Example:

    ```python
    model = keras_gans.CycleGAN(image_shape=(64, 64, 3), seed=0)
    model.compile()
    model.fit(keras_gans.data.load_unpaired("emoji:google", "emoji:twitter", 64),
              epochs=5)
    twitter_style = model.translate(google_images, direction="a2b")
    ```
    """

    presets = {"cyclegan_emoji_64": "Google <-> Twitter emoji at 64x64, the default 6 "
                                    "residual blocks; trained 6 epochs, both directions and "
                                    "discriminators"}

    tracker_names = ("d_a_loss", "d_b_loss", "g_a2b_loss", "g_b2a_loss", "cycle_loss",
                     "identity_loss")

    def __init__(self, image_shape=(64, 64, 3), generator_filters=None, residual_blocks=None,
                 discriminator_filters=None, pool_size=50, cycle_weight=10.0,
                 identity_weight=0.5, generator_a2b=None, generator_b2a=None,
                 discriminator_a=None, discriminator_b=None, **kwargs):
        default_filters, default_blocks, default_d_filters = translation_sizes(image_shape)
        generator_filters = int(generator_filters or default_filters)
        residual_blocks = int(default_blocks if residual_blocks is None else residual_blocks)
        discriminator_filters = int(discriminator_filters or default_d_filters)

        def generator(name):
            return lambda: CycleGANGenerator(image_shape, generator_filters, residual_blocks,
                                             name=name)

        def discriminator(name):
            return lambda: PatchGANDiscriminator(image_shape, discriminator_filters, name=name)

        super().__init__(
            generator_a2b=generator_a2b or generator("generator_a2b"),
            generator_b2a=generator_b2a or generator("generator_b2a"),
            discriminator_a=discriminator_a or discriminator("discriminator_a"),
            discriminator_b=discriminator_b or discriminator("discriminator_b"),
            **kwargs)
        self.generator_filters = generator_filters
        self.residual_blocks = residual_blocks
        self.discriminator_filters = discriminator_filters
        if cycle_weight < 0 or identity_weight < 0:
            raise ValueError(f"cycle_weight and identity_weight must be >= 0, got "
                             f"{cycle_weight} and {identity_weight}.")
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pool_size = int(pool_size)
        self.fake_a_pool = ImagePool(pool_size, self.image_shape, name="fake_a_pool")
        self.fake_b_pool = ImagePool(pool_size, self.image_shape, name="fake_b_pool")

    def train_step(self, data):
        real_a, real_b = self.unpack(data)
        G, F = self.generator_a2b, self.generator_b2a  # the paper's names
        D_A, D_B = self.discriminator_a, self.discriminator_b

        def play():
            # Translate each way, and back.
            fake_b = G(real_a, training=True)
            fake_a = F(real_b, training=True)
            cycled_a = F(fake_b, training=True)
            cycled_b = G(fake_a, training=True)

            # Adversarial losses (least squares): G and F want D_B(G(a)) = D_A(F(b)) = 1.
            g_a2b_loss = least_squares(D_B(fake_b, training=True), 1.0)
            g_b2a_loss = least_squares(D_A(fake_a, training=True), 1.0)
            # Cycle consistency: F(G(a)) = a and G(F(b)) = b, weighted by lambda.
            cycle_loss = self.cycle_weight * (mean_absolute_error(cycled_a, real_a)
                                              + mean_absolute_error(cycled_b, real_b))
            # Identity: G(b) = b and F(a) = a, weighted by 0.5 lambda.
            identity_loss = 0.0
            if self.identity_weight:
                identity_loss = self.identity_weight * self.cycle_weight * (
                    mean_absolute_error(G(real_b, training=True), real_b)
                    + mean_absolute_error(F(real_a, training=True), real_a))
            g_loss = g_a2b_loss + g_b2a_loss + cycle_loss + identity_loss

            # Each discriminator: real images to 1, translations from the pool to 0, halved.
            pooled_fake_a = self.fake_a_pool.query(fake_a, self.seed_generator)
            pooled_fake_b = self.fake_b_pool.query(fake_b, self.seed_generator)
            d_a_loss = 0.5 * (least_squares(D_A(real_a, training=True), 1.0)
                              + least_squares(D_A(pooled_fake_a, training=True), 0.0))
            d_b_loss = 0.5 * (least_squares(D_B(real_b, training=True), 1.0)
                              + least_squares(D_B(pooled_fake_b, training=True), 0.0))

            return {"generator_a2b": g_loss, "generator_b2a": g_loss,
                    "discriminator_a": d_a_loss, "discriminator_b": d_b_loss}, {
                "d_a_loss": d_a_loss, "d_b_loss": d_b_loss, "g_a2b_loss": g_a2b_loss,
                "g_b2a_loss": g_b2a_loss, "cycle_loss": cycle_loss,
                "identity_loss": identity_loss}

        # One step of each optimizer: both generators on their joint loss,
        # both discriminators on theirs.
        return self.update_trackers(**self.minimize(play))
