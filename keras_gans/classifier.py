"""A small CNN classifier whose features measure GANs offline.

InceptionV3's ImageNet weights must be downloaded, and ImageNet features suit
28x28 grayscale images poorly. keras-gans therefore trains a small classifier
per dataset with `benchmarks/train_classifier.py` and ships its weights in
`keras_gans/assets/<dataset>_classifier.weights.h5`. FID and KID computed in
its 128-dimensional `"features"` layer are the offline default; they are not
comparable with FIDs computed in Inception's feature space.

Fashion-MNIST's weights ship with the package. Other datasets train the same
way once their data is at hand, e.g.
`python benchmarks/train_classifier.py --dataset mnist --data-dir DIR`.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gans import data
from keras_gans.metrics import FeatureExtractor

ASSETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
IMAGE_SHAPES = {"fashion_mnist": (28, 28, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
FEATURE_DIM = 128


def build_classifier(image_shape=(28, 28, 1), num_classes=10, feature_dim=FEATURE_DIM,
                     name="classifier"):
    """A CNN classifier of images in [-1, 1] with a named feature layer.

    Three blocks of convolution, batch normalisation, ReLU and max pooling,
    then a dense ReLU layer named `"features"` and a dense layer of class
    logits named `"logits"` (the model's output).

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: number of classes.
        feature_dim: width of the `"features"` layer.
        name: the model's name.

    Example:

    ```python
    model = build_classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```
    """
    inputs = keras.Input(image_shape, name="images")
    x = inputs
    for filters in (32, 64, 128):
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


def classifier_weights_path(dataset="fashion_mnist"):
    """Where the shipped weights of `dataset`'s classifier live."""
    return os.path.join(ASSETS_DIR, f"{dataset}_classifier.weights.h5")


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
            `classifier_weights_path(dataset)`.
        path: read the weights from this `.weights.h5` file instead.
        image_shape, num_classes: for datasets keras-gans does not know.

    Returns:
        A `keras.Model` mapping images in [-1, 1] to class logits.

    Example:

    ```python
    classifier = load_classifier("fashion_mnist")
    predictions = classifier.predict(images).argmax(axis=1)
    ```
    """
    path = path or classifier_weights_path(dataset)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No classifier weights for {dataset!r} at {path}. Train them with "
            f"`python benchmarks/train_classifier.py --dataset {dataset}`."
        )
    image_shape, num_classes = _shape_and_classes(dataset, image_shape, num_classes)
    model = build_classifier(image_shape, num_classes, name=f"{dataset}_classifier")
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


def classifier_extractor(dataset="fashion_mnist", path=None):
    """A `FeatureExtractor` of `dataset`'s classifier: 128 features and logits.

    Its feature space is named `"<dataset>_classifier"`.

    Example:

    ```python
    features, logits = classifier_extractor()(images)
    ```
    """
    model = load_classifier(dataset, path=path)
    return FeatureExtractor.from_layers(model, "features", "logits",
                                       name=f"{dataset}_classifier")


def train_classifier(dataset="fashion_mnist", data_dir=None, epochs=12, batch_size=128,
                     learning_rate=2e-3, augment=True, seed=0, verbose="auto"):
    """Trains `dataset`'s classifier on its training split.

    Adam with a cosine-decaying learning rate and, optionally, random shifts
    of up to 2 pixels. The test split is used only to report accuracy.

    Args:
        dataset, data_dir: the data, as in `keras_gans.data.load_images`.
        epochs: passes over the training split.
        batch_size: images per step.
        learning_rate: Adam's initial learning rate.
        augment: train on randomly shifted images.
        seed: seed of the weights, the shuffling and the shifts.
        verbose: passed to `fit`.

    Returns:
        `(model, test_accuracy)`.

    Example:

    ```python
    model, accuracy = train_classifier("fashion_mnist", epochs=12)
    save_classifier_weights(model, classifier_weights_path("fashion_mnist"))
    ```
    """
    keras.utils.set_random_seed(seed)
    train = data.load_images(dataset, "train", data_dir=data_dir)
    test = data.load_images(dataset, "test", data_dir=data_dir)
    if train.labels is None or test.labels is None:
        raise ValueError(f"{train.source} has no labels to train a classifier on.")
    image_shape, num_classes = _shape_and_classes(dataset, train.image_shape,
                                                  train.num_classes)
    model = build_classifier(image_shape, num_classes, name=f"{dataset}_classifier")
    steps = epochs * (len(train.images) // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batches = data.make_dataset(train.images, train.labels, batch_size=batch_size,
                                seed=seed)
    if augment:
        height, width = image_shape[:2]
        shift = layers.RandomTranslation(2 / height, 2 / width, fill_mode="constant",
                                         fill_value=-1.0, interpolation="nearest",
                                         seed=seed)
        batches = batches.map(lambda x, y: (shift(x, training=True), y),
                              num_parallel_calls=tf.data.AUTOTUNE)
    model.fit(batches, epochs=epochs, verbose=verbose)
    test_images = np.asarray(data.to_unit_range(test.images))
    _, accuracy = model.evaluate(test_images, test.labels, batch_size=1000, verbose=0)
    return model, float(accuracy)
