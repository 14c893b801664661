"""ProGAN: progressive growing of GANs (Karras et al. 2018), inside one `fit`.

Both networks (`keras_gans.networks.progan`) hold a block for every
resolution from the start (4x4 or 7x7, doubling to the final size), so a
`.keras` file, a preset and the optimizers always hold all of them. Which
blocks run is the *stage*, and how far the newest one has faded in is
*alpha*; both follow from one saved, non-trainable counter, `images_seen`,
through the `GrowthSchedule`:

```
images seen  0 ........ stable | fade   stable | fade   stable | ... final stage
stage        0 (4x4)           | 1 (8x8)       | 2 (16x16)     | ...
alpha        1                 | 0 -> 1   1    | 0 -> 1   1    |
```

The train step is traced for one stage (a Python int) and reads alpha from
the counter inside the graph; after every batch `fit` moves to the stage the
counter has reached, retracing the step once per stage. No re-`compile`.
"""

import itertools
import math
import numbers

import keras
from keras import ops

from keras_gans import backend, saving
from keras_gans.models.wgan_gp import WGANGP
from keras_gans.networks.base import check_image_shape
from keras_gans.networks.progan import (
    ProgressiveDiscriminator,
    ProgressiveGenerator,
    downscale,
    fade,
    feature_widths,
    stage_resolutions,
    upscale,
)

DEFAULT_BATCH_SIZE = 32


def _whole(value, name, minimum):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not float(value).is_integer() or value < minimum):
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}.")
    return int(value)


class GrowthSchedule:
    """When each stage starts, how long its new block fades in, and its batch size.

    Stage 0 trains for its stable phase; every later stage first fades its
    block in (alpha rising linearly from 0 to 1) and then trains for its
    stable phase (Karras et al. 2018, section 3; the paper's
    `lod_transition_kimg` and `lod_training_kimg`). Counts are images shown
    to the discriminator. After the last stage's stable phase, training goes
    on at the final resolution.

    Args:
        resolutions: the side of each stage's images, e.g. `(4, 8, 16)`.
        fade_images: images per fade-in: an int for every stage after the
            first, or `{resolution: images}` naming each of them.
        stable_images: images per stable phase: an int for every stage, or
            `{resolution: images}` naming every resolution.
        batch_sizes: `{resolution: images per step}`, an int for every
            stage, or `None` for 32 at every stage; resolutions a dict does
            not name take 32.

    Example:

    ```python
    schedule = GrowthSchedule((4, 8, 16), fade_images=1000, stable_images=1000,
                              batch_sizes={4: 32, 8: 32, 16: 16})
    schedule.stage_at(1500), schedule.alpha_at(1500)   # (1, 0.5)
    # Cheap low resolutions briefly, the final one longest:
    GrowthSchedule((4, 8, 16), fade_images={8: 500, 16: 2000},
                   stable_images={4: 500, 8: 500, 16: 8000})
    ```
    """

    def __init__(self, resolutions, fade_images, stable_images, batch_sizes=None):
        self.resolutions = tuple(int(r) for r in resolutions)
        # Each stage's fade-in and stable phase, in images; stage 0 has no fade-in.
        self.fade_lengths = (0, *self._per_resolution(fade_images, "fade_images", 0,
                                                      self.resolutions[1:]))
        self.stable_lengths = self._per_resolution(stable_images, "stable_images", 1,
                                                   self.resolutions)
        self._starts = (0, *itertools.accumulate(
            fade + stable for fade, stable in zip(self.fade_lengths, self.stable_lengths,
                                                  strict=True)))
        # As given: an int for every stage, or `{resolution: images}`.
        self.fade_images = (
            dict(zip(self.resolutions[1:], self.fade_lengths[1:], strict=True))
            if isinstance(fade_images, dict) else int(fade_images))
        self.stable_images = (
            dict(zip(self.resolutions, self.stable_lengths, strict=True))
            if isinstance(stable_images, dict) else int(stable_images))
        self.batch_sizes = self._batch_sizes(batch_sizes)

    def _resolution_keys(self, mapping, name):
        """`mapping` with its keys as the int resolutions they name (JSON
        configs give them as strings)."""
        resolved = {}
        for resolution, value in mapping.items():
            if not (str(resolution).strip().isdigit() and int(resolution) in self.resolutions):
                known = ", ".join(str(r) for r in self.resolutions)
                raise ValueError(f"{name} names resolution {resolution!r}, which is not "
                                 f"one of the stages' resolutions {known}.")
            if int(resolution) in resolved:
                raise ValueError(f"{name} names resolution {int(resolution)} twice.")
            resolved[int(resolution)] = value
        return resolved

    def _per_resolution(self, value, name, minimum, resolutions):
        """One whole count per resolution in `resolutions`, from an int for
        all of them or a dict that names each one."""
        if not isinstance(value, dict):
            return (_whole(value, name, minimum),) * len(resolutions)
        counts = self._resolution_keys(value, name)
        if set(counts) != set(resolutions):
            but = " but the first" if name == "fade_images" else ""
            raise ValueError(f"{name} must name every resolution{but} "
                             f"({', '.join(str(r) for r in resolutions)}), got "
                             f"{', '.join(str(r) for r in counts) or 'none'}.")
        return tuple(_whole(counts[r], f"{name} at {r}x{r}", minimum) for r in resolutions)

    def _batch_sizes(self, batch_sizes):
        if batch_sizes is None or not isinstance(batch_sizes, dict):
            size = DEFAULT_BATCH_SIZE if batch_sizes is None else batch_sizes
            batch_sizes = dict.fromkeys(self.resolutions, size)
        sizes = dict.fromkeys(self.resolutions, DEFAULT_BATCH_SIZE)
        for resolution, size in self._resolution_keys(batch_sizes, "batch_sizes").items():
            sizes[resolution] = _whole(size, f"The batch size at {resolution}x{resolution}", 1)
        return sizes

    @property
    def num_stages(self):
        return len(self.resolutions)

    def batch_size(self, stage):
        return self.batch_sizes[self.resolutions[stage]]

    def stage_start(self, stage):
        """The images seen when `stage` begins (its fade-in, for stages after
        0); `stage_start(num_stages)` is where the last stable phase ends."""
        return self._starts[stage]

    def stage_at(self, images):
        """The stage training is in after `images` images."""
        return max(stage for stage in range(self.num_stages) if self.stage_start(stage) <= images)

    def phase_at(self, images):
        """`(stage, fading)`: the stage after `images` images, and whether its
        block is still fading in (stage 0 never is)."""
        stage = self.stage_at(images)
        return stage, images < self.stage_start(stage) + self.fade_lengths[stage]

    def alpha_at(self, images, stage=None):
        """How far `stage`'s block has faded in after `images` images, in [0, 1];
        1 for stage 0. `stage` defaults to `stage_at(images)`."""
        stage = self.stage_at(images) if stage is None else stage
        if self.fade_lengths[stage] == 0:
            return 1.0
        return min(max((images - self.stage_start(stage)) / self.fade_lengths[stage], 0.0), 1.0)

    @property
    def total_images(self):
        """Images until the last stage's stable phase ends."""
        return self.stage_start(self.num_stages)

    @property
    def total_steps(self):
        """Steps until `total_images`, each step reading its stage's batch."""
        return self.steps_to(self.total_images)

    def steps_to(self, images):
        """The steps that show `images` images, each step reading the batch
        of the stage it starts in (the last stage's after the schedule)."""
        seen = steps = 0
        for stage in range(self.num_stages):
            end = images if stage == self.num_stages - 1 else min(
                images, self.stage_start(stage + 1))
            if seen < end:
                count = math.ceil((end - seen) / self.batch_size(stage))
                steps, seen = steps + count, seen + count * self.batch_size(stage)
        return steps

    def summary(self):
        """One line, e.g. `"4x4 -> 16x16: stable 1000, fade 1000 images; batches
        4:64, 8:64, 16:64; 5000 images in 79 steps"`."""
        def listed(counts):
            return ", ".join(f"{r}:{count}" for r, count in counts.items())

        def lengths(counts):
            return f"({listed(counts)})" if isinstance(counts, dict) else str(counts)

        first, last = self.resolutions[0], self.resolutions[-1]
        return (f"{first}x{first} -> {last}x{last}: stable {lengths(self.stable_images)}, fade "
                f"{lengths(self.fade_images)} images; batches {listed(self.batch_sizes)}; "
                f"{self.total_images} images in {self.total_steps} steps")


class StageSwitch(keras.callbacks.Callback):
    """Moves a ProGAN's training to the stage its `images_seen` has reached,
    at the start of `fit` and after every batch, and restarts its optimizers
    when a fade-in or a stable phase begins (with `reset_optimizers`).
    `ProGAN.fit` adds it."""

    def on_train_begin(self, logs=None):
        self.phase = self.model.current_phase
        self.switch()

    def on_train_batch_end(self, batch, logs=None):
        if self.model.reset_optimizers:
            phase = self.model.current_phase
            if phase != self.phase:
                self.model.reset_optimizer_states()
                self.phase = phase
        self.switch()

    def switch(self):
        if self.model.sync_stage():
            self.model.make_train_function()  # traced at its first call


@keras.saving.register_keras_serializable(package="keras_gans")
class ProGAN(WGANGP):
    """Progressive growing of GANs (Karras et al. 2018), grown inside one `fit`.

    Training starts at 4x4 (7x7 for 28x28 images) and doubles the resolution
    stage by stage on the `GrowthSchedule` of `fade_images` and
    `stable_images`; each step is WGAN-GP with the drift term
    `drift_weight * E[D(x)^2]` (appendix A.1), both players on
    Adam(1e-3, beta_1=0, beta_2=0.99). The dataset yields images at the final
    size, in batches of at least `max_batch_size`; each step takes the first
    `batch_sizes[resolution]` of them, average-pools them to the stage's
    resolution and, during a fade, blends them with their 2x-coarser version.

    `generate`, `SampleGrid` and `export(path)` show the generator as it
    stands: the current stage and fade, nearest-upscaled to the final size
    (after the whole schedule, the final generator itself), clipped to
    [-1, 1]; `export(path, resolution=16)` writes one stage's generator at its
    own size.

    Args:
        image_shape: `(height, width, channels)`, a side of 3 to 7
            doubled at least once: 16x16, 28x28, 32x32, 64x64...
        latent_dim: size of z.
        fmap_base, fmap_max: each resolution's block has
            `min(fmap_max, fmap_base // resolution)` channels: with the
            defaults, sized for a CPU, 128 up to 8x8, then 64 at 16x16, 32 at
            32x32, 16 at 64x64 (for 28x28: 128, 73, 36); the paper's
            equivalent is 16384 and 512.
        fade_images, stable_images: images per fade-in and per stable phase
            (10,000 each: 50,000 images to 28x28, 90,000 to 64x64; the paper
            shows 600,000 each), or `{resolution: images}` for each stage's
            own, e.g. `stable_images={4: 2000, 8: 2000, 16: 5000, 32: 10000,
            64: 40000}` (fade_images names every resolution but the first).
        batch_sizes: images per step, one int for every stage or
            `{resolution: batch size}` (others 32).
        mbstd_group_size: group size of D's minibatch standard deviation (0: off).
        n_critic: critic steps per generator step, each on its own slice of
            the stage's batch (1, as in the paper).
        gp_weight: lambda of the gradient penalty (10).
        drift_weight: epsilon_drift (0.001).
        ema_decay: the sampling generator's moving average (0.999, the
            paper's). Its warm-up, `min(decay, (1 + t) / (10 + t))`, counts
            t from the start of each stage, so the average follows each new
            block as it fades in; a 0.999 average carried across stages of a
            few hundred steps would still be mostly the stages before.
        reset_optimizers: restart both optimizers (moments and step count)
            whenever a fade-in or a stable phase begins, as the paper's code
            does (`reset_opt_for_new_lod`). Adam's bias correction then
            starts again, so a new block's first steps are `learning_rate`
            long, where a kept state gives them up to ten times that (its
            second-moment estimate of the new weights starts at 0 after the
            correction has faded). Off by default (the docs' ProGAN page
            has the measurement).
        **kwargs: `seed`, `historical_averaging`, `name`.

    Example:

    ```python
    progan = keras_gans.ProGAN(image_shape=(28, 28, 1), seed=0)
    progan.compile()
    dataset = keras_gans.data.load_dataset("fashion_mnist",
                                           batch_size=progan.max_batch_size, repeat=True)
    progan.fit(dataset, epochs=10, steps_per_epoch=progan.schedule.total_steps // 10,
               callbacks=[keras_gans.callbacks.SampleGrid("samples/", gif=True)])
    ```
    """

    tracker_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty", "drift",
                     "fade_alpha")
    supported_options = frozenset()
    grows = True
    presets = {"progan_fashion_mnist": "Fashion-MNIST grown 7x7 -> 28x28, 20,000 images per "
                                       "phase, EMA"}

    def __init__(self, image_shape=(64, 64, 3), latent_dim=128, fmap_base=1024,
                 fmap_max=128, fade_images=10000, stable_images=10000, batch_sizes=None,
                 mbstd_group_size=4, n_critic=1, gp_weight=10.0, drift_weight=0.001,
                 ema_decay=0.999, reset_optimizers=False, **kwargs):
        if "final_image_shape" in kwargs:  # the name before 0.3, in saved configs too
            image_shape = kwargs.pop("final_image_shape")
        final_image_shape = check_image_shape(image_shape)
        resolutions = stage_resolutions(final_image_shape)
        widths = feature_widths(resolutions, fmap_base, fmap_max)
        schedule = GrowthSchedule(resolutions, fade_images, stable_images, batch_sizes)
        group = _whole(mbstd_group_size, "mbstd_group_size", 0)
        n_critic = _whole(n_critic, "n_critic", 1)
        for resolution, size in schedule.batch_sizes.items():
            critic_batch = size // n_critic
            if size % n_critic or (group and critic_batch > group and critic_batch % group):
                raise ValueError(
                    f"The batch size {size} at {resolution}x{resolution} must split into "
                    f"n_critic={n_critic} critic minibatches that are multiples of "
                    f"mbstd_group_size={group} (or smaller than it).")
        channels = final_image_shape[-1]
        super().__init__(
            generator=lambda: ProgressiveGenerator(latent_dim, resolutions, widths, channels,
                                                   name="generator"),
            discriminator=lambda: ProgressiveDiscriminator(resolutions, widths, channels,
                                                           group, name="discriminator"),
            n_critic=n_critic, gp_weight=gp_weight, ema_decay=ema_decay, **kwargs)
        self.full_image_shape = final_image_shape
        self.schedule = schedule
        self.fmap_base, self.fmap_max = fmap_base, fmap_max
        self.fade_images, self.stable_images = schedule.fade_images, schedule.stable_images
        self.batch_sizes = dict(schedule.batch_sizes)
        self.mbstd_group_size = group
        self.drift_weight = float(drift_weight)
        self.reset_optimizers = bool(reset_optimizers)
        self.images_seen = self.add_weight(shape=(), dtype="int32", initializer="zeros",
                                           trainable=False, name="images_seen",
                                           aggregation="only_first_replica")
        self.active_stage = 0

    @classmethod
    def growth_schedule(cls, image_shape, options, batch_size=None):
        """The `GrowthSchedule` a ProGAN of these constructor `options` trains;
        `batch_size` sets every stage's batch size."""
        return GrowthSchedule(stage_resolutions(image_shape), options["fade_images"],
                              options["stable_images"], options["batch_sizes"] or batch_size)

    def same_option(self, option, value):
        """Stage lengths given as one number or resolution by resolution."""
        if option not in ("fade_images", "stable_images"):
            return False
        schedule = self.schedule
        lengths = {"fade_images": schedule.fade_images,
                   "stable_images": schedule.stable_images, option: value}
        rebuilt = GrowthSchedule(schedule.resolutions, lengths["fade_images"],
                                 lengths["stable_images"])
        return ((rebuilt.fade_lengths, rebuilt.stable_lengths)
                == (schedule.fade_lengths, schedule.stable_lengths))

    def default_optimizer(self):
        """Adam(1e-3, beta_1=0, beta_2=0.99, epsilon=1e-8), the paper's."""
        return keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.99, epsilon=1e-8)

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        if not self.reset_optimizers:
            return
        for prefix in self.players_by_optimizer():
            rate = getattr(self, f"{prefix}_optimizer").learning_rate
            if not isinstance(rate, keras.Variable):
                raise ValueError(
                    f"The {prefix}_optimizer has a learning-rate schedule, which "
                    "ProGAN(reset_optimizers=True) would restart at every phase: give "
                    "a constant rate, or build the ProGAN with reset_optimizers=False "
                    "(without --reset-optimizers).")

    # ------------------------------------------------------------- the step
    # Each step is `CriticGame`'s: WGAN-GP on the active stage's images, with
    # the drift term in the critic's loss; after it, the images D has seen
    # are counted, and alpha and the stage follow.
    def training_images(self, real_images):
        return self.stage_real_images(real_images)

    def fake_images(self, z, labels=None):
        return self.generator(z, stage=self.active_stage, alpha=self.fade_alpha(),
                              training=True)

    def discriminate(self, real_images, fake_images, labels=None):
        return self.critic(real_images), self.critic(fake_images)

    def score_fakes(self, fake_images, labels=None):
        return self.critic(fake_images)

    def critic_penalty(self, real_images, fake_images, real_scores):
        """The gradient penalty plus the drift term eps_drift * E[D(x)^2],
        which keeps the critic's scores near 0."""
        penalty, logs = super().critic_penalty(real_images, fake_images, real_scores)
        drift = ops.mean(ops.square(ops.cast(real_scores, "float32")))
        return penalty + self.drift_weight * drift, {**logs, "drift": drift}

    def critic_logs(self, real_scores, fake_scores):
        return {**super().critic_logs(real_scores, fake_scores), "fade_alpha": self.fade_alpha()}

    def after_step(self):
        """Counts the step's images (all replicas'), then updates the averages."""
        self.images_seen.assign_add(
            ops.cast(self.schedule.batch_size(self.active_stage), "int32"))
        super().after_step()

    def critic(self, images):
        """D's scores of images at the active stage's resolution and fade."""
        return self.discriminator(images, stage=self.active_stage, alpha=self.fade_alpha(),
                                  training=True)

    def stage_real_images(self, images):
        """The real batch as the active stage trains on it: its first
        `batch_sizes[resolution]` images (this replica's share), average-pooled
        to the resolution and, during a fade, blended with their 2x-coarser
        version: `(1 - alpha) * upscale(downscale(x)) + alpha * x`."""
        stage, replicas = self.active_stage, backend.replica_count()
        available = images.shape[0]
        if available is not None and available * replicas < self.max_batch_size:
            raise ValueError(
                f"ProGAN trains on batches of up to {self.max_batch_size} images, but the "
                f"dataset yields batches of {available * replicas}: batch it by "
                f"model.max_batch_size ({self.max_batch_size}).")
        images = images[:self.schedule.batch_size(stage) // replicas]
        images = downscale(images, self.image_shape[0] // self.schedule.resolutions[stage])
        if stage > 0:
            images = fade(upscale(downscale(images, 2), 2), images, self.fade_alpha())
        return images

    def fade_alpha(self):
        """The active stage's alpha, read from `images_seen` (in the graph too)."""
        stage = self.active_stage
        fade_length = self.schedule.fade_lengths[stage]
        if fade_length == 0:
            return ops.ones((), "float32")
        return ops.clip(self.images_in_stage() / fade_length, 0.0, 1.0)

    def images_in_stage(self):
        """The images seen since the active stage began, as a float32 tensor."""
        return (ops.cast(self.images_seen, "float32")
                - self.schedule.stage_start(self.active_stage))

    def ema_warmup_step(self, player):
        """The steps taken in the active stage: the moving average restarts
        its warm-up when a stage begins."""
        return self.images_in_stage() / self.schedule.batch_size(self.active_stage)

    def trained_variables(self, player):
        return getattr(self, player).variables_at(self.active_stage)

    # --------------------------------------------------------------- growth
    @property
    def current_stage(self):
        """The stage `images_seen` has reached."""
        return self.schedule.stage_at(int(ops.convert_to_numpy(self.images_seen.value)))

    @property
    def current_alpha(self):
        """How far the current stage's block has faded in, as a float."""
        return self.schedule.alpha_at(int(ops.convert_to_numpy(self.images_seen.value)))

    @property
    def current_phase(self):
        """`(stage, fading)` after the images seen so far."""
        return self.schedule.phase_at(int(ops.convert_to_numpy(self.images_seen.value)))

    @property
    def steps_taken(self):
        """The train steps so far, from the images seen: the optimizers'
        step counts restart with every phase."""
        return self.schedule.steps_to(int(ops.convert_to_numpy(self.images_seen.value)))

    @property
    def current_resolution(self):
        return self.schedule.resolutions[self.current_stage]

    @property
    def max_batch_size(self):
        """The batch size the dataset must yield at least: the largest stage's."""
        return max(self.batch_sizes.values())

    def sync_stage(self):
        """Makes the stage `images_seen` has reached the active one, and drops
        the train function traced for another (so it is traced once per
        stage). Returns whether the stage changed."""
        stage = self.current_stage
        if stage == self.active_stage:
            return False
        self.active_stage = stage
        self.train_function = None
        return True

    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, growing the networks as `images_seen` goes
        through the schedule (a `StageSwitch` callback runs first)."""
        callbacks = [StageSwitch(), *(callbacks or [])]
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self.sync_stage()

    # ------------------------------------------------------------- sampling
    @property
    def latent_dim(self):
        return self.generator.latent_dim

    @property
    def image_shape(self):
        """The shape of the images of the last stage."""
        return self.full_image_shape

    @property
    def final_image_shape(self):
        """`image_shape`, by its name before 0.3."""
        return self.full_image_shape

    @property
    def resolutions(self):
        return self.schedule.resolutions

    @property
    def sampling_tag(self):
        """The current resolution, e.g. `"16x16"`."""
        return f"{self.current_resolution}x{self.current_resolution}"

    def sample_images(self, generator, inputs, training=False):
        """`generator`'s images at the active stage and fade, clipped to
        [-1, 1] and nearest-upscaled to the final size."""
        return self.render(generator, inputs[0], self.active_stage, self.fade_alpha(),
                           self.image_shape[0], training=training)

    def call(self, z, training=False):
        return self.sample_images(self.sampling_generator, [z], training=training)

    def render(self, generator, z, stage, alpha, size, training=False):
        """`generator`'s images of `z` at `stage` and `alpha`, clipped to
        [-1, 1] and nearest-upscaled to `size`."""
        images = ops.clip(generator(z, stage=stage, alpha=alpha, training=training), -1.0, 1.0)
        return upscale(images, size // self.schedule.resolutions[stage])

    def export(self, path, metadata=None, resolution=None):
        """Writes the sampling generator as a SavedModel whose
        `serving_default(z)` returns `{"images": ...}` in [-1, 1].

        Args:
            path: the export directory.
            metadata: more entries for `metadata.json`.
            resolution: write this stage's generator at its own size (e.g.
                16 for 16x16 images), its block fully faded in; `None`
                writes the generator as it stands, at the final size.
        """
        stage, alpha, size = self.current_stage, self.current_alpha, self.image_shape[0]
        if resolution is not None:
            if resolution not in self.resolutions[:stage + 1]:
                raise ValueError(
                    f"ProGAN exports the resolutions it has trained, "
                    f"{', '.join(str(r) for r in self.resolutions[:stage + 1])}; got "
                    f"{resolution!r}.")
            stage, alpha, size = self.resolutions.index(resolution), 1.0, resolution
        generator = self.sampling_generator
        info = {**self.describe(), "image_shape": [size, size, self.image_shape[-1]],
                "resolution": self.resolutions[stage], "fade_alpha": alpha, **(metadata or {})}
        return saving.export_endpoint(
            generator, path,
            lambda z: {"images": ops.cast(self.render(generator, z, stage, alpha, size),
                                          "float32")},
            self.serving_inputs(), info)

    def describe(self):
        return {**super().describe(), "resolutions": list(self.resolutions),
                "resolution": self.current_resolution, "fade_alpha": self.current_alpha,
                "images_seen": int(ops.convert_to_numpy(self.images_seen.value))}
