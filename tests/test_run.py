"""The training run as a Python API (`keras_gans.run`): the same run as the
command line, resume, the user's callbacks and images, the configuration's
checks and its command line."""

import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import run_cli

import keras_gans
from keras_gans import callbacks, cli, data, run

TINY = ["--limit", "64", "--batch-size", "32", "--latent-dim", "8", "--seed", "3"]


def tiny_config(out, data_args, **options):
    data_dir = dict(zip(data_args[::2], data_args[1::2], strict=True)).get("--data-dir")
    return run.RunConfig("dcgan", data_dir=data_dir, limit=64, batch_size=32, latent_dim=8,
                         seed=3, epochs=1, out=str(out), quiet=True, **options)


def files_under(directory):
    return sorted(os.path.relpath(os.path.join(root, name), directory)
                  for root, _, names in os.walk(directory) for name in names)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def preset_weights(out):
    model = keras_gans.AdversarialModel.from_preset(str(out / "preset"))
    return [np.asarray(v) for v in model.weights]


def test_the_command_line_and_python_make_the_same_run(tmp_path, data_args):
    by_command, by_python = tmp_path / "command", tmp_path / "python"
    assert run_cli(["train", "dcgan", *TINY, "--epochs", "1", "--out", str(by_command),
                    "--quiet", *data_args]) == 0
    result = keras_gans.train(tiny_config(by_python, data_args))

    assert result.out == str(by_python) and result.stopped_by is None
    assert files_under(by_command) == files_under(by_python)
    metadata = [read_json(out / "preset" / "metadata.json") for out in (by_command, by_python)]
    for entry in metadata:
        entry.pop("wall_time_seconds"), entry.pop("created")
        entry["command"] = entry["command"].replace(str(by_command), "OUT").replace(
            str(by_python), "OUT")
    assert metadata[0] == metadata[1]
    for a, b in zip(preset_weights(by_command), preset_weights(by_python), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_resume_continues_with_the_options_of_run_json_and_the_users_callbacks(
        tmp_path, data_args):
    out = tmp_path / "run"
    keras_gans.train(tiny_config(out, data_args))
    epochs_seen = []
    log = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch))
    result = keras_gans.resume(str(out), epochs=2, callbacks=[log])

    assert epochs_seen == [1]
    assert result.metadata["epochs"] == 2
    assert read_json(out / "run.json")["resume"] is True
    assert len(read_json(out / "history.json")["d_loss"]) == 2
    assert result.model.g_optimizer.iterations.numpy() == 2 * 2


def test_a_run_killed_and_resumed_ends_where_an_uninterrupted_one_does(tmp_path, data_args):
    config = dataclasses.replace(tiny_config(tmp_path / "straight", data_args), limit=256,
                                 epochs=3)
    straight = keras_gans.train(config)
    out = tmp_path / "killed"
    command = [*shlex.split(config.command())[1:], "--precision", "float32", "--jit-compile",
               "off"]
    command[command.index("--out") + 1] = str(out)
    training = subprocess.Popen([sys.executable, "-m", "keras_gans.cli", *command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while training.poll() is None and not (out / "checkpoint" / "checkpoint.keras").exists():
        time.sleep(0.1)
    training.send_signal(signal.SIGKILL)
    training.wait()
    assert training.returncode == -signal.SIGKILL, "the run ended before it was killed"

    resumed = keras_gans.resume(str(out), precision="float32", jit_compile="off")
    assert resumed.metadata["epochs"] == 3
    for player in ("generator", "discriminator"):
        for a, b in zip(getattr(straight.model, player).weights,
                        getattr(resumed.model, player).weights, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_image_batches_resume_their_shuffling_at_the_initial_epoch(fashion_arrays):
    images = fashion_arrays[0][:40]
    fresh = data.make_dataset(images, batch_size=8, seed=5, use_tf_data=False)
    epochs = []
    for _ in range(3):
        epochs.append(np.concatenate([fresh[index] for index in range(fresh.num_batches)]))
        fresh.on_epoch_end()
    resumed = data.make_dataset(images, batch_size=8, seed=5, initial_epoch=2,
                                use_tf_data=False)
    np.testing.assert_array_equal(
        np.concatenate([resumed[index] for index in range(resumed.num_batches)]), epochs[2])
    assert not np.array_equal(epochs[1], epochs[2])


def test_train_takes_the_users_images(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (64, 16, 16, 1), dtype=np.uint8)
    result = keras_gans.train("dcgan", images=images, epochs=1, batch_size=32, latent_dim=8,
                              out=str(tmp_path / "mine"), quiet=True)
    assert result.model.generate(2).shape == (2, 16, 16, 1)
    assert result.metadata["source"] == "images given"


@pytest.mark.parametrize("config", [
    run.RunConfig("wgan-gp", epochs=2, n_critic=1, d_lr=4e-4, lr_schedule="linear",
                  jit_compile="on", diff_augment="translation,color"),
    run.RunConfig("vanilla", discriminator_units=(64, 32), minibatch_stddev=True,
                  ema_decay=0.999, out="runs/a b"),
    run.RunConfig("progan", fade_images={8: 500, 16: 1000}, stable_images=200,
                  batch_sizes={4: 16, 8: 8}, precision="float32"),
    run.RunConfig("sngan", conditional=True, steps=10, dataset="emoji", style="twitter",
                  image_size=32),
])
def test_a_configs_command_line_parses_back_to_it(config):
    arguments = shlex.split(config.command())
    assert arguments[:3] == ["keras-gans", "train", config.variant]
    assert cli.train_config(cli.build_parser().parse_args(arguments[1:])) == config


def test_run_json_round_trips(tmp_path):
    config = run.RunConfig("progan", fade_images={8: 500}, discriminator_units=None,
                           batch_size=16)
    assert run.RunConfig.from_json(json.loads(json.dumps(config.to_json()))) == config


@pytest.mark.parametrize("call, message", [
    (lambda: run.RunConfig("dcgan", epochs=0), "epochs=0 must be an integer of at least 1"),
    (lambda: run.RunConfig("dcgan", epochs=2, steps=10), "--epochs and --steps exclude"),
    (lambda: run.RunConfig("dcgan", precision="fp8"), "precision='fp8' is not one of"),
    (lambda: keras_gans.train("dcgan", epoch=3), "unexpected keyword argument 'epoch'"),
    (lambda: keras_gans.train("stylegan"), "Unknown variant 'stylegan'"),
    (lambda: keras_gans.train("dcgan", clip_value=0.1), "--clip-value applies to wgan"),
    (lambda: keras_gans.train("dcgan", conditional=True), "--conditional applies to"),
])
def test_bad_configurations_are_one_line_errors(call, message):
    with pytest.raises(ValueError, match=None) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_resume_without_run_json_says_how_to_resume(tmp_path):
    with pytest.raises(run.RunError, match="holds no run.json"):
        keras_gans.resume(str(tmp_path))


def test_a_refused_run_leaves_no_empty_output_directory(tmp_path, capsys):
    out = tmp_path / "new"
    assert run_cli(["train", "cyclegan", "--out", str(out), "--quiet"]) == 2
    assert "needs --domain-a and --domain-b" in capsys.readouterr().err
    assert not out.exists()
    assert run_cli(["train", "dcgan", "--out", str(out), "--quiet", "--data-dir",
                    str(tmp_path / "missing")]) == 2
    assert not out.exists()


def test_the_progress_bar_stops_at_the_step_where_training_stopped(capsys):
    class StopAtSecondStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = batch == 1

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((10, 2)), np.zeros((10, 1)), batch_size=2, epochs=1, verbose=1,
              callbacks=[callbacks.ProgressBar(), StopAtSecondStep()])
    shown = capsys.readouterr().out
    assert "2/5" in shown and "5/5" not in shown


def seconds(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def test_help_answers_without_loading_keras():
    plain = min(seconds([sys.executable, "-c", "pass"]) for _ in range(3))
    helped = min(seconds([sys.executable, "-m", "keras_gans.cli", "--help"]) for _ in range(3))
    assert helped < 4 * plain + 0.3, (helped, plain)
    usage = subprocess.run([sys.executable, "-m", "keras_gans.cli", "train", "stylegan"],
                           capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "invalid choice: 'stylegan'" in usage.stderr
    assert "keras" not in subprocess.run(
        [sys.executable, "-c", "import sys, keras_gans.cli; "
         "print(' '.join(m for m in sys.modules if m.startswith(('keras', 'tensorflow')) "
         "and not m.startswith('keras_gans')))"],
        capture_output=True, text=True, check=True).stdout


def test_a_users_tf_cpp_min_log_level_quiets_tensorflow(tmp_path):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    listed = subprocess.run([sys.executable, "-m", "keras_gans.cli", "sample",
                             str(tmp_path / "none.keras")], capture_output=True, text=True,
                            env=environment, check=False)
    assert listed.returncode == 2
    assert listed.stderr.strip().splitlines() == [
        f"keras-gans sample: error: {tmp_path / 'none.keras'} does not exist"]
