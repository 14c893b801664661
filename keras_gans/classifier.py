"""Small CNN classifiers whose features measure GANs offline.

InceptionV3's ImageNet weights must be downloaded, and ImageNet features suit
small images poorly. keras-gans therefore trains a small classifier per
dataset with `benchmarks/train_classifier.py` and ships its weights in
`keras_gans/assets/`: `<dataset>_classifier.weights.h5`, or
`<dataset>_<size>_classifier.weights.h5` for a dataset shipped at several
sizes (emoji at 32 and 64 pixels). FID and KID computed in its 128-dimensional
`"features"` layer are the offline default; they are not comparable with FIDs
computed in Inception's feature space.

The network deepens with the image size: convolution blocks halve the image
until its side is at most 4 pixels (3 blocks at 28 and 32, 4 at 64).
The emoji classifiers learn the nine categories from both styles' training
splits with random shifts, and an auxiliary head (dropped after training)
makes their features tell the two styles apart.

For a user's folder of images in class folders, `folder_classifier_extractor`
trains a classifier on the folder once and caches it under
`$KERAS_GANS_CACHE/classifiers/` (default `~/.cache/keras_gans/classifiers/`),
keyed by the folder's file list and the image shape. A folder without class
folders gets an encoder learned from its images without labels instead
(`self_supervised_extractor`): the same network trained with SimCLR's
contrastive loss to recognise two random views (shifted, zoomed, brightness
and contrast changed) of one image among the others of a batch, cached the
same way. `folder_extractor` picks between the two.
"""

import hashlib
import json
import math
import os
import re
import sys
import time

import keras
import numpy as np
from keras import layers, ops

from keras_gans import data, emoji, files
from keras_gans.metrics import FeatureExtractor

ASSETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
IMAGE_SHAPES = {"fashion_mnist": (28, 28, 1), "mnist": (28, 28, 1),
                "cifar10": (32, 32, 3), "emoji": (64, 64, 3)}
# Datasets shipped at several sizes have one classifier per size.
IMAGE_SIZES = {"emoji": (32, 64)}
FEATURE_DIM = 128
LAST_BLOCK_FILTERS = 128
MIN_FILTERS = 16
FINAL_SIDE = 4
FOLDER_TRAINING_STEPS = 1500
FOLDER_MAX_EPOCHS = 100
FOLDER_HELD_OUT = 0.1
# Contrastive training of a folder's encoder when it has no class folders.
SELF_SUPERVISED_STEPS = 500
SELF_SUPERVISED_BATCH_SIZE = 64
PROJECTION_DIM = 64
TEMPERATURE = 1.0


def block_filters(image_shape):
    """The filters of each convolution block for images of `image_shape`.

    Blocks halve the image until its smaller side is at most 4 pixels. The
    last three have 32, 64 and 128 filters; earlier ones 16.

    Example:

    ```python
    block_filters((28, 28, 1)), block_filters((64, 64, 3))   # (32, 64, 128), (16, 32, 64, 128)
    ```
    """
    side, blocks = min(image_shape[:2]), 0
    while side > FINAL_SIDE or blocks == 0:
        side, blocks = side // 2, blocks + 1
    return tuple(max(MIN_FILTERS, LAST_BLOCK_FILTERS >> (blocks - 1 - block))
                 for block in range(blocks))


def build_classifier(image_shape=(28, 28, 1), num_classes=10, feature_dim=FEATURE_DIM,
                     name="classifier"):
    """A CNN classifier of images in [-1, 1] with a named feature layer.

    Blocks of convolution, batch normalisation, ReLU and max pooling (see
    `block_filters`), then a dense ReLU layer named `"features"` and a dense
    layer of class logits named `"logits"` (the model's output).

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: number of classes.
        feature_dim: width of the `"features"` layer.
        name: the model's name.

    Example:

    ```python
    model = build_classifier((64, 64, 3), num_classes=9)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```
    """
    inputs = keras.Input(image_shape, name="images")
    x = inputs
    for filters in block_filters(image_shape):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = layers.Dropout(0.3)(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def classifier_name(dataset="fashion_mnist", image_size=None):
    """`"<dataset>_classifier"`, or `"<dataset>_<size>_classifier"` for a
    dataset shipped at several sizes (`image_size` defaults to its largest)."""
    if dataset not in IMAGE_SIZES:
        return f"{dataset}_classifier"
    return f"{dataset}_{image_size or max(IMAGE_SIZES[dataset])}_classifier"


def classifier_weights_path(dataset="fashion_mnist", image_size=None):
    """Where the shipped weights of `dataset`'s classifier live.

    Example:

    ```python
    classifier_weights_path("emoji", 32)   # .../assets/emoji_32_classifier.weights.h5
    ```
    """
    return os.path.join(ASSETS_DIR, f"{classifier_name(dataset, image_size)}.weights.h5")


def has_shipped_classifier(dataset, image_shape=None):
    """Whether keras-gans ships a classifier for `dataset` at `image_shape`."""
    known_shape = IMAGE_SHAPES.get(dataset)
    if known_shape is None:
        return False
    height, width, channels = image_shape or known_shape
    sizes = IMAGE_SIZES.get(dataset, known_shape[:1])
    return (height == width and height in sizes and channels == known_shape[2]
            and os.path.exists(classifier_weights_path(dataset, height)))


def _shape_and_classes(dataset, image_shape, num_classes):
    image_shape = image_shape or IMAGE_SHAPES.get(dataset)
    num_classes = num_classes or len(data.CLASS_NAMES.get(dataset, [])) or None
    if image_shape is None or num_classes is None:
        raise ValueError(
            f"Unknown dataset {dataset!r}: pass image_shape=... and num_classes=..."
        )
    return tuple(image_shape), int(num_classes)


def load_classifier(dataset="fashion_mnist", path=None, image_shape=None,
                    num_classes=None):
    """Builds `dataset`'s classifier and loads its trained weights.

    Args:
        dataset: dataset name; its weights are read from
            `classifier_weights_path(dataset, image_shape[0])`.
        path: read the weights from this `.weights.h5` file instead.
        image_shape: `(height, width, channels)`; by default the dataset's
            (emoji: 64x64x3).
        num_classes: for datasets keras-gans does not know.

    Returns:
        A `keras.Model` mapping images in [-1, 1] to class logits.

    Example:

    ```python
    classifier = load_classifier("emoji", image_shape=(32, 32, 3))
    predictions = classifier.predict(images).argmax(axis=1)
    ```
    """
    image_shape, num_classes = _shape_and_classes(dataset, image_shape, num_classes)
    path = path or classifier_weights_path(dataset, image_shape[0])
    if not os.path.exists(path):
        size = f" --image-size {image_shape[0]}" if dataset in IMAGE_SIZES else ""
        raise FileNotFoundError(
            f"No classifier weights for {dataset!r} at {path}. Train them with "
            f"`python benchmarks/train_classifier.py --dataset {dataset}{size}`."
        )
    model = build_classifier(image_shape, num_classes,
                             name=classifier_name(dataset, image_shape[0]))
    model.load_weights(path)
    return model


def save_classifier_weights(model, path):
    """Writes a classifier's weights alone, without its optimizer's state.

    Example:

    ```python
    save_classifier_weights(model, classifier_weights_path("fashion_mnist"))
    ```
    """
    weights_only = keras.Model.from_config(model.get_config())
    weights_only.set_weights(model.get_weights())
    weights_only.save_weights(path)


def classifier_extractor(dataset="fashion_mnist", path=None, image_shape=None):
    """A `FeatureExtractor` of `dataset`'s classifier: 128 features and logits.

    Its feature space is named after the classifier, e.g.
    `"fashion_mnist_classifier"` or `"emoji_32_classifier"`.

    Args:
        dataset: a dataset with a shipped classifier.
        path: read the weights from this `.weights.h5` file instead.
        image_shape: the images' shape; by default the dataset's.

    Example:

    ```python
    features, logits = classifier_extractor("emoji", image_shape=(32, 32, 3))(images)
    ```
    """
    model = load_classifier(dataset, path=path, image_shape=image_shape)
    return FeatureExtractor.from_layers(model, "features", "logits", name=model.name)


def augmenter(image_shape, shift=None, flip=False, colour=0.0, zoom=0.0, seed=0):
    """Random augmentation of image batches in [-1, 1], as one Keras model.

    Args:
        image_shape: `(height, width, channels)`.
        shift: largest shift in pixels; by default a sixteenth of the side
            (2 pixels at 32, 4 at 64), edges repeated.
        flip: also mirror left to right at random.
        zoom: largest zoom in or out, a fraction of the side; 0 leaves the
            scale alone.
        colour: largest relative change of brightness, contrast and (colour
            images) saturation; 0 leaves colours alone.
        seed: the augmentation's seed.

    Example:

    ```python
    augment = augmenter((64, 64, 3), flip=True, colour=0.2)
    batch = augment(batch, training=True)
    ```
    """
    height, width = image_shape[:2]
    shift = max(1, min(height, width) // 16) if shift is None else shift
    steps = [layers.RandomTranslation(shift / height, shift / width, fill_mode="nearest",
                                      interpolation="nearest", seed=seed)]
    if zoom:
        steps.append(layers.RandomZoom((-zoom, zoom), fill_mode="nearest", seed=seed))
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if colour:
        steps += [layers.RandomBrightness(colour, value_range=(-1.0, 1.0), seed=seed),
                  layers.RandomContrast(colour, value_range=(-1.0, 1.0), seed=seed)]
        if image_shape[-1] == 3:
            steps.append(layers.RandomSaturation((0.5 - colour / 2, 0.5 + colour / 2),
                                                 value_range=(-1.0, 1.0), seed=seed))
    return keras.Sequential(steps, name="augment")


def fit_classifier(images, labels, num_classes, epochs=12, batch_size=128,
                   learning_rate=2e-3, augment=None, balanced=False,
                   auxiliary_labels=None, seed=0, verbose="auto", name="classifier",
                   callbacks=None):
    """Trains a `build_classifier` network on uint8 images and int labels.

    Adam with a cosine-decaying learning rate; `augment` (a Keras layer, see
    `augmenter`) transforms every training batch. With `auxiliary_labels`, a
    second dense head on the `"features"` layer learns them too, so the
    features must tell them apart; the head is dropped after training.

    Args:
        images: uint8 `(N, H, W, C)`.
        labels: int `(N,)` class ids.
        num_classes: number of classes.
        epochs: passes over the images.
        batch_size: images per step (at most `N`).
        learning_rate: Adam's initial learning rate.
        augment: a layer applied to each batch in training mode, or `None`.
        balanced: weight each class's loss by the inverse of its share, so
            rare classes count as much as common ones.
        auxiliary_labels: int `(N,)` labels of a second task (emoji: the
            style), or `None`.
        seed: seed of the weights and the shuffling.
        verbose: passed to `fit`.
        name: the model's name.
        callbacks: passed to `fit`, e.g. a `TrainingProgress`.

    Returns:
        The trained `keras.Model`.

    Example:

    ```python
    model = fit_classifier(images, labels, 9, augment=augmenter(images.shape[1:]))
    ```
    """
    keras.utils.set_random_seed(seed)
    image_shape = tuple(images.shape[1:])
    batch_size = min(batch_size, len(images))
    model = build_classifier(image_shape, num_classes, name=name)
    trained, targets = model, np.asarray(labels, np.int32)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if auxiliary_labels is not None:
        if balanced:
            raise ValueError("balanced=True does not combine with auxiliary_labels.")
        auxiliary_classes = int(np.max(auxiliary_labels)) + 1
        auxiliary = layers.Dense(auxiliary_classes, name="auxiliary")(
            model.get_layer("features").output)
        trained = keras.Model(model.inputs, [model.output, auxiliary])
        # Both labels travel as one integer through the pipeline.
        targets = targets * auxiliary_classes + np.asarray(auxiliary_labels, np.int32)
    steps = max(1, epochs * (len(images) // batch_size))
    trained.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
        loss=loss if trained is model else [loss, loss],
        metrics=["accuracy"] if trained is model else [["accuracy"], ["accuracy"]],
    )
    batches = data.make_dataset(images, targets, batch_size=batch_size, seed=seed)

    def split(x, y):
        return x, (y // auxiliary_classes, y % auxiliary_classes)

    def augmented(x, y):
        return augment(x, training=True), y

    if data.uses_tf_data():
        import tensorflow as tf

        if trained is not model:
            batches = batches.map(split)
        if augment is not None:
            batches = batches.map(augmented, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        if trained is not model:
            batches = data.MappedBatches(batches, split)
        if augment is not None:
            batches = data.MappedBatches(batches, augmented)
    class_weight = None
    if balanced:
        counts = np.bincount(labels, minlength=num_classes)
        class_weight = {c: len(labels) / (num_classes * count)
                        for c, count in enumerate(counts) if count}
    trained.fit(batches, epochs=epochs, verbose=verbose, class_weight=class_weight,
                shuffle=False, callbacks=callbacks)
    return model


def accuracy_of(model, images, labels, num_classes):
    """Accuracy and balanced accuracy (the mean of per-class recalls).

    Classes absent from `labels` are left out of the balanced accuracy.
    """
    predicted = model.predict(np.asarray(data.to_unit_range(images)), batch_size=500,
                              verbose=0).argmax(axis=1)
    correct = predicted == labels
    recalls = [correct[labels == c].mean() for c in range(num_classes) if (labels == c).any()]
    return {"accuracy": round(float(correct.mean()), 4),
            "balanced_accuracy": round(float(np.mean(recalls)), 4)}


def _training_data(dataset, data_dir, image_size):
    """`(train ImageData, each training image's style or None, {name: test
    ImageData})`; emoji trains on both styles."""
    if dataset != "emoji":
        train = data.load_images(dataset, "train", data_dir=data_dir, image_size=image_size)
        test = data.load_images(dataset, "test", data_dir=data_dir, image_size=image_size)
        return train, None, {"test": test}
    size = image_size or max(IMAGE_SIZES["emoji"])
    tests = {style: data.load_images("emoji", "test", style=style, image_size=size)
             for style in emoji.PACKAGES}
    trains = [data.load_images("emoji", "train", style=style, image_size=size)
              for style in emoji.PACKAGES]
    train = data.ImageData(np.concatenate([t.images for t in trains]),
                           np.concatenate([t.labels for t in trains]), "emoji",
                           "emoji:" + "+".join(emoji.PACKAGES),
                           class_names=list(emoji.CATEGORIES),
                           ids=np.concatenate([t.ids for t in trains]))
    styles = np.repeat(np.arange(len(trains), dtype=np.int32),
                       [len(t.images) for t in trains])
    return train, styles, tests


def train_classifier(dataset="fashion_mnist", data_dir=None, image_size=None, epochs=12,
                     batch_size=128, learning_rate=2e-3, augment=True, flip=False,
                     colour=0.0, balanced=False, style_head=False, seed=0,
                     verbose="auto"):
    """Trains `dataset`'s classifier on its training split.

    Emoji trains on the training splits of both styles together, so that its
    features see both drawings of each emoji; each style's test split is
    scored on its own. The test splits are used only to report accuracy.

    Args:
        dataset, data_dir: the data, as in `keras_gans.data.load_images`
            (emoji reads both styles from the cache and ignores `data_dir`).
        image_size: the side of the images (emoji: 32 or 64).
        epochs: passes over the training split.
        batch_size: images per step.
        learning_rate: Adam's initial learning rate.
        augment: train on randomly shifted images (see `augmenter`).
        flip, colour: also mirror, and jitter colours by up to this much.
        balanced: weight the classes' losses equally (see `fit_classifier`).
        style_head: emoji only: the features also learn which style an image
            is drawn in (`fit_classifier`'s `auxiliary_labels`).
        seed: seed of the weights, the shuffling and the augmentation.
        verbose: passed to `fit`.

    Returns:
        `(model, scores)`: `scores` maps each test split (`"test"`, or the
        emoji styles) to its `accuracy` and `balanced_accuracy`.

    Example:

    ```python
    model, scores = train_classifier("emoji", image_size=32, flip=True)
    save_classifier_weights(model, classifier_weights_path("emoji", 32))
    ```
    """
    if style_head and dataset != "emoji":
        raise ValueError(f"style_head is for emoji, not {dataset!r}.")
    train, styles, tests = _training_data(dataset, data_dir, image_size)
    if train.labels is None:
        raise ValueError(f"{train.source} has no labels to train a classifier on.")
    image_shape, num_classes = _shape_and_classes(dataset, train.image_shape,
                                                  train.num_classes)
    augment_layer = augmenter(image_shape, flip=flip, colour=colour,
                              seed=seed) if augment else None
    model = fit_classifier(train.images, train.labels, num_classes, epochs, batch_size,
                           learning_rate, augment_layer, balanced,
                           styles if style_head else None, seed, verbose,
                           name=classifier_name(dataset, image_shape[0]))
    scores = {name: accuracy_of(model, test.images, test.labels, num_classes)
              for name, test in tests.items()}
    return model, scores


class TrainingProgress(keras.callbacks.Callback):
    """Shows `fit`'s progress as one line on stderr, rewritten in place
    (`Training the feature extractor: step 300/1500, loss 1.234`) and ended
    with a newline; stdout stays free for results.

    Args:
        steps: the training steps `fit` runs in all, over all epochs.
        what: the words the line starts with.

    Example:

    ```python
    model.fit(batches, epochs=3, verbose=0, callbacks=[TrainingProgress(3 * len(batches))])
    ```
    """

    def __init__(self, steps, what="Training the feature extractor"):
        super().__init__()
        self.steps, self.what = int(steps), what
        # Every 1% on a terminal, every 10% into a file.
        self.every = max(1, self.steps // (100 if sys.stderr.isatty() else 10))
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done % self.every and self.done != self.steps:
            return
        loss = (logs or {}).get("loss")
        shown = "" if loss is None else f", loss {float(loss):.3f}"
        print(f"\r{self.what}: step {self.done}/{self.steps}{shown}", end="",
              file=sys.stderr, flush=True)

    def on_train_end(self, logs=None):
        print(file=sys.stderr, flush=True)


def folder_fingerprint(data_dir, image_shape):
    """A hash of a folder's file list (paths, sizes and times), or of one
    file's size and time (a `.npz`), and an image shape."""
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    digest = hashlib.sha256(repr(tuple(image_shape)).encode())
    if os.path.isfile(data_dir):
        status = os.stat(data_dir)
        digest.update(f"{data_dir}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    for root, dirs, names in os.walk(data_dir):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            status = os.stat(path)
            digest.update(f"{os.path.relpath(path, data_dir)}\0{status.st_size}\0"
                          f"{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def folder_classifier_path(data_dir, image_shape):
    """Where the classifier of a user's folder is cached, a `.weights.h5` path."""
    return os.path.join(emoji.cache_root(), "classifiers",
                        f"folder_{folder_fingerprint(data_dir, image_shape)}.weights.h5")


def _folder_images(data_dir, image_shape):
    """The training images of a user's folder (`train/` if it has a split),
    brought to `image_shape`."""
    name = os.path.basename(os.path.normpath(os.path.expanduser(data_dir)))
    return data.load_images(name, "train", data_dir=data_dir, image_size=image_shape[:2],
                            channels=image_shape[2])


class NoClassFoldersError(ValueError):
    """A folder has no class folders to train a classifier on.

    Attributes:
        images: the folder's training images, already read.
    """

    def __init__(self, message, images):
        super().__init__(message)
        self.images = images


def _save_cached(model, path, info):
    """Writes a cached extractor's weights, then its `.json` (whose presence
    says the weights are whole), each through an atomic rename."""
    with files.atomic_path(path) as tmp:
        weights = tmp[:-len(".h5")] + ".weights.h5"  # the name Keras asks for
        save_classifier_weights(model, weights)
        os.replace(weights, tmp)
    with files.atomic_path(path.replace(".weights.h5", ".json")) as tmp, open(tmp, "w") as f:
        json.dump(info, f, indent=2)


def _is_cached(path):
    return os.path.exists(path) and os.path.exists(path.replace(".weights.h5", ".json"))


def folder_classifier_extractor(data_dir, image_shape, epochs=None, seed=0, progress=True,
                                images=None):
    """A `FeatureExtractor` of a classifier trained on a folder's class folders.

    The first call trains it (augmented with shifts, about 1,500 steps, 10%
    of the images held out to measure its accuracy), saying so on stderr with
    a progress line, and caches its weights and a `.json` of its classes and
    held-out accuracy under `$KERAS_GANS_CACHE/classifiers/`; later calls on
    the same files and image shape load it.

    Args:
        data_dir: a folder of images in class folders (or any labelled data
            `keras_gans.data.load_images` reads).
        image_shape: `(height, width, channels)` the images are brought to.
        epochs: passes over the images; by default enough for about 1,500
            steps (at most 100).
        seed: seed of the held-out images and the training.
        progress: show what is trained, its progress and where it is cached
            on stderr.
        images: the folder's training images as `_folder_images` loads
            them, when the caller has them already.

    Example:

    ```python
    extractor = folder_classifier_extractor("~/pets", (64, 64, 3))
    extractor.name, extractor.info["held_out_accuracy"]
    ```
    """
    image_shape = tuple(image_shape)
    path = folder_classifier_path(data_dir, image_shape)
    info_path = path.replace(".weights.h5", ".json")
    name = "folder_classifier_" + os.path.basename(path)[len("folder_"):][:8]
    if not _is_cached(path):
        images = images or _folder_images(data_dir, image_shape)
        if images.labels is None or (images.num_classes or 0) < 2:
            raise NoClassFoldersError(
                f"{data_dir} has no class folders to train a classifier on: put each "
                "class's images in a sub-folder, or use features 'self_supervised', "
                "'inception' or an extractor file.", images)
        num_classes = images.num_classes
        held_out = np.random.default_rng(seed).random(len(images.images)) < FOLDER_HELD_OUT
        train_images, train_labels = images.images[~held_out], images.labels[~held_out]
        batch_size = min(64, len(train_images))
        batches_per_epoch = max(1, len(train_images) // batch_size)
        epochs = epochs or min(FOLDER_MAX_EPOCHS,
                               math.ceil(FOLDER_TRAINING_STEPS / batches_per_epoch))
        steps = epochs * batches_per_epoch
        if progress:
            print(f"Training a classifier on the {num_classes} class folders of {data_dir} "
                  f"({len(train_images)} images, {steps} steps) as the feature space; it "
                  f"will be cached at {path}.", file=sys.stderr)
        start = time.monotonic()
        model = fit_classifier(train_images, train_labels, num_classes, epochs, batch_size,
                               augment=augmenter(image_shape, seed=seed), seed=seed,
                               verbose=0, name=name,
                               callbacks=[TrainingProgress(steps)] if progress else None)
        info = {"data_dir": os.path.abspath(os.path.expanduser(data_dir)),
                "image_shape": list(image_shape), "class_names": images.class_names,
                "num_classes": num_classes, "epochs": epochs,
                "n_train": int(len(train_images)), "n_held_out": int(held_out.sum()),
                "held_out_accuracy": accuracy_of(model, images.images[held_out],
                                                 images.labels[held_out], num_classes)
                if held_out.any() else None,
                "seconds": round(time.monotonic() - start, 1)}
        _save_cached(model, path, info)
        if progress:
            accuracy = info["held_out_accuracy"]
            shown = f" (held-out accuracy {accuracy['accuracy']:.3f})" if accuracy else ""
            print(f"Trained it in {info['seconds']:.0f} s{shown}; cached at {path}, so "
                  "later evaluations load it.", file=sys.stderr)
    with open(info_path) as f:
        info = json.load(f)
    model = build_classifier(image_shape, info["num_classes"], name=name)
    model.load_weights(path)
    extractor = FeatureExtractor.from_layers(model, "features", "logits", name=name)
    extractor.info = info
    return extractor


# ------------------------------------------------------------ without labels
def contrastive_loss(projections, temperature=TEMPERATURE):
    """SimCLR's NT-Xent loss (Chen et al. 2020) of two views of a batch.

    Rows `i` and `i + n` of `projections` are two views of image `i`. Each
    row must pick its partner out of the other `2n - 1` rows by cosine
    similarity divided by `temperature`: the cross-entropy of that choice,
    averaged over the rows.

    Args:
        projections: `(2n, dim)` float tensor.
        temperature: the softmax temperature.

    Example:

    ```python
    loss = contrastive_loss(ops.concatenate([encoder(view_1), encoder(view_2)]))
    ```
    """
    z = ops.normalize(ops.cast(projections, "float32"), axis=-1)
    count = z.shape[0]
    half = count // 2
    logits = ops.matmul(z, ops.transpose(z)) / temperature - 1e9 * ops.eye(count)
    partners = ops.concatenate([ops.arange(half, count), ops.arange(0, half)])
    return ops.mean(keras.losses.sparse_categorical_crossentropy(partners, logits,
                                                                 from_logits=True))


class ContrastivePairs(keras.Model):
    """SimCLR's training model: each batch is augmented twice at random, both
    views go through `encoder`, and `fit` minimises `contrastive_loss` of its
    outputs.

    Args:
        encoder: a model of images in [-1, 1], e.g. `build_classifier`'s,
            whose output is the projection the loss compares.
        augment: a random augmentation layer (see `augmenter`).
        temperature: the loss's temperature.

    Example:

    ```python
    pairs = ContrastivePairs(build_classifier((28, 28, 1), 64), augmenter((28, 28, 1)))
    pairs.compile(optimizer="adam")
    pairs.fit(make_dataset(images, repeat=True), steps_per_epoch=500, shuffle=False)
    ```
    """

    def __init__(self, encoder, augment, temperature=TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.augment, self.temperature = encoder, augment, temperature

    def call(self, images, training=False):
        views = ops.concatenate([self.augment(images, training=training),
                                 self.augment(images, training=training)], axis=0)
        return self.encoder(views, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return contrastive_loss(y_pred, self.temperature)


def contrastive_augmenter(image_shape, seed=0):
    """The views `fit_contrastive` compares: shifts of up to an eighth of the
    side, zoom by up to 20%, brightness, contrast (and saturation) by up to
    40%. The encoder learns to ignore these, so its FID does too."""
    return augmenter(image_shape, shift=max(1, min(image_shape[:2]) // 8), colour=0.4,
                     zoom=0.2, seed=seed)


def fit_contrastive(images, steps=None, batch_size=None, learning_rate=1e-3,
                    temperature=TEMPERATURE, augment=None, seed=0, name="encoder",
                    callbacks=None):
    """Trains a `build_classifier` network on unlabelled uint8 images with
    SimCLR's contrastive loss (see `ContrastivePairs`).

    The network's `"logits"` layer (`PROJECTION_DIM` wide) is the projection
    the loss compares; its `"features"` layer is the representation
    `self_supervised_extractor` measures in. Adam with a cosine-decaying
    learning rate.

    Args:
        images: uint8 `(N, H, W, C)`, at least 2.
        steps: training steps; by default `SELF_SUPERVISED_STEPS`.
        batch_size: images per step (each seen in two views), at most `N`;
            by default `SELF_SUPERVISED_BATCH_SIZE`.
        learning_rate: Adam's initial learning rate.
        temperature: the loss's temperature.
        augment: the random augmentation layer; by default
            `contrastive_augmenter`.
        seed: seed of the weights, the batches and the augmentation.
        name: the model's name.
        callbacks: passed to `fit`, e.g. a `TrainingProgress`.

    Returns:
        The trained `keras.Model`.

    Example:

    ```python
    encoder = fit_contrastive(images, steps=500)
    features = keras.Model(encoder.inputs, encoder.get_layer("features").output)
    ```
    """
    images = data.as_uint8_images(images)
    steps = int(steps or SELF_SUPERVISED_STEPS)
    batch_size = min(batch_size or SELF_SUPERVISED_BATCH_SIZE, len(images))
    if batch_size < 2:
        raise ValueError(f"Contrastive training needs at least 2 images, got {len(images)}.")
    keras.utils.set_random_seed(seed)
    image_shape = tuple(images.shape[1:])
    encoder = build_classifier(image_shape, PROJECTION_DIM, name=name)
    pairs = ContrastivePairs(encoder, augment or contrastive_augmenter(image_shape, seed),
                             temperature)
    pairs.compile(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(learning_rate, steps)))
    batches = data.make_dataset(images, batch_size=batch_size, seed=seed, repeat=True)
    pairs.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False,
              callbacks=callbacks)
    return encoder


def self_supervised_path(fingerprint, image_shape, steps=None, batch_size=None, seed=0):
    """Where `self_supervised_extractor` caches an encoder, a `.weights.h5` path."""
    settings = (fingerprint, tuple(image_shape), int(steps or SELF_SUPERVISED_STEPS),
                int(batch_size or SELF_SUPERVISED_BATCH_SIZE), seed, TEMPERATURE,
                PROJECTION_DIM)
    key = hashlib.sha256(repr(settings).encode()).hexdigest()[:16]
    return os.path.join(emoji.cache_root(), "classifiers", f"contrastive_{key}.weights.h5")


def self_supervised_extractor(images, fingerprint, source, image_shape, steps=None,
                              batch_size=None, seed=0, progress=True, label=None):
    """A `FeatureExtractor` of an encoder trained on unlabelled images, cached.

    The first call trains it with `fit_contrastive`, saying on stderr what
    it trains on, its progress and where it is cached; later calls with the
    same `fingerprint` and settings load it from
    `$KERAS_GANS_CACHE/classifiers/`.
    Its features are the 128 of the `"features"` layer, without logits, so
    no Inception Score or class coverage comes with them.

    Args:
        images: uint8 `(N, H, W, C)` images or an `ImageData`, or a function
            returning either, called only when the cache lacks the encoder.
        fingerprint: a string that changes whenever the images do, e.g.
            `folder_fingerprint(data_dir, image_shape)`.
        source: what the images are, in words, for messages: a folder's path.
        image_shape: `(height, width, channels)` of the images.
        steps, batch_size, seed: as in `fit_contrastive`.
        progress: show what is trained, its progress and where it is cached
            on stderr.
        label: the start of the extractor's name; by default the last part
            of `source`.

    Returns:
        A `FeatureExtractor` named `<label>_contrastive_<hash>`, with an
        `info` dict (`source`, `n_train`, `steps`, `seconds`, ...).

    Example:

    ```python
    extractor = self_supervised_extractor(images, "pets-2024", "~/pets", (64, 64, 3))
    ```
    """
    image_shape = tuple(image_shape)
    steps = int(steps or SELF_SUPERVISED_STEPS)
    batch_size = int(batch_size or SELF_SUPERVISED_BATCH_SIZE)
    path = self_supervised_path(fingerprint, image_shape, steps, batch_size, seed)
    key = os.path.basename(path)[len("contrastive_"):][:8]
    label = label or os.path.basename(os.path.normpath(str(source)))
    name = f"{re.sub(r'[^0-9A-Za-z]+', '_', label).strip('_')[:40]}_contrastive_{key}"
    if not _is_cached(path):
        images = images() if callable(images) else images
        num_classes = images.num_classes if isinstance(images, data.ImageData) else None
        images = data.as_uint8_images(getattr(images, "images", images))
        if tuple(images.shape[1:]) != image_shape:
            raise ValueError(f"{source} holds images of shape {images.shape[1:]}, not "
                             f"{image_shape}.")
        if progress:
            print(f"Training a feature extractor on {len(images)} images of {source} without "
                  f"labels (contrastive, {steps} steps); it will be cached at {path}.",
                  file=sys.stderr)
        start = time.monotonic()
        model = fit_contrastive(images, steps, batch_size, seed=seed, name=name,
                                callbacks=[TrainingProgress(steps)] if progress else None)
        info = {"source": str(source), "image_shape": list(image_shape),
                "n_train": int(len(images)), "num_classes": num_classes, "steps": steps,
                "batch_size": min(batch_size, len(images)),
                "seconds": round(time.monotonic() - start, 1)}
        _save_cached(model, path, info)
        if progress:
            print(f"Trained it in {info['seconds']:.0f} s; cached at {path}, so later "
                  "evaluations load it.", file=sys.stderr)
    with open(path.replace(".weights.h5", ".json")) as f:
        info = json.load(f)
    model = build_classifier(image_shape, PROJECTION_DIM, name=name)
    model.load_weights(path)
    extractor = FeatureExtractor.from_layers(model, "features", name=name)
    extractor.info = info
    return extractor


def folder_self_supervised_extractor(data_dir, image_shape, images=None, **kwargs):
    """`self_supervised_extractor` of a user's folder's training images
    (`train/` where it has a split), keyed by its file list.

    Args:
        data_dir: any folder (or `.npz`) `keras_gans.data.load_images` reads.
        image_shape: `(height, width, channels)` the images are brought to.
        images: the folder's training images as an `ImageData`, when the
            caller has them already.
        **kwargs: `steps`, `batch_size`, `seed`, `progress`.

    Example:

    ```python
    extractor = folder_self_supervised_extractor("~/faces", (64, 64, 3))
    ```
    """
    return self_supervised_extractor(
        images or (lambda: _folder_images(data_dir, image_shape)),
        folder_fingerprint(data_dir, image_shape), data_dir, image_shape, **kwargs)


def _learned_without_labels(data_dir, image_shape):
    """Whether the folder's cached encoder says it has no class folders."""
    path = self_supervised_path(folder_fingerprint(data_dir, image_shape), image_shape)
    if not _is_cached(path):
        return False
    with open(path.replace(".weights.h5", ".json")) as f:
        return (json.load(f).get("num_classes") or 0) < 2


def folder_extractor(data_dir, image_shape, progress=True):
    """The feature space of a user's folder: its class folders' classifier
    (`folder_classifier_extractor`) where it has two or more, else an encoder
    learned from its images without labels (`folder_self_supervised_extractor`),
    which one line on stderr announces. Either is trained once and cached.

    Args:
        data_dir: any folder (or `.npz`) `keras_gans.data.load_images` reads.
        image_shape: `(height, width, channels)` the images are brought to.
        progress: show what is trained and where it is cached on stderr.

    Example:

    ```python
    folder_extractor("~/faces", (64, 64, 3)).name   # 'faces_contrastive_...'
    ```
    """
    image_shape = tuple(image_shape)
    images = None
    if _is_cached(folder_classifier_path(data_dir, image_shape)) or not (
            _learned_without_labels(data_dir, image_shape)):
        try:
            return folder_classifier_extractor(data_dir, image_shape, progress=progress)
        except NoClassFoldersError as error:
            images = error.images
    print(f"{data_dir} has no class folders, so the feature space is an encoder learned "
          "from its images without labels (features 'self_supervised'); features "
          "'inception' gives the standard FID.", file=sys.stderr)
    return folder_self_supervised_extractor(data_dir, image_shape, images=images,
                                            progress=progress)
