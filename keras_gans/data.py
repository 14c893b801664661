"""Image datasets ready for `GAN.fit` on every Keras backend.

Every loader ends in the same pipeline: float32 images scaled to [-1, 1] with
shape `(H, W, C)`, optionally paired with int32 labels, shuffled every epoch
and batched. On the TensorFlow backend it is a prefetched `tf.data` pipeline
with no Python in the per-step path; on JAX and PyTorch a
`keras.utils.PyDataset` of numpy batches (`ImageBatches`, `UnpairedBatches`),
which needs no TensorFlow.

Sources, tried in this order unless `source=` names one:

1. `data_dir`: a directory the caller gives. It may hold MNIST-format IDX
   files (gzipped or not), a `.npz` file with `x_train`/`y_train`-style arrays,
   or images (PNG, JPEG, GIF, BMP), flat or one sub-folder per class, read by
   `keras_gans.image_files`.
2. `debian`: the Fashion-MNIST IDX files of Debian's `dataset-fashion-mnist`
   package in `/usr/share/datasets/fashion-mnist/`.
3. `tfds`: tensorflow-datasets by name (`fashion_mnist`, `mnist`, `cifar10`,
   ...), which downloads the data on first use (it needs TensorFlow).

`"emoji"` is its own source: the npm emoji packages of `keras_gans.emoji`,
in the style `style=` names.

`image_size=` and `channels=` bring any source to one size and channel count
(`keras_gans.image_files.conform`).
"""

import gzip
import os
import struct
import sys
import zipfile
from dataclasses import dataclass, field

import keras
import numpy as np

from keras_gans import emoji, image_files
from keras_gans.hardware import TensorFlowRequiredError

DEBIAN_DATASETS_DIR = "/usr/share/datasets"
SOURCES = ("directory", "debian", "tfds")

CLASS_NAMES = {
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "mnist": [str(digit) for digit in range(10)],
    "cifar10": [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ],
    "emoji": list(emoji.CATEGORIES),
}

# Debian package directory of each dataset it ships.
DEBIAN_DIRS = {"fashion_mnist": "fashion-mnist"}

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SPLITS = ("train", "test", "all")


class DatasetNotFoundError(FileNotFoundError):
    """No source could provide the requested dataset."""


@dataclass
class ImageData:
    """Images in memory: uint8 `(N, H, W, C)`, optional int labels, metadata.

    `ids` names each image where the source does: an emoji's code point
    (shared by its two styles) or a file's path within an image folder.
    """

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    source: str
    class_names: list[str] = field(default_factory=list)
    ids: np.ndarray | None = None

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self):
        if self.class_names:
            return len(self.class_names)
        return None if self.labels is None else int(self.labels.max()) + 1


def read_idx(path):
    """Reads one MNIST-format IDX file (optionally gzipped) into a numpy array.

    Args:
        path: path to an `...-idx3-ubyte` (images) or `...-idx1-ubyte` (labels)
            file, with or without a `.gz` suffix.

    Returns:
        A uint8 array: `(N, H, W)` for images, `(N,)` for labels.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        header = f.read(4)
        if len(header) != 4 or header[:2] != b"\x00\x00":
            raise ValueError(f"{path} is not an IDX file (bad magic number).")
        dtype_code, ndim = header[2], header[3]
        if dtype_code != 0x08:
            raise ValueError(
                f"{path}: only unsigned-byte IDX files are supported "
                f"(type code 0x08), got 0x{dtype_code:02x}."
            )
        shape = struct.unpack(f">{ndim}I", f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        raise ValueError(
            f"{path} is truncated: header promises shape {shape} "
            f"({int(np.prod(shape))} values) but holds {data.size}."
        )
    return data.reshape(shape)


def _find_idx_file(directory, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    return None


def _load_idx_dir(directory, split):
    images_stem, labels_stem = IDX_FILES[split]
    images_path = _find_idx_file(directory, images_stem)
    if images_path is None:
        return None
    images = read_idx(images_path)
    labels_path = _find_idx_file(directory, labels_stem)
    labels = read_idx(labels_path).astype(np.int32) if labels_path else None
    if labels is not None and len(labels) != len(images):
        raise ValueError(
            f"{directory}: {len(images)} images but {len(labels)} labels."
        )
    return images, labels


def _load_npz(path, split):
    try:
        with np.load(path, allow_pickle=False) as arrays:
            keys = set(arrays.files)
            for image_key, label_key in (
                (f"x_{split}", f"y_{split}"),
                (f"{split}_images", f"{split}_labels"),
                ("images", "labels"),
                ("x", "y"),
            ):
                if image_key in keys:
                    labels = arrays[label_key] if label_key in keys else None
                    return arrays[image_key], labels
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable .npz file ({error}).") from None
    except ValueError as error:  # e.g. arrays of Python objects
        raise ValueError(f"{path}: {error}") from None
    raise ValueError(
        f"{path} holds arrays {sorted(keys)}; expected x_{split}/y_{split}, "
        f"{split}_images/{split}_labels, images/labels or x/y."
    )


def load_from_directory(directory, split="train", name=None, image_size=None,
                        channels=None, background="white", resize="crop",
                        on_error="warn"):
    """Loads images from IDX files, a `.npz` file or a folder of images.

    Args:
        directory: a directory (or a `.npz` file path).
        split: `"train"` or `"test"` for IDX and `.npz` sources, and for a
            folder of images that has `train/` and `test/` sub-folders; other
            folders of images give all their images for any split.
        name: dataset name used for class names; defaults to the folder name.
        image_size, channels, background, resize, on_error: how images are
            converted, as in `keras_gans.image_files.load_image_folder`.

    Returns:
        An `ImageData`.
    """
    directory = os.path.expanduser(directory)
    name = name or os.path.basename(os.path.normpath(directory))
    class_names = CLASS_NAMES.get(name, [])
    ids = None
    if not os.path.exists(directory):
        raise DatasetNotFoundError(f"{directory} does not exist.")
    if os.path.isfile(directory) and directory.endswith(".npz"):
        images, labels = _load_npz(directory, split)
    elif os.path.isfile(directory):
        raise ValueError(f"{directory} is a file: pass a folder or a .npz file.")
    elif (found := _load_idx_dir(directory, split)) is not None:
        images, labels = found
    elif npz_files := sorted(f for f in os.listdir(directory) if f.endswith(".npz")):
        images, labels = _load_npz(os.path.join(directory, npz_files[0]), split)
    else:
        split_dir = os.path.join(directory, split)
        if split in IDX_FILES and all(os.path.isdir(os.path.join(directory, s))
                                      for s in IDX_FILES):
            directory = split_dir
        images, labels, folder_classes, paths = image_files.load_image_folder(
            directory, image_size, channels, background, resize, on_error)
        class_names, ids = folder_classes or [], np.asarray(paths)
    images = image_files.conform(as_uint8_images(images, source=directory), image_size,
                                 channels, background, resize)
    if labels is not None:
        labels = as_int_labels(labels, f"{directory} labels", len(class_names) or None)
    return ImageData(
        images=images,
        labels=labels,
        name=name,
        source=f"directory:{directory}",
        class_names=class_names,
        ids=ids,
    )


def load_from_tfds(name, split="train", data_dir=None, download=True):
    """Loads a dataset from tensorflow-datasets into memory as an `ImageData`.

    Raises:
        TensorFlowRequiredError: TensorFlow or tensorflow-datasets is not installed.
    """
    try:
        import tensorflow_datasets as tfds
    except ModuleNotFoundError as error:
        if error.name not in ("tensorflow", "tensorflow_datasets"):
            raise
        raise TensorFlowRequiredError(
            f"tfds:{name} needs TensorFlow and tensorflow-datasets: pip install tensorflow "
            "tensorflow-datasets") from None

    builder = tfds.builder(name, data_dir=data_dir)
    if download:
        builder.download_and_prepare()
    # Batches of a fixed size, not batch_size=-1: without recorded split sizes
    # tfds batches by sys.maxsize, which aborts the process.
    batches = list(tfds.as_numpy(builder.as_dataset(split=split, batch_size=8192)))
    if not batches:
        raise ValueError(f"tfds:{name} split {split!r} holds no examples.")
    arrays = {key: np.concatenate([batch[key] for batch in batches])
              for key in batches[0]}
    # FeaturesDict has items() but no get().
    label_feature = dict(builder.info.features.items()).get("label")
    class_names = list(getattr(label_feature, "names", []) or [])
    return ImageData(
        images=as_uint8_images(arrays["image"], source=f"tfds:{name}"),
        labels=as_int_labels(arrays["label"], f"tfds:{name} labels")
        if "label" in arrays else None,
        name=name,
        source=f"tfds:{name}",
        class_names=class_names or CLASS_NAMES.get(name, []),
    )


def as_uint8_images(images, source="images"):
    """Checks an image array and returns it as uint8 `(N, H, W, C)`.

    Accepts uint8 pixels in [0, 255], or integers or floats in [0, 255] that
    hold whole numbers. Raises a `ValueError` that names the problem
    otherwise: NaN or infinite pixels, fractions, or floats that all lie in
    [0, 1] (images scaled to [0, 1], which would train on black).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(
            f"{source}: expected images of shape (N, H, W) or (N, H, W, C), "
            f"got shape {images.shape}."
        )
    if images.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{source}: expected 1, 3 or 4 channels in the last axis, got shape "
            f"{images.shape}. Channels-first arrays must be transposed to "
            "channels-last."
        )
    if images.dtype == np.uint8:
        return images
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{source}: pixels must be numbers, got dtype {images.dtype}.")
    if images.size == 0:
        return images.astype(np.uint8)
    if np.issubdtype(images.dtype, np.floating):
        if not np.all(np.isfinite(images)):
            raise ValueError(f"{source}: {int(np.sum(~np.isfinite(images)))} pixel values "
                             "are NaN or infinite.")
        if images.max() <= 1.0 and images.min() >= 0.0 and np.any(images % 1 != 0):
            raise ValueError(f"{source}: float pixels lie in [0, 1]; keras-gans expects "
                             "values in [0, 255]: multiply them by 255.")
    if images.min() < 0 or images.max() > 255:
        raise ValueError(
            f"{source}: pixel values lie in [{images.min()}, {images.max()}]; "
            "expected uint8-style values in [0, 255]."
        )
    fractional = images[images % 1 != 0] if np.issubdtype(images.dtype, np.floating) else []
    if len(fractional):
        raise ValueError(f"{source}: pixel values must be whole numbers in [0, 255]; "
                         f"found {fractional[0]:g}.")
    return images.astype(np.uint8)


def as_int_labels(labels, source="labels", num_classes=None):
    """Checks class labels and returns them as int32, without rounding.

    Integers, or floats that hold whole numbers, in `[0, num_classes)`.
    Strings (even `"8"`) and fractions are errors that name `source`.

    Example:

    ```python
    as_int_labels(np.array([0.0, 2.0]), num_classes=3)   # array([0, 2], dtype=int32)
    ```
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{source}: labels must be one number per image, got shape "
                         f"{labels.shape}.")
    if labels.dtype == bool or not (np.issubdtype(labels.dtype, np.integer)
                                    or np.issubdtype(labels.dtype, np.floating)):
        example = f" such as '{labels.flat[0]}'" if labels.size else ""
        raise ValueError(f"{source}: labels must be integers, got {labels.dtype} "
                         f"values{example}.")
    if labels.size == 0:
        return labels.astype(np.int32)
    if np.issubdtype(labels.dtype, np.floating):
        bad = labels[~np.isfinite(labels) | (labels % 1 != 0)]
        if bad.size:
            raise ValueError(f"{source}: labels must be whole numbers, found {bad[0]:g}.")
    if labels.min() < 0:
        raise ValueError(f"{source}: labels must be at least 0, found {labels.min():g}.")
    if num_classes is not None and labels.max() >= num_classes:
        raise ValueError(f"{source}: label {labels.max():g} is out of range for "
                         f"{num_classes} classes (0 to {num_classes - 1}).")
    return labels.astype(np.int32)


def load_images(name="fashion_mnist", split="train", data_dir=None,
                source="auto", image_size=None, channels=None, style="google",
                background="white", resize="crop", on_error="warn"):
    """Loads a dataset into memory from the first source that has it.

    Args:
        name: dataset name (`"fashion_mnist"`, `"mnist"`, `"emoji"`,
            `"cifar10"`, ...).
        split: `"train"` or `"test"` (`"all"` for emoji too).
        data_dir: a local directory (or `.npz` file) to read from; for emoji,
            the npm package folder or its `.tgz`.
        source: `"auto"` or one of `"directory"`, `"debian"`, `"tfds"`.
        image_size: an int or `(height, width)` to resize every image to.
        channels: 1 or 3; `None` keeps the source's (a folder: 1 if every
            image is gray, else 3; RGBA becomes RGB).
        style: for emoji, `"google"` or `"twitter"`.
        background, resize, on_error: see
            `keras_gans.image_files.load_image_folder`.

    Returns:
        An `ImageData` with uint8 images and int32 labels (or `None`).

    Raises:
        DatasetNotFoundError: no source had the data; the message lists the
            sources tried and how to get the data.

    Example:

    ```python
    emoji = load_images("emoji", style="twitter", image_size=32)
    emoji.images.shape, emoji.class_names[3]   # (3410, 32, 32, 3), 'Food & Drink'
    ```
    """
    if source not in ("auto", *SOURCES):
        raise ValueError(
            f"Unknown source {source!r}; expected 'auto' or one of {SOURCES}."
        )
    if split not in SPLITS or (split == "all" and name != "emoji"):
        raise ValueError(f"Unknown split {split!r}; expected 'train' or 'test'"
                         + (" or 'all'" if name == "emoji" else "") + ".")
    suggestion = name.replace("-", "_").lower()
    if data_dir is None and name not in CLASS_NAMES and suggestion in CLASS_NAMES:
        raise DatasetNotFoundError(f"Unknown dataset {name!r}; did you mean {suggestion!r}?")
    conversion = dict(image_size=image_size, channels=channels, background=background,
                      resize=resize)
    if name == "emoji":
        images, labels, code_points = emoji.load_emoji(
            style, split, image_size or 64, channels or 3, background, data_dir)
        return ImageData(images, labels, name, f"emoji:{style}",
                         class_names=list(emoji.CATEGORIES), ids=code_points)
    tried = []

    if source in ("auto", "directory") and data_dir is not None:
        return load_from_directory(data_dir, split, name=name, on_error=on_error,
                                   **conversion)
    if source == "directory":
        raise ValueError("source='directory' needs data_dir=...")

    debian_dir = os.path.join(DEBIAN_DATASETS_DIR, DEBIAN_DIRS.get(name, name))
    if source in ("auto", "debian"):
        if name in DEBIAN_DIRS and os.path.isdir(debian_dir):
            data = load_from_directory(debian_dir, split, name=name, **conversion)
            data.source = f"debian:{debian_dir}"
            return data
        tried.append(f"debian ({debian_dir}: not present)")

    tfds_hint = f"or connect to the internet so tensorflow-datasets can download '{name}'"
    if source in ("auto", "tfds"):
        try:
            data = load_from_tfds(name, split)
        except Exception as error:  # tfds raises many types when offline
            detail = " ".join(str(error).split())[:200]  # one line
            tried.append(f"tfds ({type(error).__name__}: {detail})")
            if isinstance(error, TensorFlowRequiredError):
                tfds_hint = (f"or install TensorFlow and tensorflow-datasets, which download "
                             f"'{name}'")
        else:
            data.images = image_files.conform(data.images, **conversion)
            return data

    hints = [
        "pass data_dir=/path/to/folder (IDX files, a .npz, or images, flat or "
        "in class folders; --data-dir on the command line)",
        tfds_hint,
    ]
    if name in DEBIAN_DIRS:
        hints.insert(0, "install it with `apt-get install dataset-fashion-mnist`")
    raise DatasetNotFoundError(
        f"Dataset {name!r} ({split}) was not found. Tried: "
        + "; ".join(tried)
        + ". To get it: "
        + "; ".join(hints)
        + "."
    )


def uses_tf_data():
    """Whether datasets are `tf.data` pipelines: on the TensorFlow Keras backend.
    Elsewhere they are `keras.utils.PyDataset`s, also where TensorFlow is installed."""
    return keras.backend.backend() == "tensorflow"


def to_unit_range(images):
    """Maps uint8 pixels in [0, 255] to float32 in [-1, 1]: a tensor on the
    TensorFlow backend (also inside a `tf.data` pipeline), numpy elsewhere."""
    if uses_tf_data():
        import tensorflow as tf

        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return _scaled(np.asarray(images))


def _scaled(images):
    return images.astype(np.float32) / 127.5 - 1.0


def to_uint8(images):
    """Maps images in [-1, 1] back to uint8 pixels."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


class _Orders:
    """The orders in which a stream visits `n` examples: one permutation per
    pass, a function of the seed, the epoch and the pass alone, so that any
    batch can be read in any order and a seed repeats every epoch's batches.

    Args:
        n: examples.
        shuffle: permute them; otherwise every pass is `0, 1, ..., n - 1`.
        seed: an int, or `None` for fresh randomness.
    """

    def __init__(self, n, shuffle, seed):
        self.n, self.shuffle = n, shuffle
        self.entropy = np.random.SeedSequence(None if seed is None else seed % 2**64).entropy
        self.cache = {}

    def order(self, epoch, pass_index):
        key = (epoch, pass_index)
        if key not in self.cache:
            self.cache = {k: v for k, v in self.cache.items() if k >= (epoch, pass_index - 1)}
            rng = np.random.default_rng([self.entropy, epoch, pass_index])
            self.cache[key] = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        return self.cache[key]

    def rows(self, start, stop, epoch=0):
        """The examples at positions `[start, stop)` of `epoch`'s stream,
        which runs through pass after pass."""
        passes, offsets = np.divmod(np.arange(start, stop), self.n)
        return np.concatenate([self.order(epoch, p)[offsets[passes == p]]
                               for p in np.unique(passes)])


class ImageBatches(keras.utils.PyDataset):
    """Batches of in-memory images for `fit` on any Keras backend: float32
    numpy images in [-1, 1] (and int32 labels), reshuffled every epoch.
    `make_dataset` returns one where Keras does not run on TensorFlow.

    Args:
        images: uint8 array `(N, H, W, C)`, checked by `make_dataset`.
        labels: int32 array `(N,)` or `None`.
        batch_size, shuffle, seed, drop_remainder, repeat: as in `make_dataset`.

    Example:

    ```python
    batches = ImageBatches(images, labels, batch_size=64, seed=0)
    images_0, labels_0 = batches[0]
    ```
    """

    def __init__(self, images, labels=None, batch_size=64, shuffle=True, seed=None,
                 drop_remainder=True, repeat=False):
        super().__init__()
        self.images, self.labels = images, labels
        self.batch_size, self.drop_remainder, self.repeats = batch_size, drop_remainder, repeat
        self.shuffle, self.seed = shuffle, seed
        self.orders = _Orders(len(images), shuffle, seed)
        self.epoch = 0

    @property
    def num_batches(self):
        if self.repeats:
            return None
        return (len(self.images) // self.batch_size if self.drop_remainder
                else -(-len(self.images) // self.batch_size))

    def __getitem__(self, index):
        if index < 0 or (not self.repeats and index >= self.num_batches):
            raise IndexError(f"Batch {index} of {self.num_batches}.")
        start = index * self.batch_size
        if self.repeats:
            rows = self.orders.rows(start, start + self.batch_size)
        else:
            rows = self.orders.order(self.epoch, 0)[start:start + self.batch_size]
        images = _scaled(self.images[rows])
        return images if self.labels is None else (images, self.labels[rows])

    def on_epoch_end(self):
        self.epoch += 1

    def repeat(self):
        """These images as one stream of batches without end, like
        `make_dataset(..., repeat=True)` (`fit` then needs `steps_per_epoch`)."""
        return ImageBatches(self.images, self.labels, self.batch_size, self.shuffle, self.seed,
                            self.drop_remainder, repeat=True)


class MappedBatches(keras.utils.PyDataset):
    """The batches of a `PyDataset` passed through a function, as numpy.

    Args:
        dataset: a `keras.utils.PyDataset`, e.g. an `ImageBatches`.
        function: maps the parts of one batch, e.g. `(images, labels)`, to a
            new batch (Keras tensors are brought back to numpy).

    Example:

    ```python
    flipped = MappedBatches(ImageBatches(images, labels), lambda x, y: (x[:, :, ::-1], y))
    ```
    """

    def __init__(self, dataset, function):
        super().__init__()
        self.dataset, self.function = dataset, function

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def __getitem__(self, index):
        batch = self.dataset[index]
        mapped = self.function(*batch) if isinstance(batch, tuple) else self.function(batch)
        return keras.tree.map_structure(keras.ops.convert_to_numpy, mapped)

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


class _RepeatedBatch(keras.utils.PyDataset):
    """One batch, without end."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        return self.batch


def repeat_batch(batch):
    """A dataset that yields `batch` without end, for `fit(..., steps_per_epoch=N)`.

    Args:
        batch: an array, or a tuple of arrays such as `(images, labels)`.

    Returns:
        A `tf.data.Dataset` on the TensorFlow backend, else a `PyDataset`.
    """
    if uses_tf_data():
        import tensorflow as tf

        return tf.data.Dataset.from_tensors(batch).repeat()
    return _RepeatedBatch(batch)


def batch_count(dataset):
    """The batches in one epoch of a dataset made here: a `tf.data.Dataset`'s
    cardinality or a `PyDataset`'s `num_batches`."""
    if isinstance(dataset, keras.utils.PyDataset):
        return dataset.num_batches
    return int(dataset.cardinality())


def make_dataset(images, labels=None, batch_size=64, shuffle=True, seed=None,
                 drop_remainder=True, repeat=False, initial_epoch=0, use_tf_data=None):
    """Builds the training pipeline from uint8 arrays.

    Args:
        images: uint8 array `(N, H, W, C)`.
        labels: optional int array `(N,)`; the dataset then yields
            `(images, labels)` batches.
        batch_size: images per batch.
        shuffle: reshuffle every epoch.
        seed: shuffle seed.
        drop_remainder: drop a last partial batch so every step has one shape.
        repeat: repeat forever (then pass `steps_per_epoch` to `fit`).
        initial_epoch: the epoch `fit` starts at. An `ImageBatches` shuffles
            every epoch as a function of the seed and the epoch alone, so a
            resumed run's epochs are those of an uninterrupted run.
        use_tf_data: a `tf.data.Dataset` (`True`) or an `ImageBatches`
            (`False`); default: `tf.data` on the TensorFlow backend.

    Returns:
        A `tf.data.Dataset` or an `ImageBatches` of float32 images in
        [-1, 1] (and int32 labels).
    """
    images = as_uint8_images(images)
    if len(images) == 0:
        raise ValueError("The dataset is empty: no images to train on.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    if drop_remainder and len(images) < batch_size:
        raise ValueError(
            f"The dataset holds {len(images)} images, fewer than one batch of "
            f"{batch_size}: use a smaller batch_size or drop_remainder=False."
        )
    if labels is not None:
        labels = as_int_labels(labels)
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    if not (uses_tf_data() if use_tf_data is None else use_tf_data):
        batches = ImageBatches(images, labels, batch_size, shuffle, seed, drop_remainder,
                               repeat)
        batches.epoch = initial_epoch
        return batches
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if labels is not None:
        dataset = dataset.map(lambda x, y: (to_unit_range(x), y),
                              num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def load_dataset(name="fashion_mnist", split="train", batch_size=64,
                 with_labels=False, data_dir=None, source="auto", shuffle=True,
                 seed=None, limit=None, drop_remainder=True, repeat=False,
                 **conversion):
    """Loads an image dataset ready for `fit`.

    Args:
        name: dataset name (`"fashion_mnist"`, `"mnist"`, `"cifar10"`, ...).
        split: `"train"` or `"test"`.
        batch_size: images per batch.
        with_labels: yield `(images, labels)` (conditional models need this).
        data_dir, source: where to read from; see the module docstring.
        shuffle, seed: reshuffle every epoch with this seed.
        limit: keep only the first `limit` examples (for quick runs).
        drop_remainder, repeat: see `make_dataset`.
        **conversion: `image_size`, `channels`, `style`, `background`,
            `resize`, `on_error`, as in `load_images`.

    Returns:
        Float32 images in [-1, 1] with shape `(batch, H, W, C)`, or
        `(images, labels)` pairs: a `tf.data.Dataset` on the TensorFlow
        backend, elsewhere an `ImageBatches` (see `make_dataset`).

    Example:

    ```python
    dataset = keras_gans.data.load_dataset("fashion_mnist", batch_size=128)
    gan.fit(dataset, epochs=5)
    ```
    """
    data = load_images(name, split, data_dir=data_dir, source=source, **conversion)
    images, labels = data.images, data.labels
    if limit is not None:
        images = images[:limit]
        labels = None if labels is None else labels[:limit]
    if with_labels and labels is None:
        raise ValueError(
            f"with_labels=True, but {data.source} provides no labels for {name!r}."
        )
    return make_dataset(images, labels if with_labels else None,
                        batch_size=batch_size, shuffle=shuffle, seed=seed,
                        drop_remainder=drop_remainder, repeat=repeat)


# ------------------------------------------------------------ image-to-image
DOMAIN_SIDES = ("A", "B")


def domain_name(domain):
    """A short name of a domain for run folders: `emoji_google`,
    `horse2zebra`, or a folder's name."""
    if domain.startswith("emoji:"):
        return "emoji_" + domain.split(":", 1)[1]
    if domain.startswith("tfds:"):
        return domain.split(":", 1)[1].rsplit("/", 1)[-1]
    return os.path.basename(os.path.normpath(os.path.expanduser(domain)))


def load_domain(domain, split="train", side="A", image_size=None, channels=None,
                background="white", resize="crop", on_error="warn"):
    """Loads the images of one domain of an image-to-image task.

    Channels follow the data unless `channels` is given: emoji are colour, a
    folder is gray (1 channel) when every image in it is, and a
    tensorflow-datasets set keeps its own. `load_domains` brings two domains
    to one channel count.

    Args:
        domain: `"emoji:google"` or `"emoji:twitter"` (the split of that
            style; `ids` are code points, shared by the styles), a folder of
            images (its `train/` or `test/` sub-folder if it has both, else all
            its images; `ids` are relative paths), or
            `"tfds:cycle_gan/<name>"` (tensorflow-datasets' CycleGAN sets,
            downloaded on first use: the split `trainA`, `trainB`, `testA` or
            `testB` from `split` and `side`).
        split: `"train"` or `"test"`.
        side: `"A"` or `"B"`: which half of a `cycle_gan/<name>` set.
        image_size, channels, background, resize, on_error: as in `load_images`
            (`channels=None` keeps the data's).

    Returns:
        An `ImageData`.

    Example:

    ```python
    zebras = load_domain("tfds:cycle_gan/horse2zebra", side="B", image_size=128)
    ```
    """
    if split not in ("train", "test"):
        raise ValueError(f"Unknown split {split!r}; expected 'train' or 'test'.")
    if side not in DOMAIN_SIDES:
        raise ValueError(f"side must be 'A' or 'B', got {side!r}.")
    conversion = dict(image_size=image_size, channels=channels, background=background,
                      resize=resize)
    if domain.startswith("emoji:"):
        return load_images("emoji", split, style=domain.split(":", 1)[1], **conversion)
    if domain.startswith("tfds:"):
        name = domain.split(":", 1)[1]
        if not name.startswith("cycle_gan/"):
            raise ValueError(f"{domain}: image-to-image tfds sources are cycle_gan/<name>, "
                             "e.g. tfds:cycle_gan/horse2zebra.")
        data = load_from_tfds(name, f"{split}{side}")
        data.images = image_files.conform(data.images, **conversion)
        data.labels, data.class_names = None, []
        return data
    path = os.path.expanduser(domain)
    if not os.path.exists(path):
        raise DatasetNotFoundError(f"Domain {side}: {domain} does not exist (a domain is "
                                   "emoji:google, emoji:twitter, tfds:cycle_gan/<name> or "
                                   "a folder of images).")
    if not os.path.isdir(path):
        raise DatasetNotFoundError(f"Domain {side}: {domain} is a file; give the folder "
                                   "that holds the images.")
    return load_from_directory(domain, split, on_error=on_error, **conversion)


def load_domains(domain_a, domain_b, split="train", channels=None, **conversion):
    """Loads the two domains of an image-to-image task with one channel count.

    With `channels=None` the channels follow the data: 1 when both domains
    are gray, 3 when both are colour. Where one domain is gray and the other
    colour, both are loaded as 3 channels, the gray one's single channel
    repeated into RGB, and one line on stderr says so (a model can then
    translate gray into colour; `channels=1` makes both gray instead).

    Args:
        domain_a, domain_b: the domains, as in `load_domain`.
        split: `"train"` or `"test"`.
        channels: 1, 3, or `None` to follow the data.
        **conversion: `image_size`, `background`, `resize`, `on_error`, as
            in `load_images`.

    Returns:
        `(a, b)`: two `ImageData` with images of one channel count.

    Example:

    ```python
    a, b = load_domains("~/sketches", "~/photos", image_size=64)
    a.image_shape[-1] == b.image_shape[-1]   # True
    ```
    """
    a = load_domain(domain_a, split, "A", channels=channels, **conversion)
    b = load_domain(domain_b, split, "B", channels=channels, **conversion)
    if a.image_shape[-1] != b.image_shape[-1]:
        gray, gray_domain, colour_domain = ((a, domain_a, domain_b) if a.image_shape[-1] == 1
                                            else (b, domain_b, domain_a))
        print(f"{gray_domain} is gray and {colour_domain} colour: the gray images are "
              "repeated into RGB, so both have 3 channels (channels=1, --channels 1, makes "
              "both gray).", file=sys.stderr)
        gray.images = image_files.conform(gray.images, channels=3)
    return a, b


def unpaired_dataset(images_a, images_b, batch_size=1, seed=None, initial_epoch=0,
                     use_tf_data=None):
    """Builds the training pipeline of unpaired `(images_a, images_b)` batches.

    Each domain is a stream of its own, shuffled with its own seed and
    reshuffled every time it is used up, so which images meet in a batch
    carries no information. An epoch is as many batches as the larger domain
    fills: it sees every image of that domain once, and the other domain's
    images about once or more.

    Args:
        images_a, images_b: uint8 arrays `(N, H, W, C)` of one shape per image.
        batch_size: image pairs per batch.
        seed: shuffle seed; domain B's stream uses `seed + 1`.
        initial_epoch: the epoch `fit` starts at. An `UnpairedBatches`
            draws every epoch's batches as a function of the seed and the
            epoch alone, so a resumed run's epochs are those of an
            uninterrupted run.
        use_tf_data: a `tf.data.Dataset` (`True`) or an `UnpairedBatches`
            (`False`); default: `tf.data` on the TensorFlow backend.

    Returns:
        `(images_a, images_b)` float32 batches in [-1, 1]: a `tf.data.Dataset`
        on the TensorFlow backend, elsewhere an `UnpairedBatches`.
    """
    images_a, images_b = as_uint8_images(images_a, "domain A"), as_uint8_images(
        images_b, "domain B")
    if images_a.shape[1:] != images_b.shape[1:]:
        raise ValueError(f"Domain A holds images of shape {images_a.shape[1:]}, domain B of "
                         f"{images_b.shape[1:]}: bring both to one size and channel count.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    steps = max(len(images_a), len(images_b)) // batch_size
    if steps == 0 or min(len(images_a), len(images_b)) == 0:
        raise ValueError(f"Domains of {len(images_a)} and {len(images_b)} images fill no "
                         f"batch of {batch_size}.")

    if not (uses_tf_data() if use_tf_data is None else use_tf_data):
        batches = UnpairedBatches(images_a, images_b, batch_size, seed, steps)
        batches.epoch = initial_epoch
        return batches
    import tensorflow as tf

    def stream(images, stream_seed):
        return tf.data.Dataset.from_tensor_slices(images).shuffle(
            len(images), seed=stream_seed, reshuffle_each_iteration=True).repeat()

    seed_b = None if seed is None else seed + 1
    dataset = tf.data.Dataset.zip((stream(images_a, seed), stream(images_b, seed_b)))
    dataset = dataset.batch(batch_size, drop_remainder=True).take(steps)
    dataset = dataset.map(lambda a, b: (to_unit_range(a), to_unit_range(b)),
                          num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


class UnpairedBatches(keras.utils.PyDataset):
    """Unpaired `(images_a, images_b)` batches for `fit` on any Keras backend,
    float32 numpy in [-1, 1]; `unpaired_dataset` returns one where Keras does
    not run on TensorFlow. Each domain is a stream of its own, reshuffled
    every time it is used up and afresh every epoch.

    Args:
        images_a, images_b: uint8 arrays `(N, H, W, C)`, checked by `unpaired_dataset`.
        batch_size: image pairs per batch.
        seed: shuffle seed; domain B's stream uses `seed + 1`.
        steps: batches per epoch.
    """

    def __init__(self, images_a, images_b, batch_size, seed, steps):
        super().__init__()
        self.domains = [(images_a, _Orders(len(images_a), True, seed)),
                        (images_b, _Orders(len(images_b), True,
                                           None if seed is None else seed + 1))]
        self.batch_size, self.steps = batch_size, steps
        self.epoch = 0

    @property
    def num_batches(self):
        return self.steps

    def __getitem__(self, index):
        if not 0 <= index < self.steps:
            raise IndexError(f"Batch {index} of {self.steps}.")
        start = index * self.batch_size
        return tuple(_scaled(images[orders.rows(start, start + self.batch_size, self.epoch)])
                     for images, orders in self.domains)

    def on_epoch_end(self):
        self.epoch += 1


def load_unpaired(domain_a, domain_b, image_size, batch_size=1, split="train", seed=None,
                  limit=None, **conversion):
    """Loads two image domains as a dataset of unpaired batches for `fit`.

    Args:
        domain_a, domain_b: `"emoji:google"`, `"emoji:twitter"`, a folder of
            images or `"tfds:cycle_gan/<name>"`; see `load_domain`.
        image_size: the side both domains are brought to, e.g. 64.
        batch_size: image pairs per batch (the paper: 1).
        split: `"train"` or `"test"`.
        seed: shuffle seed.
        limit: keep only the first `limit` images of each domain.
        **conversion: `channels` (`None`: as the data, see `load_domains`),
            `background`, `resize`, `on_error`, as in `load_images`.

    Returns:
        A dataset of `(images_a, images_b)`; see `unpaired_dataset`.

    Example:

    ```python
    dataset = load_unpaired("emoji:google", "emoji:twitter", image_size=64, batch_size=4)
    cyclegan.fit(dataset, epochs=10)
    ```
    """
    a, b = load_domains(domain_a, domain_b, split, image_size=image_size, **conversion)
    return unpaired_dataset(a.images[:limit], b.images[:limit], batch_size, seed)


def load_pairs(domain_a, domain_b, image_size=None, split="test", **conversion):
    """The images two domains hold of the same things, matched by `ids`.

    Emoji styles pair by code point: the emoji both styles draw, of the split
    (the held-out emoji of `"test"` are kept out of `"train"` in both
    styles). Folders pair by file name, the extension aside: `photos/cat.jpg`
    with `labels/cat.png`, in their `train/` or `test/` sub-folders where
    both folders have them. Every image of a folder must have its partner,
    of the same size in pixels, and, unless `channels` is given, the pairs
    must agree on which side is gray and which colour; a `ValueError` names
    the files that do not. Channels follow `load_domains`.

    Args:
        domain_a, domain_b: two emoji styles (`"emoji:google"`,
            `"emoji:twitter"`) or two folders of images.
        image_size: the side both are brought to, e.g. 64; `None` keeps the
            images' (emoji: 64).
        split: `"train"` or `"test"`.
        **conversion: `channels` (`None`: as the data), `background`,
            `resize`, `on_error`, as in `load_images`.

    Returns:
        `(a, b)`: two `ImageData` whose `i`-th images show the same thing, in
        domain A's order, with their labels where they have them.

    Example:

    ```python
    google, twitter = load_pairs("emoji:google", "emoji:twitter", 64)
    sketches, photos = load_pairs("~/sketches", "~/photos", 128, split="train")
    ```
    """
    emoji_pair = all(domain.startswith("emoji:") for domain in (domain_a, domain_b))
    folder_pair = not any(domain.startswith(("emoji:", "tfds:"))
                          for domain in (domain_a, domain_b))
    if not (emoji_pair or folder_pair):
        raise ValueError(f"{domain_a} and {domain_b} cannot be paired: pairs are two emoji "
                         "styles (matched by code point) or two folders of images (matched "
                         "by file name).")
    a, b = load_domains(domain_a, domain_b, split, image_size=image_size, **conversion)
    if folder_pair:
        rows_a, rows_b = _pair_files(a, b, domain_a, domain_b,
                                     check_gray=conversion.get("channels") is None)
    else:
        index_b = {image_id: i for i, image_id in enumerate(b.ids)}
        rows_a = [i for i, image_id in enumerate(a.ids) if image_id in index_b]
        if not rows_a:
            raise ValueError(f"{domain_a} and {domain_b} ({split}) share no image ids.")
        rows_b = [index_b[a.ids[i]] for i in rows_a]

    def subset(data, rows):
        return ImageData(data.images[rows], None if data.labels is None else data.labels[rows],
                         data.name, data.source, data.class_names, data.ids[rows])

    return subset(a, rows_a), subset(b, rows_b)


def _pair_files(a, b, domain_a, domain_b, check_gray):
    """`(rows of a, rows of b)` of the images of two folders with one file name
    (the extension aside), after checking that every image has its partner,
    of its size, and that the pairs agree on which side is gray."""
    from PIL import Image

    if a.ids is None or b.ids is None:
        raise ValueError(f"{domain_a} and {domain_b} must both be folders of image files to "
                         "be paired by file name.")
    folders = [data.source.split(":", 1)[1] for data in (a, b)]
    keys = []
    for data, folder in zip((a, b), folders, strict=True):
        by_key = {}
        for row, image_id in enumerate(data.ids):
            key = os.path.splitext(image_id)[0]
            if key in by_key:
                raise ValueError(f"{os.path.join(folder, data.ids[by_key[key]])} and "
                                 f"{os.path.join(folder, image_id)} share a file name: a "
                                 "pair is matched by name, whatever the extension, so keep one.")
            by_key[key] = row
        keys.append(by_key)
    alone_a = [key for key in keys[0] if key not in keys[1]]
    alone_b = [key for key in keys[1] if key not in keys[0]]
    if alone_a or alone_b:
        side = 0 if alone_a else 1
        key = (alone_a or alone_b)[0]
        path = os.path.join(folders[side], (a, b)[side].ids[keys[side][key]])
        raise ValueError(f"{path} has no partner of its name in {(domain_b, domain_a)[side]} "
                         "(pairs are matched by file name, "
                         f"whatever the extension); {len(alone_a)} image(s) of domain A and "
                         f"{len(alone_b)} of domain B have none.")
    rows_a = list(keys[0].values())
    rows_b = [keys[1][key] for key in keys[0]]
    pairs = [(os.path.join(folders[0], a.ids[i]), os.path.join(folders[1], b.ids[j]))
             for i, j in zip(rows_a, rows_b, strict=True)]
    for path_a, path_b in pairs:
        with Image.open(path_a) as image_a, Image.open(path_b) as image_b:
            size_a, size_b = image_a.size, image_b.size
        if size_a != size_b:
            raise ValueError(f"{path_a} is {size_a[0]}x{size_a[1]} but its partner {path_b} "
                             f"is {size_b[0]}x{size_b[1]}: the images of a pair must be "
                             "aligned, of one size.")
    if check_gray:
        kinds = [(_is_gray(a.images[i]), _is_gray(b.images[j]))
                 for i, j in zip(rows_a, rows_b, strict=True)]
        odd = next((n for n, kind in enumerate(kinds) if kind != kinds[0]), None)
        if odd is not None:
            def described(n):
                return " and ".join(f"{path} is {'gray' if gray else 'colour'}"
                                    for path, gray in zip(pairs[n], kinds[n], strict=True))

            raise ValueError(f"{described(0)}, but {described(odd)}: the pairs must agree on "
                             "which side is gray; pass channels=3 (--channels 3) to treat "
                             "every image as colour, or channels=1 as gray.")
    return rows_a, rows_b


def _is_gray(image):
    return image.shape[-1] == 1 or bool(np.all(image == image[..., :1]))


def paired_dataset(images_a, images_b, batch_size=1, seed=None, initial_epoch=0,
                   use_tf_data=None):
    """Builds the training pipeline of aligned `(images_a, images_b)` batches:
    the `i`-th image of A with the `i`-th of B, the pairs shuffled every epoch.

    Args:
        images_a, images_b: uint8 arrays `(N, H, W, C)` of one shape, the
            `i`-th image of B the partner of the `i`-th of A.
        batch_size: pairs per batch; a last partial batch is dropped.
        seed: shuffle seed.
        initial_epoch: the epoch `fit` starts at. A `PairedBatches` shuffles
            every epoch as a function of the seed and the epoch alone, so a
            resumed run's epochs are those of an uninterrupted run.
        use_tf_data: a `tf.data.Dataset` (`True`) or a `PairedBatches`
            (`False`); default: `tf.data` on the TensorFlow backend.

    Returns:
        `(images_a, images_b)` float32 batches in [-1, 1].

    Example:

    ```python
    sketches, photos = load_pairs("~/sketches", "~/photos", 64, split="train")
    dataset = paired_dataset(sketches.images, photos.images, batch_size=4, seed=0)
    ```
    """
    images_a, images_b = as_uint8_images(images_a, "domain A"), as_uint8_images(
        images_b, "domain B")
    if images_a.shape != images_b.shape:
        raise ValueError(f"Pairs need two arrays of one shape; domain A holds "
                         f"{images_a.shape}, domain B {images_b.shape}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    if len(images_a) < batch_size:
        raise ValueError(f"{len(images_a)} pairs fill no batch of {batch_size}: use a smaller "
                         "batch_size.")
    if not (uses_tf_data() if use_tf_data is None else use_tf_data):
        batches = PairedBatches(images_a, images_b, batch_size, seed)
        batches.epoch = initial_epoch
        return batches
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images_a, images_b)).shuffle(
        len(images_a), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(lambda a, b: (to_unit_range(a), to_unit_range(b)),
                          num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


class PairedBatches(keras.utils.PyDataset):
    """Aligned `(images_a, images_b)` batches for `fit` on any Keras backend,
    float32 numpy in [-1, 1], the pairs reshuffled every epoch;
    `paired_dataset` returns one where Keras does not run on TensorFlow.

    Args:
        images_a, images_b: uint8 arrays `(N, H, W, C)`, checked by `paired_dataset`.
        batch_size: pairs per batch.
        seed: shuffle seed.
    """

    def __init__(self, images_a, images_b, batch_size, seed):
        super().__init__()
        self.images_a, self.images_b = images_a, images_b
        self.batch_size = batch_size
        self.orders = _Orders(len(images_a), True, seed)
        self.epoch = 0

    @property
    def num_batches(self):
        return len(self.images_a) // self.batch_size

    def __getitem__(self, index):
        if not 0 <= index < self.num_batches:
            raise IndexError(f"Batch {index} of {self.num_batches}.")
        start = index * self.batch_size
        rows = self.orders.order(self.epoch, 0)[start:start + self.batch_size]
        return _scaled(self.images_a[rows]), _scaled(self.images_b[rows])

    def on_epoch_end(self):
        self.epoch += 1


def load_paired(domain_a, domain_b, image_size=None, batch_size=1, split="train", seed=None,
                limit=None, **conversion):
    """Loads aligned pairs of two domains as a dataset for `fit` (pix2pix).

    Args:
        domain_a, domain_b: two emoji styles or two folders; see `load_pairs`.
        image_size: the side both are brought to, e.g. 64.
        batch_size: pairs per batch (the paper: 1 to 10).
        split: `"train"` or `"test"`.
        seed: shuffle seed.
        limit: keep only the first `limit` pairs.
        **conversion: `channels`, `background`, `resize`, `on_error`, as in
            `load_pairs`.

    Returns:
        A dataset of `(images_a, images_b)`; see `paired_dataset`.

    Example:

    ```python
    dataset = load_paired("emoji:google", "emoji:twitter", 64, batch_size=4)
    pix2pix.fit(dataset, epochs=10)
    ```
    """
    a, b = load_pairs(domain_a, domain_b, image_size, split, **conversion)
    return paired_dataset(a.images[:limit], b.images[:limit], batch_size, seed)
