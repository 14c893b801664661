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
keyed by the folder's file list and the image shape.
"""

import hashlib
import json
import math
import os
import sys

import keras
import numpy as np
from keras import layers

from keras_gans import data, emoji
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


def augmenter(image_shape, shift=None, flip=False, colour=0.0, seed=0):
    """Random augmentation of image batches in [-1, 1], as one Keras model.

    Args:
        image_shape: `(height, width, channels)`.
        shift: largest shift in pixels; by default a sixteenth of the side
            (2 pixels at 32, 4 at 64), edges repeated.
        flip: also mirror left to right at random.
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
                   auxiliary_labels=None, seed=0, verbose="auto", name="classifier"):
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
                shuffle=False)
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


def folder_fingerprint(data_dir, image_shape):
    """A hash of a folder's file list (paths, sizes and times) and an image shape."""
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    digest = hashlib.sha256(repr(tuple(image_shape)).encode())
    for root, dirs, files in os.walk(data_dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            status = os.stat(path)
            digest.update(f"{os.path.relpath(path, data_dir)}\0{status.st_size}\0"
                          f"{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def folder_classifier_path(data_dir, image_shape):
    """Where the classifier of a user's folder is cached, a `.weights.h5` path."""
    return os.path.join(emoji.cache_root(), "classifiers",
                        f"folder_{folder_fingerprint(data_dir, image_shape)}.weights.h5")


def _labelled_folder(data_dir, image_shape):
    name = os.path.basename(os.path.normpath(os.path.expanduser(data_dir)))
    images = data.load_images(name, "train", data_dir=data_dir, image_size=image_shape[:2],
                              channels=image_shape[2])
    if images.labels is None or images.num_classes < 2:
        raise ValueError(
            f"{data_dir} has no class folders to train a classifier on: put each class's "
            "images in a sub-folder, or use features 'inception' or an extractor file."
        )
    return images


def folder_classifier_extractor(data_dir, image_shape, epochs=None, seed=0, verbose=0):
    """A `FeatureExtractor` of a classifier trained on a folder's class folders.

    The first call trains it (augmented with shifts, about 1,500 steps, 10%
    of the images held out to measure its accuracy) and caches its weights and
    a `.json` of its classes and held-out accuracy under
    `$KERAS_GANS_CACHE/classifiers/`; later calls on the same files and
    image shape load it.

    Args:
        data_dir: a folder of images in class folders (or any labelled data
            `keras_gans.data.load_images` reads).
        image_shape: `(height, width, channels)` the images are brought to.
        epochs: passes over the images; by default enough for about 1,500
            steps (at most 100).
        seed: seed of the held-out images and the training.
        verbose: passed to `fit`.

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
    if not (os.path.exists(path) and os.path.exists(info_path)):
        images = _labelled_folder(data_dir, image_shape)
        num_classes = images.num_classes
        print(f"Training a classifier on the {num_classes} class folders of {data_dir} "
              f"for the feature space (cached in {path}).", file=sys.stderr)
        held_out = np.random.default_rng(seed).random(len(images.images)) < FOLDER_HELD_OUT
        train_images, train_labels = images.images[~held_out], images.labels[~held_out]
        batch_size = min(64, len(train_images))
        epochs = epochs or min(FOLDER_MAX_EPOCHS, math.ceil(
            FOLDER_TRAINING_STEPS / max(1, len(train_images) // batch_size)))
        model = fit_classifier(train_images, train_labels, num_classes, epochs, batch_size,
                               augment=augmenter(image_shape, seed=seed), seed=seed,
                               verbose=verbose, name=name)
        info = {"data_dir": os.path.abspath(os.path.expanduser(data_dir)),
                "image_shape": list(image_shape), "class_names": images.class_names,
                "num_classes": num_classes, "epochs": epochs,
                "n_train": int(len(train_images)), "n_held_out": int(held_out.sum()),
                "held_out_accuracy": accuracy_of(model, images.images[held_out],
                                                 images.labels[held_out], num_classes)
                if held_out.any() else None}
        os.makedirs(os.path.dirname(path), exist_ok=True)
        save_classifier_weights(model, path)
        with open(info_path, "w") as f:
            json.dump(info, f, indent=2)
    with open(info_path) as f:
        info = json.load(f)
    model = build_classifier(image_shape, info["num_classes"], name=name)
    model.load_weights(path)
    extractor = FeatureExtractor.from_layers(model, "features", "logits", name=name)
    extractor.info = info
    return extractor
