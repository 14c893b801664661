"""The documentation's examples run and its site builds.

Every ```python block of docs/**/*.md runs: a page's blocks in order, in one
namespace, as a reader would run them, in a fresh working directory holding
`my_images/`, a small folder of PNGs in two class sub-folders (the folder of
one's own that the guides train on), with the suite's fixtures (the speed
probe answers float32 without XLA). A block right after the line
`<!-- not-run -->` (a cluster, a download, minutes of training) is only
compiled. README.md's examples are the Getting started page's, verbatim, and
run there.
"""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import HAS_FASHION_MNIST, run_cli

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
NOT_RUN = "<!-- not-run -->"
README = REPOSITORY / "README.md"
PAGES = sorted((REPOSITORY / "docs").rglob("*.md"))


def python_blocks(path):
    """`[(first line, code, runs)]` of the ```python blocks of a Markdown file."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    start = previous = None
    for number, line in enumerate(lines, 1):
        if start is None and re.fullmatch(r"```python\s*", line):
            start, runs = number, previous != NOT_RUN
        elif start is not None and re.fullmatch(r"```\s*", line):
            blocks.append((start + 1, "\n".join(lines[start : number - 1]), runs))
            start = None
        if line.strip() and start is None:
            previous = line.strip()
    assert start is None, f"{path}:{start}: a ```python block is never closed"
    return blocks


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page)]


def write_my_images(directory, per_class=32, size=32):
    """Two class folders of RGB PNGs: a disc or a square of one colour on white."""
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[:size, :size]
    for shape in ("discs", "squares"):
        os.makedirs(directory / shape)
        for index in range(per_class):
            image = np.full((size, size, 3), 255, np.uint8)
            cy, cx = rng.integers(size // 3, 2 * size // 3, 2)
            r = rng.integers(size // 8, size // 4)
            inside = (
                (y - cy) ** 2 + (x - cx) ** 2 < r * r
                if shape == "discs"
                else (abs(y - cy) < r) & (abs(x - cx) < r)
            )
            image[inside] = rng.integers(0, 200, 3)
            Image.fromarray(image).save(directory / shape / f"{index:03d}.png")


def test_the_readme_examples_run_on_the_getting_started_page():
    readme = python_blocks(README)
    page = (REPOSITORY / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert readme and all(runs for _, _, runs in readme)
    assert [line for line, code, _ in readme if code not in page] == []
    assert len(PAGES_WITH_CODE) >= 8, [page.name for page in PAGES_WITH_CODE]


def test_the_readme_links_and_images_point_at_files():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)", text) + re.findall(r'<img src="([^"]+)"', text)
    relative = [target for target in targets if "://" not in target]
    assert len(relative) > 20
    assert [target for target in relative if not (REPOSITORY / target).exists()] == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", PAGES_WITH_CODE, ids=[str(page.relative_to(REPOSITORY)) for page in PAGES_WITH_CODE]
)
def test_the_examples_of_a_page_run(page, tmp_path, monkeypatch):
    import keras

    blocks = python_blocks(page)
    if not HAS_FASHION_MNIST and any('"fashion_mnist"' in code for _, code, runs in blocks if runs):
        pytest.skip("the examples train on Fashion-MNIST, whose Debian package is absent")
    monkeypatch.chdir(tmp_path)
    write_my_images(tmp_path / "my_images")
    namespace = {"__name__": "__main__"}
    try:
        for line, code, runs in blocks:
            # Padded so that a traceback names the page's own line numbers.
            compiled = compile("\n" * (line - 1) + code, str(page), "exec")
            if runs:
                exec(compiled, namespace)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


@pytest.mark.parametrize("command", ["train", "sample", "interpolate", "translate", "evaluate"])
def test_the_command_line_page_names_every_option(command, capsys):
    assert run_cli([command, "--help"]) == 0
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", capsys.readouterr().out))
    page = (REPOSITORY / "docs" / "cli.md").read_text(encoding="utf-8")
    assert {"--help"} < options
    assert sorted(option for option in options - {"--help"} if option not in page) == []


def test_the_site_builds_in_strict_mode(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(module)
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert (tmp_path / "api" / "models" / "index.html").is_file()
    assert (
        tmp_path / "repo" / "keras_gans" / "presets" / "dcgan_fashion_mnist" / "samples.png"
    ).is_file()
