"""What a new user meets first: runs that are not silently replaced, clear output."""

import json

import numpy as np
import pytest

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
