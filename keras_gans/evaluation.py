"""Evaluating generators: FID, KID, Inception Score, coverage, conditional accuracy.

`evaluate_generator` draws samples from a generator batch by batch, streams
them and the real test images through a feature extractor, and returns the
metrics as a JSON-ready dict. `FIDMonitor` logs FID and KID during `fit`.

By default the features are those of the dataset's shipped classifier
(`keras_gans.classifier`), so the numbers live in that classifier's feature
space (reported as `feature_space`), not Inception's: pass
`extractor=keras_gans.metrics.inception_v3_extractor()` for the standard FID.
"""

import dataclasses
import math

import keras
import numpy as np
import scipy.special

from keras_gans import data, metrics


def default_extractor(dataset="fashion_mnist"):
    """The offline feature extractor of `dataset`: its shipped classifier."""
    from keras_gans.classifier import classifier_extractor

    return classifier_extractor(dataset)


@dataclasses.dataclass
class Measurement:
    """What an extractor saw of a set of images.

    Attributes:
        statistics: the features' `FeatureStatistics`.
        probabilities: class probabilities `(n, num_classes)` when the
            extractor gives logits, else `None`.
    """

    statistics: metrics.FeatureStatistics
    probabilities: np.ndarray | None

    @property
    def predicted_classes(self):
        return None if self.probabilities is None else self.probabilities.argmax(axis=1)


def measure(batches, extractor, max_samples=metrics.DEFAULT_MAX_SAMPLES, seed=0):
    """Streams batches of images through `extractor`.

    Args:
        batches: an iterable of float32 image batches in [-1, 1].
        extractor: a `keras_gans.metrics.FeatureExtractor`.
        max_samples: feature vectors kept for KID.
        seed: seed of the kept sample.

    Returns:
        A `Measurement`.
    """
    statistics = metrics.FeatureStatistics(max_samples, seed=seed)
    probabilities = []
    for images in batches:
        features, logits = extractor(images)
        statistics.update(features)
        if logits is not None:
            probabilities.append(
                scipy.special.softmax(logits.astype(np.float64), axis=1).astype(np.float32))
    return Measurement(statistics, np.concatenate(probabilities) if probabilities else None)


def array_batches(images, batch_size=500):
    """Yields float32 batches in [-1, 1] from uint8 or [-1, 1] image arrays."""
    for start in range(0, len(images), batch_size):
        yield metrics.unit_range_images(images[start:start + batch_size])


def generated_batches(generator, n, batch_size=500, seed=0, labels=None):
    """Yields `n` images from `generator.generate`, `batch_size` at a time.

    Each batch gets its own seed drawn from `seed`, so the samples are
    repeatable and no two batches share noise.

    Args:
        generator: has `generate(n, labels=None, seed=None)`.
        n: how many images.
        batch_size: images per `generate` call.
        seed: integer seed.
        labels: one class label per image, for conditional generators.
    """
    seeds = np.random.default_rng(seed).integers(
        0, 2**31 - 1, size=math.ceil(n / batch_size))
    for batch_seed, start in zip(seeds, range(0, n, batch_size), strict=True):
        count = min(batch_size, n - start)
        batch_labels = None if labels is None else labels[start:start + count]
        yield generator.generate(count, labels=batch_labels, seed=int(batch_seed))


def requested_labels(generator, n, num_classes):
    """The labels a conditional generator is asked for: classes in turn."""
    if not generator.conditional:
        return None
    return (np.arange(n) % (generator.num_classes or num_classes)).astype(np.int32)


def compare(fake, real, kid_subsets=metrics.KID_SUBSETS,
            kid_subset_size=metrics.KID_SUBSET_SIZE, seed=0):
    """FID, KID and KID's standard deviation between two `Measurement`s."""
    kid, kid_std = metrics.kernel_inception_distance(
        fake.statistics.samples, real.statistics.samples, num_subsets=kid_subsets,
        subset_size=kid_subset_size, seed=seed)
    return {
        "fid": metrics.fid_from_statistics(fake.statistics, real.statistics),
        "kid": kid,
        "kid_std": kid_std,
    }


def _check_image_shape(generator, real_images):
    shape = getattr(generator, "image_shape", None)
    if shape is not None and tuple(shape) != tuple(real_images.image_shape):
        raise ValueError(
            f"The generator makes images of shape {tuple(shape)}, but "
            f"{real_images.name} holds images of shape {real_images.image_shape}."
        )


def _seeds(seed):
    """Independent seeds for the real sample, the fakes and the KID subsets."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(3)]


def evaluate_generator(generator, dataset="fashion_mnist", data_dir=None, n=10000,
                       seed=0, batch_size=500, extractor=None):
    """FID, KID, Inception Score, class coverage (and conditional accuracy).

    `n` samples are generated in batches and compared with the dataset's
    whole test split. Conditional generators are asked for the classes in
    turn. Class coverage and conditional accuracy use the extractor's logits
    when it predicts the dataset's classes (the default classifier does).

    Args:
        generator: has `generate(n, labels=None, seed=None)`, `conditional`
            and `num_classes`: a GAN model or a
            `keras_gans.saving.ExportedGenerator`.
        dataset, data_dir: the real images, as in
            `keras_gans.data.load_images`.
        n: how many images to generate.
        seed: seed of the samples, the kept features and the KID subsets.
        batch_size: images per generator and extractor call.
        extractor: a `keras_gans.metrics.FeatureExtractor`; by default the
            dataset's shipped classifier.

    Returns:
        A dict of python numbers and lists: `fid`, `kid`, `kid_std`, `is`,
        `is_std`, `coverage` (fraction of samples per class), `coverage_min`,
        `classes_covered` (classes with at least 5% of the samples),
        `cond_acc` (conditional generators only), `n`, `n_real`,
        `feature_space` and `dataset`. Metrics the extractor cannot give are
        `None`.

    Example:

    ```python
    generator = keras_gans.load_generator("runs/dcgan_fashion_mnist/generator")
    evaluate_generator(generator, n=10000)["fid"]
    ```
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}.")
    extractor = extractor or default_extractor(dataset)
    real_images = data.load_images(dataset, "test", data_dir=data_dir)
    _check_image_shape(generator, real_images)
    real_seed, fake_seed, kid_seed = _seeds(seed)
    real = measure(array_batches(real_images.images, batch_size), extractor,
                   seed=real_seed)
    labels = requested_labels(generator, n, real_images.num_classes)
    fake = measure(generated_batches(generator, n, batch_size, fake_seed, labels),
                   extractor, seed=fake_seed)

    result = compare(fake, real, seed=kid_seed)
    result["is"] = result["is_std"] = None
    result.update(coverage=None, coverage_min=None, classes_covered=None)
    if fake.probabilities is not None:
        result["is"], result["is_std"] = metrics.inception_score(fake.probabilities)
        num_classes = real_images.num_classes
        if fake.probabilities.shape[1] == num_classes:
            result.update(metrics.class_coverage(fake.predicted_classes, num_classes))
            if labels is not None:
                result["cond_acc"] = metrics.conditional_accuracy(
                    fake.predicted_classes, labels)
    if labels is not None:
        result.setdefault("cond_acc", None)
    result.update(n=int(n), n_real=len(real_images.images),
                  feature_space=extractor.name, dataset=dataset)
    return result


class FIDMonitor(keras.callbacks.Callback):
    """Logs FID and KID of the model's generator every few epochs.

    Every `every` epochs it draws `n` samples from the same noise, compares
    them with the dataset's test split, and writes `fid`, `kid` and `kid_std`
    into the epoch's logs, so they appear in `History` and in callbacks listed
    after this one, such as `keras.callbacks.TensorBoard`. The test split's
    features are computed once.

    FID is biased upwards at small `n`: compare values measured with the
    same `n` only.

    Args:
        every: measure every this many epochs.
        n: samples per measurement.
        dataset, data_dir: the real images, as in
            `keras_gans.data.load_images`.
        seed: seed of the samples and the KID subsets.
        batch_size: images per generator and extractor call.
        extractor: a `keras_gans.metrics.FeatureExtractor`; by default the
            dataset's shipped classifier.

    Example:

    ```python
    history = gan.fit(dataset, epochs=20, callbacks=[
        FIDMonitor(every=5, n=2000),
        keras.callbacks.TensorBoard("logs/"),
    ])
    history.history["fid"]  # one value per measurement
    ```
    """

    def __init__(self, every=1, n=2000, dataset="fashion_mnist", data_dir=None, seed=0,
                 batch_size=500, extractor=None):
        super().__init__()
        if every < 1 or n < 2:
            raise ValueError(f"every must be >= 1 and n >= 2, got {every} and {n}.")
        self.every = int(every)
        self.n = int(n)
        self.dataset = dataset
        self.data_dir = data_dir
        self.seed = seed
        self.batch_size = batch_size
        self.extractor = extractor
        self.real = None
        self.num_classes = None

    def on_train_begin(self, logs=None):
        if self.real is not None:
            return
        self.extractor = self.extractor or default_extractor(self.dataset)
        real_images = data.load_images(self.dataset, "test", data_dir=self.data_dir)
        _check_image_shape(self.model, real_images)
        self.num_classes = real_images.num_classes
        real_seed, _, _ = _seeds(self.seed)
        self.real = measure(array_batches(real_images.images, self.batch_size),
                            self.extractor, seed=real_seed)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        _, fake_seed, kid_seed = _seeds(self.seed)
        labels = requested_labels(self.model, self.n, self.num_classes)
        fake = measure(generated_batches(self.model, self.n, self.batch_size, fake_seed,
                                         labels),
                       self.extractor, seed=fake_seed)
        scores = compare(fake, self.real, seed=kid_seed)
        if logs is not None:
            logs.update(scores)
