"""Evaluating generators: FID, KID, Inception Score, coverage, conditional accuracy.

`evaluate_generator` draws samples from a generator batch by batch, streams
them and the real images through a feature extractor, and returns the
metrics as a JSON-ready dict. `FIDMonitor` logs FID and KID during `fit`.

The feature space (reported as `feature_space`) is chosen by `features`:

- `"classifier"` (the default, offline for any folder): the dataset's shipped
  classifier (`keras_gans.classifier`; Fashion-MNIST, emoji at 32 and 64
  pixels); for a user's folder in class folders, a classifier trained on that
  folder and cached; for any other folder, the `"self_supervised"` space,
  which one line on stderr announces.
- `"self_supervised"`: an encoder learned from the folder's own images
  without labels (SimCLR's contrastive loss, see
  `keras_gans.classifier.self_supervised_extractor`), trained once and cached.
- `"inception"`: ImageNet InceptionV3, the standard FID that papers report
  (its weights are downloaded on first use).
- a path to a `.weights.h5` file of a `keras_gans.classifier` network or a
  `.keras` model (its `"features"` and `"logits"` layers if it has them).

Figures from different feature spaces are not comparable. Every result
therefore states its floor too: `fid_floor`, the FID between two random
halves of the real images in the same space, about what a generator that
drew the real images themselves would score with `n` equal to half of
`n_real` (`floor_n`). FID falls as `n` grows, so a score is read against the
floor of about the same `n`.
"""

import dataclasses
import math
import os
import sys

import keras
import numpy as np
import scipy.ndimage
import scipy.special

from keras_gans import classifier, data, metrics

FEATURES = ("classifier", "self_supervised", "inception")
INCEPTION_NAME = "inception_v3"


def default_extractor(dataset="fashion_mnist", image_shape=None):
    """The offline feature extractor of `dataset`: its shipped classifier."""
    return classifier.classifier_extractor(dataset, image_shape=image_shape)


def _inception_extractor(offline):
    """InceptionV3, or a one-line error naming `offline`, what measures
    these images without a download."""
    try:
        return metrics.inception_v3_extractor()
    except Exception as error:  # offline downloads fail with many error types
        detail = " ".join(str(error).split()) or "no detail"
        raise ValueError(
            f"InceptionV3's ImageNet weights could not be loaded ({type(error).__name__}: "
            f"{detail}); they are downloaded on first use, so connect to the internet once "
            f"(Keras keeps them), or measure offline: {offline}."
        ) from None


def _offline_choice(dataset, data_dir, image_shape):
    """What measures a dataset's images offline, in words for an error."""
    if data_dir is not None and dataset != "emoji":
        return ("features 'classifier' (a classifier of the folder's class folders, else "
                "an encoder learned from its images)")
    if classifier.has_shipped_classifier(dataset, image_shape):
        return f"features 'classifier' (the shipped {dataset} classifier)"
    if dataset == "emoji":
        return "an extractor file"
    return "pass data_dir, the folder of the images, with features 'classifier'"


def _weights_file_classes(path):
    """The number of classes of a `build_classifier` weights file: the width of
    its last dense layer (Keras names them `dense`, `dense_1`, ...)."""
    import h5py

    with h5py.File(path, "r") as weights:
        dense = [name for name in weights.get("layers", {}) if name.startswith("dense")]
        if not dense:
            raise ValueError(f"{path} holds no keras-gans classifier weights (no dense "
                             "layer): pass a .keras model instead.")
        last = max(dense, key=lambda name: int(name[len("dense_"):] or 0))
        return int(weights["layers"][last]["vars"]["1"].shape[0])


def _file_extractor(path, image_shape):
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No feature extractor file at {path}.")
    if path.endswith(".weights.h5"):
        model = classifier.build_classifier(image_shape, _weights_file_classes(path),
                                            name=name)
        model.load_weights(path)
        return metrics.FeatureExtractor.from_layers(model, "features", "logits", name=name)
    model = keras.models.load_model(path, compile=False)
    names = {layer.name for layer in model.layers}
    if "features" in names:
        return metrics.FeatureExtractor.from_layers(
            model, "features", "logits" if "logits" in names else None, name=name)
    return metrics.FeatureExtractor(model, name=name)


def check_features(features="classifier", dataset="fashion_mnist", data_dir=None,
                   image_shape=None):
    """Raises the `ValueError` that `feature_extractor` would raise for these
    arguments, without training or downloading anything: a check before a
    run. `"classifier"` passes for any folder.

    Example:

    ```python
    check_features("classifier", "faces", "~/faces", (64, 64, 3))   # passes
    ```
    """
    image_shape = tuple(image_shape or classifier.IMAGE_SHAPES.get(dataset, ()))
    folder = data_dir is not None and dataset != "emoji"
    if features == "inception":
        return
    if features == "self_supervised":
        if not folder:
            raise ValueError("features 'self_supervised' learns from a folder of the "
                             "images: pass data_dir.")
        return
    if features != "classifier":
        if not str(features).endswith((".weights.h5", ".keras")):
            raise ValueError(f"features must be one of {', '.join(FEATURES)} or a "
                             f".weights.h5 or .keras file, got {features!r}.")
        return
    if folder or classifier.has_shipped_classifier(dataset, image_shape):
        return
    sizes = classifier.IMAGE_SIZES.get(dataset)
    shipped = (f" (it ships at {' and '.join(map(str, sizes))} pixels)" if sizes else "")
    learn = ("" if dataset == "emoji" else
             "pass data_dir, a folder of the images (a feature space is learned from it), or ")
    raise ValueError(f"No classifier ships for {dataset!r} at shape {image_shape}{shipped}: "
                     f"{learn}use features 'inception' or an extractor file.")


def feature_extractor(features="classifier", dataset="fashion_mnist", data_dir=None,
                      image_shape=None):
    """The `FeatureExtractor` that `features` names for a dataset and image shape.

    `"classifier"` measures any folder offline: the shipped classifier where
    one fits, else the folder's class folders' classifier, else (saying so
    on stderr) an encoder learned from the folder's images without labels.
    Extractors trained here are cached; training them shows its progress on
    stderr.

    Args:
        features: `"classifier"`, `"self_supervised"`, `"inception"`, or a
            `.weights.h5` or `.keras` file (see the module's docstring).
        dataset, data_dir: the real images; `data_dir` is the user's folder
            (or `.npz`) the extractors of a folder learn from.
        image_shape: `(height, width, channels)` of the images compared.

    Example:

    ```python
    extractor = feature_extractor("classifier", "emoji", image_shape=(32, 32, 3))
    extractor.name   # 'emoji_32_classifier'
    feature_extractor("classifier", "faces", "~/faces", (64, 64, 3)).name
    # 'faces_contrastive_...' for a folder without class folders
    ```
    """
    check_features(features, dataset, data_dir, image_shape)
    image_shape = tuple(image_shape or classifier.IMAGE_SHAPES.get(dataset, ()))
    if features == "inception":
        return _inception_extractor(_offline_choice(dataset, data_dir, image_shape))
    if features == "self_supervised":
        return classifier.folder_self_supervised_extractor(data_dir, image_shape)
    if features != "classifier":
        return _file_extractor(os.path.expanduser(features), image_shape)
    if classifier.has_shipped_classifier(dataset, image_shape):
        return default_extractor(dataset, image_shape)
    return classifier.folder_extractor(data_dir, image_shape)


def _folder_has_split(data_dir, split):
    """Whether a user's data folder holds `split` apart from the other split."""
    directory = os.path.expanduser(data_dir)
    if os.path.isdir(directory):
        if all(os.path.isdir(os.path.join(directory, s)) for s in data.IDX_FILES):
            return True
        names = os.listdir(directory)
        images_file = data.IDX_FILES[split][0].split("-idx")[0]  # e.g. t10k-images
        if any(n.startswith(images_file) for n in names):
            return True
        npz_files = sorted(n for n in names if n.endswith(".npz"))
        if not npz_files:
            return False
        directory = os.path.join(directory, npz_files[0])
    if directory.endswith(".npz"):
        with np.load(directory, allow_pickle=False) as arrays:
            return bool({f"x_{split}", f"{split}_images"} & set(arrays.files))
    return False


def load_real_images(dataset="fashion_mnist", split="test", data_dir=None, style="google",
                     image_shape=None):
    """The real images a generator is compared with, and the split they are.

    Emoji gives the split of `style`. A user's folder gives its `split` when
    it has one (`train/` and `test/` sub-folders, IDX or `.npz` splits), else
    all its images, and the split is then `"all"`.

    Args:
        dataset, data_dir, style: as in `keras_gans.data.load_images`.
        split: `"train"`, `"test"` or `"all"`.
        image_shape: `(height, width, channels)` the images are brought to;
            `None` keeps them as stored.

    Returns:
        `(image_data, real_split)`.

    Example:

    ```python
    real, real_split = load_real_images(data_dir="~/pets", image_shape=(64, 64, 3))
    ```
    """
    if split not in data.SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {', '.join(data.SPLITS)}.")
    conversion = {} if image_shape is None else {
        "image_size": tuple(image_shape[:2]), "channels": image_shape[2]}
    if dataset == "emoji" or data_dir is None:
        return data.load_images(dataset, split, data_dir=data_dir, style=style,
                                **conversion), split
    splits = ("train", "test") if split == "all" else (split,)
    if not all(_folder_has_split(data_dir, s) for s in splits):
        return data.load_images(dataset, "train", data_dir=data_dir, **conversion), "all"
    parts = [data.load_images(dataset, s, data_dir=data_dir, **conversion) for s in splits]
    if len(parts) == 1:
        return parts[0], split
    labelled = all(p.labels is not None for p in parts)
    return dataclasses.replace(
        parts[0], images=np.concatenate([p.images for p in parts]),
        labels=np.concatenate([p.labels for p in parts]) if labelled else None,
        ids=None), "all"


@dataclasses.dataclass
class Measurement:
    """What an extractor saw of a set of images.

    Attributes:
        statistics: the features' `FeatureStatistics`.
        probabilities: class probabilities `(n, num_classes)` when the
            extractor gives logits, else `None`.
        halves: the `FeatureStatistics` of two random halves of the images,
            when measured with `halves=True` (see `floor`), else `None`.
    """

    statistics: metrics.FeatureStatistics
    probabilities: np.ndarray | None
    halves: tuple | None = None

    @property
    def predicted_classes(self):
        return None if self.probabilities is None else self.probabilities.argmax(axis=1)


def measure(batches, extractor, max_samples=metrics.DEFAULT_MAX_SAMPLES, seed=0,
            halves=False):
    """Streams batches of images through `extractor`.

    Args:
        batches: an iterable of float32 image batches in [-1, 1].
        extractor: a `keras_gans.metrics.FeatureExtractor`.
        max_samples: feature vectors kept for KID.
        seed: seed of the kept sample and of the halves.
        halves: also keep the statistics of two random halves of the images
            (each batch shuffled, then dealt alternately), for `floor`.

    Returns:
        A `Measurement`.
    """
    statistics = metrics.FeatureStatistics(max_samples, seed=seed)
    parts = (metrics.FeatureStatistics(2, seed=seed + 1),
             metrics.FeatureStatistics(2, seed=seed + 2)) if halves else None
    deal = np.random.default_rng(seed)
    probabilities = []
    for images in batches:
        features, logits = extractor(images)
        if parts is not None:
            order = deal.permutation(len(features))
            first = (statistics.count + np.arange(len(features))) % 2 == 0
            parts[0].update(features[order[first]])
            parts[1].update(features[order[~first]])
        statistics.update(features)
        if logits is not None:
            probabilities.append(
                scipy.special.softmax(logits.astype(np.float64), axis=1).astype(np.float32))
    return Measurement(statistics, np.concatenate(probabilities) if probabilities else None,
                       parts)


def floor(measurement):
    """FID between two random halves of one set of real images.

    It is what a generator that drew these very images would score in this
    feature space with as many samples as half of them: the smallest FID
    that means something, the noise of the measure itself. (KID needs no
    floor: it is unbiased, and `kid_std` gives its noise.)

    Args:
        measurement: a `Measurement` made with `halves=True`.

    Returns:
        `{"fid_floor", "floor_n"}`: `fid_floor` is `None` where a half holds
        fewer than 2 images; `floor_n` is the size of the smaller half.

    Example:

    ```python
    real = measure(array_batches(images), extractor, halves=True)
    floor(real)["fid_floor"]
    ```
    """
    first, second = measurement.halves
    n = min(first.count, second.count)
    fid = metrics.fid_from_statistics(first, second) if n >= 2 else None
    return {"fid_floor": fid, "floor_n": n}


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


def labels_in_proportion(generator, n, reference):
    """The labels a conditional generator is asked for: the classes in the
    real images' proportions, interleaved (in turn when the classes are
    balanced), so that on imbalanced data such as emoji the samples are
    compared with a real set of the same class mix."""
    if not generator.conditional:
        return None
    classes = generator.num_classes or reference.num_classes
    shares = reference.label_shares
    if shares is None or len(shares) != classes:
        shares = np.full(classes, 1.0 / classes)
    labels = np.empty(n, np.int32)
    given = np.zeros(classes)
    for i in range(n):
        labels[i] = np.argmax((i + 1) * shares - given)  # the class furthest behind
        given[labels[i]] += 1
    return labels


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


def _check_image_shape(generator, real_images, extractor):
    shape = getattr(generator, "image_shape", None)
    if shape is not None and tuple(shape) != tuple(real_images.image_shape):
        raise ValueError(
            f"The generator makes images of shape {tuple(shape)}, but "
            f"{real_images.name} holds images of shape {real_images.image_shape}."
        )
    takes = getattr(extractor.model, "input_shape", None)
    if extractor.preprocess is None and isinstance(takes, tuple) and (
            tuple(takes[1:]) != tuple(real_images.image_shape)):
        raise ValueError(
            f"The generator makes images of shape {real_images.image_shape}, but the "
            f"feature extractor {extractor.name} takes images of shape {tuple(takes[1:])}."
        )


def _seeds(seed):
    """Independent seeds for the real sample, the fakes and the KID subsets."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(3)]


@dataclasses.dataclass
class RealReference:
    """The real images' side of a comparison, measured once.

    Attributes:
        measurement: the real images' `Measurement`.
        extractor: the `FeatureExtractor` that measured them.
        num_classes: the dataset's class count, or `None`.
        coverage_classes: classes of the extractor's logits over which
            coverage is counted (`None`: no coverage).
        info: `n_real`, `real_split`, `feature_space`, `fid_floor` and
            `floor_n` (see `floor`), `dataset` (and `style`) for the result.
        label_shares: each class's share of the real images' labels, or
            `None` for unlabelled images.
    """

    measurement: Measurement
    extractor: metrics.FeatureExtractor
    num_classes: int | None
    coverage_classes: int | None
    info: dict
    label_shares: np.ndarray | None = None


def measure_real(generator, dataset="fashion_mnist", data_dir=None, style="google",
                 split="test", features="classifier", extractor=None, batch_size=500,
                 seed=0):
    """Loads and measures the real images a generator is compared with.

    The images are brought to the generator's `image_shape`. See
    `evaluate_generator` for the arguments.

    Returns:
        A `RealReference`.
    """
    image_shape = getattr(generator, "image_shape", None)
    image_shape = None if image_shape is None else tuple(image_shape)
    real_images, real_split = load_real_images(dataset, split, data_dir, style, image_shape)
    extractor = extractor or feature_extractor(features, dataset, data_dir,
                                               image_shape or real_images.image_shape)
    _check_image_shape(generator, real_images, extractor)
    real = measure(array_batches(real_images.images, batch_size), extractor, seed=seed,
                   halves=True)
    width = None if real.probabilities is None else real.probabilities.shape[1]
    coverage_classes = None
    if width is not None and extractor.name != INCEPTION_NAME and width == (
            real_images.num_classes or width):
        coverage_classes = width
    info = {"n_real": len(real_images.images), "real_split": real_split,
            "feature_space": extractor.name, **floor(real), "dataset": dataset}
    if dataset == "emoji":
        info["style"] = style
    label_shares = None
    if real_images.labels is not None and real_images.num_classes:
        counts = np.bincount(real_images.labels, minlength=real_images.num_classes)
        label_shares = counts / counts.sum()
    return RealReference(real, extractor, real_images.num_classes, coverage_classes, info,
                         label_shares)


def evaluate_generator(generator, dataset="fashion_mnist", data_dir=None, n=10000,
                       seed=0, batch_size=500, extractor=None, style="google",
                       split="test", features="classifier"):
    """FID, KID, Inception Score, class coverage (and conditional accuracy).

    `n` samples are generated in batches and compared with a whole split of
    the real images, brought to the generator's `image_shape`. Conditional
    generators are asked for the classes in the real images' proportions
    (in turn for balanced classes). Coverage and conditional
    accuracy use the extractor's logits when it predicts the dataset's
    classes (the classifiers do); the real images' shares of the predicted
    classes (`coverage_real`) show what a perfect generator would score, which
    matters for imbalanced data such as emoji.

    Args:
        generator: has `generate(n, labels=None, seed=None)`, `image_shape`,
            `conditional` and `num_classes`: a GAN model or a
            `keras_gans.saving.ExportedGenerator`.
        dataset, data_dir, style: the real images, as in
            `keras_gans.data.load_images` (a user's folder: `data_dir`).
        n: how many images to generate.
        seed: seed of the samples, the kept features and the KID subsets.
        batch_size: images per generator and extractor call.
        extractor: a `keras_gans.metrics.FeatureExtractor`; overrides
            `features`.
        split: the real split, `"test"`, `"train"` or `"all"`; a folder
            without that split gives all its images.
        features: `"classifier"` (offline, for any folder),
            `"self_supervised"`, `"inception"` or an extractor file; see
            `feature_extractor`.

    Returns:
        A dict of python numbers and lists: `fid`, `kid`, `kid_std`, `is`,
        `is_std`, `coverage` (fraction of samples per class), `coverage_min`,
        `classes_covered` (classes with at least 5% of the samples),
        `coverage_real` and `classes_covered_real` (the same for the real
        images), `cond_acc` (conditional generators only), `n`, `n_real`,
        `real_split`, `feature_space`, `fid_floor` and `floor_n` (the real
        images' halves against each other, see `floor`), `dataset` (and
        `style` for emoji). Metrics the extractor cannot give are `None`.

    Example:

    ```python
    generator = keras_gans.load_generator("runs/dcgan_emoji_google_32/generator")
    evaluate_generator(generator, dataset="emoji", style="google", n=2000)["fid"]
    ```
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}.")
    real_seed, fake_seed, kid_seed = _seeds(seed)
    reference = measure_real(generator, dataset, data_dir, style, split, features,
                             extractor, batch_size, real_seed)
    labels = labels_in_proportion(generator, n, reference)
    fake = measure(generated_batches(generator, n, batch_size, fake_seed, labels),
                   reference.extractor, seed=fake_seed)

    result = compare(fake, reference.measurement, seed=kid_seed)
    result["is"] = result["is_std"] = None
    result.update(coverage=None, coverage_min=None, classes_covered=None,
                  coverage_real=None, classes_covered_real=None)
    if fake.probabilities is not None:
        result["is"], result["is_std"] = metrics.inception_score(fake.probabilities)
    if reference.coverage_classes is not None:
        classes = reference.coverage_classes
        result.update(metrics.class_coverage(fake.predicted_classes, classes))
        real_coverage = metrics.class_coverage(
            reference.measurement.predicted_classes, classes)
        result.update(coverage_real=real_coverage["coverage"],
                      classes_covered_real=real_coverage["classes_covered"])
        if labels is not None:
            result["cond_acc"] = metrics.conditional_accuracy(fake.predicted_classes, labels)
    if labels is not None:
        result.setdefault("cond_acc", None)
    result.update(n=int(n), **reference.info)
    return result


class FIDMonitor(keras.callbacks.Callback):
    """Logs FID and KID of the model's generator every few epochs.

    Every `every` epochs it draws `n` samples from the same noise, compares
    them with a split of the real images, and writes `fid`, `kid` and
    `kid_std` into the epoch's logs, so they appear in `History` and in
    callbacks listed after this one, such as `keras.callbacks.TensorBoard`.
    The real images' features are computed once.

    FID is biased upwards at small `n`: compare values measured with the
    same `n` only.

    Args:
        every: measure every this many epochs.
        n: samples per measurement.
        dataset, data_dir, style, split, features: the real images and the
            feature space, as in `evaluate_generator`.
        seed: seed of the samples and the KID subsets.
        batch_size: images per generator and extractor call.
        extractor: a `keras_gans.metrics.FeatureExtractor`; overrides
            `features`.

    Example:

    ```python
    history = gan.fit(dataset, epochs=20, callbacks=[
        FIDMonitor(every=5, n=2000, dataset="emoji", style="twitter"),
        keras.callbacks.TensorBoard("logs/"),
    ])
    history.history["fid"]  # one value per measurement
    ```
    """

    def __init__(self, every=1, n=2000, dataset="fashion_mnist", data_dir=None, seed=0,
                 batch_size=500, extractor=None, style="google", split="test",
                 features="classifier"):
        super().__init__()
        if every < 1 or n < 2:
            raise ValueError(f"every must be >= 1 and n >= 2, got {every} and {n}.")
        self.every = int(every)
        self.n = int(n)
        self.dataset = dataset
        self.data_dir = data_dir
        self.style = style
        self.split = split
        self.features = features
        self.seed = seed
        self.batch_size = batch_size
        self.extractor = extractor
        self.reference = None

    def on_train_begin(self, logs=None):
        if self.reference is not None:
            return
        real_seed, _, _ = _seeds(self.seed)
        self.reference = measure_real(self.model, self.dataset, self.data_dir, self.style,
                                      self.split, self.features, self.extractor,
                                      self.batch_size, real_seed)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        _, fake_seed, kid_seed = _seeds(self.seed)
        labels = labels_in_proportion(self.model, self.n, self.reference)
        fake = measure(generated_batches(self.model, self.n, self.batch_size, fake_seed,
                                         labels),
                       self.reference.extractor, seed=fake_seed)
        scores = compare(fake, self.reference.measurement, seed=kid_seed)
        if logs is not None:
            logs.update(scores)


# ------------------------------------------------------------ image-to-image
def _unit_interval(images):
    return (metrics.unit_range_images(images) + 1.0) / 2.0


def paired_distances(images, targets, batch_size=500):
    """Mean L1 (on [0, 1] pixels), SSIM and PSNR (dB) between paired images.

    SSIM and PSNR are TensorFlow's `tf.image.ssim` and `tf.image.psnr` on the
    TensorFlow backend; elsewhere `ssim` and `psnr`, their numpy equivalents.

    Args:
        images, targets: `(N, H, W, C)` uint8 or [-1, 1] images, paired by index.
        batch_size: images per call.

    Returns:
        `{"l1": ..., "ssim": ..., "psnr": ...}` as python floats.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def ssim_of(x, y):
            return tf.image.ssim(x, y, max_val=1.0).numpy()

        def psnr_of(x, y):
            return tf.image.psnr(x, y, max_val=1.0).numpy()
    else:
        ssim_of, psnr_of = ssim, psnr
    l1, ssims, psnrs = [], [], []
    for start in range(0, len(images), batch_size):
        x = _unit_interval(images[start:start + batch_size])
        y = _unit_interval(targets[start:start + batch_size])
        l1.append(np.mean(np.abs(x - y), axis=(1, 2, 3)))
        ssims.append(ssim_of(x, y))
        psnrs.append(psnr_of(x, y))
    return {name: float(np.mean(np.concatenate(values)))
            for name, values in (("l1", l1), ("ssim", ssims), ("psnr", psnrs))}


def ssim(x, y, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """The structural similarity of each pair of images in [0, 1], as
    `tf.image.ssim(x, y, max_val=1.0)` computes it: an 11x11 Gaussian window
    (sigma 1.5) over the valid region, averaged over pixels and channels.

    Args:
        x, y: float `(N, H, W, C)` images in [0, 1], at least 11 pixels a side.
        filter_size, filter_sigma, k1, k2: as in `tf.image.ssim`.

    Returns:
        float32 `(N,)`.
    """
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    if min(x.shape[1:3]) < filter_size:
        raise ValueError(f"SSIM needs images of at least {filter_size}x{filter_size} "
                         f"pixels, got {x.shape[1]}x{x.shape[2]}.")
    coords = np.arange(filter_size, dtype=np.float64) - (filter_size - 1) / 2
    window = np.exp(-0.5 * coords**2 / filter_sigma**2)
    window /= window.sum()
    crop = slice(filter_size // 2, filter_size // 2 - filter_size + 1)

    def local_mean(images):
        for axis in (1, 2):
            images = scipy.ndimage.correlate1d(images, window, axis=axis, mode="constant")
        return images[:, crop, crop]

    c1, c2 = k1**2, k2**2
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    mean_x, mean_y = local_mean(x64), local_mean(y64)
    both = 2 * mean_x * mean_y
    squares = mean_x**2 + mean_y**2
    luminance = (both + c1) / (squares + c1)
    structure = (2 * local_mean(x64 * y64) - both + c2) / (
        local_mean(x64**2 + y64**2) - squares + c2)
    return np.mean(luminance * structure, axis=(1, 2, 3)).astype(np.float32)


def psnr(x, y):
    """The peak signal-to-noise ratio in dB of each pair of images in [0, 1],
    as `tf.image.psnr(x, y, max_val=1.0)`: infinite for identical images.

    Args:
        x, y: float `(N, H, W, C)` images in [0, 1].

    Returns:
        float32 `(N,)`.
    """
    error = np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64))**2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return (-10 * np.log10(error)).astype(np.float32)


def _class_accuracy(measurement, labels):
    if measurement.predicted_classes is None or labels is None:
        return None
    return float(np.mean(measurement.predicted_classes == labels))


def _is_folder(domain):
    return not domain.startswith(("emoji:", "tfds:")) and os.path.isdir(
        os.path.expanduser(domain))


def _domains_self_supervised(domain_a, domain_b, image_shape):
    """An encoder learned without labels from both domains' training images."""
    sides = ((domain_a, "A"), (domain_b, "B"))
    fingerprint = "|".join(classifier.folder_fingerprint(domain, image_shape)
                           if _is_folder(domain) else f"{domain}:{side}"
                           for domain, side in sides)

    def images():
        return np.concatenate([
            data.load_domain(domain, "train", side, image_shape[:2],
                             channels=image_shape[2]).images for domain, side in sides])

    return classifier.self_supervised_extractor(
        images, fingerprint, f"{domain_a} and {domain_b}", image_shape,
        label=f"{data.domain_name(domain_a)}_{data.domain_name(domain_b)}")


def _translation_extractor(features, domain_a, domain_b, image_shape):
    """The feature space of a translation: for `"classifier"`, the emoji
    classifier for emoji, the class folders' classifier of a folder `domain_b`
    that has them, else (saying so on stderr) the `"self_supervised"` space,
    an encoder learned from both domains' images."""
    if features == "self_supervised":
        return _domains_self_supervised(domain_a, domain_b, image_shape)
    if domain_b.startswith("emoji:"):
        return feature_extractor(features, "emoji", image_shape=image_shape)
    folder = domain_b if _is_folder(domain_b) else None
    if features != "classifier":
        return feature_extractor(features, data.domain_name(domain_b), folder, image_shape)
    if folder is not None:
        try:
            return classifier.folder_classifier_extractor(folder, image_shape)
        except classifier.NoClassFoldersError:
            pass
    print(f"{domain_b} has no class folders to train a classifier on, so the feature space "
          "is an encoder learned from both domains' images without labels (features "
          "'self_supervised'); features 'inception' gives the standard FID.", file=sys.stderr)
    return _domains_self_supervised(domain_a, domain_b, image_shape)


def _load_domain(domain, split, side, image_size, channels):
    """A domain's images and the split they are: a folder without `split`
    gives all its images, and the split is then `"all"`."""
    if _is_folder(domain) and not _folder_has_split(domain, split):
        return data.load_domain(domain, "train", side, image_size, channels=channels), "all"
    return data.load_domain(domain, split, side, image_size, channels=channels), split


def evaluate_translation(model, domain_a="emoji:google", domain_b="emoji:twitter",
                         split="test", features="classifier", extractor=None,
                         batch_size=256, seed=0):
    """Measures an image-to-image model's translations: both ways for a
    `CycleGAN`, A to B for a `Pix2Pix`.

    For each direction the model has (`a2b`: G, `b2a`: F) and its target domain:

    - `fid`, `kid`: the translations against the real images of the target
      domain, in the feature space `features` names (for emoji, the shipped
      emoji classifier's, as `evaluate_generator` uses; for folders without
      class folders, an encoder learned from both domains' images without
      labels);
    - `fid_floor`, `floor_n`: the target domain's real images, two random
      halves against each other (see `floor`);
    - `cycle_l1`, for a model that translates both ways: the mean L1
      distance of the reconstructions F(G(a)) to a (G(F(b)) to b), on [0, 1]
      pixels, which needs no feature space;
    - where the domains pair their images (the two emoji styles: the
      held-out emoji drawn in both, matched by code point; for a model
      trained on pairs, its two folders, matched by file name, see
      `keras_gans.data.load_pairs`), `l1`, `ssim` and `psnr` between each
      translation and the real image of the same thing in the target domain,
      and `class_accuracy`, the share of translations the category
      classifier puts in the source's category (where the source has
      categories);
    - each with a `_baseline`: the same measure with no translation, the
      source image itself in place of its translation.

    Args:
        model: an image-to-image model (`translate(images, direction)`,
            `image_shape`, and `directions` unless it has both), e.g. a
            `CycleGAN`, a `Pix2Pix` or their presets.
        domain_a, domain_b: the domains, as in `keras_gans.data.load_domain`.
        split: `"test"` (held-out) or `"train"`; a folder without that
            split gives all its images.
        features: `"classifier"`, `"self_supervised"`, `"inception"` or an
            extractor file; see `feature_extractor`.
        extractor: a `keras_gans.metrics.FeatureExtractor`; overrides `features`.
        batch_size: images per call.
        seed: seed of the KID subsets and the halves.

    Returns:
        A JSON-ready dict: `{"a2b": {measure: value}, "b2a": {...} (a model
        translating both ways), "paired",
        "n_a", "n_b", "split", "feature_space", "domain_a", "domain_b"}`;
        `split` is the split read (`"all"` for folders without one, e.g.
        `"test (A), all (B)"` where the domains differ).

    Example:

    ```python
    model = keras_gans.CycleGAN.from_preset("runs/cyclegan/preset")
    evaluate_translation(model)["a2b"]["ssim"]
    ```
    """
    image_shape = tuple(model.image_shape)
    size = image_shape[:2]
    directions = tuple(getattr(model, "directions", ("a2b", "b2a")))
    emoji_pair = domain_a.startswith("emoji:") and domain_b.startswith("emoji:")
    paired = emoji_pair or getattr(model, "task", None) == "paired"
    if paired:
        a, b = data.load_pairs(domain_a, domain_b, size, split, channels=image_shape[2])
        split_a = split_b = (split if emoji_pair or _folder_has_split(domain_a, split)
                             else "all")
    else:
        a, split_a = _load_domain(domain_a, split, "A", size, image_shape[2])
        b, split_b = _load_domain(domain_b, split, "B", size, image_shape[2])
    extractor = extractor or _translation_extractor(features, domain_a, domain_b, image_shape)
    result = {"paired": paired, "n_a": len(a.images), "n_b": len(b.images),
              "split": split_a if split_a == split_b else f"{split_a} (A), {split_b} (B)",
              "feature_space": extractor.name, "domain_a": domain_a, "domain_b": domain_b}
    for direction, source, target, back in (("a2b", a, b, "b2a"), ("b2a", b, a, "a2b")):
        if direction not in directions:
            continue
        translated = model.translate(source.images, direction, batch_size)
        real = measure(array_batches(target.images, batch_size), extractor, seed=seed,
                       halves=True)
        fake = measure(array_batches(translated, batch_size), extractor, seed=seed)
        untranslated = measure(array_batches(source.images, batch_size), extractor, seed=seed)
        scores = {name: value for name, value in compare(fake, real, seed=seed).items()
                  if name in ("fid", "kid")}
        scores.update({f"{name}_baseline": value for name, value in
                       compare(untranslated, real, seed=seed).items() if name in ("fid", "kid")})
        scores.update(floor(real))
        if back in directions:
            cycled = model.translate(translated, back, batch_size)
            scores["cycle_l1"] = paired_distances(cycled, source.images, batch_size)["l1"]
        if paired:
            scores.update(paired_distances(translated, target.images, batch_size))
            scores.update({f"{name}_baseline": value for name, value in
                           paired_distances(source.images, target.images, batch_size).items()})
            if source.labels is not None:
                scores["class_accuracy"] = _class_accuracy(fake, source.labels)
                scores["class_accuracy_baseline"] = _class_accuracy(untranslated,
                                                                    source.labels)
        result[direction] = scores
    return result
