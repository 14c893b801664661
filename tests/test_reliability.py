"""Reliability, second pass: atomic checkpoints and exports, history that
survives a kill, signals, unwritable or full disks, and divergence that is
caught in the model's state or its samples rather than only in the losses."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import keras
import matplotlib.figure
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli

import keras_gans
from keras_gans import callbacks, files
from keras_gans.callbacks import GANCheckpoint, StopOnNonFinite, StopOnSignal
from keras_gans.networks import MLPDiscriminator, MLPGenerator
from keras_gans.saving import load_gan

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

# 32 images of 16x16 at batch 4: 8 steps an epoch.
STEPS_PER_EPOCH = 8


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    """A .npz of 32 16x16 grayscale images: a grey square on black."""
    rng = np.random.default_rng(0)
    images = np.zeros((32, 16, 16, 1), np.uint8)
    for image in images:
        top, left = rng.integers(0, 8, 2)
        image[top:top + 6, left:left + 6] = rng.integers(120, 256)
    path = tmp_path_factory.mktemp("tiny") / "tiny.npz"
    np.savez(path, x_train=images)
    return str(path)


def train_args(out, npz, *extra, variant="vanilla", epochs=2):
    return ["train", variant, "--data-dir", npz, "--batch-size", "4", "--epochs",
            str(epochs), "--latent-dim", "8", "--out", str(out), "--quiet", *extra]


def one_line_error(capsys, status, *fragments):
    captured = capsys.readouterr()
    assert status == 2, captured.err[-3000:]
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("keras-gans train: error: ")
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def iterations(out):
    model = load_gan(str(out / "checkpoint" / GANCheckpoint.filename))
    return int(model.d_optimizer.iterations), int(model.g_optimizer.iterations)


def tree(directory):
    """Every file under `directory` with its bytes."""
    return {os.path.relpath(os.path.join(root, name), directory):
            open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(directory) for name in names}


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory, tiny_npz):
    out = tmp_path_factory.mktemp("runs") / "vanilla"
    assert run_cli(train_args(out, tiny_npz)) == 0
    return out


# ------------------------------------------------------ one atomic checkpoint
def test_checkpoint_is_one_file_holding_its_state(two_epoch_run):
    """The state (epoch, step counts, history) is inside checkpoint.keras, which
    is replaced in one rename: a kill can no longer pair one epoch's model with
    another's state."""
    checkpoint = two_epoch_run / "checkpoint"
    assert os.listdir(checkpoint) == [GANCheckpoint.filename]
    state = GANCheckpoint.read_state(str(checkpoint))
    assert (state["epoch"], state["step_in_epoch"]) == (2, 0)
    steps = 2 * STEPS_PER_EPOCH
    assert state["iterations"] == {"d_optimizer": steps, "g_optimizer": steps}
    assert len(state["history"]["d_loss"]) == 2


def test_resume_refuses_a_state_from_another_checkpoint(two_epoch_run, tmp_path, tiny_npz,
                                                        capsys):
    out = tmp_path / "run"
    shutil.copytree(two_epoch_run, out)
    archive = rewrite_state(out, epoch=1, iterations={"d_optimizer": 8, "g_optimizer": 8})
    status = run_cli(train_args(out, tiny_npz, "--resume", epochs=3))
    one_line_error(capsys, status, str(archive), "have taken", "records")


def rewrite_state(out, **changes):
    """Changes the training state inside the run's checkpoint; returns its path."""
    archive = out / "checkpoint" / GANCheckpoint.filename
    state = {**GANCheckpoint.read_state(str(out / "checkpoint")), **changes}
    copy_path = out / "checkpoint" / "copy.keras"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(copy_path, "w") as copy:
        for name in source.namelist():
            if name != GANCheckpoint.state_entry:
                copy.writestr(name, source.read(name))
        copy.writestr(GANCheckpoint.state_entry, json.dumps(state))
    os.replace(copy_path, archive)
    return archive


def test_resume_refuses_an_epoch_the_optimizers_contradict(two_epoch_run, tmp_path, tiny_npz,
                                                           capsys):
    """Epoch 5 recorded for 16 steps at 8 steps an epoch trained nothing and
    exported the old model as "trained to epoch 2"."""
    out = tmp_path / "run"
    shutil.copytree(two_epoch_run, out)
    archive = rewrite_state(out, epoch=5)
    before = tree(out)
    status = run_cli(train_args(out, tiny_npz, "--resume", epochs=2))
    one_line_error(capsys, status, f"{archive} records epoch 5, but its optimizers have "
                   f"taken {2 * STEPS_PER_EPOCH} steps, and epochs here are "
                   f"{STEPS_PER_EPOCH} steps")
    assert tree(out) == before


def test_resume_of_a_truncated_checkpoint_says_it_is_damaged(two_epoch_run, tmp_path,
                                                             tiny_npz, capsys):
    out = tmp_path / "run"
    shutil.copytree(two_epoch_run, out)
    archive = out / "checkpoint" / GANCheckpoint.filename
    archive.write_bytes(archive.read_bytes()[:archive.stat().st_size // 2])
    status = run_cli(train_args(out, tiny_npz, "--resume", epochs=3))
    line = one_line_error(capsys, status, f"{archive} is not a loadable keras-gans model: it "
                          "is damaged, not a whole .keras (zip) file")
    assert "not found" not in line


def test_resume_with_nothing_to_resume_is_an_error(tmp_path, tiny_npz, capsys):
    status = run_cli(train_args(tmp_path / "run", tiny_npz, "--resume"))
    one_line_error(capsys, status, "no checkpoint", "without --resume")
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_resume_of_a_checkpoint_without_state_is_an_error(two_epoch_run, tmp_path, tiny_npz,
                                                          capsys):
    """A checkpoint without its state (inside it, or an older run's state.json)
    is refused rather than silently trained from epoch 1."""
    out = tmp_path / "run"
    shutil.copytree(two_epoch_run, out)
    model = load_gan(str(out / "checkpoint" / GANCheckpoint.filename))
    model.save(str(out / "checkpoint" / GANCheckpoint.filename))  # no state inside
    before = tree(out)
    status = run_cli(train_args(out, tiny_npz, "--resume", epochs=3))
    one_line_error(capsys, status, "holds no training state", "state.json")
    assert tree(out) == before


# ----------------------------------------------------------- directory swaps
def write_directory(path, text):
    with files.atomic_path(path) as tmp:
        os.makedirs(tmp)
        with open(os.path.join(tmp, "saved_model.pb"), "w") as f:
            f.write(text)


def test_directory_swap_never_leaves_the_path_missing(tmp_path, monkeypatch):
    """Readers always find a whole export: the new directory is exchanged with
    the old one in one step, never renamed away and back."""
    path = tmp_path / "generator"
    write_directory(path, "first")
    missing = []
    for name in ("rename", "replace"):
        original = getattr(os, name)

        def checked(src, dst, original=original):
            original(src, dst)
            if not path.is_dir():
                missing.append((src, dst))

        monkeypatch.setattr(os, name, checked)
    write_directory(path, "second")
    monkeypatch.undo()
    assert missing == []
    assert (path / "saved_model.pb").read_text() == "second"
    assert os.listdir(tmp_path) == ["generator"]


def test_swap_killed_between_renames_loses_neither_export(tmp_path):
    """A kill between the two renames of a swap (where the system cannot
    exchange directories) leaves the export aside; the next write puts it back
    before removing temporary paths, even when that write fails."""
    path = tmp_path / "generator"
    stale = tmp_path / ".generator.tmp-killed"
    for name, text in (("old", "old"), ("new", "complete new")):
        (stale / name).mkdir(parents=True)
        (stale / name / "saved_model.pb").write_text(text)
    with pytest.raises(RuntimeError), files.atomic_path(path):
        raise RuntimeError("the next export fails")
    assert (path / "saved_model.pb").read_text() == "complete new"
    assert os.listdir(tmp_path) == ["generator"]


# ------------------------------------------------------------------- history
def test_history_keeps_the_epochs_of_a_killed_run(two_epoch_run, tmp_path, tiny_npz):
    """A run killed before it wrote history.json, or one whose history.json
    was left empty by a full disk, resumes with every epoch's logs: they are
    kept in the checkpoint."""
    before = json.loads((two_epoch_run / "history.json").read_text())
    for damage in ("missing", "empty"):
        out = tmp_path / damage
        shutil.copytree(two_epoch_run, out)
        history = out / "history.json"
        history.unlink() if damage == "missing" else history.write_bytes(b"")
        assert run_cli(train_args(out, tiny_npz, "--resume", epochs=3)) == 0
        after = json.loads(history.read_text())
        assert len(after["d_loss"]) == 3 and after["d_loss"][:2] == before["d_loss"]


def test_corrupt_history_of_an_older_checkpoint_is_an_error_naming_it(
        two_epoch_run, tmp_path, tiny_npz, capsys):
    """A checkpoint written before the history moved inside it reads
    history.json (and state.json); an empty one is named in a one-line error."""
    out = tmp_path / "run"
    shutil.copytree(two_epoch_run, out)
    checkpoint = out / "checkpoint"
    state = GANCheckpoint.read_state(str(checkpoint))
    model = load_gan(str(checkpoint / GANCheckpoint.filename))
    model.save(str(checkpoint / GANCheckpoint.filename))
    (checkpoint / "state.json").write_text(json.dumps(
        {"epoch": state["epoch"], "step_in_epoch": 0, "train_seconds": 1.0}))
    (out / "history.json").write_bytes(b"")
    status = run_cli(train_args(out, tiny_npz, "--resume", epochs=3))
    one_line_error(capsys, status, str(out / "history.json"), "is corrupt")


def test_full_disk_while_writing_history_keeps_the_previous_one(two_epoch_run, tmp_path,
                                                                tiny_npz, capsys, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(two_epoch_run, out)
    before = (out / "history.json").read_bytes()

    dump = json.dump

    def full_disk_for_the_history(obj, f, **kwargs):
        if "d_loss" not in obj:  # run.json is written before training
            return dump(obj, f, **kwargs)
        f.write("{")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dump", full_disk_for_the_history)
    status = run_cli(train_args(out, tiny_npz, "--resume", epochs=3))
    monkeypatch.undo()
    one_line_error(capsys, status, "No space left on device", str(out / "history.json"))
    assert (out / "history.json").read_bytes() == before
    assert sorted(os.listdir(out)) == ["checkpoint", "generator", "history.json", "preset",
                                       "run.json", "samples"]


# ------------------------------------------------------------------- signals
@pytest.mark.subprocess
def test_sigterm_mid_epoch_checkpoints_and_resumes_to_the_same_step_count(tmp_path,
                                                                         data_args):
    """SIGTERM stops at the end of the current step, checkpoints it and exits
    with 143; --resume then ends at the step count of an uninterrupted run."""
    out = tmp_path / "run"
    epochs, steps_per_epoch = 2, 60  # --limit 240 at batch 4
    args = [sys.executable, "-m", "keras_gans.cli", "train", "dcgan", "--limit", "240",
            "--batch-size", "4", "--epochs", str(epochs), "--out", str(out), "--quiet",
            *data_args]
    process = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 300
        while not (out / "checkpoint" / GANCheckpoint.filename).exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("keras-gans train: stopped by SIGTERM at epoch 2, step "), last
    assert "--resume" in last
    state = GANCheckpoint.read_state(str(out / "checkpoint"))
    assert state["epoch"] == 1 and 0 < state["step_in_epoch"] < steps_per_epoch
    assert iterations(out)[1] == steps_per_epoch + state["step_in_epoch"]
    assert not (out / "generator").exists()

    resumed = subprocess.run([*args, "--resume"], env=ENV, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert iterations(out) == (epochs * steps_per_epoch,) * 2
    assert GANCheckpoint.read_state(str(out / "checkpoint"))["epoch"] == epochs
    assert len(json.loads((out / "history.json").read_text())["d_loss"]) == epochs


def test_second_signal_restores_the_default_action():
    model = keras_gans.GAN(MLPGenerator(latent_dim=8, units=(16,)),
                           MLPDiscriminator(units=(16,), dropout=0))
    stop = StopOnSignal()
    stop.set_model(model)
    previous = signal.getsignal(signal.SIGINT)
    stop.on_train_begin()
    try:
        stop.handle(signal.SIGINT, None)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL
        stop.on_train_batch_end(0)
        assert model.stop_training and model.stopped_on_signal
    finally:
        stop.on_train_end()
    assert signal.getsignal(signal.SIGINT) == previous


# ------------------------------------------------------ unwritable, full disk
def test_out_under_a_file_is_a_one_line_error(tmp_path, tiny_npz, capsys):
    (tmp_path / "file").write_text("keep me")
    status = run_cli(train_args(tmp_path / "file" / "run", tiny_npz))
    one_line_error(capsys, status, "cannot be written", "Not a directory")
    assert (tmp_path / "file").read_text() == "keep me"


def test_read_only_out_is_a_one_line_error(two_epoch_run, tmp_path, tiny_npz, capsys):
    out = tmp_path / "run"
    shutil.copytree(two_epoch_run, out)
    before = tree(out)
    if os.geteuid() == 0:  # root writes through permissions, not through +i
        if subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode:
            pytest.skip("chattr +i is not available here")
    else:
        out.chmod(0o555)
    try:
        status = run_cli(train_args(out, tiny_npz, "--resume", epochs=3))
    finally:
        subprocess.run(["chattr", "-i", str(out)], capture_output=True)
        out.chmod(0o755)
    one_line_error(capsys, status, f"--out {out} cannot be written")
    assert tree(out) == before


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, tiny_npz, capsys,
                                                              monkeypatch):
    out = tmp_path / "run"
    save = keras.Model.save
    calls = []

    def fills_the_disk(model, filepath, *args, **kwargs):
        calls.append(filepath)
        if len(calls) == 1:
            return save(model, filepath, *args, **kwargs)
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", fills_the_disk)
    status = run_cli(train_args(out, tiny_npz))
    monkeypatch.undo()
    line = one_line_error(capsys, status, "No space left on device",
                          str(out / "checkpoint" / GANCheckpoint.filename),
                          "previous version is intact")
    assert ".tmp-" not in line
    assert os.listdir(out / "checkpoint") == [GANCheckpoint.filename]
    assert GANCheckpoint.read_state(str(out / "checkpoint"))["epoch"] == 1
    assert iterations(out) == (STEPS_PER_EPOCH,) * 2


def test_full_disk_while_writing_a_sample_grid_leaves_no_half_png(tmp_path, tiny_npz,
                                                                  capsys, monkeypatch):
    def half_png(figure, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_png)
    out = tmp_path / "run"
    status = run_cli(train_args(out, tiny_npz, epochs=1))
    monkeypatch.undo()
    one_line_error(capsys, status, "No space left on device", "epoch_001.png")
    assert os.listdir(out / "samples") == []


# ---------------------------------------------------------------- divergence
def test_overflowing_batchnorm_statistics_stop_training(tmp_path, tiny_npz, capsys):
    """At a learning rate of 1e8 the losses stay finite while a BatchNorm
    moving variance overflows: training stops naming it, and nothing claims a
    checkpoint that was never written."""
    out = tmp_path / "run"
    status = run_cli(train_args(out, tiny_npz, "--d-lr", "1e8", "--g-lr", "1e8",
                            variant="dcgan"))
    line = one_line_error(capsys, status, "Training stopped: non-finite", "moving_variance",
                          "No checkpoint was written")
    assert "intact" not in line
    assert not (out / "generator").exists()
    assert not (out / "checkpoint").exists()


def test_a_saturated_generator_is_not_exported(tmp_path, tiny_npz, capsys):
    """At a learning rate of 10 the samples stick at -1/+1: each epoch warns,
    the run ends with an error and no export; --stop-on-collapse stops at the
    first such epoch. Float32 without XLA, so no speed probe or XLA compile."""
    plain = ("--precision", "float32", "--jit-compile", "off")
    out = tmp_path / "run"
    status = run_cli(train_args(out, tiny_npz, "--d-lr", "10", "--g-lr", "10", *plain,
                                variant="dcgan", epochs=3))
    captured = capsys.readouterr()
    assert status == 2
    last = captured.err.strip().splitlines()[-1]
    assert "is not exported" in last and ("collapsed" in last or "saturated" in last)
    assert "Warning: the generator" in captured.out
    assert not (out / "generator").exists()
    assert GANCheckpoint.read_state(str(out / "checkpoint"))["epoch"] == 3
    status = run_cli(train_args(out, tiny_npz, "--resume", *plain, variant="dcgan", epochs=3))
    assert status == 2 and "at the end of training" in capsys.readouterr().err
    assert not (out / "generator").exists()

    stopped = tmp_path / "stopped"
    status = run_cli(train_args(stopped, tiny_npz, "--d-lr", "10", "--g-lr", "10",
                                "--stop-on-collapse", *plain, variant="dcgan", epochs=3))
    assert status == 2
    warned = GANCheckpoint.read_state(str(stopped / "checkpoint"))["epoch"]
    assert warned < 3
    assert f"at epoch {warned}" in capsys.readouterr().err


def small_gan(optimizer=keras.optimizers.Adam):
    keras.utils.set_random_seed(0)
    model = keras_gans.GAN(MLPGenerator(latent_dim=8, units=(16,)),
                           MLPDiscriminator(units=(16,), dropout=0), seed=0)
    model.compile(d_optimizer=optimizer(1e-3), g_optimizer=optimizer(1e-3))
    return model


def small_batches(steps=6):
    images = np.random.default_rng(0).uniform(-1, 1, (steps * 4, 28, 28, 1))
    return tf.data.Dataset.from_tensor_slices(images.astype("float32")).batch(4)


class Poison(keras.callbacks.Callback):
    """Makes the first value of the variable that `pick(model)` returns
    infinite after step `after`."""

    def __init__(self, pick, after=2):
        super().__init__()
        self.pick, self.after = pick, after

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.after:
            variable = self.pick(self.model)
            value = np.array(variable.numpy())
            value.flat[0] = np.inf
            variable.assign(value)


def test_non_finite_optimizer_moment_stops_training_naming_it(tmp_path, capsys):
    model = small_gan()
    stop = StopOnNonFinite()
    moment = model.g_optimizer.variables[2]
    model.fit(small_batches(), epochs=1, verbose=0,
              callbacks=[Poison(lambda m: moment), stop, GANCheckpoint(str(tmp_path))])
    assert stop.message.startswith(f"Training stopped: non-finite g_optimizer/{moment.path} "
                                   "at epoch 1, step 2")
    assert "Checkpoint of epoch 1 not written" in capsys.readouterr().out
    assert not os.listdir(tmp_path)


def test_skipped_checkpoint_says_why(tmp_path, capsys):
    """Without StopOnNonFinite, GANCheckpoint still refuses a model holding a
    non-finite weight, and says so."""
    model = small_gan()
    checkpoint = GANCheckpoint(str(tmp_path), every_steps=1)
    model.fit(small_batches(steps=3), epochs=1, verbose=0,
              callbacks=[Poison(lambda m: m.generator.weights[0]), checkpoint])
    out = capsys.readouterr().out
    assert "Checkpoint at epoch 1, step 2 not written: non-finite generator/" in out
    assert "Checkpoint at the end of epoch 1 not written" in out
    assert GANCheckpoint.read_state(str(tmp_path))["step_in_epoch"] == 1


def test_collapse_monitor_keeps_quiet_on_a_fresh_generator(capsys):
    model = small_gan()
    monitor = callbacks.CollapseMonitor(np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)))
    model.fit(small_batches(steps=2), epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.problem is None
    assert "Warning" not in capsys.readouterr().out
