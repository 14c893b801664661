"""ProGAN: its layers, its growth schedule, growing through every stage inside
one `fit` with one trace per stage, the real images each stage sees, saving
mid-fade, exports of the final and an intermediate resolution, presets and
`keras-gans train progan`."""

import json
import math
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli

import keras_gans
from keras_gans import saving
from keras_gans.callbacks import SampleGrid
from keras_gans.data import make_dataset
from keras_gans.layers import (
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    PixelNormalization,
)
from keras_gans.models.progan import GrowthSchedule, ProGAN, stage_resolutions

# 4x4 -> 8x8 -> 16x16 with 16, 8 and 4 channels; stage 0 for 64 images, then
# each stage fades in over 64 images and trains 64 more.
TINY = dict(image_shape=(16, 16, 1), latent_dim=16, fmap_base=64, fmap_max=16,
            fade_images=64, stable_images=64, batch_sizes={4: 16, 8: 16, 16: 8}, seed=0)


def tiny_progan(**overrides):
    model = ProGAN(**{**TINY, **overrides})
    model.compile()
    return model


def random_images(n, size=16, channels=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), np.uint8)


# ------------------------------------------------------------------- layers
def test_pixel_normalization_gives_each_pixel_unit_mean_square():
    x = np.random.default_rng(0).normal(0, 5, (2, 3, 3, 8)).astype("float32")
    y = PixelNormalization()(x).numpy()
    np.testing.assert_allclose(np.mean(y**2, axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(y / x, np.broadcast_to(y[..., :1] / x[..., :1], x.shape),
                               rtol=1e-5)  # one factor per pixel


def test_equalized_conv_draws_unit_normal_weights_and_scales_them_at_run_time():
    layer = EqualizedConv2D(64, 3)
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 32)).astype("float32")
    y = layer(x).numpy()
    assert layer.scale == pytest.approx(math.sqrt(2.0) / math.sqrt(3 * 3 * 32))
    assert np.std(layer.kernel.numpy()) == pytest.approx(1.0, abs=0.05)
    plain = keras.layers.Conv2D(64, 3, padding="same")
    plain.build(x.shape)
    plain.set_weights([layer.kernel.numpy() * layer.scale, layer.bias.numpy()])
    np.testing.assert_allclose(y, plain(x).numpy(), rtol=1e-4, atol=1e-5)
    rgb = EqualizedConv2D(3, 1, gain=1.0)
    rgb.build((None, 4, 4, 16))
    assert rgb.scale == pytest.approx(1 / 4)


def test_equalized_dense_scales_by_its_fan_in():
    layer = EqualizedDense(8, gain=1.0)
    x = np.ones((2, 25), "float32")
    y = layer(x).numpy()
    np.testing.assert_allclose(y, x @ layer.kernel.numpy() / 5.0, rtol=1e-5, atol=1e-6)


def test_the_layers_round_trip_through_their_configs():
    for layer in (EqualizedConv2D(4, 3, gain=1.5), EqualizedDense(4, gain=0.5),
                  PixelNormalization(epsilon=1e-6), MinibatchStdDev(group_size=2)):
        config = keras.saving.serialize_keras_object(layer)
        clone = keras.saving.deserialize_keras_object(config)
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_minibatch_stddev_gives_each_group_its_own_spread():
    rng = np.random.default_rng(0)
    same = np.repeat(rng.normal(size=(1, 2, 2, 3)), 4, axis=0)  # a collapsed group
    varied = rng.normal(size=(4, 2, 2, 3))
    out = MinibatchStdDev(group_size=4)(np.concatenate([same, varied]).astype("float32"))
    spread = out.numpy()[..., -1]
    assert spread.shape == (8, 2, 2)
    np.testing.assert_allclose(spread[:4], 1e-4, atol=1e-4)
    expected = np.mean(np.sqrt(np.var(varied, axis=0) + 1e-8))
    np.testing.assert_allclose(spread[4:], expected, rtol=1e-4)
    with pytest.raises(ValueError, match="multiple of 4, got a batch of 6"):
        MinibatchStdDev(group_size=4)(np.zeros((6, 2, 2, 3), "float32"))


# ----------------------------------------------------------------- schedule
def test_the_schedule_fades_each_stage_in_then_holds_it():
    schedule = GrowthSchedule((4, 8, 16), fade_images=100, stable_images=200,
                              batch_sizes={16: 10})
    assert [schedule.stage_start(s) for s in range(3)] == [0, 200, 500]
    assert [schedule.stage_at(n) for n in (0, 199, 200, 499, 500, 10**6)] == [0, 0, 1, 1, 2, 2]
    assert [schedule.alpha_at(n) for n in (0, 200, 250, 300, 450, 525)] == [
        1.0, 0.0, 0.5, 1.0, 1.0, 0.25]
    assert schedule.batch_sizes == {4: 32, 8: 32, 16: 10}
    assert schedule.total_images == 800
    # 200 / 32 -> 7 steps (224 images), 276 more at 32 -> 9 (512), 288 at 10 -> 29.
    assert schedule.total_steps == 7 + 9 + 29
    # Stage 0 ends 24 images late (224); after the schedule, 20 images take 2 steps of 10.
    assert [schedule.steps_to(n) for n in (0, 200, 230, 800, 820)] == [0, 7, 8, 45, 47]
    assert [schedule.phase_at(n) for n in (0, 199, 200, 299, 300, 500, 600)] == [
        (0, False), (0, False), (1, True), (1, True), (1, False), (2, True), (2, False)]
    assert stage_resolutions((28, 28, 1)) == (7, 14, 28)
    assert stage_resolutions((64, 64, 3)) == (4, 8, 16, 32, 64)


def test_each_stage_can_have_its_own_lengths():
    schedule = GrowthSchedule((4, 8, 16), fade_images={8: 100, 16: 300},
                              stable_images={4: 50, 8: 200, 16: 1000})
    assert [schedule.stage_start(s) for s in range(3)] == [0, 50, 350]
    assert [schedule.stage_at(n) for n in (49, 50, 349, 350, 10**6)] == [0, 1, 1, 2, 2]
    assert [schedule.alpha_at(n) for n in (0, 50, 100, 150, 350, 500, 650)] == [
        1.0, 0.0, 0.5, 1.0, 0.0, 0.5, 1.0]
    assert schedule.total_images == 1650
    assert schedule.summary().startswith(
        "4x4 -> 16x16: stable (4:50, 8:200, 16:1000), fade (8:100, 16:300) images;")

    # The model's config keeps the per-stage lengths through JSON (string
    # keys), and the step's alpha divides by its own stage's fade-in.
    model = ProGAN(**{**TINY, "fade_images": {8: 32, 16: 96},
                      "stable_images": {4: 16, 8: 64, 16: 64}})
    restored = ProGAN.from_config(json.loads(json.dumps(model.get_config())))
    assert restored.schedule.stable_images == {4: 16, 8: 64, 16: 64}
    assert restored.schedule.fade_lengths == (0, 32, 96)
    restored.images_seen.assign(16 + 32 + 64 + 24)  # a quarter into the 16x16 fade-in
    restored.active_stage = restored.current_stage
    assert restored.active_stage == 2
    assert float(restored.fade_alpha()) == restored.current_alpha == 0.25


@pytest.mark.parametrize("options, message", [
    ({"fade_images": -5}, "fade_images must be a whole number >= 0, got -5."),
    ({"stable_images": 0}, "stable_images must be a whole number >= 1, got 0."),
    ({"fade_images": {4: 8, 8: 8, 16: 8}}, "fade_images must name every resolution but the "
                                           "first (8, 16), got 4, 8, 16."),
    ({"fade_images": {8: 8, "8": 9, 16: 8}}, "fade_images names resolution 8 twice."),
    ({"stable_images": [64, 64, 64]}, "stable_images must be a whole number >= 1, got "
                                      "[64, 64, 64]."),
    ({"stable_images": {4: 8, 8: 8}}, "stable_images must name every resolution (4, 8, 16), "
                                      "got 4, 8."),
    ({"stable_images": {4: 8, 8: 0, 16: 8}}, "stable_images at 8x8 must be a whole number "
                                             ">= 1, got 0."),
    ({"stable_images": {4: 8, 12: 8}}, "stable_images names resolution 12, which is not one "
                                       "of the stages' resolutions 4, 8, 16."),
    ({"batch_sizes": {12: 16}}, "batch_sizes names resolution 12, which is not one of the "
                                "stages' resolutions 4, 8, 16."),
    ({"batch_sizes": {8: 0}}, "The batch size at 8x8 must be a whole number >= 1, got 0."),
    ({"batch_sizes": 6}, "The batch size 6 at 4x4 must split into n_critic=1 critic "
                         "minibatches that are multiples of mbstd_group_size=4"),
    ({"n_critic": 3}, "The batch size 16 at 4x4 must split into n_critic=3"),
    ({"image_shape": (18, 18, 1)}, "Image size 18 is not a base of 3 to 7 doubled "
                                         "at least once"),
    ({"fmap_max": 0}, "fmap_max must be a positive integer, got 0."),
])
def test_a_bad_schedule_is_a_one_line_error(options, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)) as error:
        ProGAN(**{**TINY, **options})
    assert "\n" not in str(error.value)


# ------------------------------------------------------- growing in one fit
@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """A tiny ProGAN fitted once for 16 steps (2 epochs of 8): stage 0 for 4
    steps of 16, stage 1 (8x8) for 8 steps of 16, then stage 2 (16x16) for 4
    steps of 8, ending half-way through its fade-in. Records the train
    step's traces and the state after every batch."""
    model = tiny_progan()
    traces, after_batches = [], []
    train_step = model.train_step

    def counted_train_step(data):
        traces.append(model.active_stage)
        return train_step(data)

    model.train_step = counted_train_step
    z = np.random.default_rng(1).normal(size=(2, 16)).astype("float32")

    def record(batch, logs):
        after_batches.append({
            "images_seen": int(model.images_seen.numpy()), "stage": model.current_stage,
            "alpha": model.current_alpha, "logged_alpha": float(logs["fade_alpha"]),
            "resolution": model.generator(z, stage=model.active_stage).shape[1]})

    samples = tmp_path_factory.mktemp("samples")
    dataset = make_dataset(random_images(64), batch_size=16, repeat=True)
    history = model.fit(dataset, epochs=2, steps_per_epoch=8, verbose=0, callbacks=[
        keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: record(batch, logs)),
        SampleGrid(str(samples), num_images=4, gif=True)])
    model.train_step = train_step
    return {"model": model, "traces": traces, "after_batches": after_batches,
            "history": history, "samples": samples}


def test_one_fit_grows_through_every_stage(grown):
    after = grown["after_batches"]
    assert [b["images_seen"] for b in after] == [
        16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 200, 208, 216, 224]
    assert [b["stage"] for b in after] == [0] * 3 + [1] * 8 + [2] * 5
    assert [b["alpha"] for b in after] == [
        1, 1, 1, 0, .25, .5, .75, 1, 1, 1, 1, 0, .125, .25, .375, .5]
    # The generator's output at the active stage grows with it.
    assert [b["resolution"] for b in after] == [4] * 3 + [8] * 8 + [16] * 5
    losses = grown["history"].history
    assert all(np.isfinite(values).all() for values in losses.values())


def test_the_step_reads_alpha_inside_its_graph(grown):
    """The logged alpha is the running mean of each step's alpha in an epoch;
    unrolled, it rises step by step within a single trace."""
    logged = [b["logged_alpha"] for b in grown["after_batches"]]
    per_step = []
    for epoch in range(2):
        means = logged[8 * epoch:8 * epoch + 8]
        previous = [0.0, *means[:-1]]
        per_step += [(k + 1) * mean - k * before
                     for k, (mean, before) in enumerate(zip(means, previous, strict=True))]
    np.testing.assert_allclose(per_step, [1, 1, 1, 1, 0, .25, .5, .75,
                                          1, 1, 1, 1, 0, .125, .25, .375], atol=1e-5)


def test_the_train_step_is_traced_once_per_stage(grown):
    assert grown["traces"] == [0, 1, 2]


def test_the_step_trains_only_the_active_stage(grown):
    model = grown["model"]  # at 16x16: every block, toRGB at 8x8 (fading out) and 16x16
    trained = {v.path for v in model.trained_variables("generator")}
    untrained = {v.path for v in model.generator.trainable_variables} - trained
    assert untrained == {v.path for v in model.generator.to_rgb[0].trainable_variables}
    at_4x4 = {v.path for v in model.discriminator.variables_at(0)}
    assert all(path.startswith(("from_rgb_4x4/", "block_4x4/")) for path in at_4x4)


def test_the_moving_average_restarts_its_warm_up_with_each_stage():
    """Stage 0 takes 4 steps of 16 images; the 6th step is stage 1's second,
    so its moving average decays by (1 + 2) / (10 + 2), not (1 + 6) / (10 + 6)."""
    model = tiny_progan()
    weights = {}

    def snapshot(when, batch):
        if batch == 5:
            weights[when] = ([w.numpy() for w in model.ema_generator.weights],
                             [w.numpy() for w in model.generator.weights])

    model.fit(make_dataset(random_images(64), batch_size=16, repeat=True), epochs=1,
              steps_per_epoch=6, verbose=0, callbacks=[keras.callbacks.LambdaCallback(
                  on_train_batch_begin=lambda batch, logs: snapshot("before", batch),
                  on_train_batch_end=lambda batch, logs: snapshot("after", batch))])
    assert model.current_stage == 1
    (average_before, _), (average_after, trained) = weights["before"], weights["after"]
    gaps = [(before - weight, after - weight) for before, after, weight
            in zip(average_before, average_after, trained, strict=True)]
    decays = np.concatenate([after[np.abs(before) > 1e-3] / before[np.abs(before) > 1e-3]
                             for before, after in gaps])
    np.testing.assert_allclose(np.median(decays), 3 / 12, rtol=1e-3)


@pytest.mark.parametrize("reset", [True, False])
def test_each_phase_restarts_adam_so_a_new_block_starts_with_small_steps(reset):
    """Stage 0 takes 4 steps; steps 5 and 6 are the 8x8 fade-in's first two.
    At step 5 alpha is 0, so the new block gets no gradient; at step 6 its
    Adam(1e-3, beta_1=0, beta_2=0.99) step is `lr * sqrt(1 - 0.99^t) / sqrt(1 - 0.99)`
    per weight, with t = 2 when each phase restarts the optimizer, else 6."""
    model = tiny_progan(reset_optimizers=reset)
    new_block = model.generator.blocks[1].trainable_variables
    weights = {}

    def snapshot(when, batch):
        if batch == 5:
            weights[when] = [v.numpy() for v in new_block]

    model.fit(make_dataset(random_images(64), batch_size=16, repeat=True), epochs=1,
              steps_per_epoch=6, verbose=0, callbacks=[keras.callbacks.LambdaCallback(
                  on_train_batch_begin=lambda batch, logs: snapshot("before", batch),
                  on_train_batch_end=lambda batch, logs: snapshot("after", batch))])
    steps = np.concatenate([np.abs(after - before).ravel() for before, after in zip(
        weights["before"], weights["after"], strict=True)])
    t = 2 if reset else 6
    np.testing.assert_allclose(np.median(steps[steps > 0]),
                               1e-3 * math.sqrt(1 - 0.99**t) / math.sqrt(1 - 0.99), rtol=1e-3)
    assert model.steps_taken == 6
    assert int(model.g_optimizer.iterations) == t
    assert float(model.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-3)


def test_a_learning_rate_schedule_needs_the_optimizers_kept():
    schedule = keras.optimizers.schedules.PolynomialDecay(1e-3, decay_steps=100)
    with pytest.raises(ValueError, match="learning-rate schedule, which ProGAN"):
        ProGAN(**TINY, reset_optimizers=True).compile(g_optimizer=keras.optimizers.Adam(schedule))
    ProGAN(**TINY).compile(g_optimizer=keras.optimizers.Adam(schedule))


def test_sample_grids_name_the_resolution_and_make_a_gif(grown):
    names = sorted(os.listdir(grown["samples"]))
    assert names == ["epoch_001_8x8.png", "epoch_002_16x16.png", "training.gif"]


def test_generate_upscales_the_current_resolution_to_the_final_size(grown):
    model = grown["model"]
    images = model.generate(3, seed=0)
    assert images.shape == (3, 16, 16, 1)
    assert np.abs(images).max() <= 1.0
    fresh = tiny_progan()
    blocky = fresh.generate(2, seed=0)  # stage 0: 4x4 blown up 4 times
    np.testing.assert_array_equal(blocky, np.repeat(np.repeat(blocky[:, ::4, ::4], 4, 1), 4, 2))
    assert fresh.sampling_tag == "4x4" and model.sampling_tag == "16x16"
    z = np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    np.testing.assert_allclose(model(z).numpy(), model.generate_from(z), atol=1e-6)


# ------------------------------------------------------------- real images
def test_reals_are_cut_to_the_stage_batch_pooled_and_faded():
    model = tiny_progan()
    model.images_seen.assign(64 + 32)  # half-way through stage 1's fade-in
    assert model.sync_stage() and model.active_stage == 1
    x = np.random.default_rng(0).uniform(-1, 1, (20, 16, 16, 1)).astype("float32")
    reals = model.stage_real_images(tf.constant(x)).numpy()

    def pool(images, k):
        n, h, w, c = images.shape
        return images.reshape(n, h // k, k, w // k, k, c).mean(axis=(2, 4))

    at_8 = pool(x[:16], 2)  # the stage's 16 images, at 8x8
    coarse = np.repeat(np.repeat(pool(at_8, 2), 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(reals, 0.5 * coarse + 0.5 * at_8, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="up to 16 images, but the dataset yields batches "
                                         "of 8: batch it by model.max_batch_size"):
        model.stage_real_images(tf.constant(x[:8]))


# ------------------------------------------------------------------- export
def test_export_serves_the_generator_as_it_stands_and_one_stage(grown, tmp_path):
    model = grown["model"]
    z = np.random.default_rng(2).normal(size=(3, 16)).astype("float32")
    model.export(str(tmp_path / "final"))
    serve = tf.saved_model.load(str(tmp_path / "final")).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["z"]
    np.testing.assert_allclose(serve(z=tf.constant(z))["images"].numpy(),
                               model.generate_from(z), atol=1e-5)

    info = model.export(str(tmp_path / "r8"), resolution=8)
    exported = saving.load_generator(str(tmp_path / "r8"))
    assert exported.image_shape == (8, 8, 1) and info["resolution"] == 8
    expected = model.render(model.sampling_generator, z, stage=1, alpha=1.0, size=8)
    np.testing.assert_allclose(exported(z), expected, atol=1e-5)
    with pytest.raises(ValueError, match="exports the resolutions it has trained, 4; got 16"):
        tiny_progan().export(str(tmp_path / "untrained"), resolution=16)


# ------------------------------------------------------------------- saving
def test_preset_round_trip(grown, tmp_path):
    model = grown["model"]
    model.save_to_preset(str(tmp_path / "preset"))
    preset = ProGAN.from_preset(str(tmp_path / "preset"))
    assert preset.get_config() == model.get_config()
    assert preset.active_stage == 2 and preset.current_alpha == 0.5
    np.testing.assert_array_equal(preset.generate(3, seed=0), model.generate(3, seed=0))


def test_a_checkpoint_taken_mid_fade_resumes_mid_fade(grown, tmp_path):
    model = grown["model"]  # half-way through the 16x16 fade-in
    model.save(str(tmp_path / "mid_fade.keras"))
    loaded = keras_gans.load_gan(str(tmp_path / "mid_fade.keras"))
    assert loaded.get_config() == model.get_config()
    assert (loaded.current_stage, loaded.active_stage, loaded.current_alpha) == (2, 2, 0.5)
    assert (loaded.steps_taken, int(loaded.g_optimizer.iterations)) == (16, 16)

    batch = make_dataset(random_images(8, seed=3), batch_size=8, shuffle=False)
    batch = batch.map(lambda x: tf.concat([x, x], axis=0))  # 16 images; stage 2 takes 8
    for gan in (model, loaded):
        gan.fit(batch, epochs=1, verbose=0)
    assert int(loaded.images_seen.numpy()) == 232 and loaded.current_alpha == 0.625
    for before, after in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the CLI
@pytest.mark.slow
def test_cli_trains_progan_through_its_schedule(tmp_path, fashion_idx_dir, capsys):
    out = tmp_path / "run"
    status = run_cli(["train", "progan", "--limit", "64", "--image-size", "8",
                      "--fade-images", "8:16", "--stable-images", "4:32,8:48",
                      "--batch-sizes", "4:16,8:8", "--reset-optimizers",
                      "--latent-dim", "8", "--out", str(out), "--quiet",
                      "--dataset", "fashion_mnist", "--data-dir", str(fashion_idx_dir)])
    assert status == 0
    printed = capsys.readouterr().out
    assert ("progan grows 4x4 -> 8x8: stable (4:32, 8:48), fade (8:16) images; batches "
            "4:16, 8:8; 96 images in 10 steps") in printed
    assert "The schedule's 10 steps: 3 epochs of 4 steps." in printed
    model = saving.load_gan(str(out / "checkpoint" / "checkpoint.keras"))
    # The schedule's 10 steps (2 of 16 at 4x4, 8 of 8 at 8x8), rounded up to
    # whole epochs of 64 / 16 = 4 batches: 12 steps, 2 more at 8x8.
    # Adam restarted when the 8x8 stable phase began, 8 steps before the end.
    assert model.reset_optimizers
    assert (model.steps_taken, int(model.g_optimizer.iterations)) == (12, 8)
    assert int(model.images_seen.numpy()) == 2 * 16 + 10 * 8
    assert model.schedule.stable_images == {4: 32, 8: 48}
    assert model.schedule.fade_images == {8: 16}
    assert model.current_resolution == 8 and model.current_alpha == 1.0
    assert sorted(os.listdir(out / "samples")) == [
        "epoch_001_8x8.png", "epoch_002_8x8.png", "epoch_003_8x8.png"]
    metadata = saving.read_metadata(str(out / "generator"))
    assert metadata["variant"] == "ProGAN" and metadata["resolution"] == 8

    assert run_cli(["sample", str(out / "generator"), "--n", "4",
                    "--out", str(tmp_path / "export.png")]) == 0
    assert run_cli(["sample", str(out / "preset"), "--n", "4",
                    "--out", str(tmp_path / "preset.png")]) == 0
    extractor = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(4, name="features")])
    extractor.save(str(tmp_path / "features.keras"))
    capsys.readouterr()
    assert run_cli(["evaluate", str(out / "generator"), "--n", "64",
                    "--features", str(tmp_path / "features.keras")]) == 0
    assert '"fid"' in capsys.readouterr().out

    # A resumed run takes its schedule however it is written, and no other.
    resume = ["train", "progan", "--limit", "64", "--image-size", "8", "--batch-sizes",
              "4:16,8:8", "--latent-dim", "8", "--out", str(out), "--quiet", "--resume",
              "--dataset", "fashion_mnist", "--data-dir", str(fashion_idx_dir)]
    assert run_cli([*resume, "--fade-images", "16", "--stable-images", "4:32,8:48",
                    "--epochs", "4"]) == 0
    model = saving.load_gan(str(out / "checkpoint" / "checkpoint.keras"))
    assert (model.steps_taken, int(model.g_optimizer.iterations)) == (16, 12)
    capsys.readouterr()
    assert run_cli([*resume, "--stable-images", "32", "--epochs", "5"]) == 2
    assert "--stable-images: 32 differs from the checkpoint's 4:32,8:48" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (["--fade-images", "-5"], "fade_images must be a whole number >= 0, got -5."),
    (["--stable-images", "4:16"], "stable_images must name every resolution (4, 8), got 4."),
    (["--fade-images", "8:many"], "'8:many' is not a comma-separated list of "
                                  "RESOLUTION:COUNT, e.g. 8:5000,16:20000"),
    (["--stable-images", "lots"], "'lots' is neither a number of images nor a list of "
                                  "RESOLUTION:COUNT, e.g. 4:5000,8:5000,16:40000"),
    (["--stable-images", "4:16,8:16,4:32"], "4:16,8:16,4:32: a resolution is named twice"),
    (["--batch-sizes", "4:16,12:8"], "batch_sizes names resolution 12"),
    (["--batch-size", "16", "--batch-sizes", "4:16"], "give one of them"),
])
def test_cli_refuses_a_bad_schedule_in_one_line(options, message, tmp_path, fashion_idx_dir,
                                                capsys):
    status = run_cli(["train", "progan", "--image-size", "8", *options, "--out", str(tmp_path),
                      "--data-dir", str(fashion_idx_dir)])
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_cli_refuses_schedule_options_for_other_variants(tmp_path, capsys):
    status = run_cli(["train", "dcgan", "--fade-images", "100", "--out", str(tmp_path)])
    assert status == 2
    assert "--fade-images applies to progan, not to dcgan" in capsys.readouterr().err
    assert run_cli(["train", "wgan-gp", "--reset-optimizers", "--out", str(tmp_path)]) == 2
    assert "--reset-optimizers applies to progan, not to wgan-gp" in capsys.readouterr().err
