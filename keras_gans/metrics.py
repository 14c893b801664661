"""Sample-quality metrics for generative models: FID, KID, Inception Score.

The metrics compare features of generated and real images. Features come
from a `FeatureExtractor`, which wraps any Keras model (or callable) mapping
images in [-1, 1] to features and, optionally, class logits. Features are
computed batch by batch and folded into a `FeatureStatistics`, which keeps the
running sums FID needs and a bounded random sample of features for KID, so
50,000 samples never need 50,000 images in memory.

- Frechet Inception Distance (Heusel et al. 2017): the Frechet distance
  between Gaussians fitted to the two feature sets.
- Kernel Inception Distance (Binkowski et al. 2018): the unbiased estimate of
  the squared MMD with the kernel `k(x, y) = (x . y / d + 1) ** 3`, averaged
  over random subsets; its standard deviation over the subsets comes with it.
- Inception Score (Salimans et al. 2016): `exp(E_x KL(p(y|x) || p(y)))`, mean
  and standard deviation over splits of the samples.

Which network gives the features matters: FIDs computed in different feature
spaces are not comparable. `inception_v3_extractor` gives the standard one;
`keras_gans.classifier.classifier_extractor` gives a small domain classifier's
that works offline.
"""

import warnings

import keras
import numpy as np
import scipy.linalg
import scipy.special
from keras import ops

DEFAULT_MAX_SAMPLES = 10000
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
COVERAGE_THRESHOLD = 0.05


class FeatureStatistics:
    """Streaming statistics of a set of feature vectors.

    `update` takes features batch by batch. The object keeps their count, sum
    and sum of outer products (about a shift, for numerical accuracy), which
    give the mean and covariance for FID, and a uniform random sample of at
    most `max_samples` feature vectors (reservoir sampling) for KID.

    Args:
        max_samples: most feature vectors kept for KID. While fewer have been
            seen, all are kept, in order.
        seed: seed of the reservoir sampling.

    Example:

    ```python
    stats = FeatureStatistics()
    for batch in batches:
        stats.update(extractor(batch)[0])
    stats.mean, stats.covariance, stats.samples
    ```
    """

    def __init__(self, max_samples=DEFAULT_MAX_SAMPLES, seed=0):
        if max_samples < 2:
            raise ValueError(f"max_samples must be at least 2, got {max_samples}.")
        self.max_samples = int(max_samples)
        self.rng = np.random.default_rng(seed)
        self.count = 0
        self.shift = None
        self.sum = None
        self.sum_outer = None
        self.reservoir = None

    @property
    def dim(self):
        return None if self.shift is None else len(self.shift)

    def update(self, features):
        """Adds a batch of feature vectors, shape `(batch, dim)`."""
        features = np.asarray(features, np.float64)
        features = features.reshape(len(features), -1)
        if not len(features):
            return
        if self.shift is None:
            dim = features.shape[1]
            self.shift = features.mean(axis=0)
            self.sum = np.zeros(dim)
            self.sum_outer = np.zeros((dim, dim))
            self.reservoir = np.empty((self.max_samples, dim), np.float32)
        elif features.shape[1] != self.dim:
            raise ValueError(
                f"Expected features of dimension {self.dim}, got shape {features.shape}."
            )
        if not np.isfinite(features).all():
            raise ValueError("The features hold NaN or infinite values.")
        centred = features - self.shift
        self.sum += centred.sum(axis=0)
        self.sum_outer += centred.T @ centred
        self._sample(features)
        self.count += len(features)

    def _sample(self, features):
        # Algorithm R (Vitter 1985), vectorised over the batch: item number i
        # (counting from 0) replaces a uniform slot in [0, i] if that slot is
        # in the reservoir; a later item wins when two pick the same slot.
        fill = min(max(self.max_samples - self.count, 0), len(features))
        self.reservoir[self.count:self.count + fill] = features[:fill]
        rest = features[fill:]
        if not len(rest):
            return
        positions = self.count + fill + np.arange(len(rest))
        slots = self.rng.integers(0, positions + 1)
        kept = np.flatnonzero(slots < self.max_samples)
        _, last_from_end = np.unique(slots[kept][::-1], return_index=True)
        kept = kept[len(kept) - 1 - last_from_end]
        self.reservoir[slots[kept]] = rest[kept]

    def _check_count(self, minimum):
        if self.count < minimum:
            raise ValueError(
                f"Statistics need at least {minimum} feature vectors; got {self.count}."
            )

    @property
    def mean(self):
        """The mean feature vector, float64 `(dim,)`."""
        self._check_count(1)
        return self.shift + self.sum / self.count

    @property
    def covariance(self):
        """The unbiased covariance matrix (like `np.cov`), float64 `(dim, dim)`."""
        self._check_count(2)
        centred_mean = self.sum / self.count
        return (self.sum_outer - self.count * np.outer(centred_mean, centred_mean)) / (
            self.count - 1
        )

    @property
    def samples(self):
        """The kept feature vectors, float32 `(min(count, max_samples), dim)`."""
        self._check_count(1)
        return self.reservoir[:min(self.count, self.max_samples)]


def _sqrtm(matrix, strict=True):
    """The matrix square root; with `strict`, `None` if singular or not finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("error" if strict else "ignore", scipy.linalg.LinAlgWarning)
        try:
            root = scipy.linalg.sqrtm(matrix)
        except scipy.linalg.LinAlgWarning:
            return None
    return root if np.isfinite(root).all() or not strict else None


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Frechet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    `||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`. When the
    covariance product is singular (e.g. features that are always 0) or its
    square root is not finite, `eps` is added to both diagonals; a small
    imaginary part from round-off is dropped.

    Args:
        mu1, mu2: mean vectors, shape `(dim,)`.
        sigma1, sigma2: covariance matrices, shape `(dim, dim)`.
        eps: diagonal offset used when the square root is not finite.

    Returns:
        The distance as a python float (round-off below 0 is clipped to 0).

    Example:

    ```python
    fid = frechet_distance(fake.mean, fake.covariance, real.mean, real.covariance)
    ```
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(
        np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(
        np.asarray(sigma2, np.float64))
    dim = len(mu1)
    if mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"Mismatched shapes: mu1 {mu1.shape}, sigma1 {sigma1.shape}, "
            f"mu2 {mu2.shape}, sigma2 {sigma2.shape}."
        )
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)
    if covmean is None:
        offset = np.eye(dim) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset), strict=False)
    if np.iscomplexobj(covmean):
        largest = np.max(np.abs(np.diagonal(covmean).imag))
        if largest > 1e-3:
            raise ValueError(
                f"The covariance product's square root has an imaginary part of "
                f"{largest:.3g}: the covariances are ill-conditioned."
            )
        covmean = covmean.real
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return max(float(distance), 0.0)


def fid_from_statistics(statistics1, statistics2):
    """FID between two `FeatureStatistics`."""
    return frechet_distance(statistics1.mean, statistics1.covariance,
                            statistics2.mean, statistics2.covariance)


def polynomial_mmd2(features1, features2):
    """Unbiased estimate of the squared MMD with the kernel `(x . y / d + 1) ** 3`.

    Args:
        features1, features2: feature arrays `(m, dim)` and `(n, dim)`, each
            with at least 2 rows.
    """
    x = np.asarray(features1, np.float64)
    y = np.asarray(features2, np.float64)
    m, n, dim = len(x), len(y), x.shape[1]
    k_xx = (x @ x.T / dim + 1.0) ** 3
    k_yy = (y @ y.T / dim + 1.0) ** 3
    k_xy = (x @ y.T / dim + 1.0) ** 3
    return float(
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        - 2.0 * k_xy.mean()
    )


def kernel_inception_distance(features1, features2, num_subsets=KID_SUBSETS,
                              subset_size=KID_SUBSET_SIZE, seed=0):
    """KID: the polynomial-kernel MMD estimate, mean and std over subsets.

    Each subset draws `subset_size` rows from each feature set without
    replacement; `subset_size` is capped at the smaller set's size.

    Args:
        features1, features2: feature arrays `(m, dim)` and `(n, dim)`.
        num_subsets: number of random subsets.
        subset_size: rows drawn from each set per subset.
        seed: seed of the subset draws.

    Returns:
        `(mean, std)` as python floats. The mean can be slightly negative when
        the two distributions are equal: the estimate is unbiased.

    Example:

    ```python
    kid, kid_std = kernel_inception_distance(fake.samples, real.samples)
    ```
    """
    features1 = np.asarray(features1)
    features2 = np.asarray(features2)
    if features1.ndim != 2 or features2.ndim != 2 or (
        features1.shape[1] != features2.shape[1]
    ):
        raise ValueError(
            f"Expected two feature arrays (m, dim) and (n, dim), got shapes "
            f"{features1.shape} and {features2.shape}."
        )
    size = min(subset_size, len(features1), len(features2))
    if size < 2:
        raise ValueError("KID needs at least 2 feature vectors in each set.")
    rng = np.random.default_rng(seed)
    estimates = [
        polynomial_mmd2(
            features1[rng.choice(len(features1), size, replace=False)],
            features2[rng.choice(len(features2), size, replace=False)],
        )
        for _ in range(num_subsets)
    ]
    return float(np.mean(estimates)), float(np.std(estimates))


def inception_score(probabilities, splits=10):
    """Inception Score: `exp(E_x KL(p(y|x) || p(y)))` over splits of the samples.

    It is 1 when every prediction is the same distribution and `num_classes`
    when predictions are confident and spread evenly over the classes.

    Args:
        probabilities: class probabilities `(n, num_classes)` (softmax of the
            logits).
        splits: the samples are cut into this many consecutive parts (at most
            `n`); `p(y)` is estimated within each part.

    Returns:
        `(mean, std)` of the per-split scores, as python floats.

    Example:

    ```python
    score, score_std = inception_score(scipy.special.softmax(logits, axis=1))
    ```
    """
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or not len(probabilities):
        raise ValueError(
            f"Expected probabilities of shape (n, num_classes), got {probabilities.shape}."
        )
    if probabilities.min() < 0 or not np.allclose(probabilities.sum(axis=1), 1.0,
                                                  atol=1e-3):
        raise ValueError("Each row of probabilities must be a distribution summing to 1.")
    scores = []
    for part in np.array_split(probabilities, min(splits, len(probabilities))):
        marginal = part.mean(axis=0, keepdims=True)
        kl = scipy.special.rel_entr(part, marginal).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def class_coverage(predicted_classes, num_classes, threshold=COVERAGE_THRESHOLD):
    """How generated samples spread over the classes: detects mode collapse.

    Args:
        predicted_classes: a classifier's class index for each sample.
        num_classes: number of classes.
        threshold: a class counts as covered when it holds at least this
            fraction of the samples.

    Returns:
        A dict: `coverage`, the fraction of samples in each class (a list);
        `coverage_min`, the smallest fraction; `classes_covered`, the number
        of classes holding at least `threshold` of the samples.

    Example:

    ```python
    class_coverage(logits.argmax(axis=1), 10)["coverage_min"]
    ```
    """
    predicted_classes = np.asarray(predicted_classes).reshape(-1)
    if not len(predicted_classes):
        raise ValueError("No predictions given.")
    counts = np.bincount(predicted_classes, minlength=num_classes)
    if len(counts) > num_classes:
        raise ValueError(f"Predicted classes must lie in [0, {num_classes}).")
    fractions = counts / counts.sum()
    return {
        "coverage": [float(f) for f in fractions],
        "coverage_min": float(fractions.min()),
        "classes_covered": int((fractions >= threshold).sum()),
    }


def conditional_accuracy(predicted_classes, requested_labels):
    """The fraction of conditional samples classified as the class asked for."""
    predicted_classes = np.asarray(predicted_classes).reshape(-1)
    requested_labels = np.asarray(requested_labels).reshape(-1)
    if predicted_classes.shape != requested_labels.shape:
        raise ValueError(
            f"{len(predicted_classes)} predictions but {len(requested_labels)} labels."
        )
    return float(np.mean(predicted_classes == requested_labels))


def unit_range_images(images):
    """Images as float32 in [-1, 1]: uint8 pixels are scaled, floats kept."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 127.5 - 1.0
    return images.astype(np.float32)


def discriminator_accuracy(gan, real_images, real_labels=None, seed=0, batch_size=500):
    """How well a GAN's discriminator tells held-out real images from fresh fakes.

    The discriminator runs in inference mode. A score above the loss's
    decision threshold (0 for logit-based losses, 0.5 for LSGAN) counts as
    "real". As many fakes as real images are drawn; a conditional model's
    fakes cycle through the classes, and its real images need `real_labels`.

    Args:
        gan: a `keras_gans` GAN model.
        real_images: images not trained on: uint8 pixels or floats in [-1, 1].
        real_labels: class labels of `real_images` (conditional models).
        seed: seed of the fakes' noise.
        batch_size: images per discriminator call.

    Returns:
        A dict with `d_acc_real` and `d_acc_fake`, python floats.

    Example:

    ```python
    test = keras_gans.data.load_images("fashion_mnist", "test")
    discriminator_accuracy(gan, test.images[:2000])
    ```
    """
    real_images = unit_range_images(real_images)
    n = len(real_images)
    loss = getattr(gan, "adversarial_loss", None)
    threshold = loss.decision_threshold if loss is not None else 0.0
    if gan.conditional:
        if real_labels is None:
            raise ValueError("A conditional discriminator needs real_labels.")
        real_labels = np.asarray(real_labels, np.int32).reshape(-1)
        fake_labels = (np.arange(n) % gan.num_classes).astype(np.int32)
        fake_images = gan.generate(n, seed=seed, labels=fake_labels)
    else:
        fake_labels = None
        fake_images = gan.generate(n, seed=seed)

    def fraction_real(images, labels):
        decisions = []
        for start in range(0, n, batch_size):
            batch = images[start:start + batch_size]
            inputs = batch if labels is None else [batch, labels[start:start + batch_size]]
            scores = ops.convert_to_numpy(
                ops.cast(gan.discriminator(inputs, training=False), "float32"))
            decisions.append(scores.reshape(len(batch), -1)[:, 0] > threshold)
        return float(np.mean(np.concatenate(decisions)))

    return {
        "d_acc_real": fraction_real(real_images, real_labels),
        "d_acc_fake": 1.0 - fraction_real(fake_images, fake_labels),
    }


class FeatureExtractor:
    """Maps images in [-1, 1] to feature vectors and, optionally, class logits.

    Args:
        model: a Keras model, or any callable, taking a float32 batch
            `(batch, height, width, channels)` in [-1, 1]. It returns the
            features, a pair `(features, logits)`, or a dict with the keys
            `"features"` and (optionally) `"logits"`.
        name: the name of the feature space, reported with the metrics.
        preprocess: a callable applied to each batch before `model`.

    Example:

    ```python
    extractor = FeatureExtractor.from_layers(classifier, "features", "logits")
    features, logits = extractor(images)
    ```
    """

    def __init__(self, model, name=None, preprocess=None):
        self.model = model
        self.name = name or getattr(model, "name", type(model).__name__)
        self.preprocess = preprocess

    @classmethod
    def from_layers(cls, model, features, logits=None, name=None, preprocess=None):
        """An extractor reading named layers of a functional Keras model.

        Args:
            model: a functional or sequential Keras model.
            features: name of the layer whose output is the features.
            logits: name of the layer whose output is the class logits.
            name, preprocess: as in the constructor.
        """
        outputs = {"features": model.get_layer(features).output}
        if logits is not None:
            outputs["logits"] = model.get_layer(logits).output
        return cls(keras.Model(model.inputs, outputs), name=name or model.name,
                   preprocess=preprocess)

    def __call__(self, images):
        """Returns `(features, logits)` as float32 numpy; `logits` may be `None`."""
        images = ops.convert_to_tensor(images, "float32")
        if self.preprocess is not None:
            images = self.preprocess(images)
        if isinstance(self.model, keras.Layer):
            outputs = self.model(images, training=False)
        else:
            outputs = self.model(images)
        if isinstance(outputs, dict):
            features, logits = outputs["features"], outputs.get("logits")
        elif isinstance(outputs, list | tuple):
            features, logits = outputs[0], outputs[1] if len(outputs) > 1 else None
        else:
            features, logits = outputs, None
        features = ops.convert_to_numpy(ops.cast(features, "float32"))
        features = features.reshape(len(features), -1)
        if logits is not None:
            logits = ops.convert_to_numpy(ops.cast(logits, "float32"))
        return features, logits


def inception_v3_extractor(weights="imagenet", include_top=True, input_size=299):
    """InceptionV3's 2048 pooled features (and ImageNet logits): the standard FID.

    Images in [-1, 1] (InceptionV3's own input range) are resized to
    `input_size` squared with bilinear interpolation; grayscale images are
    repeated over 3 channels.

    Args:
        weights: `"imagenet"` (downloaded by Keras on first use), `None` for
            random weights, or a path to a weights file.
        include_top: also return the 1000 ImageNet logits, which the
            Inception Score needs.
        input_size: side of the resized images: 299 for the standard metrics;
            at least 75. With ImageNet weights and `include_top=True` it must
            be 299.

    Example:

    ```python
    extractor = inception_v3_extractor()
    result = keras_gans.evaluation.evaluate_generator(gan, extractor=extractor)
    ```
    """
    model = keras.applications.InceptionV3(
        include_top=include_top, weights=weights, pooling="avg",
        input_shape=(input_size, input_size, 3), classifier_activation=None)
    if include_top:
        outputs = {"features": model.get_layer("avg_pool").output,
                   "logits": model.output}
    else:
        outputs = {"features": model.output}
    model = keras.Model(model.inputs, outputs, name="inception_v3")

    def preprocess(images):
        images = ops.image.resize(images, (input_size, input_size),
                                  interpolation="bilinear")
        if images.shape[-1] == 1:
            images = ops.repeat(images, 3, axis=-1)
        return images

    return FeatureExtractor(model, name="inception_v3", preprocess=preprocess)
