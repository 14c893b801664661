"""What a new user meets first: runs that are not silently replaced, clear output."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import requires_fashion_mnist

from keras_gans import cli


@pytest.fixture
def tiny_npz(tmp_path):
    path = tmp_path / "tiny.npz"
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    np.savez(path, x_train=images)
    return str(path)


def _train(out, data, *extra):
    return cli.main(["train", "dcgan", "--data-dir", data, "--batch-size", "4", "--quiet",
                     "--out", str(out), *extra])


@pytest.mark.slow
def test_a_finished_run_is_not_replaced_without_overwrite(tmp_path, tiny_npz, capsys):
    out = tmp_path / "run"
    assert _train(out, tiny_npz, "--epochs", "2") == 0
    checkpoint = (out / "checkpoint" / "checkpoint.keras").read_bytes()
    capsys.readouterr()

    status = _train(out, tiny_npz, "--epochs", "1")

    error = capsys.readouterr().err
    assert status == 2
    assert "already holds a run" in error and "--resume" in error and "--overwrite" in error
    assert (out / "checkpoint" / "checkpoint.keras").read_bytes() == checkpoint
    assert (out / "samples" / "epoch_002.png").exists()

    assert _train(out, tiny_npz, "--epochs", "1", "--overwrite") == 0
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_001.png"]
    assert len(json.loads((out / "history.json").read_text())["d_loss"]) == 1

    capsys.readouterr()
    assert _train(out, tiny_npz, "--epochs", "1", "--resume") == 0
    printed = capsys.readouterr().out
    assert "nothing to do" in printed and "Samples: None" not in printed


def test_overwrite_with_bad_data_keeps_the_old_run(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "checkpoint").mkdir(parents=True)
    (out / "history.json").write_text("{}")

    status = _train(out, str(tmp_path / "missing"), "--overwrite")

    assert status == 2 and "does not exist" in capsys.readouterr().err
    assert (out / "history.json").exists() and (out / "checkpoint").exists()


def test_resume_and_overwrite_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "dcgan", "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.subprocess
def test_commands_start_without_tensorflows_startup_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "keras_gans.cli", "--help"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "usage: keras-gans" in result.stdout
    assert "oneDNN" not in result.stderr and "cuInit" not in result.stderr
    assert "I0000" not in result.stderr and "absl" not in result.stderr


def test_import_keras_gans_loads_tensorflow_only_when_a_model_is_used():
    code = ("import sys, keras_gans; before = 'tensorflow' in sys.modules; "
            "keras_gans.DCGAN; print(before, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.stdout.split() == ["False", "True"]


def test_list_columns_stay_apart_and_names_print_safely(tmp_path, monkeypatch, capsys):
    preset = tmp_path / "evil\x1b[31m\nfake_row"
    preset.mkdir()
    (preset / "metadata.json").write_text(json.dumps(
        {"variant": "ConditionalGAN", "epochs": 8, "fid": 1.5, "dataset": "emoji"}))
    (preset / "config.json").write_text("{}")
    monkeypatch.setenv("KERAS_GANS_MODELS", str(tmp_path))

    assert cli.main(["list"]) == 0

    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("evil"))
    assert "\x1b" not in row and "evil\\x1b[31m\\nfake_row" in row
    assert "ConditionalGAN  " in row  # the variant never runs into the epochs
    assert not any(line.startswith("fake_row") for line in lines)


def test_train_help_documents_every_option_and_shows_defaults_once(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    assert "(default: runs/VARIANT_DATASET)" in text and "DATASET) (default" not in text
    parser = cli.build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices.values()
                 if a.prog.endswith("train"))
    undocumented = [a.option_strings[0] for a in train._actions
                    if a.option_strings and not a.help]
    assert undocumented == []
    assert "adversarial loss: hinge," in text and "(default: 64)" in text


@pytest.mark.parametrize("content", ['{"variant": ', "[1, 2]", None])
def test_a_malformed_metadata_file_skips_that_model_only(tmp_path, monkeypatch, capsys,
                                                          content):
    bad = tmp_path / "bad_model"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    if content is None:
        (bad / "metadata.json").mkdir()
    else:
        (bad / "metadata.json").write_text(content)
    monkeypatch.setenv("KERAS_GANS_MODELS", str(tmp_path))

    with pytest.warns(UserWarning, match="Skipping the model in .*bad_model.*metadata.json"):
        assert cli.main(["list"]) == 0

    out = capsys.readouterr().out
    assert "dcgan_fashion_mnist" in out and "bad_model" not in out


def test_a_folder_named_like_a_zoo_model_does_not_replace_it(tmp_path, monkeypatch):
    from keras_gans import pretrained

    (tmp_path / "dcgan_fashion_mnist").mkdir()
    monkeypatch.chdir(tmp_path)
    assert pretrained.pretrained_path("dcgan_fashion_mnist") == os.path.join(
        pretrained.PRESETS_DIR, "dcgan_fashion_mnist")
    assert pretrained.pretrained_path("./dcgan_fashion_mnist") == "./dcgan_fashion_mnist"


@pytest.mark.slow
def test_train_evaluate_records_the_final_scores_in_the_export(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "garments.npz"
    np.savez(data, x_train=rng.integers(0, 256, (8, 28, 28, 1), dtype=np.uint8),
             x_test=rng.integers(0, 256, (20, 28, 28, 1), dtype=np.uint8))
    out = tmp_path / "run"

    assert _train(out, str(data), "--dataset", "fashion_mnist", "--epochs", "1",
                  "--evaluate", "30") == 0

    metadata = json.loads((out / "generator" / "metadata.json").read_text())
    assert metadata["n"] == 30 and metadata["n_real"] == 20
    assert metadata["fid"] > 0 and len(metadata["coverage"]) == 10
    preset = json.loads((out / "preset" / "metadata.json").read_text())
    assert preset["fid"] == metadata["fid"]
    assert f"FID {metadata['fid']:.2f} (30 samples)" in capsys.readouterr().out


@requires_fashion_mnist
def test_train_evaluate_without_a_feature_space_is_refused_before_training(
        tmp_path, capsys):
    """Fashion-MNIST brought to 32x32 has no shipped classifier at that size,
    nor a folder to learn a feature space from."""
    out = tmp_path / "run"
    status = cli.main(["train", "dcgan", "--image-size", "32", "--evaluate", "30",
                       "--quiet", "--out", str(out)])

    error = capsys.readouterr().err
    assert status == 2
    assert "--evaluate:" in error and len(error.strip().splitlines()) == 1, error
    assert not out.exists()
