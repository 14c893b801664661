"""Adaptive discriminator augmentation, ADA (Karras et al. 2020).

The discriminator sees every image, real and fake, through a random
augmentation that is applied with probability `p`; the generator's gradient
flows back through it. Since real and fake images are augmented alike, and
every transform is applied with probability below 1, the generator learns the
clean distribution while the discriminator cannot memorise a small training
set. `p` is not tuned: it follows the discriminator's overfitting, measured as
`r_t = E[sign(D(x_real))]` (1 when it calls every real image real, 0 when it
calls half of them real), rising while `r_t` is above a target and falling
while it is below.

`augment` is the paper's "bgc" pipeline:

- blits: x-flip, rotations by multiples of 90 degrees, integer translation;
- general geometry: isotropic scaling, rotation before and after anisotropic
  scaling, fractional translation;
- colour: brightness, contrast, luma flip, hue rotation, saturation.

Each transform is applied to each image with probability `p` times its
multiplier (1 for all of them in "bgc"). The geometric ones compose into one
affine map per image, applied with one bilinear resampling of the image
reflected at its borders (the paper also up- and down-samples with a wavelet
filter around that resampling against aliasing; here it is not). The colour
ones compose into one 4x4 matrix per image acting on RGB (on grey images, its
mean over RGB). As in the paper, nothing is clipped: the geometric transforms
keep every pixel within the input's range, while brightness, contrast and
saturation may leave [-1, 1].

Everything is written with `keras.ops`, so it runs on every backend and is
differentiable with respect to the images; randomness comes from the model's
`SeedGenerator` (each `tf.distribute` replica its own).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_gans import backend

# The "bgc" pipeline: each transform's multiplier of `p`.
BGC = {
    "xflip": 1.0,
    "rotate90": 1.0,
    "xint": 1.0,
    "scale": 1.0,
    "rotate": 1.0,
    "aniso": 1.0,
    "xfrac": 1.0,
    "brightness": 1.0,
    "contrast": 1.0,
    "lumaflip": 1.0,
    "hue": 1.0,
    "saturation": 1.0,
}
GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")

# The paper's strengths: ranges relative to the image size, log2 standard
# deviations of the scalings, rotations up to a full turn.
XINT_MAX = 0.125
SCALE_STD = 0.2
ROTATE_MAX = 1.0
ANISO_STD = 0.2
XFRAC_STD = 0.125
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5
HUE_MAX = 1.0
SATURATION_STD = 1.0

# The luma axis of homogeneous RGB colours, and the matrices built on it.
_LUMA = np.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)
_LUMA_OUTER = np.outer(_LUMA, _LUMA)
_CROSS = np.array(
    [
        [0.0, -_LUMA[2], _LUMA[1], 0.0],
        [_LUMA[2], 0.0, -_LUMA[0], 0.0],
        [-_LUMA[1], _LUMA[0], 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
)
_RGB = np.diag([1.0, 1.0, 1.0, 0.0])
_HOMOGENEOUS = np.diag([0.0, 0.0, 0.0, 1.0])
_TRANSLATION = np.outer([1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0])


def check_channels(channels):
    """Raises a `ValueError` unless the colour transforms can act on images of
    `channels` channels: 1 (grey) or 3 (RGB)."""
    if channels not in (1, 3):
        raise ValueError(
            f"ADA's colour transforms take grey or RGB images (1 or 3 "
            f"channels), not {channels} channels."
        )


def _multipliers(multipliers):
    multipliers = BGC if multipliers is None else dict(multipliers)
    unknown = sorted(set(multipliers) - set(BGC))
    if unknown:
        raise ValueError(f"Unknown ADA augmentation {unknown[0]!r}; choose from {', '.join(BGC)}.")
    return {name: float(value) for name, value in multipliers.items() if value}


class _Draws:
    """Per-image random numbers from the model's seed generator, drawn in one
    uniform and one normal batch (one draw per number would multiply the
    compiled step's size) and handed out a column at a time."""

    # Enough columns for every transform of `BGC`: 13 gates and 8 values
    # uniform, 7 values normal.
    UNIFORM_COLUMNS = 21
    NORMAL_COLUMNS = 7

    def __init__(self, batch, seed_generator):
        self.batch = batch
        self._columns = {
            kind: iter(
                ops.unstack(backend.sample(kind, (batch, count), seed_generator), num=count, axis=1)
            )
            for kind, count in (("uniform", self.UNIFORM_COLUMNS), ("normal", self.NORMAL_COLUMNS))
        }

    def uniform(self):
        return next(self._columns["uniform"])

    def normal(self):
        return next(self._columns["normal"])

    def gated(self, probability, value, identity):
        """`value` where an image's draw falls below `probability`, else `identity`."""
        return ops.where(self.uniform() < probability, value, identity)


def _matrices(rows):
    """`(batch, len(rows), len(rows[0]))` matrices from rows of numbers and
    per-image values `(batch,)`, at least one of them per-image."""
    size = len(rows) * len(rows[0])
    constant, values, places = np.zeros(size, "float32"), [], []
    for index, entry in enumerate(entry for row in rows for entry in row):
        if isinstance(entry, int | float):
            constant[index] = entry
        else:
            values.append(ops.cast(entry, "float32"))
            places.append(np.eye(size, dtype="float32")[index])
    flat = ops.matmul(ops.stack(values, axis=-1), ops.convert_to_tensor(np.stack(places)))
    return ops.reshape(flat + constant, (-1, len(rows), len(rows[0])))


def _affine(xx=1.0, xy=0.0, tx=0.0, yx=0.0, yy=1.0, ty=0.0):
    return _matrices([[xx, xy, tx], [yx, yy, ty], [0.0, 0.0, 1.0]])


def _rotation(theta):
    cos, sin = ops.cos(theta), ops.sin(theta)
    return _affine(cos, -sin, 0.0, sin, cos)


def _geometric_inverse(draws, p, multipliers, height, width):
    """The inverse map `(batch, 3, 3)` from output to input pixels, in pixel
    coordinates centred on the image, of the geometric transforms in
    `multipliers`; `None` when none is on."""
    inverse = None

    def then(matrix):
        nonlocal inverse
        inverse = matrix if inverse is None else ops.matmul(inverse, matrix)

    zero = ops.zeros((draws.batch,), "float32")
    if "xflip" in multipliers:
        flip = draws.gated(multipliers["xflip"] * p, ops.floor(draws.uniform() * 2.0), zero)
        then(_affine(xx=1.0 - 2.0 * flip))
    if "rotate90" in multipliers:
        quarter = draws.gated(multipliers["rotate90"] * p, ops.floor(draws.uniform() * 4.0), zero)
        # Exact cosines and sines of multiples of 90 degrees: blits stay blits.
        angle = quarter * (math.pi / 2.0)
        cos, sin = ops.round(ops.cos(angle)), ops.round(ops.sin(angle))
        then(_affine(cos, -sin, 0.0, sin, cos))
    if "xint" in multipliers:
        applied = draws.uniform() < multipliers["xint"] * p
        dx, dy = ((draws.uniform() * 2.0 - 1.0) * XINT_MAX for _ in range(2))
        dx = ops.where(applied, ops.round(dx * width), zero)
        dy = ops.where(applied, ops.round(dy * height), zero)
        then(_affine(tx=-dx, ty=-dy))
    if "scale" in multipliers:
        scale = draws.gated(
            multipliers["scale"] * p, 2.0 ** (draws.normal() * SCALE_STD), zero + 1.0
        )
        then(_affine(xx=1.0 / scale, yy=1.0 / scale))
    # Rotation before and after the anisotropic scaling, each with the
    # probability that makes either of them happen with probability p.
    rotation_probability = 1.0 - ops.sqrt(
        ops.clip(1.0 - multipliers.get("rotate", 0.0) * p, 0.0, 1.0)
    )

    def rotate():
        angle = (draws.uniform() * 2.0 - 1.0) * (math.pi * ROTATE_MAX)
        then(_rotation(draws.gated(rotation_probability, angle, zero)))

    if "rotate" in multipliers:
        rotate()
    if "aniso" in multipliers:
        scale = draws.gated(
            multipliers["aniso"] * p, 2.0 ** (draws.normal() * ANISO_STD), zero + 1.0
        )
        then(_affine(xx=1.0 / scale, yy=scale))
    if "rotate" in multipliers:
        rotate()
    if "xfrac" in multipliers:
        applied = draws.uniform() < multipliers["xfrac"] * p
        dx = ops.where(applied, draws.normal() * (XFRAC_STD * width), zero)
        dy = ops.where(applied, draws.normal() * (XFRAC_STD * height), zero)
        then(_affine(tx=-dx, ty=-dy))
    return inverse


def _reflect(coordinates, size):
    """Coordinates folded into `[0, size - 1]` by reflection about the edge
    pixels' centres (`d c b | a b c d | c b a`)."""
    period = 2.0 * (size - 1)
    coordinates = ops.mod(coordinates, period)
    return ops.where(coordinates > size - 1, period - coordinates, coordinates)


def _resample(images, inverse):
    """`images` `(batch, height, width, channels)` float32 transformed by the
    inverse maps `inverse` `(batch, 3, 3)` (see `_geometric_inverse`), by
    bilinear interpolation of the images reflected at their borders."""
    height, width, channels = images.shape[1:]
    batch = ops.shape(images)[0]
    ys, xs = np.meshgrid(
        np.arange(height) - (height - 1) / 2.0, np.arange(width) - (width - 1) / 2.0, indexing="ij"
    )
    grid = np.stack([xs.ravel(), ys.ravel(), np.ones(height * width)]).astype("float32")
    source = ops.matmul(inverse, ops.convert_to_tensor(grid))  # (batch, 3, pixels)
    x = _reflect(source[:, 0] + (width - 1) / 2.0, width)
    y = _reflect(source[:, 1] + (height - 1) / 2.0, height)
    x0 = ops.clip(ops.floor(x), 0.0, max(width - 2, 0))
    y0 = ops.clip(ops.floor(y), 0.0, max(height - 2, 0))
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    x1 = ops.minimum(x0 + 1, width - 1)
    y1 = ops.minimum(y0 + 1, height - 1)
    pixels = ops.reshape(images, (-1, channels))
    offsets = (ops.arange(batch, dtype="int32") * (height * width))[:, None]

    def at(row, column):
        return ops.take(pixels, offsets + row * width + column, axis=0)

    top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
    return ops.reshape(top * (1.0 - wy) + bottom * wy, (-1, height, width, channels))


def _colour_matrix(draws, p, multipliers, channels):
    """The colour matrices `(batch, 4, 4)` acting on homogeneous RGB of the
    colour transforms in `multipliers`; `None` when none is on. Hue and
    saturation act on RGB images only."""
    matrix = None

    def then(transform):
        nonlocal matrix
        matrix = transform if matrix is None else ops.matmul(transform, matrix)

    zero = ops.zeros((draws.batch,), "float32")
    outer, cross, rgb, homogeneous, translation = (
        ops.convert_to_tensor(constant.astype("float32"))
        for constant in (_LUMA_OUTER, _CROSS, _RGB, _HOMOGENEOUS, _TRANSLATION)
    )
    if "brightness" in multipliers:
        shift = draws.gated(multipliers["brightness"] * p, draws.normal() * BRIGHTNESS_STD, zero)
        then(rgb + homogeneous + shift[:, None, None] * translation)
    if "contrast" in multipliers:
        factor = draws.gated(
            multipliers["contrast"] * p, 2.0 ** (draws.normal() * CONTRAST_STD), zero + 1.0
        )
        then(rgb * factor[:, None, None] + homogeneous)
    if "lumaflip" in multipliers:
        flip = draws.gated(multipliers["lumaflip"] * p, ops.floor(draws.uniform() * 2.0), zero)
        then(rgb + homogeneous - 2.0 * outer * flip[:, None, None])  # Householder reflection
    if "hue" in multipliers and channels > 1:
        angle = draws.gated(
            multipliers["hue"] * p, (draws.uniform() * 2.0 - 1.0) * (math.pi * HUE_MAX), zero
        )
        cos, sin = ops.cos(angle)[:, None, None], ops.sin(angle)[:, None, None]
        then(cos * rgb + sin * cross + (1.0 - cos) * outer + homogeneous)  # about the luma axis
    if "saturation" in multipliers and channels > 1:
        factor = draws.gated(
            multipliers["saturation"] * p, 2.0 ** (draws.normal() * SATURATION_STD), zero + 1.0
        )
        then(outer + (rgb - outer) * factor[:, None, None] + homogeneous)
    return matrix


def _recolour(images, matrix):
    """`images` float32 with every pixel's colour mapped by its image's
    `matrix` `(batch, 4, 4)`; a grey value by the matrix's mean over RGB."""
    if images.shape[-1] == 3:
        shift = matrix[:, None, None, :3, 3]
        return ops.einsum("bij,bhwj->bhwi", matrix[:, :3, :3], images) + shift
    grey = ops.mean(matrix[:, :3, :], axis=1)
    gain = ops.sum(grey[:, :3], axis=-1)
    return images * gain[:, None, None, None] + grey[:, 3][:, None, None, None]


def augment(images, p, seed_generator, multipliers=None):
    """ADA's augmentation of a batch of images, each transform applied to each
    image with probability `p` times its multiplier.

    Args:
        images: `(batch, height, width, channels)` floats in [-1, 1], with 1
            or 3 channels; any float dtype (computed in float32).
        p: the augmentation probability, a number or scalar tensor in [0, 1].
        seed_generator: the `keras.random.SeedGenerator` drawn from.
        multipliers: `{transform: multiplier of p}` of the transforms to
            apply, from `BGC`'s names; default `BGC`, every one at 1.

    Returns:
        The augmented images, of the input's shape and dtype; `images`
        themselves, exactly, where `p` is 0.

    Example:

    ```python
    seed = keras.random.SeedGenerator(0)
    views = keras_gans.ada.augment(images, 0.3, seed)
    flipped = keras_gans.ada.augment(images, 1.0, seed, multipliers={"xflip": 1})
    ```
    """
    multipliers = _multipliers(multipliers)
    height, width, channels = images.shape[1:]
    if any(name in multipliers for name in COLOUR):
        check_channels(channels)
    dtype = images.dtype
    images = ops.cast(images, "float32")
    draws = _Draws(ops.shape(images)[0], seed_generator)
    p = ops.cast(p, "float32")
    inverse = _geometric_inverse(draws, p, multipliers, height, width)
    if inverse is not None:
        images = _resample(images, inverse)
    matrix = _colour_matrix(draws, p, multipliers, channels)
    if matrix is not None:
        images = _recolour(images, matrix)
    return ops.cast(images, dtype)


class AdaptiveAugment(keras.layers.Layer):
    """ADA's augmentation probability `p` and the heuristic that adjusts it.

    `observe` takes the discriminator's scores of each real minibatch; every
    `interval` of them, `r_t`, the mean sign of those scores over the
    interval, moves `p` by `sign(r_t - target) * images / (kimg * 1000)`,
    `images` the real images of the interval, and keeps it in [0, 1] (the
    paper keeps it above 0 only; above 1 every transform is applied
    already). `p` and the heuristic's running sums are non-trainable
    variables, so they are saved with the model and a resumed run goes on
    where it stopped.

    Args:
        target: the target of `r_t` (0.6, the paper's).
        kimg: thousands of real images over which `p` can rise from 0 to
            1. The paper's 500 suits its runs of millions of images; a run
            of a few epochs of a small dataset on a CPU (five epochs of
            Fashion-MNIST's 60,000 images: 300k) would let `p` rise by 0.6
            at most, so the default 100 lets it reach any value within
            such a run.
        interval: discriminator minibatches between adjustments (4).
        multipliers: `{transform: multiplier of p}`; default `BGC`.
        **kwargs: `keras.layers.Layer` arguments, e.g. `name`.

    Example:

    ```python
    pipe = AdaptiveAugment(target=0.6, kimg=100)
    views = pipe.augment(real_images, seed_generator)
    pipe.observe(discriminator(views))
    ```
    """

    def __init__(self, target=0.6, kimg=100.0, interval=4, multipliers=None, **kwargs):
        super().__init__(**kwargs)
        self.configure(target, kimg, interval, multipliers)

        def state(name):
            return self.add_weight(
                shape=(),
                dtype="float32",
                initializer="zeros",
                trainable=False,
                name=name,
                aggregation="only_first_replica",
            )

        self.p = state("p")
        # r_t of the last interval, and the running sums of the current one.
        self.rt = state("rt")
        self.sign_sum = state("sign_sum")
        self.image_count = state("image_count")
        self.minibatch_count = state("minibatch_count")
        self.built = True

    def configure(self, target=0.6, kimg=100.0, interval=4, multipliers=None):
        """Sets the heuristic's settings; `p` and the running sums stay."""
        if not 0.0 < target < 1.0:
            raise ValueError(f"ada_target must lie in (0, 1), got {target}.")
        if not kimg > 0:
            raise ValueError(f"ada_kimg must be positive, got {kimg}.")
        if int(interval) != interval or interval < 1:
            raise ValueError(f"ada_interval must be a whole number of at least 1, got {interval}.")
        self.target, self.kimg, self.interval = float(target), float(kimg), int(interval)
        self.multipliers = _multipliers(multipliers)

    def augment(self, images, seed_generator):
        """`images` augmented with the current `p` (see `augment`)."""
        return augment(images, self.p.value, seed_generator, self.multipliers)

    def observe(self, real_scores, threshold=0.0):
        """Adds a real minibatch's `sign(score - threshold)` to the interval's
        sums; at the interval's end, adjusts `p` and starts the next one.

        Args:
            real_scores: the discriminator's scores of augmented real images.
            threshold: the score that separates "real" from "fake".
        """
        signs = ops.sign(ops.stop_gradient(ops.cast(real_scores, "float32") - threshold))
        signs = backend.gather_replicas(signs)
        sign_sum = self.sign_sum + ops.sum(signs)
        image_count = self.image_count + ops.sum(ops.ones_like(signs))
        minibatch_count = self.minibatch_count + 1.0
        due = minibatch_count >= self.interval
        rt = sign_sum / ops.maximum(image_count, 1.0)
        step = ops.sign(rt - self.target) * image_count / (self.kimg * 1000.0)
        self.p.assign(ops.where(due, ops.clip(self.p.value + step, 0.0, 1.0), self.p.value))
        self.rt.assign(ops.where(due, rt, self.rt.value))
        self.sign_sum.assign(ops.where(due, 0.0, sign_sum))
        self.image_count.assign(ops.where(due, 0.0, image_count))
        self.minibatch_count.assign(ops.where(due, 0.0, minibatch_count))

    def logs(self):
        """`{"ada_p": p, "ada_rt": r_t of the last interval}`."""
        return {
            "ada_p": ops.copy(self.p.value),
            "ada_rt": ops.copy(self.rt.value),
        }

    def load_own_variables(self, store):
        # A model saved before it had this layer holds none of its state:
        # it starts from p = 0.
        if len(store.keys()):
            super().load_own_variables(store)
