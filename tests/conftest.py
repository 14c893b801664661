"""Shared fixtures: a small slice of Fashion-MNIST, IDX writing, skip markers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import gzip  # noqa: E402
import struct  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
HAS_FASHION_MNIST = os.path.isdir(FASHION_MNIST_DIR)

requires_fashion_mnist = pytest.mark.skipif(
    not HAS_FASHION_MNIST,
    reason=f"{FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist)",
)

SMALL_SET_SIZE = 640


def pytest_configure(config):
    config.addinivalue_line(
        "filterwarnings", "ignore:`shuffle=True` was passed:UserWarning")


@pytest.fixture(autouse=True)
def float32_without_xla_by_default(monkeypatch):
    """`keras-gans train` picks its dtype policy and XLA by CPU kind; in the
    suite it picks float32 without XLA, so runs are alike on every machine.
    Tests of that choice patch `fastest_settings` and `choose_speed`
    themselves."""
    from keras_gans import hardware

    choice = hardware.Settings("float32", False, "the test suite's choice")
    monkeypatch.setattr(hardware, "fastest_settings", lambda path=None, has_gpu=False: choice)
    monkeypatch.setattr(hardware, "choose_speed", lambda *args, **kwargs: choice)


def write_idx(path, array):
    """Writes a uint8 array as an MNIST-format IDX file, gzipped if `path` ends in .gz."""
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
    return path


def synthetic_fashion(n=SMALL_SET_SIZE, seed=0):
    """Fashion-MNIST look-alikes: one bright rectangle per class on black."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.int32)
    images = np.zeros((n, 28, 28, 1), np.uint8)
    for i, label in enumerate(labels):
        top, left = 2 + label, 4 + (label % 5) * 2
        images[i, top:top + 12, left:left + 10] = rng.integers(120, 256)
    return images, labels


@pytest.fixture(scope="session")
def fashion_arrays():
    """The first training images of Fashion-MNIST, uint8 `(N, 28, 28, 1)`, and
    int32 labels; synthetic look-alikes when the Debian package is absent."""
    if not HAS_FASHION_MNIST:
        return synthetic_fashion()
    from keras_gans.data import load_images

    data = load_images("fashion_mnist", "train", source="debian")
    return data.images[:SMALL_SET_SIZE].copy(), data.labels[:SMALL_SET_SIZE].copy()


@pytest.fixture(scope="session")
def fashion_idx_dir(tmp_path_factory, fashion_arrays):
    """A directory of gzipped IDX files holding `fashion_arrays`."""
    images, labels = fashion_arrays
    directory = tmp_path_factory.mktemp("fashion_idx")
    write_idx(directory / "train-images-idx3-ubyte.gz", images[..., 0])
    write_idx(directory / "train-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture(scope="session")
def data_args(fashion_idx_dir):
    """Command-line data arguments: the Debian data, else a local IDX directory."""
    return [] if HAS_FASHION_MNIST else ["--data-dir", str(fashion_idx_dir)]


def batches(images, labels=None, batch_size=32):
    """An unshuffled training pipeline of `images` (uint8) and optional labels."""
    from keras_gans.data import make_dataset

    return make_dataset(images, labels, batch_size=batch_size, shuffle=False)


def max_abs_difference(before, after):
    """The largest absolute change between two lists of weight arrays."""
    return max(float(np.max(np.abs(a - b))) for a, b in zip(before, after, strict=True))


def run_cli(argv):
    """Runs the `keras-gans` command in-process; returns its exit status."""
    from keras_gans import cli

    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return exit_.code
