"""The image-to-image task layers: translators of images into another domain.

`ImageTranslator` says what every translator takes and returns: one
generator per direction (`directions`), `translate(images, direction)`, and
an export of each direction as a SavedModel whose `serving_default` maps
`images` to `images`. Two task layers declare their players and batches:

- `ImageToImage`, from two unpaired collections: the generators
  `generator_a2b` and `generator_b2a` translate images of domain A into
  domain B and back, and the discriminators `discriminator_a` and
  `discriminator_b` tell real images of their domain from translations into
  it. The generators share one optimizer (`g_optimizer`) and the
  discriminators another (`d_optimizer`). Batches are `(images_a, images_b)`.
- `PairedImageToImage`, from aligned pairs: one `generator` translates A
  into B (`"a2b"`), one `discriminator` judges (source, target) pairs.
  Batches are `(sources, targets)`, the `i`-th target the `i`-th source's
  partner.

A variant (`CycleGAN`, `Pix2Pix`) writes its paper's `train_step`.
"""

import keras
from keras import ops

from keras_gans import backend, saving
from keras_gans.models.adversarial import AdversarialModel
from keras_gans.sampling import predict_in_batches, unit_range_batch

# The `keras.Model.compile` arguments that say how to run a step.
KERAS_RUN_OPTIONS = ("steps_per_execution", "jit_compile", "run_eagerly", "auto_scale_loss")


class ImageTranslator(AdversarialModel):
    """A game whose generators translate images: one per direction.

    A subclass declares `players`, `directions` (`{"a2b": generator player,
    ...}`) and `batches`, what its batches hold, for the error a batch of
    another kind gets; every direction's generator maps a batch of images
    in [-1, 1] to a batch of the same shape in [-1, 1].

    Args:
        networks: `{player: keras.Model or a function building one}`.
        **kwargs: `seed`, `ema_decay` (a moving average of the generators,
            used to translate and export), `historical_averaging`, `name`;
            see `AdversarialModel`.
    """

    directions = {}
    batches = "(images_a, images_b) batches, e.g. from keras_gans.data.load_unpaired"

    def __init__(self, networks, **kwargs):
        super().__init__(networks, **kwargs)
        shapes = {tuple(getattr(self, name).outputs[0].shape[1:])
                  for name in self.directions.values()}
        if len(shapes) != 1:
            raise ValueError(f"Both generators must make images of one shape, got "
                             f"{sorted(shapes)}.")

    @property
    def image_shape(self):
        generator = getattr(self, self.directions["a2b"])
        return tuple(int(d) for d in generator.outputs[0].shape[1:])

    # ---------------------------------------------------------------- compile
    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Builds the discriminators' and the generators' optimizers.

        Args:
            d_optimizer: one optimizer for both discriminators; the variant's
                `default_optimizer()` by default.
            g_optimizer: one optimizer for both generators, likewise.
            **kwargs: `keras.Model.compile`'s `steps_per_execution`,
                `jit_compile`, `run_eagerly`, `auto_scale_loss`; any other
                option given a value (e.g. `label_smoothing=0.1`) is one the
                variant does not support, and an error.

        Example:

        ```python
        model.compile(g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5))
        ```
        """
        options = {name: kwargs.pop(name) for name in list(kwargs) if name not in KERAS_RUN_OPTIONS}
        optimizers = {"d": d_optimizer, "g": g_optimizer}
        super().compile({name: optimizers[prefix] for name, prefix in self.players.items()},
                        options, **kwargs)

    def default_optimizer(self):
        """Adam(2e-4, beta_1=0.5), as in pix2pix and CycleGAN (Isola et al.
        2017; Zhu et al. 2017)."""
        return keras.optimizers.Adam(2e-4, beta_1=0.5)

    # ------------------------------------------------------------------ data
    def unpack(self, data):
        """Splits a batch into its two checked batches of images."""
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise ValueError(f"{type(self).__name__} trains on {self.batches}.")
        return self.check_images(data[0]), self.check_images(data[1])

    def check_batch(self, data):
        return backend.after(list(self.unpack(data)), data)

    # ----------------------------------------------------------- translation
    def translator(self, direction="a2b"):
        """The generator of `direction` (`"a2b"`, or `"b2a"` where the model
        translates both ways) used to translate and export: its moving
        average when `ema_decay` is on."""
        if direction not in self.directions:
            raise ValueError(f"Unknown direction {direction!r}; expected "
                             f"{' or '.join(map(repr, self.directions))}.")
        return self.averaged(self.directions[direction])

    def call(self, inputs, training=False):
        return self.translator("a2b")(inputs, training=training)

    def translate(self, images, direction="a2b", batch_size=256):
        """Translates images as a float32 numpy array in [-1, 1].

        Args:
            images: `(N, H, W, C)` of the model's image shape, uint8 pixels
                or floats in [-1, 1].
            direction: `"a2b"` (domain A to B) or, where the model has it, `"b2a"`.
            batch_size: images per generator call.

        Example:

        ```python
        twitter_style = model.translate(google_images, direction="a2b")
        ```
        """
        generator = self.translator(direction)
        images = unit_range_batch(images, self.image_shape)
        return predict_in_batches(lambda batch: generator(batch, training=False), [images],
                                  self.image_shape, batch_size)

    def export(self, path, direction="a2b", metadata=None):
        """Writes the translator of `direction` as a TensorFlow SavedModel whose
        `serving_default(images=...)` takes float32 images in [-1, 1]
        `(N, H, W, C)` and returns `{"images": ...}` of the same shape.

        `metadata.json` records the direction besides `describe()` and
        `metadata`. See `keras_gans.saving.export_endpoint`.

        Example:

        ```python
        model.export("exports/google2twitter", direction="a2b")
        ```
        """
        generator = self.translator(direction)
        return saving.export_endpoint(
            generator, path,
            lambda images: {"images": ops.cast(generator(images, training=False), "float32")},
            {"images": ("float32", (None, *self.image_shape))},
            {**self.describe(), "direction": direction, **(metadata or {})})

    def describe(self):
        return {
            **super().describe(),
            "task": "image_to_image",
            "image_shape": list(self.image_shape),
            "parameters": saving.count_parameters(self.translator("a2b")),
            "ema": self.ema_decay is not None,
        }


class ImageToImage(ImageTranslator):
    """Two generators translating between image domains A and B, each trained
    against a discriminator of its target domain.

    Args:
        generator_a2b, generator_b2a: `keras.Model`s mapping a batch of
            images in [-1, 1] to a batch of the same shape in [-1, 1], or
            functions building them.
        discriminator_a, discriminator_b: `keras.Model`s mapping images of
            domain A (B) to raw scores (no sigmoid), one per image or per
            patch; or functions building them.
        **kwargs: `seed`, `ema_decay` (a moving average of both generators,
            used to translate and export), `historical_averaging`, `name`;
            see `AdversarialModel`.
    """

    task = "image_to_image"
    players = {"generator_a2b": "g", "generator_b2a": "g",
               "discriminator_a": "d", "discriminator_b": "d"}
    directions = {"a2b": "generator_a2b", "b2a": "generator_b2a"}
    averaged_players = ("generator_a2b", "generator_b2a")

    def __init__(self, generator_a2b, generator_b2a, discriminator_a, discriminator_b,
                 **kwargs):
        super().__init__({"generator_a2b": generator_a2b, "generator_b2a": generator_b2a,
                          "discriminator_a": discriminator_a,
                          "discriminator_b": discriminator_b}, **kwargs)


class PairedImageToImage(ImageTranslator):
    """A generator translating images of domain A into their partners in
    domain B, trained on aligned pairs against a discriminator of pairs.

    Args:
        generator: a `keras.Model` mapping a batch of images in [-1, 1] to a
            batch of the same shape in [-1, 1], or a function building one.
        discriminator: a `keras.Model` mapping `[sources, targets]` to raw
            scores (no sigmoid), one per pair or per patch; or a function
            building one.
        **kwargs: `seed`, `ema_decay` (a moving average of the generator,
            used to translate and export), `historical_averaging`, `name`;
            see `AdversarialModel`.
    """

    task = "paired"
    players = {"generator": "g", "discriminator": "d"}
    directions = {"a2b": "generator"}
    averaged_players = ("generator",)
    batches = ("(sources, targets) batches of aligned image pairs, e.g. from "
               "keras_gans.data.load_paired")

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__({"generator": generator, "discriminator": discriminator}, **kwargs)
