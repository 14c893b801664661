"""Callbacks: sample grids and GIFs, class grids, checkpoints, non-finite stops."""

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import batches
from PIL import Image

import keras_gans
from keras_gans import callbacks, losses, plotting, saving


def vanilla_gan(seed=0):
    model = keras_gans.VanillaGAN(latent_dim=16, seed=seed)
    model.compile()
    return model


@pytest.fixture(scope="module")
def images(fashion_arrays):
    return fashion_arrays[0][:64]


@pytest.fixture(scope="module")
def grid_run(images, tmp_path_factory):
    """A VanillaGAN trained for 4 epochs with grids every 2 epochs and a GIF."""
    directory = tmp_path_factory.mktemp("grids")
    every_epoch = callbacks.SampleGrid(str(directory / "every"), num_images=16, gif=True)
    every_other = callbacks.SampleGrid(str(directory / "other"), num_images=10, every=2)
    model = vanilla_gan()
    model.fit(batches(images, batch_size=32), epochs=4, verbose=0,
              callbacks=[every_epoch, every_other])
    return model, every_epoch, every_other


def test_sample_grid_writes_a_png_every_n_epochs(grid_run):
    _, every_epoch, every_other = grid_run
    assert sorted(os.listdir(every_other.directory)) == ["epoch_002.png", "epoch_004.png"]
    assert [os.path.basename(p) for p in every_epoch.paths] == [
        f"epoch_{epoch:03d}.png" for epoch in (1, 2, 3, 4)]
    assert all(os.path.exists(p) for p in every_epoch.paths)


def test_sample_grid_png_is_a_sensible_picture(grid_run):
    _, every_epoch, _ = grid_run
    with Image.open(every_epoch.paths[-1]) as picture:
        assert picture.format == "PNG"
        width, height = picture.size
        pixels = np.asarray(picture.convert("L"), np.float32)
    assert 150 <= width <= 4000 and 150 <= height <= 4000
    assert pixels.std() > 10.0, "the grid is blank"


def test_sample_grid_uses_fixed_noise(grid_run):
    model, every_epoch, _ = grid_run
    first, again = every_epoch.sample(), every_epoch.sample()
    np.testing.assert_array_equal(first, again)
    assert first.shape == (16, 28, 28, 1)
    np.testing.assert_allclose(first, model.generate(16, seed=every_epoch.seed), atol=1e-6)


def test_sample_grid_gif_has_one_frame_per_grid(grid_run):
    _, every_epoch, every_other = grid_run
    path = os.path.join(every_epoch.directory, "training.gif")
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 4
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("L"), np.float32))
    assert frames[0].shape == (4 * 29 + 1, 4 * 29 + 1)
    cell = frames[-1][1:29, 1:29]
    assert cell.std() > 1.0, "the samples are not blank"
    assert any(not np.array_equal(frames[0], frame) for frame in frames[1:])
    assert not os.path.exists(os.path.join(every_other.directory, "training.gif"))


def test_tile_places_images_in_a_padded_grid():
    images = np.stack([np.full((2, 3, 1), value, np.float32) for value in (-1.0, 1.0, 0.0)])
    grid = plotting.tile(images, rows=2, cols=2)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1)
    assert grid[1, 1] == 0 and grid[1, 5] == 255 and grid[4, 1] == 128
    assert grid[4, 5] == 255 and grid[0, 0] == 255  # empty cell and padding are white


@pytest.fixture(scope="module")
def conditional_model(fashion_arrays):
    model = keras_gans.ConditionalGAN(num_classes=10, latent_dim=16, seed=0)
    model.compile()
    return model, batches(fashion_arrays[0][:32], fashion_arrays[1][:32], batch_size=32)


def test_class_grid_shows_one_row_per_class(conditional_model, tmp_path):
    model, dataset = conditional_model
    names = [f"class {c}" for c in range(10)]
    grid = callbacks.ClassGrid(str(tmp_path), per_class=3, class_names=names, gif=True)
    model.fit(dataset, epochs=1, verbose=0, callbacks=[grid])
    assert grid.rows == 10 and grid.cols == 3
    np.testing.assert_array_equal(grid.labels, np.repeat(np.arange(10), 3))
    assert grid.row_labels == names
    with Image.open(tmp_path / "classes_epoch_001.png") as picture:
        assert np.asarray(picture.convert("L")).std() > 10.0
    with Image.open(tmp_path / "classes_training.gif") as gif:
        assert gif.size == (3 * 29 + 1, 10 * 29 + 1)
    assert not (tmp_path / "epoch_001.png").exists()  # a SampleGrid's name stays free
    samples = grid.sample()
    np.testing.assert_allclose(
        samples, model.generate(30, seed=0, labels=np.repeat(np.arange(10), 3)), atol=1e-6)


def test_class_grid_refuses_an_unconditional_model(images, tmp_path):
    with pytest.raises(ValueError, match="needs a conditional model"):
        vanilla_gan().fit(batches(images), epochs=1, verbose=0,
                          callbacks=[callbacks.ClassGrid(str(tmp_path))])


# -------------------------------------------------------------- checkpoint
def test_checkpoint_writes_model_and_state_and_resumes(images, tmp_path):
    model = vanilla_gan(seed=4)
    checkpoint = callbacks.GANCheckpoint(str(tmp_path / "ckpt"))
    model.fit(batches(images, batch_size=32), epochs=2, verbose=0, callbacks=[checkpoint])

    assert os.listdir(tmp_path / "ckpt") == ["checkpoint.keras"]  # the state is inside
    state = callbacks.GANCheckpoint.read_state(str(tmp_path / "ckpt"))
    assert state["epoch"] == 2 and state["step_in_epoch"] == 0

    resumed, epoch = callbacks.GANCheckpoint.resume(str(tmp_path / "ckpt"))
    assert epoch == 2
    assert isinstance(resumed, keras_gans.VanillaGAN)
    assert int(resumed.g_optimizer.iterations) == 4
    for a, b in zip(model.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.seed_generator.state.numpy(),
                                  model.seed_generator.state.numpy())

    history = resumed.fit(batches(images, batch_size=32), epochs=3, initial_epoch=epoch,
                          verbose=0, callbacks=[checkpoint])
    assert len(history.history["d_loss"]) == 1
    assert int(resumed.g_optimizer.iterations) == 6
    assert callbacks.GANCheckpoint.resume(str(tmp_path / "ckpt"))[1] == 3


def test_checkpoint_every_steps_records_the_step(images, tmp_path):
    checkpoint = callbacks.GANCheckpoint(str(tmp_path), every_steps=1)
    states = []

    class RecordState(keras_gans.callbacks.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            states.append(callbacks.GANCheckpoint.read_state(str(tmp_path)))

    vanilla_gan().fit(batches(images, batch_size=32), epochs=1, verbose=0,
                      callbacks=[checkpoint, RecordState()])
    assert [(s["epoch"], s["step_in_epoch"]) for s in states] == [(0, 1), (0, 2)]


def test_resume_without_a_checkpoint(tmp_path):
    assert callbacks.GANCheckpoint.resume(str(tmp_path)) == (None, 0)


def test_checkpoint_leaves_no_temporary_files(images, tmp_path):
    checkpoint = callbacks.GANCheckpoint(str(tmp_path))
    vanilla_gan().fit(batches(images), epochs=1, verbose=0, callbacks=[checkpoint])
    assert not [name for name in os.listdir(tmp_path) if ".tmp" in name]


# ----------------------------------------------------------- non-finite
class PoisonedLoss(losses.NonSaturatingLoss):
    """The non-saturating loss, NaN from a given discriminator step on."""

    def discriminator_loss(self, real_logits, fake_logits, real_target=1.0):
        loss = super().discriminator_loss(real_logits, fake_logits, real_target)
        poisoned = self.model.d_optimizer.iterations >= self.from_step
        return loss * tf.where(poisoned, float("nan"), 1.0)


def test_stop_on_non_finite_names_epoch_and_step_and_keeps_the_checkpoint(
        images, tmp_path, capsys):
    model = vanilla_gan(seed=1)
    poisoned = PoisonedLoss("non_saturating")  # saved by name, loads as the plain loss
    object.__setattr__(poisoned, "model", model)
    object.__setattr__(poisoned, "from_step", 5)  # 4 steps an epoch: epoch 2, step 2
    model.adversarial_loss = poisoned
    stop = callbacks.StopOnNonFinite()
    checkpoint = callbacks.GANCheckpoint(str(tmp_path))

    history = model.fit(batches(images, batch_size=16), epochs=4, verbose=0,
                        callbacks=[stop, checkpoint])

    assert stop.message is not None
    assert "non-finite d_loss" in stop.message
    assert "epoch 2, step 2" in stop.message
    assert stop.message in capsys.readouterr().out
    assert len(history.history["d_loss"]) == 2, "training stopped in epoch 2"
    assert int(model.d_optimizer.iterations) == 6
    assert any(np.isnan(w).any() for w in model.discriminator.get_weights())

    assert callbacks.GANCheckpoint.read_state(str(tmp_path))["epoch"] == 1
    restored, epoch = callbacks.GANCheckpoint.resume(str(tmp_path))
    assert epoch == 1
    assert int(restored.d_optimizer.iterations) == 4
    assert all(np.isfinite(w).all() for w in restored.get_weights())
    assert np.isfinite(restored.generate(4, seed=0)).all()


def test_stop_on_non_finite_ignores_finite_logs():
    stop = callbacks.StopOnNonFinite()
    stop.set_model(vanilla_gan())
    stop.on_epoch_begin(0)
    stop.on_train_batch_end(0, {"d_loss": 0.5, "g_loss": np.float32(1.0)})
    assert stop.message is None
    assert callbacks.non_finite_logs({"a": 1.0, "b": float("inf")}) == ["b"]


def test_checkpoint_skips_non_finite_logs(images, tmp_path):
    model = vanilla_gan()
    checkpoint = callbacks.GANCheckpoint(str(tmp_path))
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    checkpoint.on_epoch_begin(0)
    checkpoint.on_epoch_end(0, {"d_loss": float("nan"), "g_loss": 0.5})
    assert not os.path.exists(checkpoint.path)
    checkpoint.on_epoch_end(0, {"d_loss": 0.7, "g_loss": 0.5})
    assert saving.load_gan(checkpoint.path).latent_dim == 16
    assert callbacks.GANCheckpoint.read_state(str(tmp_path))["epoch"] == 1
