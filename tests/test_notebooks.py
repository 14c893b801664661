"""Executes every tutorial notebook top to bottom in fast mode.

Each notebook runs in a fresh `python3` kernel with `KERAS_GANS_FAST=1`, from a
temporary copy of `notebooks/`, so the committed outputs are never touched and
the runs write under the temporary directory's `runs/`. The pretrained-models
notebook gets `KERAS_GANS_MODELS` pointing at small exports made here, so it
does not depend on the trained zoo in `saved_models/`.
"""

import os
import shutil
from pathlib import Path

import pytest
from conftest import requires_fashion_mnist

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 600  # seconds per cell


def test_every_notebook_is_collected():
    names = [path.stem for path in NOTEBOOKS]
    assert names == [
        "01_vanilla_gan", "02_dcgan", "03_conditional_gan", "04_wgan_and_wgan_gp",
        "05_pretrained_generators", "06_stabilisation", "07_sngan",
        "08_progan", "09_cyclegan",
    ]


def export_small_zoo(directory):
    """Untrained DCGAN and conditional GAN exports, named like the zoo's models."""
    import keras_gans
    from keras_gans.data import CLASS_NAMES

    metadata = {"dataset": "fashion_mnist", "class_names": CLASS_NAMES["fashion_mnist"],
                "epochs": 0, "fid": None}
    models = {
        "dcgan_fashion_mnist": keras_gans.DCGAN(seed=0),
        "cgan_fashion_mnist": keras_gans.ConditionalGAN(num_classes=10, seed=0),
    }
    for name, model in models.items():
        model.export(str(directory / name), metadata={**metadata, "name": name})
    return directory


@requires_fashion_mnist
@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_fast_mode(path, tmp_path, monkeypatch):
    workdir = tmp_path / "notebooks"
    workdir.mkdir()
    copy = workdir / path.name
    shutil.copyfile(path, copy)
    notebook = nbformat.read(copy, as_version=4)

    # The kernel inherits this process's environment; it imports this checkout.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("KERAS_GANS_FAST", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    if path.stem.startswith("05_"):
        models = tmp_path / "models"
        models.mkdir()
        monkeypatch.setenv("KERAS_GANS_MODELS", str(export_small_zoo(models)))
    else:
        monkeypatch.delenv("KERAS_GANS_MODELS", raising=False)

    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    finally:
        nbformat.write(notebook, copy)  # the executed copy, for debugging a failure

    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors
    # The runs wrote under the temporary copy, not into the repository.
    assert (tmp_path / "runs" / "notebooks" / path.stem).is_dir()
    assert os.listdir(workdir) == [path.name]
