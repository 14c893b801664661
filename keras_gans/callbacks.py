"""Callbacks for GAN training: sample grids, checkpoints, failure stops."""

import json
import math
import os
import time

import keras
import numpy as np

from keras_gans import plotting
from keras_gans.files import atomic_path, save_model_atomically
from keras_gans.sampling import latent_noise
from keras_gans.saving import load_gan


class SampleGrid(keras.callbacks.Callback):
    """Renders the generator's samples from fixed noise as a PNG grid.

    The same latent vectors are used every time, so the grids show how the
    generator evolves. Conditional models get one row per class.

    Args:
        directory: where `epoch_001.png`, ... are written.
        num_images: images per grid (unconditional models).
        every: write a grid every this many epochs.
        seed: seed of the fixed latent vectors.
        gif: at the end of training, also write `training.gif` of all grids.
        per_class: images per row for conditional models.
        class_names: row labels for conditional models.
        show: also display each grid (in a notebook).

    Example:

    ```python
    gan.fit(dataset, epochs=10, callbacks=[SampleGrid("samples/", gif=True)])
    ```
    """

    def __init__(self, directory, num_images=64, every=1, seed=0, gif=False,
                 per_class=8, class_names=None, show=False):
        super().__init__()
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
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png")
        fig = plotting.grid_figure(images, self.rows, self.cols, self.row_labels,
                                   title=f"epoch {epoch + 1}")
        fig.savefig(path)
        if self.show:
            from IPython.display import display

            display(fig)
        plotting.plt.close(fig)
        self.paths.append(path)
        if self.gif:
            self.frames.append(plotting.tile(images, self.rows, self.cols))

    def on_train_end(self, logs=None):
        if self.gif and self.frames:
            plotting.save_gif(self.frames, os.path.join(self.directory, "training.gif"))


class ClassGrid(SampleGrid):
    """A `SampleGrid` for conditional models: row c shows class c."""

    def on_train_begin(self, logs=None):
        if not self.model.conditional:
            raise ValueError("ClassGrid needs a conditional model; use SampleGrid.")
        super().on_train_begin(logs)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training when a logged loss is NaN or infinite.

    The message names the epoch and the step; `GANCheckpoint` does not save
    after a non-finite step, so the last good checkpoint stays intact.
    """

    def __init__(self):
        super().__init__()
        self.message = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = sorted(k for k, v in (logs or {}).items()
                     if not np.all(np.isfinite(np.asarray(v, dtype=np.float64))))
        if bad:
            self.message = (
                f"Training stopped: non-finite {', '.join(bad)} at epoch "
                f"{self.epoch + 1}, step {batch + 1}. The last checkpoint "
                "written before this step is intact; try a lower learning rate."
            )
            print(self.message)
            self.model.stop_training = True
            self.model.stopped_on_non_finite = True


def logs_are_finite(logs):
    return all(np.all(np.isfinite(np.asarray(v, dtype=np.float64)))
               for v in (logs or {}).values())


def weights_are_finite(model):
    """Whether every weight is finite. A step's logged loss predates its update,
    so an update that overflows shows up here one step before the logs."""
    return all(np.all(np.isfinite(np.asarray(w))) for w in model.weights)


class GANCheckpoint(keras.callbacks.Callback):
    """Saves the whole GAN as `.keras` (weights, both optimizers, seed state,
    EMA) with an atomic rename, at every epoch end and every `every_steps`
    batches, with `state.json` recording where training stood.

    `GANCheckpoint.resume(directory)` returns the saved model and the epoch to
    pass to `fit(initial_epoch=...)`.

    Args:
        directory: where `checkpoint.keras` and `state.json` are written.
        every_steps: also save every this many batches (0: epoch ends only).
    """

    filename = "checkpoint.keras"

    def __init__(self, directory, every_steps=0, previous_seconds=0.0):
        super().__init__()
        self.directory = directory
        self.every_steps = every_steps
        self.previous_seconds = previous_seconds
        self.start_time = None
        self.epoch = 0

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
        if self.every_steps and (batch + 1) % self.every_steps == 0:
            self.save(self.epoch, batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0, logs)

    def save(self, epoch, step, logs):
        if (getattr(self.model, "stopped_on_non_finite", False) or not logs_are_finite(logs)
                or not weights_are_finite(self.model)):
            return
        os.makedirs(self.directory, exist_ok=True)
        save_model_atomically(self.model, self.path)
        with atomic_path(os.path.join(self.directory, "state.json")) as tmp, \
                open(tmp, "w") as f:
            json.dump({"epoch": epoch, "step_in_epoch": step,
                       "train_seconds": round(self.train_seconds, 1)}, f)

    @staticmethod
    def read_state(directory):
        """The `state.json` of a checkpoint directory, or `{}`."""
        path = os.path.join(directory, "state.json")
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return json.load(f)

    @classmethod
    def resume(cls, directory):
        """Returns `(model, initial_epoch)`, or `(None, 0)` with no checkpoint.

        A checkpoint taken mid-epoch resumes at the start of that epoch with
        the mid-epoch weights and optimizer state.
        """
        path = os.path.join(directory, cls.filename)
        if not os.path.exists(path):
            return None, 0
        return load_gan(path), int(cls.read_state(directory).get("epoch", 0))



def __getattr__(name):
    # FIDMonitor lives with the evaluation code it runs; import it lazily so
    # that `keras_gans.callbacks` does not load the metrics stack.
    if name == "FIDMonitor":
        from keras_gans.evaluation import FIDMonitor

        return FIDMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
