"""The `keras-gans` command: train, resume, sample, list, help and user errors."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from keras_gans import callbacks, hardware, run, saving
from keras_gans.callbacks import GANCheckpoint
from keras_gans.layers import MinibatchStdDev


def assert_one_line_error(capsys, status, *fragments):
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("keras-gans")
    assert "error:" in lines[0]
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, data_args):
    out = tmp_path_factory.mktemp("cli") / "dcgan"
    status = run_cli(["train", "dcgan", "--limit", "256", "--epochs", "2", "--batch-size", "64",
                  "--out", str(out), "--quiet", *data_args])
    assert status == 0
    return out


# ------------------------------------------------------------------ train
def test_train_writes_samples_checkpoint_history_and_export(dcgan_run):
    out = dcgan_run
    assert sorted(os.listdir(out / "samples")) == ["epoch_001.png", "epoch_002.png"]
    with Image.open(out / "samples" / "epoch_002.png") as picture:
        assert np.asarray(picture.convert("L")).std() > 10.0

    assert os.path.exists(out / "checkpoint" / "checkpoint.keras")
    assert GANCheckpoint.read_state(str(out / "checkpoint"))["epoch"] == 2
    model = saving.load_gan(str(out / "checkpoint" / "checkpoint.keras"))
    assert int(model.g_optimizer.iterations) == 2 * 4

    with open(out / "history.json") as f:
        history = json.load(f)
    assert set(history) == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
    assert all(len(values) == 2 and np.all(np.isfinite(values)) for values in history.values())

    metadata = saving.read_metadata(str(out / "generator"))
    assert metadata["variant"] == "DCGAN"
    assert metadata["image_shape"] == [28, 28, 1] and metadata["latent_dim"] == 100
    assert metadata["epochs"] == 2 and metadata["batch_size"] == 64
    assert metadata["dataset"] == "fashion_mnist"
    assert metadata["command"].startswith("keras-gans ")
    assert metadata["cpu"] == hardware.describe() and metadata["jit_compile"] is False
    assert os.path.exists(out / "generator" / "saved_model.pb")
    generator = saving.load_generator(str(out / "generator"))
    assert generator.generate(2, seed=0).shape == (2, 28, 28, 1)

    # The preset holds both trained players, compiled as the run was.
    preset = saving.load_preset(str(out / "preset"))
    for player in ("generator", "discriminator"):
        for saved, trained in zip(getattr(preset, player).get_weights(),
                                  getattr(model, player).get_weights(), strict=True):
            np.testing.assert_array_equal(saved, trained)
    assert preset.get_compile_config() == model.get_compile_config()
    preset_metadata = saving.read_metadata(str(out / "preset"))
    assert preset_metadata["epochs"] == 2
    # It says where each part came from, as the zoo's presets do.
    assert preset_metadata["generator"] == "trained: the run's generator"
    assert preset_metadata["discriminator"] == "trained: the run's discriminator"


def test_train_resume_continues_to_the_next_epoch(dcgan_run, tmp_path, data_args, capsys):
    out = tmp_path / "dcgan"
    shutil.copytree(dcgan_run, out)
    status = run_cli(["train", "dcgan", "--limit", "256", "--epochs", "3", "--batch-size", "64",
                  "--out", str(out), "--resume", "--quiet", *data_args])
    assert status == 0
    assert "at epoch 3" in capsys.readouterr().out
    assert GANCheckpoint.read_state(str(out / "checkpoint"))["epoch"] == 3
    assert "epoch_003.png" in os.listdir(out / "samples")
    model = saving.load_gan(str(out / "checkpoint" / "checkpoint.keras"))
    assert int(model.g_optimizer.iterations) == 3 * 4
    with open(dcgan_run / "history.json") as f:
        before = json.load(f)["d_loss"]
    with open(out / "history.json") as f:
        after = json.load(f)["d_loss"]
    assert len(after) == 3 and after[:2] == before
    assert saving.read_metadata(str(out / "generator"))["epochs"] == 3


def test_resumed_run_takes_this_commands_steps_per_execution(dcgan_run, tmp_path, data_args,
                                                             monkeypatch):
    seen = []
    monkeypatch.setattr(callbacks.StopOnNonFinite, "on_train_begin",
                        lambda callback, logs=None: seen.append(
                            callback.model.steps_per_execution))
    out = tmp_path / "dcgan"
    shutil.copytree(dcgan_run, out)
    status = run_cli(["train", "dcgan", "--limit", "256", "--epochs", "3", "--batch-size", "64",
                  "--out", str(out), "--resume", "--quiet", "--steps-per-execution", "2",
                  *data_args])
    assert status == 0
    assert seen == [2]
    model = saving.load_gan(str(out / "checkpoint" / "checkpoint.keras"))
    assert int(model.g_optimizer.iterations) == 3 * 4


def test_train_resume_without_checkpoint_is_an_error(tmp_path, data_args, capsys):
    status = run_cli(["train", "vanilla", "--limit", "64", "--epochs", "1", "--batch-size", "64",
                  "--out", str(tmp_path), "--resume", "--quiet", "--latent-dim", "8",
                  *data_args])
    assert_one_line_error(capsys, status, "no checkpoint", "without --resume")
    assert not (tmp_path / "checkpoint").exists()


TRAIN_EVERY_VARIANT = {
    "vanilla": ["--batch-size", "64"],
    "dcgan": ["--batch-size", "64"],
    "cgan": ["--batch-size", "64"],
    "wgan": ["--batch-size", "32"],
    "wgan-gp": ["--batch-size", "32"],
}
VARIANT_CLASSES = {"vanilla": "VanillaGAN", "dcgan": "DCGAN", "cgan": "ConditionalGAN",
                   "wgan": "WGAN", "wgan-gp": "WGANGP"}


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["cgan", "wgan"])  # labels; critic minibatches
def test_train_a_variant_for_one_epoch(variant, tmp_path, data_args):
    """Every variant trains through `keras_gans.train` in test_contract.py and
    test_run.py; here, the command line's batch and label handling."""
    status = run_cli(["train", variant, "--limit", "320", "--epochs", "1", "--out", str(tmp_path),
                  "--quiet", *TRAIN_EVERY_VARIANT[variant], *data_args])
    assert status == 0
    metadata = saving.read_metadata(str(tmp_path / "generator"))
    assert metadata["variant"] == VARIANT_CLASSES[variant]
    model = saving.load_gan(str(tmp_path / "checkpoint" / "checkpoint.keras"))
    if variant in ("wgan", "wgan-gp"):
        # 320 images in steps of 5 critic minibatches of 32: 2 steps.
        assert int(model.g_optimizer.iterations) == 2
        assert int(model.d_optimizer.iterations) == 10
    else:
        assert int(model.g_optimizer.iterations) == 5
    if variant == "cgan":
        assert metadata["conditional"] and metadata["num_classes"] == 10
        assert len(metadata["class_names"]) == 10
    assert os.path.exists(tmp_path / "samples" / "epoch_001.png")


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["dcgan", "wgan-gp"])
def test_train_with_xla_and_several_steps_per_execution(variant, tmp_path, data_args,
                                                         monkeypatch):
    seen = {}

    def record(callback, logs=None):
        seen.update(jit=callback.model.jit_compile, steps=callback.model.steps_per_execution)

    monkeypatch.setattr(callbacks.StopOnNonFinite, "on_train_begin", record)
    status = run_cli(["train", variant, "--limit", "320", "--epochs", "1", "--out", str(tmp_path),
                  "--quiet", "--jit-compile", "--steps-per-execution", "2",
                  *TRAIN_EVERY_VARIANT[variant], *data_args])
    assert status == 0
    assert seen == {"jit": True, "steps": 2}
    model = saving.load_gan(str(tmp_path / "checkpoint" / "checkpoint.keras"))
    assert int(model.g_optimizer.iterations) == (2 if variant == "wgan-gp" else 5)


def test_train_passes_options_to_the_model(tmp_path, data_args):
    status = run_cli(["train", "vanilla", "--limit", "64", "--epochs", "1", "--batch-size", "32",
                  "--out", str(tmp_path), "--quiet", "--latent-dim", "12", "--loss", "hinge",
                  "--d-lr", "0.001", "--g-lr", "0.0005", "--label-smoothing", "0.2",
                  "--ema-decay", "0.9", "--seed", "5", "--minibatch-stddev", *data_args])
    assert status == 0
    model = saving.load_gan(str(tmp_path / "checkpoint" / "checkpoint.keras"))
    assert model.latent_dim == 12 and model.seed == 5 and model.ema_decay == 0.9
    assert any(isinstance(layer, MinibatchStdDev) for layer in model.discriminator.layers)
    assert model.adversarial_loss.name == "hinge" and model.label_smoothing == 0.2
    assert float(model.d_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(model.g_optimizer.learning_rate) == pytest.approx(5e-4)
    assert saving.read_metadata(str(tmp_path / "generator"))["ema"] is True


def test_resumed_wgan_keeps_the_checkpoints_critic_settings(tmp_path, data_args, capsys):
    common = ["train", "wgan", "--limit", "128", "--batch-size", "32", "--out", str(tmp_path),
              "--quiet", *data_args]
    assert run_cli([*common, "--epochs", "1", "--n-critic", "2", "--clip-value", "0.05"]) == 0
    assert run_cli([*common, "--epochs", "2", "--resume"]) == 0
    model = saving.load_gan(str(tmp_path / "checkpoint" / "checkpoint.keras"))
    assert model.n_critic == 2 and model.clip_value == 0.05
    # 128 images in steps of 2 critic minibatches of 32: 2 steps an epoch.
    assert int(model.g_optimizer.iterations) == 4
    assert int(model.d_optimizer.iterations) == 8
    capsys.readouterr()

    status = run_cli([*common, "--epochs", "3", "--resume", "--n-critic", "5"])
    assert_one_line_error(capsys, status, "--n-critic: 5 differs from the checkpoint's 2")
    common[1] = "wgan-gp"
    status = run_cli([*common, "--epochs", "3", "--resume"])
    assert_one_line_error(capsys, status, "holds a WGAN, not a wgan-gp")
    assert GANCheckpoint.read_state(str(tmp_path / "checkpoint"))["epoch"] == 2


def test_vanilla_discriminator_units_shape_d_and_bind_a_resumed_run(tmp_path, data_args,
                                                                    capsys):
    common = ["train", "vanilla", "--limit", "64", "--batch-size", "32", "--out",
              str(tmp_path), "--quiet", "--latent-dim", "8", *data_args]
    assert run_cli([*common, "--epochs", "1", "--discriminator-units", "48,24,12",
                "--spectral-norm", "--minibatch-stddev"]) == 0
    model = saving.load_gan(str(tmp_path / "checkpoint" / "checkpoint.keras"))
    dense_layers = [getattr(layer, "layer", layer) for layer in model.discriminator.layers]
    widths = [layer.units for layer in dense_layers if isinstance(layer, keras.layers.Dense)]
    assert widths == [48, 24, 12, 1]
    assert run_cli([*common, "--epochs", "2", "--resume", "--discriminator-units",
                "48,24,12"]) == 0
    capsys.readouterr()

    status = run_cli([*common, "--epochs", "3", "--resume", "--discriminator-units", "512,256"])
    assert_one_line_error(capsys, status, "--discriminator-units: 512,256 differs from "
                          "the checkpoint's 48,24,12")
    assert GANCheckpoint.read_state(str(tmp_path / "checkpoint"))["epoch"] == 2


def test_linear_lr_schedule_falls_to_zero_at_the_last_epoch_and_binds_resume(
        tmp_path, data_args, capsys):
    common = ["train", "wgan-gp", "--limit", "128", "--batch-size", "32", "--n-critic",
              "1", "--out", str(tmp_path), "--quiet", *data_args]
    assert run_cli([*common, "--epochs", "2", "--d-lr", "4e-4", "--lr-schedule", "linear",
                "--beta-1", "0"]) == 0
    model = saving.load_gan(str(tmp_path / "checkpoint" / "checkpoint.keras"))
    assert model.d_optimizer.beta_1 == 0.0 and model.g_optimizer.beta_1 == 0.0
    # 128 images in critic minibatches of 32: 4 steps an epoch, 8 in all.
    assert int(model.d_optimizer.iterations) == 8
    assert run.learning_rate_of(model.d_optimizer) == (pytest.approx(4e-4), "linear", 8)
    assert run.learning_rate_of(model.g_optimizer) == (pytest.approx(1e-4), "linear", 8)
    assert float(model.d_optimizer.learning_rate) == 0.0
    assert float(model.g_optimizer.learning_rate) == 0.0
    capsys.readouterr()

    status = run_cli([*common, "--epochs", "3", "--resume"])
    assert_one_line_error(capsys, status, "--epochs 3: the checkpoint's learning rates "
                          "fall to zero at epoch 2 (--lr-schedule linear); resume with "
                          "--epochs 2")
    assert GANCheckpoint.read_state(str(tmp_path / "checkpoint"))["epoch"] == 2


def test_beta_1_is_refused_for_an_optimizer_without_it(tmp_path, data_args, capsys):
    status = run_cli(["train", "wgan", "--limit", "64", "--epochs", "1", "--n-critic", "1",
                  "--beta-1", "0", "--out", str(tmp_path), "--quiet", *data_args])
    assert_one_line_error(capsys, status,
                          "--beta-1 sets Adam's beta_1, but wgan trains with RMSprop")
    assert not (tmp_path / "checkpoint").exists()


@pytest.mark.parametrize("text, message", [
    ("512,wide", "'512,wide' is not a comma-separated list of layer widths"),
    ("512,0", "512,0: every width must be at least 1"),
])
def test_bad_discriminator_units(text, message, capsys):
    status = run_cli(["train", "vanilla", "--discriminator-units", text])
    assert_one_line_error(capsys, status, message)


@pytest.mark.parametrize("option, message", [
    (["--spectral-norm"], "--spectral-norm: the checkpoint's model was trained without it"),
    (["--ema-decay", "0.99"], "--ema-decay: the checkpoint's model was trained without it"),
    (["--d-lr", "0.001"], "--d-lr: 0.001 differs from the checkpoint's 0.0002"),
    (["--loss", "hinge"], "--loss: hinge differs from the checkpoint's non_saturating"),
    (["--lr-schedule", "linear"],
     "--lr-schedule: linear differs from the checkpoint's constant"),
    (["--beta-1", "0"], "--beta-1: 0 differs from the checkpoint's 0.5"),
])
def test_resume_refuses_an_option_the_checkpoint_was_not_trained_with(
        dcgan_run, tmp_path, data_args, capsys, option, message):
    out = tmp_path / "dcgan"
    shutil.copytree(dcgan_run, out)
    status = run_cli(["train", "dcgan", "--epochs", "3", "--out", str(out), "--resume",
                  *option, "--quiet", *data_args])
    assert_one_line_error(capsys, status, message)
    assert GANCheckpoint.read_state(str(out / "checkpoint"))["epoch"] == 2


def test_resume_accepts_the_options_the_checkpoint_was_trained_with(dcgan_run, tmp_path,
                                                                     data_args):
    out = tmp_path / "dcgan"
    shutil.copytree(dcgan_run, out)
    status = run_cli(["train", "dcgan", "--limit", "256", "--epochs", "3", "--out", str(out),
                  "--resume", "--d-lr", "2e-4", "--loss", "non_saturating", "--latent-dim",
                  "100", "--quiet", *data_args])
    assert status == 0
    assert GANCheckpoint.read_state(str(out / "checkpoint"))["epoch"] == 3


# ----------------------------------------------------------------- sample
def test_sample_renders_a_grid_from_an_export(dcgan_run, tmp_path, capsys):
    out = tmp_path / "grids" / "grid.png"
    status = run_cli(["sample", str(dcgan_run / "generator"), "--n", "16", "--out", str(out)])
    assert status == 0
    assert "Wrote 16 samples" in capsys.readouterr().out
    with Image.open(out) as picture:
        assert picture.format == "PNG"
        assert np.asarray(picture.convert("L")).std() > 10.0


def test_sample_from_a_keras_file(dcgan_run, tmp_path):
    out = tmp_path / "grid.png"
    status = run_cli(["sample", str(dcgan_run / "checkpoint" / "checkpoint.keras"), "--n", "4",
                  "--out", str(out)])
    assert status == 0 and out.exists()


def test_sample_is_repeatable_by_seed(dcgan_run, tmp_path):
    paths = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("1", "1", "2"), strict=True):
        assert run_cli(["sample", str(dcgan_run / "generator"), "--n", "4", "--seed", seed,
                    "--out", str(path)]) == 0
    pixels = [np.asarray(Image.open(path)) for path in paths]
    np.testing.assert_array_equal(pixels[0], pixels[1])
    assert not np.array_equal(pixels[0], pixels[2])


# ------------------------------------------------------------------- list
def test_list_shows_models_found_in_keras_gans_models(dcgan_run, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_GANS_MODELS", str(dcgan_run))
    assert run_cli(["list"]) == 0
    output = capsys.readouterr().out
    assert "generator" in output and "DCGAN" in output
    assert str(dcgan_run / "generator") in output


def test_list_with_no_models(tmp_path, monkeypatch, capsys):
    import keras_gans.pretrained

    monkeypatch.setattr(keras_gans.pretrained, "PRESETS_DIR", str(tmp_path))
    monkeypatch.delenv("KERAS_GANS_MODELS", raising=False)
    assert run_cli(["list"]) == 0
    assert "No pretrained models found" in capsys.readouterr().out


# ------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["evaluate"], ["list"]])
def test_help_of_every_command_exits_zero(command, capsys):
    assert run_cli([*command, "--help"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("usage: keras-gans")
    if command == ["train"]:
        for option in ("--epochs", "--batch-size", "--resume", "--limit", "--data-dir"):
            assert option in output


# ------------------------------------------------------------- user errors
def test_unknown_variant(capsys):
    status = run_cli(["train", "stylegan"])
    assert_one_line_error(capsys, status, "invalid choice: 'stylegan'")


def test_unknown_dataset_with_no_source(tmp_path, capsys):
    status = run_cli(["train", "dcgan", "--dataset", "no_such_dataset", "--out", str(tmp_path)])
    line = assert_one_line_error(capsys, status, "'no_such_dataset'", "Tried:")
    assert "data_dir" in line


@pytest.mark.parametrize("variant, option, applies_to", [
    ("dcgan", ["--clip-value", "0.05"], "wgan"),
    ("vanilla", ["--n-critic", "1"], "wgan, wgan-gp, sngan, progan"),
    ("wgan", ["--spectral-norm"], "vanilla, dcgan, cgan"),
    ("wgan", ["--gp-weight", "5"], "wgan-gp, progan"),
    ("dcgan", ["--discriminator-units", "1024,512"], "vanilla"),
])
def test_an_option_of_other_variants_is_refused(variant, option, applies_to, tmp_path, capsys):
    status = run_cli(["train", variant, *option, "--out", str(tmp_path)])
    assert_one_line_error(capsys, status, f"{option[0]} applies to {applies_to}, "
                          f"not to {variant}")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--limit"])
def test_non_positive_numbers(option, capsys):
    status = run_cli(["train", "dcgan", option, "-3"])
    assert_one_line_error(capsys, status, option, "must be at least 1")


def test_non_integer_epochs(capsys):
    status = run_cli(["train", "dcgan", "--epochs", "two"])
    assert_one_line_error(capsys, status, "'two' is not an integer")


def test_missing_command(capsys):
    assert_one_line_error(capsys, run_cli([]), "required")


def test_sample_of_a_missing_path(tmp_path, capsys):
    status = run_cli(["sample", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.png")])
    assert_one_line_error(capsys, status, "nowhere does not exist")
    assert not (tmp_path / "g.png").exists()


def test_sample_of_a_missing_keras_file(tmp_path, capsys):
    status = run_cli(["sample", str(tmp_path / "model.keras")])
    assert_one_line_error(capsys, status, "model.keras does not exist")


def test_sample_labels_on_an_unconditional_model(dcgan_run, tmp_path, capsys):
    status = run_cli(["sample", str(dcgan_run / "generator"), "--n", "2", "--labels", "1,2",
                  "--out", str(tmp_path / "g.png")])
    assert_one_line_error(capsys, status, "unconditional", "--labels")


@pytest.mark.parametrize("labels, fragment", [("1,x", "unconditional: it takes no --labels"),
                                              ("1,2,3", "3 labels for --n 2")])
def test_sample_bad_labels(dcgan_run, tmp_path, capsys, labels, fragment):
    status = run_cli(["sample", str(dcgan_run / "generator"), "--n", "2", "--labels", labels,
                  "--out", str(tmp_path / "g.png")])
    assert_one_line_error(capsys, status, fragment)


def test_out_that_is_a_file(tmp_path, capsys, data_args):
    out = tmp_path / "file"
    out.write_text("")
    status = run_cli(["train", "dcgan", "--out", str(out), *data_args])
    assert_one_line_error(capsys, status, "is not a directory")


# -------------------------------------------------------- console script
@pytest.mark.slow
@pytest.mark.subprocess
def test_console_script_trains_and_samples(tmp_path, data_args):
    script = shutil.which("keras-gans") or os.path.join(os.path.dirname(sys.executable),
                                                        "keras-gans")
    if not os.path.exists(script):
        pytest.skip("the keras-gans console script is not installed")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "run"
    result = subprocess.run(
        [script, "train", "vanilla", "--limit", "128", "--epochs", "1", "--batch-size", "64",
         "--latent-dim", "16", "--out", str(out), "--quiet", *data_args],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "Generator:" in result.stdout
    metadata = saving.read_metadata(str(out / "generator"))
    assert metadata["variant"] == "VanillaGAN"
    assert metadata["command"].startswith("keras-gans train vanilla --limit 128")
    assert (out / "samples" / "epoch_001.png").exists()

    bad = subprocess.run([script, "train", "stylegan"], capture_output=True, text=True,
                         env=env, timeout=600)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    errors = [line for line in bad.stderr.splitlines() if line.startswith("keras-gans")]
    assert len(errors) == 1 and "invalid choice" in errors[0]
