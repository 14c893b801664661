"""Fault tolerance: a killed run resumes, non-finite training stops cleanly, and
an interrupted checkpoint or export leaves the previous one whole."""

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli
from keras.src.utils.naming import to_snake_case

import keras_gans
from keras_gans.callbacks import GANCheckpoint, StopOnNonFinite
from keras_gans.files import save_model_atomically
from keras_gans.networks import MLPDiscriminator, MLPGenerator
from keras_gans.saving import export_generator, load_gan, load_generator

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
CLI = [sys.executable, "-m", "keras_gans.cli", "train"]
TIMEOUT = 600

# `--limit 640 --batch-size 32`: 20 steps an epoch.
STEPS_PER_EPOCH = 20
EPOCHS = 3


def read_archive(path):
    """Every array stored in a `.keras` file, by its path in the weights file."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
    arrays = {}
    with h5py.File(io.BytesIO(data), "r") as weights:
        weights.visititems(
            lambda name, item: arrays.__setitem__(name, item[()])
            if isinstance(item, h5py.Dataset) else None)
    return arrays


def ema_arrays(model):
    """The EMA generator's weights of `model`, keyed as in its `.keras` file:
    Keras numbers each layer class within the model, in layer order."""
    arrays, seen = {}, {}
    for layer in model.ema_generator.layers:
        kind = to_snake_case(type(layer).__name__)
        key = kind if kind not in seen else f"{kind}_{seen[kind]}"
        seen[kind] = seen.get(kind, 0) + 1
        for index, weight in enumerate(layer.weights):
            arrays[f"ema_generator/layers/{key}/vars/{index}"] = np.asarray(weight)
    return arrays


def read_state(directory):
    try:
        return GANCheckpoint.read_state(str(directory))
    except ValueError:  # a checkpoint being replaced
        return {}


def all_finite(model):
    return all(np.all(np.isfinite(np.asarray(w))) for w in model.weights)


def small_gan(seed=0, **kwargs):
    """A GAN of two small MLPs: quick to build, train and save."""
    keras.utils.set_random_seed(seed)
    model = keras_gans.GAN(MLPGenerator(latent_dim=8, units=(16,)),
                           MLPDiscriminator(units=(16,), dropout=0),
                           seed=seed, **kwargs)
    model.compile(d_optimizer=keras.optimizers.SGD(0.01),
                  g_optimizer=keras.optimizers.SGD(0.01))
    return model


def small_batches(steps=4, batch_size=8):
    images = np.random.default_rng(0).uniform(-1, 1, (steps * batch_size, 28, 28, 1))
    return tf.data.Dataset.from_tensor_slices(images.astype("float32")).batch(batch_size)


def leftovers(directory, expected):
    """Entries of `directory` other than `expected`: temporary files, if any."""
    return sorted(set(os.listdir(directory)) - set(expected))


# ------------------------------------------------------------ kill and resume
def test_sigkill_mid_epoch_then_resume_restores_training_state(tmp_path, data_args):
    """A run killed with SIGKILL mid-epoch resumes from its last checkpoint with
    the epoch, both optimizers' step counts, the noise stream and the EMA."""
    out = tmp_path / "run"
    args = [*CLI, "dcgan", "--limit", "640", "--batch-size", "32",
            "--epochs", str(EPOCHS), "--checkpoint-every", "5", "--ema-decay", "0.9",
            "--out", str(out), "--quiet", *data_args]
    state_path = out / "checkpoint"
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(args, env=ENV, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                state = read_state(state_path)
                if state.get("epoch", 0) >= 1 and state.get("step_in_epoch", 0) >= 5:
                    break
                assert process.poll() is None, (
                    "training ended before it was killed:\n"
                    + (tmp_path / "killed.log").read_text()[-3000:])
                assert time.monotonic() < deadline, "no mid-epoch checkpoint in time"
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == -signal.SIGKILL

    killed_dir = tmp_path / "killed_checkpoint"
    shutil.copytree(out / "checkpoint", killed_dir)
    killed_state = read_state(killed_dir)
    killed_epoch = killed_state["epoch"]
    assert 1 <= killed_epoch < EPOCHS
    saved = read_archive(killed_dir / GANCheckpoint.filename)
    d_steps = int(saved["d_optimizer/vars/0"])
    g_steps = int(saved["g_optimizer/vars/0"])
    seed_state = saved["vars/seed_generator_state"]
    assert d_steps >= STEPS_PER_EPOCH + 5 and g_steps == d_steps

    # What resuming restores is what the killed run last saved.
    restored, initial_epoch = GANCheckpoint.resume(str(killed_dir))
    assert initial_epoch == killed_epoch
    assert int(restored.d_optimizer.iterations.numpy()) == d_steps
    assert int(restored.g_optimizer.iterations.numpy()) == g_steps
    for name in ("d_optimizer", "g_optimizer"):  # step counts, Adam's moments
        for index, variable in enumerate(getattr(restored, name).variables):
            np.testing.assert_array_equal(np.asarray(variable), saved[f"{name}/vars/{index}"])
    np.testing.assert_array_equal(restored.seed_generator.state.numpy(), seed_state)
    assert seed_state[1] > 0
    restored_ema = ema_arrays(restored)
    assert restored_ema
    for key, value in restored_ema.items():
        np.testing.assert_array_equal(value, saved[key])
    ema_gap = max(float(np.max(np.abs(np.asarray(e) - np.asarray(g))))
                  for e, g in zip(restored.ema_generator.weights,
                                  restored.generator.weights, strict=True))
    assert ema_gap > 0, "the EMA generator is a copy of the generator, not an average"

    # A write interrupted by the kill leaves a temporary entry; resuming ignores it.
    stale = out / "checkpoint" / ".checkpoint.keras.tmp-killed"
    stale.mkdir(exist_ok=True)
    (stale / "new.keras").write_bytes(b"PK\x03\x04 truncated")

    resumed = subprocess.run([*args, "--resume"], env=ENV, capture_output=True,
                             text=True, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at epoch {killed_epoch + 1}" in resumed.stdout
    assert read_state(state_path)["epoch"] == EPOCHS
    final = read_archive(out / "checkpoint" / GANCheckpoint.filename)
    # A mid-epoch checkpoint resumes at the start of its epoch and ends as many
    # steps early, so the run takes as many steps as an uninterrupted one.
    steps_after = EPOCHS * STEPS_PER_EPOCH - d_steps
    assert int(final["d_optimizer/vars/0"]) == d_steps + steps_after
    assert int(final["g_optimizer/vars/0"]) == g_steps + steps_after
    draws_per_step = seed_state[1] // d_steps
    assert seed_state[1] == draws_per_step * d_steps
    final_seed = final["vars/seed_generator_state"]
    assert final_seed[0] == seed_state[0]
    assert final_seed[1] == seed_state[1] + draws_per_step * steps_after
    assert any(not np.array_equal(final[key], saved[key]) for key in restored_ema)
    assert load_generator(str(out / "generator")).metadata["ema"] is True


# ---------------------------------------------------------- non-finite losses
def test_cli_stops_on_non_finite_loss_and_keeps_last_good_checkpoint(tmp_path, data_args):
    """A run that goes NaN exits with status 2 naming the epoch and step, and
    its last checkpoint loads with finite weights."""
    out = tmp_path / "run"
    result = subprocess.run(
        [*CLI, "dcgan", "--limit", "128", "--batch-size", "32", "--epochs", "2",
         "--checkpoint-every", "1", "--d-lr", "1e30", "--g-lr", "1e30",
         "--out", str(out), "--quiet", *data_args],
        env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2, result.stderr[-3000:]
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("keras-gans train: error: Training stopped: non-finite")
    found = re.search(r"at epoch (\d+), step (\d+)", message)
    assert found, message
    epoch, step = int(found.group(1)), int(found.group(2))
    assert (epoch, step) > (1, 1), "the first step went NaN: no checkpoint to check"
    state = read_state(out / "checkpoint")
    if step > 1:
        assert (state["epoch"], state["step_in_epoch"]) == (epoch - 1, step - 1)
    model = load_gan(str(out / "checkpoint" / GANCheckpoint.filename))
    assert all_finite(model)
    assert not (out / "generator").exists()


class BlowUpLearningRate(keras.callbacks.Callback):
    """Sets the discriminator's learning rate to infinity after step `after`,
    so the next update makes its weights non-finite while that step's loss,
    computed before the update, is still finite."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.after:
            self.model.d_optimizer.learning_rate = float("inf")


def test_checkpoint_never_holds_non_finite_weights(tmp_path):
    """An update that makes the weights non-finite is caught at that step,
    before any loss turns NaN, and the checkpoint keeps the last finite weights."""
    model = small_gan()
    stop = StopOnNonFinite()
    checkpoint = GANCheckpoint(str(tmp_path), every_steps=1)
    model.fit(small_batches(steps=8), epochs=1, verbose=0,
              callbacks=[stop, BlowUpLearningRate(after=3), checkpoint])
    assert stop.message is not None
    assert "epoch 1, step 4" in stop.message
    assert model.stop_training
    state = read_state(tmp_path)  # step 3 ended with an infinite learning rate
    assert state["step_in_epoch"] == 2
    restored = load_gan(checkpoint.path)
    assert all_finite(restored)
    assert int(restored.d_optimizer.iterations.numpy()) == 2


# ------------------------------------------------------------- atomic writes
def crash_after_partial_write(path):
    """Writes the start of a file at `path`, then fails as a full disk would."""
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04 partial archive")
    raise OSError(28, "simulated crash: no space left on device")


def test_save_model_atomically_keeps_previous_file_on_crash(tmp_path, monkeypatch):
    model = small_gan()
    path = tmp_path / "gan.keras"
    save_model_atomically(model, str(path))
    before = path.read_bytes()
    model.fit(small_batches(), epochs=1, verbose=0)

    monkeypatch.setattr(keras.Model, "save",
                        lambda self, filepath, *a, **k: crash_after_partial_write(filepath))
    with pytest.raises(OSError, match="simulated crash"):
        save_model_atomically(model, str(path))
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert int(load_gan(str(path)).d_optimizer.iterations.numpy()) == 0
    assert leftovers(tmp_path, ["gan.keras"]) == []


def test_gan_checkpoint_keeps_previous_checkpoint_on_crash(tmp_path, monkeypatch):
    model = small_gan()
    checkpoint = GANCheckpoint(str(tmp_path / "checkpoint"))
    model.fit(small_batches(), epochs=1, verbose=0, callbacks=[checkpoint])
    archive_before = (tmp_path / "checkpoint" / GANCheckpoint.filename).read_bytes()
    state_before = read_state(tmp_path / "checkpoint")
    assert state_before["epoch"] == 1

    monkeypatch.setattr(keras.Model, "save",
                        lambda self, filepath, *a, **k: crash_after_partial_write(filepath))
    with pytest.raises(OSError, match="simulated crash"):
        model.fit(small_batches(), epochs=2, initial_epoch=1, verbose=0,
                  callbacks=[checkpoint])
    monkeypatch.undo()

    assert (tmp_path / "checkpoint" / GANCheckpoint.filename).read_bytes() == archive_before
    assert read_state(tmp_path / "checkpoint") == state_before
    restored, epoch = GANCheckpoint.resume(str(tmp_path / "checkpoint"))
    assert epoch == 1 and int(restored.d_optimizer.iterations.numpy()) == 4
    assert leftovers(tmp_path / "checkpoint", [GANCheckpoint.filename]) == []


def test_export_keeps_previous_export_on_crash(tmp_path, monkeypatch):
    model = small_gan(ema_decay=0.9)
    path = tmp_path / "generator"
    export_generator(model, str(path))
    z = np.random.default_rng(0).standard_normal((3, model.latent_dim)).astype("float32")
    images_before = load_generator(str(path))(z)
    model.fit(small_batches(), epochs=1, verbose=0)

    def crash(self, filepath, *args, **kwargs):
        os.makedirs(filepath)
        crash_after_partial_write(os.path.join(filepath, "saved_model.pb"))

    # ExportArchive() returns an instance of the backend's subclass.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", crash)
    with pytest.raises(OSError, match="simulated crash"):
        export_generator(model, str(path))
    with pytest.raises(OSError, match="simulated crash"):
        export_generator(model, str(tmp_path / "first_export"))
    monkeypatch.undo()

    np.testing.assert_array_equal(load_generator(str(path))(z), images_before)
    assert leftovers(tmp_path, ["generator"]) == []


def test_next_write_removes_temp_files_of_a_killed_write(tmp_path):
    from keras_gans.files import atomic_path

    target = tmp_path / "checkpoint.keras"
    stale = tmp_path / ".checkpoint.keras.tmp-killed"
    stale.mkdir()
    (stale / "new.keras").write_bytes(b"half written")
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        f.write(b"complete")
    assert target.read_bytes() == b"complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.keras"]


# ------------------------------------------------ kill and resume, every variant
class Killed(BaseException):
    """The end of a process killed right after a checkpoint was written."""


def tiny_data(directory):
    """Data for each variant's run: 32 8x8 and 16x16 images, two folders of
    four 32x32 RGB images."""
    rng = np.random.default_rng(0)
    directory.mkdir()
    for size in (8, 16):
        np.savez(directory / f"{size}.npz",
                 x_train=rng.integers(0, 256, (32, size, size, 1), dtype=np.uint8))
    for domain in ("a", "b"):
        (directory / domain).mkdir()
        for index in range(4):
            image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            keras.utils.save_img(directory / domain / f"{index}.png", image)
    return directory


# Each variant's options, and its steps in two epochs.
RESUMABLE = {
    "dcgan": (["--data-dir", "{data}/16.npz", "--batch-size", "4", "--latent-dim", "8"], 16),
    "wgan-gp": (["--data-dir", "{data}/16.npz", "--batch-size", "4", "--n-critic", "2",
                 "--latent-dim", "8"], 8),
    # 3 steps at 4x4, 2 fading in 8x8, 3 at 8x8: epoch 2 begins mid-fade.
    "progan": (["--data-dir", "{data}/8.npz", "--batch-sizes", "4:8,8:8", "--latent-dim", "8",
                "--stable-images", "4:24,8:24", "--fade-images", "8:16", "--d-lr", "1e-4",
                "--g-lr", "1e-4"], 8),
    "cyclegan": (["--domain-a", "{data}/a", "--domain-b", "{data}/b", "--batch-size", "2",
                  "--generator-filters", "4", "--residual-blocks", "1", "--pool-size", "2"], 4),
}


@pytest.mark.parametrize("variant", sorted(RESUMABLE))
def test_every_variant_killed_after_a_checkpoint_resumes_to_the_end_of_the_run(
        variant, tmp_path, monkeypatch):
    """A run killed right after its epoch-1 checkpoint (what `kill -9` at any
    moment of epoch 2 leaves on disk) resumes with `--resume` and ends at the
    uninterrupted run's epoch, step count and noise state (and, for ProGAN,
    its resolution, fade and images seen)."""
    data = tiny_data(tmp_path / "data")
    options, steps = RESUMABLE[variant]
    out = tmp_path / "run"

    def train(*extra):
        return run_cli(["train", variant, *[option.format(data=data) for option in options],
                        "--epochs", "2", "--quiet", "--out", str(out), *extra])

    save = GANCheckpoint.save

    def save_then_die(checkpoint, epoch, step, logs):
        save(checkpoint, epoch, step, logs)
        raise Killed

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with monkeypatch.context() as patched, pytest.raises(Killed):
        patched.setattr(GANCheckpoint, "save", save_then_die)
        train()
    for signum, handler in handlers.items():  # as the killed process's end would
        signal.signal(signum, handler)
    checkpoint = out / "checkpoint" / GANCheckpoint.filename
    killed = load_gan(str(checkpoint))
    assert read_state(out / "checkpoint")["epoch"] == 1
    assert killed.steps_taken == steps // 2 and not (out / "preset").exists()

    assert train("--resume") == 0
    resumed = load_gan(str(checkpoint))
    assert read_state(out / "checkpoint")["epoch"] == 2
    assert resumed.steps_taken == steps
    seed, draws = killed.seed_generator.state.numpy()
    np.testing.assert_array_equal(resumed.seed_generator.state.numpy(), [seed, 2 * draws])
    assert all_finite(resumed) and (out / "preset").exists()
    if variant == "progan":
        assert int(resumed.images_seen.numpy()) == 64
        assert (resumed.current_resolution, resumed.current_alpha) == (8, 1.0)
        assert killed.current_resolution == 8 and 0 < killed.current_alpha < 1
