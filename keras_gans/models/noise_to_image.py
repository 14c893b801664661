"""The noise-to-image task: a generator maps z (and labels) to images.

`NoiseToImage` puts on the game layer what GANs from noise share: the
players `generator` and `discriminator`, `latent_dim`, `sample_latent`,
`generate(n)`, the SavedModel export with `serving_default(z[, label])`,
the checks of a batch of images, and the stabilisers that act on what D sees
(DiffAugment, adaptive augmentation, instance noise, R1, feature matching).

Conditioning is two hooks, `generator_inputs(z, labels)` and
`discriminator_inputs(images, labels)`, with `check_labels`: they pass the
labels on when the model's `num_classes` is set (a conditional variant
overrides that property), and an unconditional model ignores labels.
"""

import os
import warnings

import keras
import numpy as np
from keras import ops

from keras_gans import ada as adaptive
from keras_gans import augment, backend, latent, losses, plotting, saving
from keras_gans.models.adversarial import AdversarialModel
from keras_gans.sampling import check_count, latent_noise, predict_in_batches, requested_labels


def _mixes_batch(model):
    """Whether a model's output for one example depends on the rest of the batch."""
    from keras_gans.layers import MinibatchStdDev

    batch_layers = (keras.layers.BatchNormalization, MinibatchStdDev)
    return any(isinstance(layer, batch_layers) for layer in model._flatten_layers())


class NoiseToImage(AdversarialModel):
    """A generator of images from noise z, trained against a discriminator.

    Args:
        generator: a `keras.Model` mapping `z` of shape `(batch, latent_dim)`
            (and labels, for conditional models) to images in [-1, 1], or a
            function building one.
        discriminator: a `keras.Model` mapping images (and labels) to one raw
            score per image, shape `(batch, 1)`: no sigmoid; or a function
            building one.
        **kwargs: `seed`, `ema_decay`, `historical_averaging`, `name`; see
            `AdversarialModel`.
    """

    players = {"generator": "g", "discriminator": "d"}
    task = "noise_to_image"
    averaged_players = ("generator",)
    default_loss = "non_saturating"

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__({"generator": generator, "discriminator": discriminator}, **kwargs)
        self.discriminator_mixes_batch = _mixes_batch(self.discriminator)
        # ADA's probability p and its running statistics, saved with the
        # model whether `compile(ada=True)` uses them or not.
        self.adaptive_augment = adaptive.AdaptiveAugment(name="adaptive_augment")
        _warn_if_probabilities(self.discriminator)

    # ------------------------------------------------------------------ shapes
    @property
    def latent_dim(self):
        return int(self.generator.inputs[0].shape[-1])

    @property
    def image_shape(self):
        return tuple(int(d) for d in self.generator.outputs[0].shape[1:])

    @property
    def num_classes(self):
        """The number of classes of a conditional model; `None` here."""
        return None

    # The classes' names of a conditional model, which `generate` takes as labels.
    class_names = None

    @property
    def conditional(self):
        return self.num_classes is not None

    # ---------------------------------------------------------------- compile
    def compile(self, d_optimizer=None, g_optimizer=None, loss=None, label_smoothing=0.0,
                instance_noise=0.0, instance_noise_steps=0, diff_augment=None,
                r1_weight=0.0, feature_matching=False, ada=False, ada_target=None,
                ada_kimg=None, ada_interval=None, **kwargs):
        """Configures training. Options the variant does not support are errors.

        Args:
            d_optimizer, g_optimizer: the discriminator's and the generator's
                optimizers; the variant's `default_optimizer()` each by
                default. Give them different learning rates for TTUR (Heusel
                et al. 2017).
            loss: an adversarial loss name from `keras_gans.losses.LOSSES`
                (`"non_saturating"`, `"minimax"`, `"lsgan"`, `"hinge"`,
                `"wasserstein"`, `"kl"`, ...) or an `AdversarialLoss`.
            label_smoothing: one-sided label smoothing: real targets become
                `1 - label_smoothing` (Salimans et al. 2016).
            instance_noise: standard deviation of Gaussian noise added to every
                discriminator input (Sonderby et al. 2017).
            instance_noise_steps: anneal that noise linearly to 0 over this many
                steps; 0 keeps it constant.
            diff_augment: DiffAugment policy applied to real and fake images
                alike, e.g. `"translation,cutout"` (Zhao et al. 2020).
            r1_weight: gamma of the R1 penalty on real data, added as
                `gamma / 2 * R1` (Mescheder et al. 2018).
            feature_matching: train G to match the mean of D's `"features"`
                layer on real and fake data (Salimans et al. 2016).
            ada: adaptive discriminator augmentation (Karras et al. 2020):
                every image D sees, real or fake, in both players'
                objectives and in R1, passes through the "bgc" augmentations
                of `keras_gans.ada`, each applied with a probability `p`
                that rises while `r_t`, D's mean sign on the real images,
                is above `ada_target` and falls while it is below. `p`
                starts at 0, is logged as `ada_p` (with `ada_rt`, the last
                interval's `r_t`) and saved with the model. Not with
                `diff_augment`.
            ada_target: the target of `r_t = E[sign(D(x) - t)]` over real
                images, `t` the loss's decision threshold (0.6; for the
                Wasserstein loss, whose scores have no fixed zero, `t` is
                the minibatch's mean fake score).
            ada_kimg: thousands of real images over which `p` can go from 0
                to 1 (100, for runs of a few epochs; the paper's 500 is for
                runs of millions of images).
            ada_interval: discriminator minibatches between adjustments of
                `p` (4).
            **kwargs: passed to `keras.Model.compile`, e.g.
                `steps_per_execution`, `jit_compile`.

        Example:

        ```python
        gan.compile(d_optimizer=keras.optimizers.Adam(4e-4),
                    g_optimizer=keras.optimizers.Adam(1e-4), loss="hinge")
        gan.compile(ada=True)  # small datasets: p adapts, logged as ada_p
        ```
        """
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}.")
        adversarial_loss = losses.get(loss or self.default_loss)
        policy = augment.parse_policy(diff_augment)
        ada_settings = {"ada_target": ada_target, "ada_kimg": ada_kimg,
                        "ada_interval": ada_interval}
        if ada:
            defaults = {"ada_target": 0.6, "ada_kimg": 100.0, "ada_interval": 4}
            ada_settings = {name: defaults[name] if value is None else value
                            for name, value in ada_settings.items()}
        options = {
            "loss": None if loss is None else adversarial_loss.name,
            "label_smoothing": float(label_smoothing),
            "instance_noise": float(instance_noise),
            "instance_noise_steps": int(instance_noise_steps),
            "diff_augment": ",".join(policy) or None,
            "r1_weight": float(r1_weight),
            "feature_matching": bool(feature_matching),
            "ada": bool(ada),
            **ada_settings,
        }
        if ada:
            adaptive.check_channels(self.image_shape[-1])
            pipe = self.adaptive_augment
            pipe.configure(*ada_settings.values())
            options.update(ada_target=pipe.target, ada_kimg=pipe.kimg,
                           ada_interval=pipe.interval)
        super().compile({"discriminator": d_optimizer, "generator": g_optimizer}, options,
                        **kwargs)
        self.adversarial_loss = adversarial_loss
        self.diff_augment = policy
        self.label_smoothing = options["label_smoothing"]
        self.instance_noise = options["instance_noise"]
        self.instance_noise_steps = options["instance_noise_steps"]
        self.r1_weight = options["r1_weight"]
        self.feature_matching = options["feature_matching"]
        self.ada = options["ada"]
        self.feature_extractor = None
        if self.feature_matching:
            self.feature_extractor = self._discriminator_features()

    @classmethod
    def check_supported(cls, options):
        """Also refuses `ada` with `diff_augment`, and ADA's settings without `ada`."""
        super().check_supported(options)
        if options.get("ada") and options.get("diff_augment"):
            raise ValueError("ada and diff_augment both augment what the discriminator sees: "
                             "give one of them.")
        for option in ("ada_target", "ada_kimg", "ada_interval"):
            if options.get(option) is not None and not options.get("ada"):
                raise ValueError(f"{option} is a setting of adaptive augmentation: give "
                                 "ada=True too.")

    def default_optimizer(self):
        """Adam(2e-4, beta_1=0.5), the DCGAN settings (Radford et al. 2015)."""
        return keras.optimizers.Adam(2e-4, beta_1=0.5)

    def _discriminator_features(self):
        try:
            features = self.discriminator.get_layer("features").output
        except ValueError as error:
            raise ValueError(
                "feature_matching=True needs a discriminator layer named "
                "'features' (the builders in keras_gans name one)."
            ) from error
        return keras.Model(self.discriminator.inputs, features)

    # ------------------------------------------------------------ conditioning
    def generator_inputs(self, z, labels=None):
        """What the generator is called on: `z`, or `[z, labels]` when
        conditional."""
        return [z, labels] if self.conditional else z

    def discriminator_inputs(self, images, labels=None):
        """What the discriminator is called on: the images, or `[images,
        labels]` when conditional."""
        return [images, labels] if self.conditional else images

    def check_labels(self, labels):
        """The batch's labels as the step uses them: none for an unconditional
        model, which trains on the images of `(images, labels)` pairs alone;
        int32 `(batch,)` for a conditional one, or a clear error."""
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} with num_classes={self.num_classes} needs (images, "
                "labels) batches, but the dataset yields images only: load it with "
                "load_dataset(..., with_labels=True)."
            )
        dtype = keras.backend.standardize_dtype(labels.dtype)
        if not dtype.startswith(("int", "uint")):
            raise ValueError(f"Labels must be integer class indices, got dtype {dtype}.")
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        # Checked before the embedding lookups, whose own error for an
        # out-of-range index would otherwise often come first.
        return backend.checked(
            labels,
            (labels >= 0, "Labels must be >= 0."),
            (labels < self.num_classes, f"Labels must lie in [0, {self.num_classes})."))

    def sampling_labels(self, n, labels):
        """The labels `generate(n, labels=...)` passes to the generator: one
        class per image, or one for all, by index or by name (where
        `class_names` are known); `None` cycles through the classes."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{type(self).__name__} is unconditional: it takes no "
                                 "labels.")
            return None
        return requested_labels(labels, n, self.num_classes, self.class_names)

    # ------------------------------------------------------------------ data
    def unpack(self, data):
        """Splits a batch into checked `(images, labels)`."""
        if isinstance(data, tuple | list):
            images, labels = data[0], (data[1] if len(data) > 1 else None)
        elif isinstance(data, dict):
            images, labels = data.get("images", data.get("image")), data.get("label")
        else:
            images, labels = data, None
        return self.check_images(images), self.check_labels(labels)

    def check_batch(self, data):
        checked = [value for value in self.unpack(data) if value is not None]
        return backend.after(checked, data)

    def sample_latent(self, batch_size):
        """Draws z ~ N(0, I) of shape `(batch_size, latent_dim)`."""
        return self.sample("normal", (batch_size, self.latent_dim))

    def minibatches(self, images, labels, count, option):
        """Splits a batch of images and its labels (or `None`) into `count`
        equal minibatches, `[(images, labels), ...]`, for a step that takes
        several discriminator updates; `option` names the count in the error
        for a batch size that is not a multiple of it."""
        batch_size = images.shape[0]
        if batch_size is not None and batch_size % count:
            raise ValueError(
                f"{type(self).__name__} splits each batch into {option}={count} "
                f"minibatches, so the batch size must be a multiple of {count}; got "
                f"{batch_size}. Use e.g. batch_size={count * 64} for minibatches of 64."
            )
        images = ops.split(images, count, axis=0)
        labels = [None] * count if labels is None else ops.split(labels, count, axis=0)
        return list(zip(images, labels, strict=True))

    # ------------------------------------------------------ stabilisation
    def discriminator_view(self, images):
        """What D sees of a batch: DiffAugment or ADA, and instance noise, if on."""
        if self.diff_augment:
            images = augment.diff_augment(images, self.diff_augment, self.seed_generator)
        if self.ada:
            images = self.adaptive_augment.augment(images, self.seed_generator)
        if self.instance_noise > 0.0:
            sigma = self.instance_noise
            if self.instance_noise_steps:
                step = ops.cast(self.d_optimizer.iterations, "float32")
                sigma = sigma * ops.maximum(0.0, 1.0 - step / float(self.instance_noise_steps))
            noise = backend.normal_like(images, self.seed_generator)
            images = images + ops.cast(sigma, images.dtype) * noise
        return images

    def discriminate(self, real_images, fake_images, labels=None):
        """D's scores of the real and the fake batch as D sees them.

        One batched call when D treats every example on its own (equivalent,
        and faster), two calls when it has BatchNorm or minibatch statistics.
        With ADA on, the real scores also go to its adjustment of `p`.
        """
        real = self.discriminator_inputs(self.discriminator_view(real_images), labels)
        fake = self.discriminator_inputs(self.discriminator_view(fake_images), labels)
        if self.discriminator_mixes_batch:
            real_scores = self.discriminator(real, training=True)
            fake_scores = self.discriminator(fake, training=True)
        else:
            both = keras.tree.map_structure(
                lambda r, f: ops.concatenate([r, ops.cast(f, r.dtype)], axis=0), real, fake)
            real_scores, fake_scores = ops.split(self.discriminator(both, training=True), 2,
                                                 axis=0)
        if self.ada:
            self.adaptive_augment.observe(real_scores, self.ada_threshold(fake_scores))
        return real_scores, fake_scores

    def ada_threshold(self, fake_scores):
        """The score above which ADA counts D as calling an image real: the
        loss's decision threshold; for the Wasserstein loss, whose scores are
        defined up to a constant, the minibatch's mean fake score."""
        if isinstance(self.adversarial_loss, losses.WassersteinLoss):
            return ops.mean(ops.cast(fake_scores, "float32"))
        return self.adversarial_loss.decision_threshold

    def r1_penalty(self, real_images, labels=None):
        """`r1_weight / 2 * E[||grad D(x)||^2]` on real data; 0 when off.
        With ADA on, D sees the reals augmented, as in its paper."""
        if not self.r1_weight:
            return 0.0

        def scores(x):
            if self.ada:
                x = self.adaptive_augment.augment(x, self.seed_generator)
            return self.discriminator(self.discriminator_inputs(x, labels), training=True)

        return 0.5 * self.r1_weight * losses.r1_penalty(scores, real_images)

    def feature_matching_loss(self, real_images, fake_images, labels=None):
        """`||E[f(x)] - E[f(G(z))]||^2` on D's `"features"` layer."""
        return losses.feature_matching_loss(
            self.feature_extractor(self.discriminator_inputs(real_images, labels),
                                   training=True),
            self.feature_extractor(self.discriminator_inputs(fake_images, labels),
                                   training=True))

    def update_trackers(self, **values):
        """The trackers' results and, with ADA on, `ada_p` and `ada_rt` as
        they stand."""
        results = super().update_trackers(**values)
        if self.ada:
            state = self.adaptive_augment.logs()
            if backend.multi_worker():
                state = {name: ops.reshape(value, (1,)) for name, value in state.items()}
            results.update(state)
        return results

    def pretrain_discriminator(self, dataset, steps, verbose="auto"):
        """Two-stage start: trains D alone for `steps` batches against the
        untrained generator, then `fit` trains both as usual.

        A better-informed D gives G useful gradients from the first step
        (Goodfellow et al. 2014 train D for k steps per G step; Arjovsky &
        Bottou 2017 discuss D near optimality).

        Returns:
            The `History` of the pre-training.
        """
        return self.train_only(["discriminator"], dataset, steps, verbose=verbose)

    # -------------------------------------------------------------- sampling
    @property
    def sampling_generator(self):
        """The generator used for sampling and export: the EMA one when on."""
        return self.averaged("generator")

    def sample_images(self, generator, inputs, training=False):
        """The images `generator` makes of `inputs` (`[z]` or `[z, labels]`):
        `generate` and `export` run the generator through here."""
        return generator(self.generator_inputs(*inputs), training=training)

    @property
    def sampling_tag(self):
        """A short tag for file names of samples, naming what `generate`
        shows now beyond the epoch; none here (ProGAN's: its resolution)."""
        return ""

    def call(self, inputs, training=False):
        return self.sampling_generator(inputs, training=training)

    def generate(self, n, labels=None, seed=None, batch_size=256, truncation=None):
        """Generates `n` images as a float32 numpy array in [-1, 1].

        Args:
            n: how many images.
            seed: integer seed for repeatable samples; `None` draws fresh noise.
            labels: class labels, for conditional models only.
            batch_size: images per generator call.
            truncation: psi in [0, 1]: z is pulled toward the mean latent
                (0, for Gaussian z), StyleGAN's truncation, as
                `keras_gans.latent.truncate` explains: 0 gives the mean
                latent's image, 1 (or `None`) none.

        Example:

        ```python
        gan.generate(16, seed=0, truncation=0.7)  # less varied, more typical
        ```
        """
        n = check_count(n, self.image_shape)
        labels = self.sampling_labels(n, labels)
        z = latent.truncate(latent_noise(n, self.latent_dim, seed), truncation)
        return self.generate_from(z, labels, batch_size)

    def generate_from(self, z, labels=None, batch_size=256):
        """The sampling generator's images for numpy `z` (and labels)."""
        inputs = [z] if labels is None else [z, labels]
        return predict_in_batches(
            lambda *batch: self.sample_images(self.sampling_generator, batch),
            inputs, self.image_shape, batch_size)

    def serving_inputs(self):
        """The `serving_default` signature's inputs: `z`, and one int32
        `label` per image when conditional."""
        inputs = {"z": ("float32", (None, self.latent_dim))}
        if self.conditional:
            inputs["label"] = ("int32", (None,))
        return inputs

    def export(self, path, metadata=None):
        """Writes the sampling generator as a TensorFlow SavedModel whose
        `serving_default(**serving_inputs())` returns `{"images": ...}`.

        See `keras_gans.saving.export_endpoint`.
        """
        generator = self.sampling_generator
        info = {**self.describe(), **(metadata or {})}
        return saving.export_endpoint(
            generator, path,
            lambda *inputs: {"images": ops.cast(self.sample_images(generator, inputs),
                                                "float32")},
            self.serving_inputs(), info)

    def describe(self):
        return {
            **super().describe(),
            "image_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "conditional": self.conditional,
            "parameters": saving.count_parameters(self.sampling_generator),
            "ema": self.ema_decay is not None,
        }

    def write_preset_extras(self, directory):
        """Writes `samples.png`: 8x8 samples, or 8 per class in rows."""
        rows = self.num_classes or 8
        labels = np.repeat(np.arange(rows), 8) if self.conditional else None
        images = self.generate(rows * 8, seed=0, labels=labels)
        plotting.save_grid(images, os.path.join(directory, saving.SAMPLES_FILE),
                           rows=rows, cols=8)


def _warn_if_probabilities(discriminator):
    """Warns when a discriminator ends in a sigmoid or softmax: the losses
    take logits, and squashed scores train slowly or not at all."""
    activation = getattr(discriminator.layers[-1], "activation", None)
    name = getattr(activation, "__name__", "")
    if name in ("sigmoid", "softmax"):
        warnings.warn(f"The discriminator {discriminator.name!r} ends in a {name}, but "
                      "keras-gans losses take logits: remove the final activation.",
                      stacklevel=3)
