"""Callbacks for GAN training: sample and translation grids, checkpoints, failure stops."""

import json
import math
import os
import signal
import time
import weakref
import zipfile

import keras
import numpy as np
from keras import ops

from keras_gans import plotting
from keras_gans.files import atomic_path
from keras_gans.hardware import require_tensorflow
from keras_gans.sampling import latent_noise, unit_range_batch
from keras_gans.saving import load_gan


class SampleGrid(keras.callbacks.Callback):
    """Renders the generator's samples from fixed noise as a PNG grid.

    The same latent vectors are used every time, so the grids show how the
    generator evolves. Conditional models get one row per class.

    Args:
        directory: where `epoch_001.png`, ... are written (`ClassGrid`:
            `classes_epoch_001.png`, ..., so both can share a folder); a
            model with a `sampling_tag` adds it, e.g. `epoch_003_16x16.png`.
        num_images: images per grid (unconditional models).
        every: write a grid every this many epochs.
        seed: seed of the fixed latent vectors.
        gif: at the end of training, also write `training.gif` of all grids
            (`classes_training.gif`).
        per_class: images per row for conditional models.
        class_names: row labels for conditional models.
        show: also display each grid (in a notebook).
        tensorboard: a TensorBoard log directory: each grid is also logged
            there as an image, in the run `samples` (`classes`,
            `translations`), with the FID monitor's `fid`, `kid` and
            `kid_std` as scalars at the epochs that have them (list the grid
            after `FIDMonitor`). It sits beside `keras.callbacks.TensorBoard`
            given the same directory, whose runs are `train` and
            `validation`. Needs TensorFlow (`tf.summary`), on any backend.

    Example:

    ```python
    gan.fit(dataset, epochs=10, callbacks=[SampleGrid("samples/", gif=True)])
    gan.fit(dataset, epochs=10, callbacks=[
        FIDMonitor(every=5), SampleGrid("samples/", tensorboard="logs/"),
        keras.callbacks.TensorBoard("logs/")])
    ```
    """

    file_prefix = ""
    # The TensorBoard run (a folder of the log directory) and image tag.
    tensorboard_run = "samples"

    def __init__(self, directory, num_images=64, every=1, seed=0, gif=False,
                 per_class=8, class_names=None, show=False, tensorboard=None):
        super().__init__()
        if tensorboard is not None:
            require_tensorflow("Logging to TensorBoard")
        self.tensorboard = tensorboard
        self.summary_writer = None
        self.directory = directory
        self.num_images = num_images
        self.every = every
        self.seed = seed
        self.gif = gif
        self.per_class = per_class
        self.class_names = class_names
        self.show = show
        self.frames = []
        self.paths = []

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        model = self.model
        if model.conditional:
            classes = model.num_classes
            self.labels = np.repeat(np.arange(classes), self.per_class).astype(np.int32)
            self.rows, self.cols = classes, self.per_class
            names = self.class_names or [str(c) for c in range(classes)]
            self.row_labels = list(names)
        else:
            self.labels = None
            self.cols = math.ceil(math.sqrt(self.num_images))
            self.rows = math.ceil(self.num_images / self.cols)
            self.row_labels = None
        count = len(self.labels) if self.labels is not None else self.num_images
        self.z = latent_noise(count, model.latent_dim, self.seed)

    def sample(self):
        return self.model.generate_from(self.z, self.labels)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or getattr(self.model, "stopped_on_non_finite", False):
            return
        images = self.sample()
        tag = getattr(self.model, "sampling_tag", None)  # e.g. "16x16" for a growing model
        name = "_".join(filter(None, [f"epoch_{epoch + 1:03d}", tag]))
        path = os.path.join(self.directory, f"{self.file_prefix}{name}.png")
        fig = plotting.grid_figure(images, self.rows, self.cols, self.row_labels,
                                   title=" ".join(filter(None, [f"epoch {epoch + 1}", tag])))
        with atomic_path(path) as tmp:  # a kill mid-write leaves no half PNG
            fig.savefig(tmp)
        if self.show:
            from IPython.display import display

            display(fig)
        plotting.plt.close(fig)
        self.paths.append(path)
        if self.gif:
            self.frames.append(plotting.tile(images, self.rows, self.cols))
        if self.tensorboard is not None:
            self.log_to_tensorboard(epoch, images, logs or {})

    def log_to_tensorboard(self, epoch, images, logs):
        """Writes the grid of `images`, and the FID monitor's scores in
        `logs`, as summaries of step `epoch + 1`."""
        import tensorflow as tf

        if self.summary_writer is None:
            self.summary_writer = tf.summary.create_file_writer(
                os.path.join(self.tensorboard, self.tensorboard_run))
        grid = plotting.tile(images, self.rows, self.cols)
        grid = grid[..., None] if grid.ndim == 2 else grid
        with self.summary_writer.as_default(step=epoch + 1):
            tf.summary.image(self.tensorboard_run, grid[None])
            for name in ("fid", "kid", "kid_std"):
                if name in logs:
                    tf.summary.scalar(name, float(logs[name]))
        self.summary_writer.flush()

    def on_train_end(self, logs=None):
        if self.summary_writer is not None:
            self.summary_writer.close()
            self.summary_writer = None
        if self.gif and self.frames:
            plotting.save_gif(self.frames,
                              os.path.join(self.directory, f"{self.file_prefix}training.gif"))


class ClassGrid(SampleGrid):
    """A `SampleGrid` for conditional models: row c shows class c."""

    file_prefix = "classes_"
    tensorboard_run = "classes"

    def on_train_begin(self, logs=None):
        if not self.model.conditional:
            raise ValueError("ClassGrid needs a conditional model; use SampleGrid.")
        super().on_train_begin(logs)


class TranslationGrid(SampleGrid):
    """Renders an image-to-image model's translations of fixed images as a PNG grid.

    Six rows per grid: the images of domain A, their translations G(A) and
    reconstructions F(G(A)); then B, F(B) and G(F(B)). The same images every
    epoch show how the translators evolve.

    Args:
        directory: where `epoch_001.png`, ... are written.
        images_a, images_b: equally many images of each domain, uint8 or
            floats in [-1, 1], of the model's image shape (8 suit a row).
        every, gif, show, tensorboard: as in `SampleGrid` (the TensorBoard
            run: `translations`).

    Example:

    ```python
    model.fit(dataset, epochs=10, callbacks=[
        TranslationGrid("translations/", google_images[:8], twitter_images[:8])])
    ```
    """

    ROW_LABELS = ("A", "G(A)", "F(G(A))", "B", "F(B)", "G(F(B))")
    tensorboard_run = "translations"

    def __init__(self, directory, images_a, images_b, every=1, gif=False, show=False,
                 tensorboard=None):
        super().__init__(directory, every=every, gif=gif, show=show, tensorboard=tensorboard)
        if len(images_a) != len(images_b) or not len(images_a):
            raise ValueError(f"TranslationGrid takes equally many images of each domain, got "
                             f"{len(images_a)} and {len(images_b)}.")
        self.images_a, self.images_b = images_a, images_b

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        self.rows, self.cols = len(self.ROW_LABELS), len(self.images_a)
        self.row_labels = list(self.ROW_LABELS)

    def sample(self):
        model = self.model
        fake_b = model.translate(self.images_a, "a2b")
        fake_a = model.translate(self.images_b, "b2a")
        return np.concatenate([
            unit_range_batch(self.images_a, model.image_shape), fake_b,
            model.translate(fake_b, "b2a"),
            unit_range_batch(self.images_b, model.image_shape), fake_a,
            model.translate(fake_a, "a2b")])


class PairedTranslationGrid(TranslationGrid):
    """Renders a paired translator's translations of fixed pairs as a PNG grid.

    Three rows per grid: the sources A, their translations G(A) and the
    targets B, the partners of the sources (`Pix2Pix`).

    Args:
        directory: where `epoch_001.png`, ... are written.
        images_a, images_b: equally many sources and their targets, uint8 or
            floats in [-1, 1], of the model's image shape (8 suit a row).
        every, gif, show, tensorboard: as in `SampleGrid` (the TensorBoard
            run: `translations`).

    Example:

    ```python
    sketches, photos = keras_gans.data.load_pairs("sketches/", "photos/", 64)
    model.fit(dataset, epochs=10, callbacks=[
        PairedTranslationGrid("translations/", sketches.images[:8], photos.images[:8])])
    ```
    """

    ROW_LABELS = ("A", "G(A)", "B")

    def sample(self):
        model = self.model
        return np.concatenate([
            unit_range_batch(self.images_a, model.image_shape),
            model.translate(self.images_a, "a2b"),
            unit_range_batch(self.images_b, model.image_shape)])


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training when a logged loss or any of the model's state is NaN or
    infinite: weights, BatchNorm statistics, EMA weights, optimizer moments.

    The message names the epoch, the step and the values; `GANCheckpoint` does
    not save after such a step, so a checkpoint written before it stays intact.

    Example:

    ```python
    stop = StopOnNonFinite()
    gan.fit(dataset, epochs=10, callbacks=[stop, GANCheckpoint("checkpoint/")])
    if stop.message:
        print(stop.message)
    ```
    """

    def __init__(self):
        super().__init__()
        self.message = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = non_finite_logs(logs) or non_finite_variables(self.model)
        if bad:
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            self.message = (f"Training stopped: non-finite {shown} at epoch {self.epoch + 1}, "
                            f"step {batch + 1}; try a lower learning rate.")
            print(self.message)
            self.model.stop_training = True
            self.model.stopped_on_non_finite = True


def non_finite_logs(logs):
    """The names of the logged values that are NaN or infinite."""
    return sorted(k for k, v in (logs or {}).items()
                  if not np.all(np.isfinite(np.asarray(v, dtype=np.float64))))


def non_finite_variables(model):
    """The names of `model`'s float variables holding a NaN or infinity, among its
    weights, its sub-models' (BatchNorm statistics, EMA) and its optimizers'.

    Example: `["generator/batch_normalization/moving_variance"]`.
    """
    owners = [(name, getattr(model, name, None)) for name in (
        "generator", "discriminator", "ema_generator", "d_optimizer", "g_optimizer")]
    names, variables, seen = [], [], set()
    for prefix, owner in [*owners, ("", model)]:
        for variable in getattr(owner, "variables", None) or []:
            if id(variable) not in seen and "float" in str(variable.dtype):
                seen.add(id(variable))
                names.append(f"{prefix}/{variable.path}" if prefix else variable.path)
                variables.append(variable)
    if keras.backend.backend() == "tensorflow":
        finite = _compiled_finite_check(model, variables)().numpy()
    else:  # one copy to the host
        finite = ops.convert_to_numpy(ops.stack([ops.all(ops.isfinite(v)) for v in variables]))
    return [name for name, ok in zip(names, finite, strict=True) if not ok]


def _compiled_finite_check(model, variables):
    """A `tf.function` of whether each of `variables` is finite, kept per model."""
    import tensorflow as tf

    key = tuple(map(id, variables))
    cached = _finite_checks.get(model)
    if cached is None or cached[0] != key:  # one compiled check: ~3 ms for a DCGAN
        cached = _finite_checks[model] = (key, tf.function(
            lambda: tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in variables]),
            autograph=False))
    return cached[1]


_finite_checks = weakref.WeakKeyDictionary()


class GANCheckpoint(keras.callbacks.Callback):
    """Saves the whole GAN as `.keras` (weights, both optimizers, seed state,
    EMA) at every epoch end and every `every_steps` batches. Where training
    stood (epoch, step, optimizer step counts, training time and the epoch
    logs so far) is stored inside the same file, which is replaced with one
    atomic rename: a crash leaves the previous checkpoint or the new one, whole.

    A step whose logs or model state hold a NaN or infinity is not saved; the
    skip is printed with its reason.

    `GANCheckpoint.resume(directory)` returns the saved model and the epoch to
    pass to `fit(initial_epoch=...)`; `read_state(directory)` the rest.

    Args:
        directory: where `checkpoint.keras` is written.
        every_steps: also save every this many batches (0: epoch ends only).
        previous_seconds: training time of the runs this one resumes.
        history: their epoch logs, `{name: [value per epoch]}`.

    Example:

    ```python
    model, epoch = GANCheckpoint.resume("run/checkpoint")
    state = GANCheckpoint.read_state("run/checkpoint")
    checkpoint = GANCheckpoint("run/checkpoint", history=state["history"],
                               previous_seconds=state["train_seconds"])
    model.fit(dataset, epochs=10, initial_epoch=epoch, callbacks=[checkpoint])
    ```
    """

    filename = "checkpoint.keras"
    state_entry = "training_state.json"  # inside the .keras archive

    def __init__(self, directory, every_steps=0, previous_seconds=0.0, history=None):
        super().__init__()
        self.directory = directory
        self.every_steps = every_steps
        self.previous_seconds = previous_seconds
        self.history = {key: list(values) for key, values in (history or {}).items()}
        self.start_time = None
        self.epoch = 0
        self.stopped_mid_epoch = False

    def on_train_begin(self, logs=None):
        self.start_time = time.time()

    @property
    def train_seconds(self):
        """Training time so far, including the runs this one resumed."""
        if self.start_time is None:
            return self.previous_seconds
        return self.previous_seconds + time.time() - self.start_time

    @property
    def path(self):
        return os.path.join(self.directory, self.filename)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.stopped_mid_epoch = (getattr(self.model, "stopped_on_signal", False)
                                  and batch + 1 < (self.params.get("steps") or math.inf))
        if self.stopped_mid_epoch or (self.every_steps and (batch + 1) % self.every_steps == 0):
            self.save(self.epoch, batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "stopped_on_non_finite", False):
            print(f"Checkpoint of epoch {epoch + 1} not written: training stopped on a "
                  "non-finite value.")
            return
        if self.stopped_mid_epoch:  # saved at its step; the epoch is not complete
            return
        for key, value in (logs or {}).items():
            self.history[key] = self.history.get(key, [])[:epoch] + [float(value)]
        self.save(epoch + 1, 0, logs)

    def save(self, epoch, step, logs):
        bad = non_finite_logs(logs) or non_finite_variables(self.model)
        if bad:
            where = self.where({"epoch": epoch, "step_in_epoch": step})
            print(f"Checkpoint at {where} not written: non-finite {', '.join(bad[:3])}.")
            return
        state = {"epoch": epoch, "step_in_epoch": step,
                 "iterations": _iterations(self.model),
                 "train_seconds": round(self.train_seconds, 1),
                 "history": {key: values[:epoch] for key, values in self.history.items()}}
        os.makedirs(self.directory, exist_ok=True)
        with atomic_path(self.path) as tmp:
            self.model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(self.state_entry, json.dumps(state))

    @staticmethod
    def where(state):
        """Where a checkpoint's `state` stood, e.g. "epoch 2, step 5"."""
        if state.get("step_in_epoch"):
            return f"epoch {state['epoch'] + 1}, step {state['step_in_epoch']}"
        return f"the end of epoch {state.get('epoch', 0)}"

    @classmethod
    def read_state(cls, directory):
        """Where the checkpoint in `directory` stood: `{"epoch", "step_in_epoch",
        "iterations", "train_seconds", "history"}`, or `{}` with no checkpoint.
        A checkpoint written before the state moved inside it has its
        `state.json` read instead."""
        path = os.path.join(directory, cls.filename)
        if not os.path.exists(path):
            return {}
        try:
            with zipfile.ZipFile(path) as archive:
                if cls.state_entry in archive.namelist():
                    return json.loads(archive.read(cls.state_entry))
        except (zipfile.BadZipFile, ValueError) as error:
            raise ValueError(f"{path} is not a readable checkpoint ({error}).") from None
        legacy = os.path.join(directory, "state.json")
        try:
            with open(legacy) as f:
                return json.load(f)
        except FileNotFoundError:
            raise ValueError(f"{path} holds no training state (and there is no "
                             f"{legacy}): it cannot be resumed.") from None
        except ValueError as error:
            raise ValueError(f"{legacy} is corrupt ({error}).") from None

    @classmethod
    def resume(cls, directory):
        """Returns `(model, initial_epoch)`, or `(None, 0)` with no checkpoint.

        A checkpoint taken mid-epoch resumes at the start of that epoch with
        the mid-epoch weights and optimizer state. A state whose optimizer
        step counts differ from the model's is an error.
        """
        path = os.path.join(directory, cls.filename)
        if not os.path.exists(path):
            return None, 0
        model = load_gan(path)
        state = cls.read_state(directory)
        recorded = state.get("iterations")
        if recorded is not None and recorded != _iterations(model):
            raise ValueError(f"{path}: its optimizers have taken {_iterations(model)} "
                             f"steps, but its state records {recorded}.")
        return model, int(state.get("epoch", 0))


class StopOnSignal(keras.callbacks.Callback):
    """On SIGTERM or SIGINT, stops training at the end of the current step;
    `GANCheckpoint` then saves that step. A second signal ends the process at
    once (the system's default action). Handlers are restored when training ends.

    Example:

    ```python
    stop = StopOnSignal()
    gan.fit(dataset, epochs=10, callbacks=[stop, GANCheckpoint("checkpoint/")])
    if stop.received:
        sys.exit(128 + stop.received)
    ```
    """

    signals = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        super().__init__()
        self.received = None
        self.previous = {}

    def on_train_begin(self, logs=None):
        self.previous = {s: signal.signal(s, self.handle) for s in self.signals}

    def handle(self, signum, frame):
        self.received = signum
        for s in self.signals:
            signal.signal(s, signal.SIG_DFL)

    def on_train_batch_end(self, batch, logs=None):
        if self.received:
            self.model.stop_training = True
            self.model.stopped_on_signal = True

    def on_train_end(self, logs=None):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


class ProgressBar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, which ends an epoch that stopped early at the step
    it reached (Keras' own jumps to the epoch's last step).

    Example:

    ```python
    gan.fit(dataset, epochs=10, callbacks=[ProgressBar(), StopOnSignal()])
    ```
    """

    def on_epoch_end(self, epoch, logs=None):
        if not (self.model.stop_training and self.seen):
            return super().on_epoch_end(epoch, logs)
        self.progbar.update(self.seen, list((logs or {}).items()), finalize=True)


class StopAfterSteps(keras.callbacks.Callback):
    """Stops training once `steps` steps have run in this `fit`, e.g. so that a
    run resumed from a mid-epoch checkpoint ends with the step count of an
    uninterrupted run.

    Args:
        steps: steps to run.
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        if self.done + batch + 1 >= self.steps:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.done += self.params["steps"]


def _iterations(model):
    return {name: int(getattr(model, name).iterations)
            for name in ("d_optimizer", "g_optimizer")}


class CollapseMonitor(keras.callbacks.Callback):
    """Warns at each epoch end when the generator's samples have collapsed
    (nearly identical: their spread across samples is under 1% of the real
    images') or saturated (nearly every pixel at -1 or +1: the share of other
    pixels under 10% of the real images').

    Args:
        real_images: a batch of training images in [-1, 1] to compare with.
        stop: also stop training.
        num_images: samples drawn, from fixed noise.
        seed: seed of that noise.

    Example:

    ```python
    monitor = CollapseMonitor(real_batch, stop=True)
    gan.fit(dataset, epochs=10, callbacks=[monitor])
    if monitor.problem:
        print(monitor.problem)
    ```
    """

    def __init__(self, real_images, stop=False, num_images=64, seed=0):
        super().__init__()
        real = np.asarray(real_images, np.float32)
        self.real_spread, self.real_saturated = _spread(real), _saturated(real)
        self.stop = stop
        self.num_images = num_images
        self.seed = seed
        self.problem = None
        self.checked = False

    def on_train_begin(self, logs=None):
        self.checked = False

    def on_epoch_end(self, epoch, logs=None):
        self.check(f"epoch {epoch + 1}")

    def on_train_end(self, logs=None):
        if not self.checked:  # a fit with no epoch left, e.g. a finished run resumed
            self.check("the end of training")

    def check(self, when):
        """Sets `problem` from the samples of the generator as it is now."""
        self.checked = True
        model = self.model
        if getattr(model, "stopped_on_non_finite", False):
            return
        labels = np.arange(self.num_images) % model.num_classes if model.conditional else None
        images = model.generate(self.num_images, seed=self.seed, labels=labels)
        spread, saturated = _spread(images), _saturated(images)
        self.problem = None
        if spread < 0.01 * self.real_spread:
            self.problem = (f"the generator has collapsed at {when}: its "
                            f"samples are nearly identical (spread {spread:.2g}, the "
                            f"data's {self.real_spread:.2g})")
        elif 1 - saturated < 0.1 * (1 - self.real_saturated):
            self.problem = (f"the generator is saturated at {when}: "
                            f"{saturated:.1%} of its pixels are at -1 or +1 (the data's "
                            f"{self.real_saturated:.1%})")
        if self.problem:
            print(f"Warning: {self.problem}.")
            model.stop_training = model.stop_training or self.stop


def _spread(images):
    """The mean over pixels of their standard deviation across images."""
    return float(np.mean(np.std(images, axis=0)))


def _saturated(images):
    """The share of pixels at -1 or +1."""
    return float(np.mean(np.abs(images) > 0.99))


def __getattr__(name):
    # FIDMonitor lives with the evaluation code it runs; import it lazily so
    # that `keras_gans.callbacks` does not load the metrics stack.
    if name == "FIDMonitor":
        from keras_gans.evaluation import FIDMonitor

        return FIDMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
