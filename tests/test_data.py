"""Dataset loading: IDX files, .npz, image folders, Debian, tfds, validation."""

import gzip

import numpy as np
import pytest
from conftest import FASHION_MNIST_DIR, requires_fashion_mnist, write_idx
from PIL import Image

from keras_gans import data


def _images(n=12, height=28, width=28, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width), dtype=np.uint8)


def _write_idx_pair(directory, images, labels, split="train", gz=True):
    images_stem, labels_stem = data.IDX_FILES[split]
    suffix = ".gz" if gz else ""
    write_idx(directory / (images_stem + suffix), images)
    write_idx(directory / (labels_stem + suffix), labels)


# ------------------------------------------------------------------ read_idx
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_reads_images_and_labels(tmp_path, suffix):
    images = _images(5, 7, 6)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    write_idx(tmp_path / f"img{suffix}", images)
    write_idx(tmp_path / f"lab{suffix}", labels)

    read_images = data.read_idx(str(tmp_path / f"img{suffix}"))
    read_labels = data.read_idx(str(tmp_path / f"lab{suffix}"))

    assert read_images.dtype == np.uint8 and read_images.shape == (5, 7, 6)
    np.testing.assert_array_equal(read_images, images)
    assert read_labels.shape == (5,)
    np.testing.assert_array_equal(read_labels, labels)


def test_read_idx_rejects_bad_magic_number(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="bad magic number"):
        data.read_idx(str(path))


def test_read_idx_rejects_gzipped_garbage(tmp_path):
    path = tmp_path / "garbage.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"PNG...")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(str(path))


def test_read_idx_rejects_non_byte_type(tmp_path):
    path = tmp_path / "floats"
    path.write_bytes(b"\x00\x00\x0d\x01" + (2).to_bytes(4, "big") + b"\x00" * 8)
    with pytest.raises(ValueError, match="0x0d"):
        data.read_idx(str(path))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_rejects_truncated_file(tmp_path, suffix):
    full = tmp_path / "full"
    write_idx(full, _images(4, 5, 5))
    truncated = tmp_path / f"truncated{suffix}"
    raw = full.read_bytes()[:-7]
    if suffix:
        with gzip.open(truncated, "wb") as f:
            f.write(raw)
    else:
        truncated.write_bytes(raw)
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(str(truncated))


# -------------------------------------------------------- load_from_directory
@pytest.mark.parametrize("gz", [True, False])
def test_load_from_directory_reads_idx_files(tmp_path, gz):
    images, labels = _images(10), np.arange(10, dtype=np.uint8) % 3
    _write_idx_pair(tmp_path, images, labels, gz=gz)
    _write_idx_pair(tmp_path, images[:4], labels[:4], split="test", gz=gz)

    train = data.load_from_directory(str(tmp_path))
    test = data.load_from_directory(str(tmp_path), split="test")

    assert train.images.shape == (10, 28, 28, 1) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images[..., 0], images)
    assert train.labels.dtype == np.int32
    np.testing.assert_array_equal(train.labels, labels)
    assert test.images.shape == (4, 28, 28, 1)
    assert train.source == f"directory:{tmp_path}"


def test_load_from_directory_uses_dataset_class_names(tmp_path):
    _write_idx_pair(tmp_path, _images(3), np.array([0, 9, 2], np.uint8))
    loaded = data.load_from_directory(str(tmp_path), name="fashion_mnist")
    assert loaded.class_names[9] == "Ankle boot"
    assert loaded.num_classes == 10


def test_load_from_directory_without_label_file_has_no_labels(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", _images(3))
    loaded = data.load_from_directory(str(tmp_path))
    assert loaded.labels is None and loaded.images.shape == (3, 28, 28, 1)


def test_load_from_directory_rejects_mismatched_label_count(tmp_path):
    _write_idx_pair(tmp_path, _images(5), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        data.load_from_directory(str(tmp_path))


def test_load_from_directory_reads_npz_file_and_directory(tmp_path):
    images = _images(6, 32, 32)[..., None].repeat(3, axis=-1)
    labels = np.array([0, 1, 2, 0, 1, 2])
    path = tmp_path / "cifar_like.npz"
    np.savez(path, x_train=images, y_train=labels, x_test=images[:2], y_test=labels[:2])

    from_file = data.load_from_directory(str(path))
    from_dir = data.load_from_directory(str(tmp_path), split="test")

    assert from_file.images.shape == (6, 32, 32, 3)
    np.testing.assert_array_equal(from_file.images, images)
    np.testing.assert_array_equal(from_file.labels, labels)
    assert from_dir.images.shape == (2, 32, 32, 3)


def test_load_from_directory_rejects_npz_with_unknown_keys(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, pictures=_images(2))
    with pytest.raises(ValueError, match="pictures"):
        data.load_from_directory(str(path))


def _write_class_folders(root, per_class=3):
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_load_from_directory_reads_class_folders_of_pngs(tmp_path):
    _write_class_folders(tmp_path / "pets")

    grey = data.load_from_directory(str(tmp_path / "pets"), image_size=(16, 16), channels=1)
    rgb = data.load_from_directory(str(tmp_path / "pets"), image_size=(8, 8))

    assert grey.images.shape == (6, 16, 16, 1) and grey.images.dtype == np.uint8
    assert rgb.images.shape == (6, 8, 8, 3)
    assert grey.class_names == ["cats", "dogs"]
    np.testing.assert_array_equal(np.sort(grey.labels), [0, 0, 0, 1, 1, 1])
    assert grey.name == "pets"


def test_load_from_directory_needs_image_size_for_mixed_sizes(tmp_path):
    _write_class_folders(tmp_path / "pets", per_class=1)
    Image.new("RGB", (10, 12)).save(tmp_path / "pets" / "dogs" / "small.png")
    with pytest.raises(ValueError, match="image_size"):
        data.load_from_directory(str(tmp_path / "pets"))


def test_load_from_directory_missing_path(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        data.load_from_directory(str(tmp_path / "nowhere"))


# --------------------------------------------------------------- load_dataset
@pytest.fixture
def idx_dir(tmp_path):
    images = _images(100, seed=1)
    images[0] = 0
    images[1] = 255
    _write_idx_pair(tmp_path, images, np.arange(100, dtype=np.uint8) % 10)
    return tmp_path


def test_load_dataset_yields_float_images_in_unit_range(idx_dir):
    dataset = data.load_dataset("local", data_dir=str(idx_dir), batch_size=16,
                                shuffle=False)
    batches = list(dataset.as_numpy_iterator())
    first = batches[0]
    assert first.dtype == np.float32 and first.shape == (16, 28, 28, 1)
    assert first.min() == -1.0 and first.max() == 1.0
    assert len(batches) == 100 // 16  # the partial batch is dropped
    raw = data.read_idx(str(idx_dir / "train-images-idx3-ubyte.gz"))
    np.testing.assert_allclose(first[2, ..., 0], raw[2] / 127.5 - 1.0, atol=1e-6)


def test_load_dataset_with_labels_yields_int32_labels(idx_dir):
    dataset = data.load_dataset("local", data_dir=str(idx_dir), batch_size=10,
                                with_labels=True, shuffle=False)
    images, labels = next(iter(dataset))
    assert images.shape == (10, 28, 28, 1)
    assert labels.dtype.name == "int32" and labels.shape == (10,)
    np.testing.assert_array_equal(labels.numpy(), np.arange(10))


def test_load_dataset_limit_and_remainder(idx_dir):
    limited = data.load_dataset("local", data_dir=str(idx_dir), batch_size=8, limit=20,
                                shuffle=False)
    kept = data.load_dataset("local", data_dir=str(idx_dir), batch_size=8, limit=20,
                             drop_remainder=False, shuffle=False)
    assert [b.shape[0] for b in limited.as_numpy_iterator()] == [8, 8]
    assert [b.shape[0] for b in kept.as_numpy_iterator()] == [8, 8, 4]


def test_load_dataset_shuffles_with_seed(idx_dir):
    def first_batch(seed):
        dataset = data.load_dataset("local", data_dir=str(idx_dir), batch_size=50,
                                    seed=seed)
        return next(iter(dataset)).numpy()

    np.testing.assert_array_equal(first_batch(3), first_batch(3))
    unshuffled = next(iter(data.load_dataset("local", data_dir=str(idx_dir),
                                             batch_size=50, shuffle=False))).numpy()
    assert not np.array_equal(first_batch(3), unshuffled)


def test_load_dataset_with_labels_needs_labels(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", _images(8))
    with pytest.raises(ValueError, match="provides no labels"):
        data.load_dataset("local", data_dir=str(tmp_path), batch_size=4,
                          with_labels=True)


def test_load_dataset_repeat(idx_dir):
    dataset = data.load_dataset("local", data_dir=str(idx_dir), batch_size=40,
                                limit=40, repeat=True)
    assert len(list(dataset.take(5).as_numpy_iterator())) == 5


# ------------------------------------------------------ Debian Fashion-MNIST
@requires_fashion_mnist
def test_debian_fashion_mnist_has_both_splits_and_class_names():
    train = data.load_images("fashion_mnist", "train")
    test = data.load_images("fashion_mnist", "test", source="debian")

    assert train.images.shape == (60000, 28, 28, 1) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 28, 28, 1)
    assert train.labels.shape == (60000,) and test.labels.shape == (10000,)
    assert train.source == f"debian:{FASHION_MNIST_DIR}"
    assert len(train.class_names) == 10 and train.num_classes == 10
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
    np.testing.assert_array_equal(np.bincount(train.labels), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(test.labels), [1000] * 10)


@requires_fashion_mnist
def test_load_dataset_of_debian_fashion_mnist():
    dataset = data.load_dataset("fashion_mnist", batch_size=32, limit=64,
                                with_labels=True)
    images, labels = next(iter(dataset))
    assert images.shape == (32, 28, 28, 1) and images.dtype.name == "float32"
    assert -1.0 <= float(images.numpy().min()) < float(images.numpy().max()) <= 1.0
    assert set(labels.numpy()) <= set(range(10))


# ---------------------------------------------------------------------- tfds
def test_load_images_from_mocked_tfds():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=20):
        loaded = data.load_images("fashion_mnist", source="tfds")
        direct = data.load_from_tfds("fashion_mnist", split="test")
    assert loaded.images.shape == (20, 28, 28, 1) and loaded.images.dtype == np.uint8
    assert loaded.labels.dtype == np.int32 and loaded.labels.shape == (20,)
    assert loaded.labels.min() >= 0 and loaded.labels.max() < 10
    assert loaded.source == "tfds:fashion_mnist"
    assert loaded.class_names[0] == "T-shirt/top" and len(loaded.class_names) == 10
    assert direct.images.shape == (20, 28, 28, 1)


def test_load_dataset_from_mocked_tfds_batches_labels():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=24):
        dataset = data.load_dataset("fashion_mnist", source="tfds", batch_size=8,
                                    with_labels=True)
        batches = list(dataset.as_numpy_iterator())
    assert len(batches) == 3
    images, labels = batches[0]
    assert images.shape == (8, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert labels.dtype == np.int32


# ---------------------------------------------------------------- not found
def test_not_found_error_lists_sources_tried_and_how_to_get_the_data(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("no internet\nhere")

    monkeypatch.setattr(data, "load_from_tfds", offline)
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_images("kmnist")
    message = str(info.value)
    assert "'kmnist'" in message
    assert "debian (/usr/share/datasets/kmnist: not present)" in message
    assert "tfds (ConnectionError: no internet here)" in message
    assert "data_dir=" in message and "tensorflow-datasets can download" in message
    assert "\n" not in message


def test_not_found_error_for_a_name_no_source_knows():
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_images("no_such_dataset")
    message = str(info.value)
    assert "debian (" in message and "tfds (" in message
    assert "\n" not in message


def test_debian_source_of_a_missing_dataset():
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_images("mnist", source="debian")
    message = str(info.value)
    assert "Tried: debian (/usr/share/datasets/mnist: not present)" in message
    assert "tfds (" not in message
    assert "data_dir=" in message


def test_fashion_mnist_not_found_suggests_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "DEBIAN_DATASETS_DIR", str(tmp_path))
    with pytest.raises(data.DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_images("fashion_mnist", source="debian")


def test_dataset_not_found_is_a_file_not_found_error():
    assert issubclass(data.DatasetNotFoundError, FileNotFoundError)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"source": "s3"}, "Unknown source"),
        ({"split": "validation"}, "Unknown split"),
        ({"source": "directory"}, "needs data_dir"),
    ],
)
def test_load_images_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_images("fashion_mnist", **kwargs)


# ------------------------------------------------------------- validation
def test_as_uint8_images_adds_a_channel_axis_and_accepts_whole_floats():
    images = data.as_uint8_images(np.full((2, 4, 4), 255.0))
    assert images.shape == (2, 4, 4, 1) and images.dtype == np.uint8
    assert images.max() == 255


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((4, 4), np.uint8), "expected images of shape"),
        (np.zeros((2, 3, 4, 4, 1), np.uint8), "expected images of shape"),
        (np.zeros((2, 1, 28, 28), np.uint8), "channels-last"),
        (np.full((2, 4, 4), -0.5), r"\[0, 255\]"),
        (np.full((2, 4, 4, 3), 300.0), r"\[0, 255\]"),
    ],
)
def test_as_uint8_images_rejects_wrong_shapes_and_ranges(array, match):
    with pytest.raises(ValueError, match=match):
        data.as_uint8_images(array, source="mine")


def test_make_dataset_rejects_empty_dataset():
    with pytest.raises(ValueError, match="empty"):
        data.make_dataset(np.zeros((0, 28, 28, 1), np.uint8))


def test_make_dataset_rejects_fewer_images_than_a_batch():
    with pytest.raises(ValueError, match="fewer than one batch"):
        data.make_dataset(np.zeros((10, 28, 28, 1), np.uint8), batch_size=16)


def test_make_dataset_rejects_non_integer_labels():
    with pytest.raises(ValueError, match="labels must be whole numbers, found 0.5"):
        data.make_dataset(np.zeros((8, 28, 28, 1), np.uint8), labels=np.zeros(8) + 0.5,
                          batch_size=4)


@pytest.mark.parametrize("pixels, message", [
    (np.full((2, 4, 4), 0.5), r"float pixels lie in \[0, 1\].*multiply them by 255"),
    (np.full((2, 4, 4), np.nan), "2 pixel values are NaN or infinite"),
    (np.full((2, 4, 4), 100.6), "whole numbers in \\[0, 255\\]; found 100.6"),
    (np.full((2, 4, 4), "7"), "pixels must be numbers"),
])
def test_npz_pixels_that_would_train_on_garbage_are_refused(tmp_path, pixels, message):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=pixels)
    with pytest.raises(ValueError, match=message) as error:
        data.load_images("bad", data_dir=str(path))
    assert str(path) in str(error.value)


def test_whole_float_pixels_and_labels_are_accepted(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez(path, x_train=np.full((2, 4, 4), 255.0), y_train=np.array([1.0, 0.0]))
    loaded = data.load_images("ok", data_dir=str(path))
    assert loaded.images.dtype == np.uint8 and loaded.images.max() == 255
    np.testing.assert_array_equal(loaded.labels, [1, 0])


@pytest.mark.parametrize("labels, message", [
    (np.array([8.6, 1.0]), "whole numbers, found 8.6"),
    (np.array(["8", "1"]), "labels must be integers, got <U1 values such as '8'"),
    (np.array(["cat", "dog"]), "labels must be integers.*'cat'"),
    (np.array([-1, 0]), "at least 0, found -1"),
])
def test_npz_labels_are_checked_before_any_cast(tmp_path, labels, message):
    path = tmp_path / "labelled.npz"
    np.savez(path, x_train=np.zeros((2, 4, 4), np.uint8), y_train=labels)
    with pytest.raises(ValueError, match=message) as error:
        data.load_images("labelled", data_dir=str(path))
    assert "labelled.npz labels" in str(error.value)


def test_labels_beyond_the_class_names_are_refused(tmp_path):
    path = tmp_path / "fashion_mnist.npz"
    np.savez(path, x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.array([3, 10]))
    with pytest.raises(ValueError, match="label 10 is out of range for 10 classes"):
        data.load_images("fashion_mnist", data_dir=str(path))


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_empty_or_truncated_npz_is_a_one_line_error(tmp_path, content):
    path = tmp_path / "broken.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a readable .npz file"):
        data.load_images("broken", data_dir=str(path))


def test_make_dataset_rejects_label_count_mismatch():
    with pytest.raises(ValueError, match="8 images but 7 labels"):
        data.make_dataset(np.zeros((8, 28, 28, 1), np.uint8), labels=np.zeros(7, int),
                          batch_size=4)


def test_make_dataset_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        data.make_dataset(np.zeros((8, 28, 28, 1), np.uint8), batch_size=0)


def test_to_uint8_inverts_to_unit_range():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    scaled = data.to_unit_range(pixels).numpy()
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    np.testing.assert_array_equal(data.to_uint8(scaled), pixels)
    np.testing.assert_array_equal(data.to_uint8(np.array([-3.0, 3.0])), [0, 255])
