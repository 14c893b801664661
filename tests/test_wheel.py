"""The zoo installs with the package: a wheel built from this checkout, in a
fresh virtualenv, run from outside the checkout, lists its presets, generates
from one and fine-tunes `DCGAN.from_preset` with `fit`."""

import json
import os
import shutil
import subprocess
import sys

import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FINE_TUNE = """
import json, numpy as np, keras_gans
zoo = keras_gans.list_pretrained()
images = keras_gans.load_pretrained("cgan_fashion_mnist").generate(4, seed=0, labels=7)
gan = keras_gans.DCGAN.from_preset("dcgan_fashion_mnist")
x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
history = gan.fit(x, batch_size=32, epochs=1, verbose=0).history
print(json.dumps({
    "module": keras_gans.__file__, "zoo": sorted(zoo), "shape": list(images.shape),
    "steps": [int(gan.d_optimizer.iterations), int(gan.g_optimizer.iterations)],
    "finite": bool(np.all(np.isfinite([v[-1] for v in history.values()]))),
}))
"""


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=600,
                          **kwargs)


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_wheel_installs_the_zoo_into_a_fresh_virtualenv(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    source, wheels, venv = tmp_path / "source", tmp_path / "wheels", tmp_path / "venv"
    # Build from a copy of what the wheel is made of, so the build leaves no
    # build/ or .egg-info in the checkout.
    shutil.copytree(os.path.join(REPOSITORY, "keras_gans"), source / "keras_gans",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy(os.path.join(REPOSITORY, name), source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)], env=env, cwd=tmp_path)
    (wheel,) = wheels.iterdir()
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], env=env)
    run([str(venv / "bin" / "pip"), "install", "--no-deps", "--no-index", "--ignore-installed",
         "-q", str(wheel)], env=env, cwd=tmp_path)

    output = run([str(venv / "bin" / "python"), "-c", FINE_TUNE], env=env, cwd=tmp_path)
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert result["module"].startswith(str(venv)), result["module"]
    assert {"dcgan_fashion_mnist", "cgan_fashion_mnist", "wgan-gp_fashion_mnist"} <= set(
        result["zoo"])
    assert result["shape"] == [4, 28, 28, 1]
    assert result["steps"] == [2, 2] and result["finite"]

    listing = run([str(venv / "bin" / "keras-gans"), "list"], env=env, cwd=tmp_path).stdout
    assert "dcgan_fashion_mnist" in listing and str(venv) in listing
