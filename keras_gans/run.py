"""The training run: everything `keras-gans train` does, callable from Python.

A run loads the data, builds the variant (or loads a checkpoint to resume),
chooses the precision and XLA setting, trains with `model.fit` under
checkpoints, signal handling and divergence stops, then exports the
generator, writes a preset holding both players and, if asked, scores it.
`keras-gans train` parses its arguments into a `RunConfig` and calls `train`.

Example:

```python
import keras_gans

result = keras_gans.train("dcgan", epochs=1, limit=512, out="runs/dcgan")
result.model.generate(16)
keras_gans.resume("runs/dcgan", epochs=3)  # two more epochs
```
"""

import dataclasses
import json
import math
import os
import shlex
import shutil
import signal
import sys
import tempfile

DATASETS = ("fashion_mnist", "mnist", "emoji", "cifar10")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
LR_SCHEDULES = ("constant", "linear")
DIRECTIONS = ("a2b", "b2a")
RESIZES = ("crop", "pad", "stretch")

# The variants' constructor options a run sets, and their compile options;
# `None` in a `RunConfig` leaves the variant's default.
MODEL_OPTIONS = ("latent_dim", "spectral_norm", "minibatch_stddev", "discriminator_units",
                 "ema_decay", "n_critic", "clip_value", "gp_weight", "width",
                 "fade_images", "stable_images", "batch_sizes", "reset_optimizers",
                 "pool_size", "cycle_weight", "identity_weight", "generator_filters",
                 "residual_blocks")
COMPILE_OPTIONS = ("loss", "label_smoothing", "instance_noise", "diff_augment", "r1_weight",
                   "feature_matching", "ada", "ada_target", "ada_kimg")
# What a run writes under its output directory.
RUN_FILES = ("run.json", "checkpoint", "samples", "history.json", "generator",
             "generator_a2b", "generator_b2a", "preset")


class RunError(ValueError):
    """A run refused or stopped for a reason the user can act on; one line."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What to train, on what, and how: the options of `keras-gans train`.

    Every field is the command line option of the same name (`data_dir` is
    `--data-dir`). Model and objective options left `None` take the
    variant's defaults.

    Args:
        variant: a name in `keras_gans.VARIANTS`, e.g. `"dcgan"`.
        dataset: `"fashion_mnist"`, `"mnist"`, `"emoji"`, `"cifar10"` or a
            tensorflow-datasets name; default: the `data_dir` folder's name,
            else fashion_mnist.
        data_dir: IDX files, a `.npz`, or a folder of images (flat or in
            class folders); for emoji, the npm package or its `.tgz`.
        domain_a, domain_b: an image-to-image variant's domains, e.g.
            `"emoji:google"`, a folder, or `"tfds:cycle_gan/NAME"`.
        epochs, steps: the run's length (`steps` rounds up to whole epochs);
            default 5 epochs.
        out: the output directory; default `runs/VARIANT_DATASET`.
        resume, overwrite: continue the run in `out`, or replace it.
        precision: `"auto"` or a Keras dtype policy name.
        jit_compile: `"auto"`, `"on"` or `"off"`.
        evaluate: score the final generator on this many samples.
        from_preset: fine-tune this preset (a zoo name or a preset
            directory) on the data instead of training afresh.
        freeze_d: keep the discriminator's first blocks frozen (FreezeD).

    Example:

    ```python
    config = keras_gans.RunConfig("wgan-gp", epochs=2, n_critic=1, d_lr=4e-4)
    config.command()  # 'keras-gans train wgan-gp --epochs 2 --n-critic 1 --d-lr 0.0004'
    ```
    """

    variant: str
    # data
    dataset: str | None = None
    data_dir: str | None = None
    style: str = "google"
    image_size: int | None = None
    channels: int | None = None
    background: str = "white"
    resize: str = "crop"
    bad_images: str = "warn"
    limit: int | None = None
    domain_a: str | None = None
    domain_b: str | None = None
    # the run
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = None
    out: str | None = None
    resume: bool = False
    overwrite: bool = False
    seed: int = 0
    precision: str = "auto"
    checkpoint_every: int = 0
    steps_per_execution: int = 1
    jit_compile: str = "auto"
    stop_on_collapse: bool = False
    gif: bool = False
    evaluate: int | None = None
    quiet: bool = False
    # fine-tuning
    from_preset: str | None = None
    freeze_d: int | None = None
    # the model
    latent_dim: int | None = None
    spectral_norm: bool = False
    minibatch_stddev: bool = False
    discriminator_units: tuple | None = None
    ema_decay: float | None = None
    n_critic: int | None = None
    clip_value: float | None = None
    gp_weight: float | None = None
    width: int | None = None
    conditional: bool = False
    fade_images: int | dict | None = None
    stable_images: int | dict | None = None
    batch_sizes: dict | None = None
    reset_optimizers: bool = False
    pool_size: int | None = None
    cycle_weight: float | None = None
    identity_weight: float | None = None
    generator_filters: int | None = None
    residual_blocks: int | None = None
    # the objective
    loss: str | None = None
    d_lr: float | None = None
    g_lr: float | None = None
    lr_schedule: str | None = None
    decay_epochs: int | None = None
    beta_1: float | None = None
    label_smoothing: float | None = None
    instance_noise: float | None = None
    diff_augment: str | None = None
    r1_weight: float | None = None
    feature_matching: bool = False
    ada: bool = False
    ada_target: float | None = None
    ada_kimg: float | None = None

    def __post_init__(self):
        _check_config(self)

    def given(self):
        """`{field: value}` of the fields that differ from their defaults."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name != "variant" and getattr(self, field.name) != field.default}

    def command(self):
        """The `keras-gans train` command line that runs this configuration."""
        words = ["keras-gans", "train", self.variant]
        for name, value in self.given().items():
            words.append(flag(name))
            if value is not True:
                words.append(shown(value))
        return " ".join(shlex.quote(word) for word in words)

    def to_json(self):
        return {field.name: _jsonable(getattr(self, field.name))
                for field in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RunError(f"unknown run option {unknown[0]!r}")
        values = dict(values)
        for name in ("fade_images", "stable_images", "batch_sizes"):
            if isinstance(values.get(name), dict):
                values[name] = {int(key): value for key, value in values[name].items()}
        if isinstance(values.get("discriminator_units"), list):
            values["discriminator_units"] = tuple(values["discriminator_units"])
        return cls(**values)


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def _check_config(config):
    """The checks argparse makes on the command line, for Python callers."""
    choices = {"style": ("google", "twitter"), "resize": RESIZES,
               "bad_images": ("warn", "error"), "precision": ("auto", *PRECISIONS),
               "jit_compile": ("auto", "on", "off"), "channels": (None, 1, 3),
               "lr_schedule": (None, *LR_SCHEDULES)}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise RunError(f"{name}={getattr(config, name)!r} is not one of "
                           f"{', '.join(str(choice) for choice in allowed)}")
    for name in ("epochs", "steps", "batch_size", "limit", "image_size", "evaluate",
                 "steps_per_execution", "latent_dim", "n_critic", "width",
                 "generator_filters", "decay_epochs", "freeze_d"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise RunError(f"{name}={value!r} must be an integer of at least 1")
    if config.batch_size and config.batch_sizes:
        raise RunError("--batch-size sets every stage's batch size and --batch-sizes names "
                       "them one by one: give one of them")
    for first, second in (("epochs", "steps"), ("resume", "overwrite"),
                          ("resume", "from_preset")):
        if getattr(config, first) and getattr(config, second):
            raise RunError(f"{flag(first)} and {flag(second)} exclude each other: give one")


@dataclasses.dataclass
class RunResult:
    """What a run left: its directory, model, metadata and how it ended.

    Args:
        out: the run's directory.
        model: the trained model (`None` when a signal stopped the run
            before it was built).
        metadata: what the export and the preset record (empty when the run
            was stopped).
        stopped_by: the signal number that stopped the run early, else `None`.
    """

    out: str
    model: object = None
    metadata: dict = dataclasses.field(default_factory=dict)
    stopped_by: int | None = None


def flag(option):
    """`"data_dir"` as `"--data-dir"`."""
    return "--" + option.replace("_", "-")


def shown(value):
    """An option's value as it is typed on the command line."""
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, tuple | list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):  # --batch-sizes, --stable-images 4:1000,...
        return ",".join(f"{key}:{item}" for key, item in value.items())
    return str(value)


# ------------------------------------------------------------------ the data
class _NoiseToImageData:
    """A generator of images from noise: one dataset, sample grids, a
    collapse check, one exported generator."""

    default_lr_schedule = "constant"

    def __init__(self, config, images=None):
        if config.domain_a or config.domain_b:
            raise RunError(f"--domain-a and --domain-b apply to image-to-image variants, "
                           f"not to {config.variant}")
        self.config = config
        if images is not None:
            self.dataset_name = config.dataset or images.name
        elif config.data_dir:
            self.dataset_name = config.dataset or os.path.basename(
                os.path.normpath(os.path.expanduser(config.data_dir)))
        else:
            self.dataset_name = config.dataset or "fashion_mnist"
        self.given_images = images
        name = f"{config.variant}_{self.dataset_name}"
        if self.dataset_name == "emoji":
            name += f"_{config.style}"
        self.run_name = name + (f"_{config.image_size}" if config.image_size else "")

    def load(self):
        from keras_gans import data

        config = self.config
        self.images = images = self.given_images or data.load_images(
            self.dataset_name, "train", data_dir=config.data_dir,
            image_size=config.image_size, channels=config.channels, style=config.style,
            background=config.background, resize=config.resize,
            on_error="raise" if config.bad_images == "error" else "warn")
        if config.evaluate:
            self._check_evaluation(images.image_shape)
        self.x, self.y = images.images, images.labels
        if config.limit:
            self.x = self.x[:config.limit]
            self.y = None if self.y is None else self.y[:config.limit]

    def _check_evaluation(self, image_shape):
        """Refuses `evaluate` before training when no feature space fits the data."""
        from keras_gans import evaluation

        try:
            evaluation.check_features("classifier", self.dataset_name, self.config.data_dir,
                                      image_shape)
        except ValueError as error:
            raise RunError(f"--evaluate: {error}") from None

    def model_arguments(self, conditional=False):
        """The constructor arguments the data gives (a variant takes those it has)."""
        shape = self.images.image_shape
        classes = ({"num_classes": self.images.num_classes,
                    "class_names": self.images.class_names or None} if conditional else {})
        return {"image_shape": shape, **classes}

    def dataset(self, batch_size, conditional, initial_epoch=0):
        from keras_gans import data

        if conditional and self.y is None:
            raise RunError(f"a conditional {self.config.variant} needs labels, but "
                           f"{self.images.source} has none")
        # Every epoch's order a function of the seed and the epoch: a resumed
        # run sees the batches of an uninterrupted one.
        return data.make_dataset(self.x, self.y if conditional else None,
                                 batch_size=batch_size, seed=self.config.seed,
                                 initial_epoch=initial_epoch, use_tf_data=False)

    def decay_epochs(self, epochs):
        return self.config.decay_epochs

    def monitors(self, out):
        from keras_gans import callbacks as gan_callbacks

        config = self.config
        self.grid = gan_callbacks.SampleGrid(os.path.join(out, "samples"), gif=config.gif,
                                             seed=config.seed,
                                             class_names=self.images.class_names)
        self.collapse = gan_callbacks.CollapseMonitor(
            self.x[:64].astype("float32") / 127.5 - 1, stop=config.stop_on_collapse,
            seed=config.seed)
        return [self.collapse, self.grid]

    def problem(self, checkpoint):
        if self.collapse.problem:
            return (f"{self.collapse.problem}; it is not exported (the checkpoint "
                    f"{checkpoint.path} holds it): try lower learning rates")
        return None

    def evaluate(self, model):
        """With `evaluate=N`, the final generator's scores, else `{}`."""
        if not self.config.evaluate:
            return {}
        from keras_gans import evaluation

        config = self.config
        return evaluation.evaluate_generator(
            model, dataset=self.dataset_name, data_dir=config.data_dir, n=config.evaluate,
            seed=config.seed, style=config.style)

    def metadata(self):
        config = self.config
        return {
            "dataset": self.dataset_name,
            **({"style": config.style} if self.dataset_name == "emoji" else {}),
            **({"data_dir": os.path.abspath(os.path.expanduser(config.data_dir))}
               if config.data_dir else {}),
            "source": self.images.source,
            "class_names": self.images.class_names,
        }

    def export(self, model, out, metadata):
        """Exports the generator; returns the metadata written and what to print."""
        export_dir = os.path.join(out, "generator")
        written, skipped = _export_if_possible(
            lambda: model.export(export_dir, metadata=metadata), metadata)
        samples = f"Samples: {self.grid.paths[-1]}. " if self.grid.paths else ""
        return written, samples + (skipped or f"Generator: {export_dir}")


class _ImageToImageData:
    """A translator between two domains: unpaired batches, translation grids,
    one export per direction."""

    default_lr_schedule = "linear"

    def __init__(self, config, images=None):
        from keras_gans import data

        if images is not None:
            raise RunError(f"{config.variant} trains on two domains: give them as "
                           "domain_a and domain_b")
        for option in ("dataset", "data_dir"):
            if getattr(config, option):
                raise RunError(f"{flag(option)} does not apply to {config.variant}: give "
                               "its domains with --domain-a and --domain-b")
        if not (config.domain_a and config.domain_b):
            raise RunError(f"{config.variant} needs --domain-a and --domain-b, e.g. "
                           "--domain-a emoji:google --domain-b emoji:twitter")
        if config.evaluate:
            raise RunError(f"--evaluate scores generators from noise; score a trained "
                           f"{config.variant} with keras-gans evaluate OUT/preset")
        self.config = config
        self.dataset_name = (f"{data.domain_name(config.domain_a)}_to_"
                             f"{data.domain_name(config.domain_b)}")
        self.run_name = f"{config.variant}_{self.dataset_name}" + (
            f"_{config.image_size}" if config.image_size else "")

    def load(self):
        from keras_gans import data

        config = self.config
        conversion = dict(image_size=config.image_size, background=config.background,
                          resize=config.resize,
                          on_error="raise" if config.bad_images == "error" else "warn")
        # Channels follow the data: gray when both domains are.
        self.a, self.b = data.load_domains(config.domain_a, config.domain_b, "train",
                                           channels=config.channels, **conversion)
        if self.a.image_shape != self.b.image_shape:
            raise RunError(f"{config.domain_a} holds images of shape {self.a.image_shape}, "
                           f"{config.domain_b} of {self.b.image_shape}: pass --image-size N")

    def model_arguments(self, conditional=False):
        """The constructor arguments the data gives."""
        return {"image_shape": self.a.image_shape}

    def dataset(self, batch_size, conditional=False, initial_epoch=0):
        from keras_gans import data

        limit = self.config.limit
        # Every epoch's batches a function of the seed and the epoch: a
        # resumed run sees the batches of an uninterrupted one.
        return data.unpaired_dataset(self.a.images[:limit], self.b.images[:limit],
                                     batch_size=batch_size, seed=self.config.seed,
                                     initial_epoch=initial_epoch, use_tf_data=False)

    def decay_epochs(self, epochs):
        """The paper's schedule by default: the rates fall over the second half."""
        return self.config.decay_epochs or max(1, epochs // 2)

    def monitors(self, out):
        from keras_gans import callbacks as gan_callbacks

        shown_images = min(8, len(self.a.images), len(self.b.images))
        self.grid = gan_callbacks.TranslationGrid(
            os.path.join(out, "samples"), self.a.images[:shown_images],
            self.b.images[:shown_images], gif=self.config.gif)
        return [self.grid]

    def problem(self, checkpoint):
        return None

    def evaluate(self, model):
        return {}

    def metadata(self):
        config = self.config
        return {"dataset": self.dataset_name, "domain_a": _domain_path(config.domain_a),
                "domain_b": _domain_path(config.domain_b),
                "source": f"{self.a.source} | {self.b.source}"}

    def export(self, model, out, metadata):
        """Exports both directions; returns the metadata written and what to print."""
        paths = [os.path.join(out, f"generator_{direction}") for direction in DIRECTIONS]

        def export_both():
            for path, direction in zip(paths, DIRECTIONS, strict=True):
                written = model.export(path, direction=direction, metadata=metadata)
            return written

        written, skipped = _export_if_possible(export_both, metadata)
        samples = f"Translations: {self.grid.paths[-1]}. " if self.grid.paths else ""
        return written, samples + (skipped or f"Translators: {', '.join(paths)}")


class _PairedData(_ImageToImageData):
    """A translator of domain A into B learnt from aligned pairs: paired
    batches, grids of held-out pairs, one export."""

    def load(self):
        from keras_gans import data

        config = self.config
        self.conversion = dict(image_size=config.image_size, channels=config.channels,
                               background=config.background, resize=config.resize,
                               on_error="raise" if config.bad_images == "error" else "warn")
        self.a, self.b = data.load_pairs(config.domain_a, config.domain_b, split="train",
                                         **self.conversion)

    def dataset(self, batch_size, conditional=False, initial_epoch=0):
        from keras_gans import data

        limit = self.config.limit
        # Every epoch's batches a function of the seed and the epoch: a
        # resumed run sees the batches of an uninterrupted one.
        return data.paired_dataset(self.a.images[:limit], self.b.images[:limit],
                                   batch_size=batch_size, seed=self.config.seed,
                                   initial_epoch=initial_epoch, use_tf_data=False)

    def monitors(self, out):
        """A grid of held-out pairs (of the training pairs where the domains
        hold no test split)."""
        from keras_gans import callbacks as gan_callbacks
        from keras_gans import data

        config = self.config
        held_out_a, held_out_b = data.load_pairs(
            config.domain_a, config.domain_b, split="test",
            **{**self.conversion, "channels": self.a.image_shape[-1]})
        self.grid = gan_callbacks.PairedTranslationGrid(
            os.path.join(out, "samples"), held_out_a.images[:8], held_out_b.images[:8],
            gif=config.gif)
        return [self.grid]

    def metadata(self):
        return {**super().metadata(), "pairs": len(self.a.images[:self.config.limit])}

    def export(self, model, out, metadata):
        """Exports the translator; returns the metadata written and what to print."""
        path = os.path.join(out, "generator")
        written, skipped = _export_if_possible(
            lambda: model.export(path, direction="a2b", metadata=metadata), metadata)
        samples = f"Translations: {self.grid.paths[-1]}. " if self.grid.paths else ""
        return written, samples + (skipped or f"Translator: {path}")


TASK_DATA = {"noise_to_image": _NoiseToImageData, "image_to_image": _ImageToImageData,
             "paired": _PairedData}


def _export_if_possible(export, metadata):
    """`(export(), None)`: the metadata an export wrote; where a SavedModel
    cannot be written on this backend, `(metadata, why none was written)`."""
    import keras

    from keras_gans.hardware import TensorFlowRequiredError

    if keras.backend.backend() != "tensorflow":
        return metadata, (f"No SavedModel export (it is written on the TensorFlow backend; "
                          f"this run used {keras.backend.backend()}); the preset holds the "
                          "model.")
    try:
        return export(), None
    except TensorFlowRequiredError as error:
        return metadata, f"No SavedModel export ({error}); the preset holds the model."


def _domain_path(domain):
    """A domain as recorded in metadata: an absolute path for a folder."""
    if domain.startswith(("emoji:", "tfds:")):
        return domain
    return os.path.abspath(os.path.expanduser(domain))


# ------------------------------------------------------------- the directory
def _out_dir(config, run_name):
    """The run's directory, made if it is new; `(path, whether it was made)`."""
    out = config.out or os.path.join("runs", run_name)
    if os.path.exists(out) and not os.path.isdir(out):
        raise RunError(f"--out {out} exists and is not a directory")
    made = not os.path.exists(out)
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise RunError(f"--out {out} cannot be written: {error.strerror}") from None
    previous = _previous_run(out)
    if previous and not (config.resume or config.overwrite):
        _remove_if_made(out, made)
        raise RunError(f"--out {out} already holds a run ({', '.join(previous)}): "
                       "continue it with --resume, or replace it with --overwrite")
    return out, made


def _remove_if_made(out, made):
    """Removes a run directory this run made, if nothing has been written in it."""
    if made and os.path.isdir(out) and not os.listdir(out):
        os.rmdir(out)


def _previous_run(out):
    return [name for name in RUN_FILES if os.path.exists(os.path.join(out, name))]


def _delete_previous_run(out):
    for name in _previous_run(out):
        path = os.path.join(out, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def _read_history(out, epochs):
    """The first `epochs` epochs of `out`'s history.json, for a checkpoint
    whose state does not hold them."""
    path = os.path.join(out, "history.json")
    try:
        with open(path) as f:
            return {key: values[:epochs] for key, values in json.load(f).items()}
    except FileNotFoundError:
        return {}
    except (ValueError, AttributeError) as error:
        raise RunError(f"{path} is corrupt ({error}); move it away to resume "
                       "without the earlier epochs' logs") from None


def _write_json(path, value):
    from keras_gans import files

    with files.atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(value, f, indent=1)


def _checkpoint_kept(checkpoint):
    """Which checkpoint a stopped run leaves, for its message."""
    from keras_gans.callbacks import GANCheckpoint

    state = GANCheckpoint.read_state(checkpoint.directory)
    if not state:
        return "No checkpoint was written."
    return f"The checkpoint {checkpoint.path} ({GANCheckpoint.where(state)}) is intact."


# ----------------------------------------------------------------- the model
def variant_defaults(cls):
    """`{option: default}` of a variant's constructor and compile arguments,
    the game's own included."""
    from keras_gans.models import AdversarialModel
    from keras_gans.models.adversarial import constructor_defaults

    return {**constructor_defaults(AdversarialModel), **constructor_defaults(cls),
            **_compile_defaults(cls)}


def _compile_defaults(cls):
    import inspect

    return {name: parameter.default for name, parameter
            in inspect.signature(cls.compile).parameters.items()
            if parameter.default is not parameter.empty}


def _check_variant_options(config, cls):
    """Refuses a model option the variant's constructor does not take, and an
    objective option it does not support."""
    from keras_gans.models import VARIANTS

    cls.check_supported({option: getattr(config, option) for option in COMPILE_OPTIONS})
    takes = variant_defaults(cls)
    for option in MODEL_OPTIONS:
        if option not in takes and getattr(config, option) not in (None, False):
            takers = [name for name, other in VARIANTS.items()
                      if option in variant_defaults(other)]
            raise RunError(f"{flag(option)} applies to {', '.join(takers)}, not to "
                           f"{config.variant}")
    if config.freeze_d and not config.from_preset:
        raise RunError("--freeze-d freezes a pretrained discriminator's first blocks: give "
                       "the preset to fine-tune with --from-preset")
    if config.from_preset and (cls.grows or cls.task != "noise_to_image"):
        raise RunError(f"--from-preset fine-tunes generators of a fixed size from noise, "
                       f"not a {config.variant}")
    if config.conditional and cls.label_conditioning == "never":
        takers = [name for name, other in VARIANTS.items()
                  if other.label_conditioning != "never"]
        raise RunError(f"--conditional applies to {', '.join(takers)}, not to "
                       f"{config.variant}")


def _options(config, cls):
    """The model and objective options: those given, else the variant's."""
    defaults = variant_defaults(cls)
    return {option: getattr(config, option) if getattr(config, option) is not None
            else defaults.get(option) for option in (*MODEL_OPTIONS, *COMPILE_OPTIONS)}


def build_model(config, model_arguments, steps_per_epoch, epochs, decay_epochs=None,
                lr_schedule=None):
    """The variant of `config`, built from its options and the data's
    `model_arguments` (image shape, classes) and compiled.

    Args:
        config: a `RunConfig`.
        model_arguments: `{constructor argument: value}` the data gives,
            e.g. `{"image_shape": (28, 28, 1)}`.
        steps_per_epoch, epochs: the run's length, for a falling schedule.
        decay_epochs: with a linear schedule, the rates hold until the last
            `decay_epochs` (`None`: they fall from the start).
        lr_schedule: `"constant"` or `"linear"`; default `config.lr_schedule`.

    Example:

    ```python
    config = RunConfig("dcgan", d_lr=1e-4)
    gan = build_model(config, {"image_shape": (28, 28, 1)}, steps_per_epoch=100, epochs=5)
    ```
    """
    import keras

    from keras_gans.models import get_variant

    cls = get_variant(config.variant)
    takes = variant_defaults(cls)
    options = _options(config, cls)
    keras.utils.set_random_seed(config.seed)  # the initial weights
    kwargs = {option: options[option] for option in MODEL_OPTIONS if option in takes}
    kwargs.update({name: value for name, value in model_arguments.items() if name in takes},
                  seed=config.seed)
    if cls.grows and config.batch_size:  # one batch size for every stage
        kwargs["batch_sizes"] = config.batch_size
    model = cls(**kwargs)
    _compile(model, config, options, steps_per_epoch, epochs, decay_epochs, lr_schedule)
    return model


def _compile(model, config, options, steps_per_epoch, epochs, decay_epochs, lr_schedule):
    """Compiles `model` with the config's optimizers, schedule and objective."""
    import keras

    from keras_gans.schedules import ConstantThenLinearDecay

    lr_schedule = lr_schedule or config.lr_schedule or "constant"

    def optimizer(learning_rate):
        default = model.default_optimizer()
        optimizer_config = default.get_config()
        if config.beta_1 is not None:
            if "beta_1" not in optimizer_config:
                raise RunError(f"--beta-1 sets Adam's beta_1, but {config.variant} trains "
                               f"with {type(default).__name__}")
            optimizer_config["beta_1"] = config.beta_1
        if learning_rate is None:
            learning_rate = optimizer_config["learning_rate"]
        if lr_schedule == "linear" and decay_epochs is None:
            learning_rate = keras.optimizers.schedules.PolynomialDecay(
                learning_rate, decay_steps=epochs * steps_per_epoch, end_learning_rate=0.0)
        elif lr_schedule == "linear":
            learning_rate = ConstantThenLinearDecay(
                learning_rate, (epochs - decay_epochs) * steps_per_epoch,
                decay_epochs * steps_per_epoch)
        optimizer_config["learning_rate"] = learning_rate
        return type(default).from_config(optimizer_config)

    compile_takes = _compile_defaults(type(model))
    model.compile(d_optimizer=optimizer(config.d_lr), g_optimizer=optimizer(config.g_lr),
                  **{option: options[option] for option in COMPILE_OPTIONS
                     if option in compile_takes})


def _preset_to_fine_tune(config, cls, model_arguments):
    """The preset of `from_preset`, checked to be a `cls` (both players) of
    the options given and of the data's image shape and classes."""
    from keras_gans import pretrained, saving

    name = config.from_preset
    path = pretrained.pretrained_path(name)
    if not saving.is_preset(path):
        raise RunError(f"--from-preset {name} is a SavedModel export, which holds the "
                       "generator only: fine-tune a preset, which holds both players")
    model = saving.load_preset(path)
    if type(model) is not cls:
        raise RunError(f"--from-preset {name} holds a {type(model).__name__}, not a "
                       f"{config.variant}: train it as that variant")
    config_of_preset = model.get_config()
    for option in MODEL_OPTIONS:
        given = getattr(config, option)
        if given not in (None, False) and option in config_of_preset and not _same_option(
                given, config_of_preset[option]):
            raise RunError(f"{flag(option)}: fine-tuning keeps {name}'s networks, whose "
                           f"{option} is {shown(config_of_preset[option])}; drop it")
    shape, data_shape = tuple(model.image_shape), tuple(model_arguments["image_shape"])
    if data_shape != shape:
        raise RunError(f"--from-preset {name} draws {'x'.join(map(str, shape))} images, the "
                       f"data holds {'x'.join(map(str, data_shape))}: pass --image-size "
                       f"{shape[0]} --channels {shape[-1]}")
    if model.conditional:
        classes = model_arguments.get("num_classes")
        if classes is None:
            raise RunError(f"--from-preset {name} is conditional on {model.num_classes} "
                           "classes, but the data has no labels: put each class's images "
                           "in a sub-folder")
        if classes != model.num_classes:
            raise RunError(f"--from-preset {name} is conditional on {model.num_classes} "
                           f"classes and the data has {classes}: its class embeddings "
                           "cannot be reused (the rest could); fine-tune it on data of "
                           f"{model.num_classes} classes, or train afresh")
    return model


def fine_tuning_model(config, model_arguments, steps_per_epoch, epochs, decay_epochs=None,
                      lr_schedule=None):
    """The preset of `config.from_preset`, checked against the data's
    `model_arguments`, with `config.freeze_d` blocks of its discriminator
    frozen, compiled with the config's optimizers (see `build_model`).

    Example:

    ```python
    config = RunConfig("dcgan", from_preset="dcgan_fashion_mnist", freeze_d=2)
    gan = fine_tuning_model(config, {"image_shape": (28, 28, 1)}, 100, epochs=5)
    ```
    """
    from keras_gans.models import get_variant

    cls = get_variant(config.variant)
    model = _preset_to_fine_tune(config, cls, model_arguments)
    if config.freeze_d:
        model.freeze_blocks("discriminator", config.freeze_d)
    _compile(model, config, _options(config, cls), steps_per_epoch, epochs, decay_epochs,
             lr_schedule)
    return model


def _checkpoint_options(model):
    """The model and objective options a checkpoint was trained with."""
    config, compiled = model.get_config(), model.get_compile_config()
    d_lr, lr_schedule, _ = learning_rate_of(model.d_optimizer)
    options = {option: config[option] for option in MODEL_OPTIONS if option in config}
    options.update({option: compiled[option] for option in COMPILE_OPTIONS
                    if option in compiled})
    if "loss" in compiled:  # None: the variant's own
        options["loss"] = compiled["loss"] or model.default_loss
    options.update(
        d_lr=d_lr,
        g_lr=learning_rate_of(model.g_optimizer)[0],
        lr_schedule=lr_schedule,
        beta_1=model.d_optimizer.get_config().get("beta_1"),
        conditional=model.conditional,
    )
    return {option: tuple(value) if isinstance(value, list) else value
            for option, value in options.items()}


def learning_rate_of(optimizer):
    """`(initial learning rate, schedule name, steps to zero or None)`."""
    rate = optimizer.get_config()["learning_rate"]
    if not isinstance(rate, dict):
        return float(rate), "constant", None
    config = rate["config"]
    if rate["class_name"] == "ConstantThenLinearDecay":
        return (float(config["initial_learning_rate"]), "linear",
                int(config["constant_steps"]) + int(config["decay_steps"]))
    if rate["class_name"] != "PolynomialDecay":
        return config.get("initial_learning_rate"), rate["class_name"], None
    return float(config["initial_learning_rate"]), "linear", int(config["decay_steps"])


def _same_option(given, saved):
    if isinstance(given, float) and isinstance(saved, (int, float)):
        return math.isclose(given, saved, rel_tol=1e-6)
    if isinstance(given, str) and isinstance(saved, str):  # e.g. --diff-augment
        return set(given.replace(" ", "").split(",")) == set(saved.split(","))
    return given == saved


def _check_options_against_checkpoint(config, model, checkpoint_path):
    """A resumed run trains the checkpoint's model as it was compiled.

    Another variant, or a model or objective option the checkpoint was not
    trained with, is an error rather than silently ignored.
    """
    from keras_gans.models import get_variant

    if type(model) is not get_variant(config.variant):
        raise RunError(f"{checkpoint_path} holds a {type(model).__name__}, not a "
                       f"{config.variant}; resume it as that variant or choose another --out")
    defaults = RunConfig(config.variant)
    for option, saved in _checkpoint_options(model).items():
        given = getattr(config, option)
        if (given == getattr(defaults, option) or _same_option(given, saved)
                or model.same_option(option, given)):
            continue
        differs = ("the checkpoint's model was trained without it" if saved in (None, False)
                   else f"{shown(given)} differs from the checkpoint's {shown(saved)}")
        raise RunError(f"{flag(option)}: {differs}; drop it to resume, or train afresh "
                       "in a new --out")


def _check_state_matches_the_optimizers(state, model, steps_per_epoch, path):
    """A checkpoint's epoch must lie where its optimizers' step count puts it
    at this run's steps per epoch (a resumed epoch restarts, so its step in
    the epoch is not exact)."""
    epoch, steps = int(state.get("epoch", 0)), model.steps_taken
    if not epoch * steps_per_epoch <= steps <= (epoch + 1) * steps_per_epoch:
        raise RunError(f"{path} records epoch {epoch}, but its optimizers have taken {steps} "
                       f"steps, and epochs here are {steps_per_epoch} steps: resume with "
                       "the data and --batch-size it was trained with, or train afresh in "
                       "a new --out")


def _check_schedule_ends_with_this_run(config, model, epochs, steps_per_epoch):
    """A resumed linear schedule must reach zero at this run's last epoch."""
    _, _, decay_steps = learning_rate_of(model.d_optimizer)
    rate = model.d_optimizer.get_config()["learning_rate"]
    falling = isinstance(rate, dict) and rate["config"].get("decay_steps")
    if config.decay_epochs and falling and falling != config.decay_epochs * steps_per_epoch:
        raise RunError(f"--decay-epochs {config.decay_epochs}: the checkpoint's learning "
                       f"rates fall over its last {format(falling / steps_per_epoch, 'g')} "
                       "epochs")
    if decay_steps is not None and decay_steps != epochs * steps_per_epoch:
        last_epoch = format(decay_steps / steps_per_epoch, "g")
        raise RunError(f"--epochs {epochs}: the checkpoint's learning rates fall to "
                       f"zero at epoch {last_epoch} (--lr-schedule linear); resume with "
                       f"--epochs {last_epoch}")


# ----------------------------------------------------------------- the speed
def choose_speed(config, build=None, first_batch=None, label=""):
    """`(precision, jit_compile)`: the config's, with `"auto"` resolved.

    On a CPU with `build()` and `first_batch()`, auto times the step in each
    candidate setting once per machine and model (`hardware.choose_speed`);
    otherwise the CPU kind decides (`hardware.fastest_settings`). Prints
    what auto chose, in one line.
    """
    import keras

    from keras_gans import hardware

    has_gpu = hardware.has_accelerator()
    fastest = hardware.fastest_settings(has_gpu=has_gpu)
    automatic = config.precision == "auto" or config.jit_compile == "auto"
    if automatic and build is not None and first_batch is not None and not has_gpu:
        candidates = [(precision, jit_compile)
                      for precision, jit_compile in hardware.speed_candidates()
                      if config.precision in ("auto", precision)
                      and config.jit_compile in ("auto", "on" if jit_compile else "off")]
        if candidates:
            batch = first_batch()
            images = keras.tree.flatten(batch)[0]
            shape = "x".join(str(size) for size in images.shape[1:])
            key = f"{config.variant} {shape}, batch {images.shape[0]}{label}"
            fastest = hardware.choose_speed(build, batch, key, candidates)
    precision = fastest.precision if config.precision == "auto" else config.precision
    jit_compile = (fastest.jit_compile if config.jit_compile == "auto"
                   else config.jit_compile == "on")
    chosen = [precision] if config.precision == "auto" else []
    if config.jit_compile == "auto":
        chosen.append("XLA" if jit_compile else "no XLA")
    if chosen:
        print(f"Speed: {', '.join(chosen)} ({fastest.reason}); --precision and "
              "--jit-compile choose otherwise.")
    keras.mixed_precision.set_global_policy(precision)
    warn_if_bfloat16_is_emulated(precision)
    return precision, jit_compile


def warn_if_bfloat16_is_emulated(precision):
    """mixed_bfloat16 on a CPU without bfloat16 units runs several times slower."""
    from keras_gans import hardware

    if (precision == "mixed_bfloat16" and not hardware.has_accelerator()
            and not hardware.cpu_has_native_bfloat16()):
        print(f"keras-gans train: warning: this CPU ({hardware.describe()}) emulates "
              "bfloat16, so mixed_bfloat16 trains several times slower than float32 "
              "here; --precision float32 is faster.", file=sys.stderr)


# ------------------------------------------------------------------- the run
def train(config=None, /, *, images=None, callbacks=(), **options):
    """Trains a variant as `keras-gans train` does.

    Writes to the run's directory: `run.json` (this configuration),
    `checkpoint/` (every epoch, and every `checkpoint_every` steps),
    `samples/`, `history.json`, the exported generator(s) and `preset/`
    (both players). SIGINT and SIGTERM stop it at the end of the step with
    a checkpoint; `resume(out)` continues it.

    Args:
        config: a `RunConfig`, or a variant name with the options as
            keyword arguments.
        images: your own training images instead of `dataset`/`data_dir`:
            a `keras_gans.data.ImageData`, or a uint8 array `(N, H, W, C)`.
        callbacks: more Keras callbacks for `fit`.
        **options: `RunConfig` fields, when `config` is a variant name.

    Returns:
        A `RunResult`.

    Raises:
        RunError: a refused option, data that does not fit, a collapsed or
            diverged run; the message says what to do.

    Example:

    ```python
    result = keras_gans.train("dcgan", epochs=2, data_dir="my_images/",
                              callbacks=[keras.callbacks.CSVLogger("log.csv")])
    ```
    """
    config = _as_config(config, options)
    from keras_gans.models import get_variant

    cls = get_variant(config.variant)
    _check_variant_options(config, cls)
    task = TASK_DATA[cls.task](config, _as_image_data(images))
    out, made = _out_dir(config, task.run_name)
    try:
        return _train(config, cls, task, out, callbacks)
    except BaseException:
        _remove_if_made(out, made)
        raise


def resume(out, /, *, callbacks=(), **options):
    """Continues the run in `out` from its checkpoint, with the options it
    was started with (`run.json`) and those given here, e.g. more `epochs`.

    Args:
        out: the run's directory.
        callbacks: more Keras callbacks for `fit`.
        **options: `RunConfig` fields to change, e.g. `epochs=10`.

    Example:

    ```python
    keras_gans.resume("runs/dcgan_fashion_mnist", epochs=10)
    ```
    """
    path = os.path.join(out, "run.json")
    try:
        with open(path) as f:
            saved = json.load(f)
    except FileNotFoundError:
        raise RunError(f"{out} holds no run.json to resume: continue it with keras-gans "
                       "train VARIANT ... --resume and the options it was started with") from None
    except ValueError as error:
        raise RunError(f"{path} is corrupt ({error})") from None
    if not isinstance(saved, dict):
        raise RunError(f"{path} is corrupt (not a JSON object)")
    if "epochs" in options or "steps" in options:
        saved.update(epochs=None, steps=None)
    saved.update(options, out=out, resume=True, overwrite=False)
    return train(RunConfig.from_json(saved), callbacks=callbacks)


def _as_config(config, options):
    if isinstance(config, RunConfig):
        if options:
            return dataclasses.replace(config, **options)
        return config
    if not isinstance(config, str):
        raise RunError("train() takes a RunConfig or a variant name, e.g. "
                       "train('dcgan', epochs=2)")
    try:
        return RunConfig(config, **options)
    except TypeError as error:
        raise RunError(f"train(): {error}") from None


def _as_image_data(images):
    """`images` as `keras_gans.data.ImageData`, or `None`."""
    if images is None:
        return None
    from keras_gans import data

    if isinstance(images, data.ImageData):
        return images
    return data.ImageData(data.as_uint8_images(images), None, "images", source="images given")


def _train(config, cls, task, out, callbacks):
    import keras

    from keras_gans import callbacks as gan_callbacks
    from keras_gans import data, hardware, saving

    keras.utils.set_random_seed(config.seed)  # the shuffling, and the dropout's noise
    checkpoint_dir = os.path.join(out, "checkpoint")
    model, initial_epoch, state = None, 0, {}
    if config.resume:  # checked against this run's options before the data loads
        # By the CPU kind: the checkpoint holds the model.
        precision, jit_compile = choose_speed(config)
        model, initial_epoch = gan_callbacks.GANCheckpoint.resume(checkpoint_dir)
        if model is None:
            raise RunError(f"--resume: there is no checkpoint in {checkpoint_dir} to resume; "
                           "train without --resume to start afresh")
        _check_options_against_checkpoint(config, model, os.path.join(
            checkpoint_dir, gan_callbacks.GANCheckpoint.filename))
        state = gan_callbacks.GANCheckpoint.read_state(checkpoint_dir)
        if "history" not in state:  # a checkpoint from before the state held it
            state["history"] = _read_history(out, initial_epoch)
    task.load()
    if config.overwrite:
        _delete_previous_run(out)
    checkpoint = gan_callbacks.GANCheckpoint(
        checkpoint_dir, every_steps=config.checkpoint_every, history=state.get("history"),
        previous_seconds=state.get("train_seconds", saving.read_metadata(
            os.path.join(out, "generator")).get("wall_time_seconds", 0.0)))
    if model is None:
        preset = (_preset_to_fine_tune(config, cls, task.model_arguments(conditional=True))
                  if config.from_preset else None)
        options = preset.get_config() if preset else _options(config, cls)
        conditional = (preset.conditional if preset
                       else config.conditional or cls.label_conditioning == "always")
        minibatches = cls.minibatches_per_step(options)
    else:
        conditional = model.conditional
        minibatches = cls.minibatches_per_step(model.get_config())
    schedule = None
    if cls.grows:
        schedule = (model.schedule if model is not None else
                    cls.growth_schedule(task.model_arguments()["image_shape"],
                                        _options(config, cls), config.batch_size))
        if model is not None and config.batch_size and (
                set(model.batch_sizes.values()) != {config.batch_size}):
            raise RunError(f"--batch-size {config.batch_size} differs from the "
                           f"checkpoint's {shown(model.batch_sizes)}; drop it to resume, "
                           "or train afresh in a new --out")
        step_batch = max(schedule.batch_sizes.values())  # each stage's batch is cut from it
        batch_size = schedule.batch_sizes
    else:
        batch_size = config.batch_size or 64
        step_batch = batch_size * minibatches
    dataset = task.dataset(step_batch, conditional, initial_epoch)
    steps_per_epoch = data.batch_count(dataset)
    epochs = config.epochs
    if schedule is not None:
        print(f"{config.variant} grows {schedule.summary()}.")
        if not (config.epochs or config.steps):
            epochs = math.ceil(schedule.total_steps / steps_per_epoch)
            print(f"The schedule's {schedule.total_steps} steps: {epochs} epochs of "
                  f"{steps_per_epoch} steps.")
    if config.steps:
        epochs = math.ceil(config.steps / steps_per_epoch)
        print(f"--steps {config.steps}: {epochs} epochs of {steps_per_epoch} steps.")
    epochs = epochs or 5
    if model is None:
        lr_schedule = config.lr_schedule or task.default_lr_schedule
        decay_epochs = task.decay_epochs(epochs) if lr_schedule == "linear" else None
        if config.decay_epochs and lr_schedule != "linear":
            raise RunError("--decay-epochs applies to --lr-schedule linear")
        if decay_epochs and decay_epochs > epochs:
            raise RunError(f"--decay-epochs {decay_epochs} exceeds --epochs {epochs}")

        def build():
            make = fine_tuning_model if config.from_preset else build_model
            return make(config, task.model_arguments(conditional), steps_per_epoch, epochs,
                        decay_epochs, lr_schedule)

        def first_batch():  # from a pipeline of its own: the run's keeps its epochs' order
            return next(iter(task.dataset(step_batch, conditional)))

        precision, jit_compile = choose_speed(config, build, first_batch,
                                              ", conditional" if conditional else "")
        model = build()
    else:
        _check_state_matches_the_optimizers(state, model, steps_per_epoch, checkpoint.path)
        _check_schedule_ends_with_this_run(config, model, epochs, steps_per_epoch)
    # How to run the step is this run's choice, not the checkpoint's.
    model.steps_per_execution = config.steps_per_execution
    model.jit_compile = jit_compile
    # A mid-epoch checkpoint restarts its epoch; the run ends as many steps early.
    steps_to_go = epochs * steps_per_epoch - model.steps_taken
    if config.resume:
        print(f"Resuming from {checkpoint.path} at epoch {initial_epoch + 1}, "
              f"{steps_to_go} steps to go.")
    if initial_epoch >= epochs:
        print(f"Already trained for {initial_epoch} epochs; nothing to do.")
    stop = gan_callbacks.StopOnNonFinite()
    interrupt = gan_callbacks.StopOnSignal()
    end = gan_callbacks.StopAfterSteps(steps_to_go)
    progress = [] if config.quiet else [gan_callbacks.ProgressBar()]
    _write_json(os.path.join(out, "run.json"), config.to_json())
    model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch,
              callbacks=[*progress, stop, interrupt, end, checkpoint, *task.monitors(out),
                         *callbacks],
              shuffle=False, verbose=0 if config.quiet else 1)
    wall_time = checkpoint.train_seconds
    if stop.message:
        raise RunError(f"{stop.message} {_checkpoint_kept(checkpoint)}")
    _write_json(os.path.join(out, "history.json"), checkpoint.history)
    if interrupt.received:
        where = gan_callbacks.GANCheckpoint.where(
            gan_callbacks.GANCheckpoint.read_state(checkpoint_dir))
        print(f"keras-gans train: stopped by {signal.Signals(interrupt.received).name} at "
              f"{where}, checkpointed in {checkpoint.path}: continue with --resume.",
              file=sys.stderr)
        return RunResult(out, model, stopped_by=interrupt.received)
    problem = task.problem(checkpoint)
    if problem:
        raise RunError(problem)
    scores = task.evaluate(model)
    run_metadata, exported = task.export(model, out, {
        **task.metadata(),
        "epochs": epochs,
        "batch_size": batch_size,
        "precision": precision,
        "jit_compile": bool(model.jit_compile),
        "wall_time_seconds": round(wall_time, 1),
        "cpu": hardware.describe(),
        "command": config.command(),
        **scores,
    })
    model.save_to_preset(os.path.join(out, "preset"),
                         metadata={**run_metadata, **saving.run_provenance(model)})
    fid = f"FID {scores['fid']:.2f} ({scores['n']} samples). " if scores else ""
    print(f"Trained {config.variant} to epoch {epochs} in {wall_time:.0f} s of training. "
          f"{fid}{exported}")
    return RunResult(out, model, run_metadata)
