"""Using a trained generator's latent space: truncation, interpolation
between latent vectors, walks through it, and writing a walk as a GIF or MP4.

Everything here is numpy on latent vectors; the images come from the
generator's `generate_from`, so a keras_gans model and an exported
generator (`ExportedGenerator`) both work.
"""

import importlib.util
import os

import numpy as np

from keras_gans.sampling import check_count, latent_noise

METHODS = ("slerp", "linear")
# What `write_walk` writes, by file extension.
WALK_FORMATS = (".gif", ".mp4")


def check_truncation(psi):
    """`psi` as a float if it is a truncation in [0, 1], else a one-line
    `ValueError`; `None` stays `None` (no truncation)."""
    if psi is None:
        return None
    if isinstance(psi, bool) or not isinstance(psi, int | float | np.floating | np.integer):
        raise ValueError(f"truncation must be a number in [0, 1], got {psi!r}.")
    if not 0.0 <= float(psi) <= 1.0:
        raise ValueError(f"truncation must lie in [0, 1], got {psi}.")
    return float(psi)


def truncate(z, psi):
    """Latent vectors `z ~ N(0, I)` truncated toward the mean latent by `psi`.

    The truncation is StyleGAN's (Karras et al. 2019): `z_mean + psi * (z -
    z_mean)`, and for Gaussian z the mean latent `z_mean` is 0, so it scales
    z by `psi`. Unlike BigGAN's truncation trick (Brock et al. 2019), which
    redraws the components beyond a threshold, it reaches the mean latent
    itself: `psi = 0` gives every sample the mean latent's image, `psi = 1`
    leaves z as drawn, and values between trade variety for typical
    samples. A generator that normalises z first (ProGAN's pixel norm) undoes
    the scaling for every `psi > 0`.

    Args:
        z: float `(N, latent_dim)` latent vectors.
        psi: the truncation in [0, 1], or `None` for none.

    Example:

    ```python
    truncate(np.ones((2, 4), np.float32), 0.5)   # all 0.5
    ```
    """
    psi = check_truncation(psi)
    z = np.asarray(z, np.float32)
    return z if psi is None or psi == 1.0 else (z * np.float32(psi)).astype(np.float32)


def interpolate(start, end, steps, method="slerp"):
    """`steps` latent vectors from `start` to `end`, both ends included.

    Args:
        start, end: float latent vectors `(latent_dim,)`, or equally shaped
            batches `(batch, latent_dim)` interpolated row by row.
        steps: how many vectors, at least 2.
        method: `"slerp"`, along the great circle between them, which keeps
            the norm of Gaussian latents typical (White 2016): two ends of
            equal norm give vectors of that norm throughout; or `"linear"`,
            the straight line, whose middle vectors are shorter.

    Returns:
        float32 `(steps, *start.shape)`.

    Example:

    ```python
    path = interpolate(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3)
    # [[1, 0], [0.707, 0.707], [0, 1]]
    ```
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    if start.shape != end.shape or start.ndim not in (1, 2):
        raise ValueError(
            f"interpolate takes two latent vectors or two batches of one shape, "
            f"got shapes {start.shape} and {end.shape}."
        )
    if isinstance(steps, bool) or not float(steps).is_integer() or steps < 2:
        raise ValueError(f"steps must be a whole number >= 2 (both ends), got {steps!r}.")
    if method not in METHODS:
        raise ValueError(
            f"Unknown interpolation method {method!r}: use one of {', '.join(METHODS)}."
        )
    t = np.linspace(0.0, 1.0, int(steps)).reshape(-1, *([1] * start.ndim))
    linear = (1.0 - t) * start + t * end
    if method == "linear":
        return linear.astype(np.float32)
    norms = np.linalg.norm(start, axis=-1, keepdims=True) * np.linalg.norm(
        end, axis=-1, keepdims=True
    )
    cosine = np.sum(start * end, axis=-1, keepdims=True) / np.maximum(norms, 1e-12)
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    sin_omega = np.sin(omega)
    # Nearly parallel (or zero) vectors: the great circle is the straight line.
    straight = sin_omega < 1e-6
    safe = np.where(straight, 1.0, sin_omega)
    curved = (np.sin((1.0 - t) * omega) * start + np.sin(t * omega) * end) / safe
    return np.where(straight, linear, curved).astype(np.float32)


def walk_latents(n_points, steps_between, latent_dim, seed=None, latents=None, method="slerp"):
    """The latent vectors of a walk: `n_points` key latents (drawn from
    `seed`, or `latents`) and `steps_between` vectors between each pair.

    Returns:
        float32 `(n_points + (n_points - 1) * steps_between, latent_dim)`.
    """
    if latents is None:
        n_points = check_count(n_points)
        latents = latent_noise(n_points, latent_dim, seed)
    latents = np.asarray(latents, np.float32)
    if latents.ndim != 2 or latents.shape[1] != latent_dim or len(latents) < 2:
        raise ValueError(
            f"A walk takes at least 2 latent vectors of shape (latent_dim,) = "
            f"({latent_dim},), got an array of shape {latents.shape}."
        )
    if (
        isinstance(steps_between, bool)
        or not float(steps_between).is_integer()
        or steps_between < 0
    ):
        raise ValueError(f"steps_between must be a whole number >= 0, got {steps_between!r}.")
    segments = [
        interpolate(a, b, int(steps_between) + 2, method)[:-1]
        for a, b in zip(latents[:-1], latents[1:], strict=True)
    ]
    return np.concatenate([*segments, latents[-1:]])


def latent_walk(
    model,
    n_points,
    steps_between,
    seed=None,
    labels=None,
    method="slerp",
    latents=None,
    truncation=None,
):
    """The images of a walk through a generator's latent space.

    An unconditional model walks from one latent vector to the next through
    `n_points` random ones (or `latents`). A conditional model keeps one
    latent vector and walks between `n_points` classes (`labels`, or the
    classes in turn): class labels are discrete inputs, so the label steps
    from one class to the next halfway along each segment, the frames around
    it showing the same z as the one class and as the other.

    Args:
        model: a keras_gans noise-to-image model or an `ExportedGenerator`.
        n_points: how many key latents (or classes).
        steps_between: frames between two key frames.
        seed: seed of the random latents.
        labels: a conditional model's classes, `n_points` of them, by index
            or name.
        method: `"slerp"` or `"linear"`, as in `interpolate`.
        latents: the key latents, `(n_points, latent_dim)`, instead of random
            ones (unconditional models).
        truncation: psi in [0, 1] applied to the key latents, as in
            `generate`.

    Returns:
        float32 images in [-1, 1], `(n_points + (n_points - 1) *
        steps_between, H, W, C)`.

    Example:

    ```python
    frames = latent_walk(gan, n_points=4, steps_between=8, seed=0)
    write_walk(frames, "walk.gif", fps=12)
    ```
    """
    if not model.conditional:
        if labels is not None:
            raise ValueError("This generator is unconditional: it takes no labels.")
        z = walk_latents(n_points, steps_between, model.latent_dim, seed, latents, method)
        return model.generate_from(truncate(z, truncation))
    if latents is not None:
        raise ValueError(
            "A conditional model's walk goes between classes with one latent "
            "vector: pass labels, not latents."
        )
    n_points = check_count(n_points)
    if n_points < 2:
        raise ValueError(f"A walk needs at least 2 points, got {n_points}.")
    classes = model.sampling_labels(n_points, labels)
    steps = int(steps_between) + 1
    frames = (n_points - 1) * steps + 1
    # Frame i lies at i / steps along the walk; it shows the nearer class.
    frame_labels = classes[
        np.minimum(np.rint(np.arange(frames) / steps + 1e-9).astype(int), n_points - 1)
    ]
    z = np.repeat(truncate(latent_noise(1, model.latent_dim, seed), truncation), frames, axis=0)
    return model.generate_from(z, frame_labels.astype(np.int32))


def check_walk_path(path):
    """The extension of `path` if `write_walk` can write it, else a one-line
    `ValueError`: `.gif`, or `.mp4` where FFmpeg for imageio is installed."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in WALK_FORMATS:
        raise ValueError(
            f"{path}: a walk is written as {' or '.join(WALK_FORMATS)}, "
            f"not {extension or 'a file without extension'}."
        )
    if extension == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ValueError(
            "Writing .mp4 needs FFmpeg: pip install imageio[ffmpeg] (or write a .gif)."
        )
    return extension


def write_walk(images, path, fps=12):
    """Writes images in [-1, 1] as an animated GIF or an MP4 video, through
    a temporary file, so that `path` appears only once whole.

    MP4 needs FFmpeg, which `pip install imageio[ffmpeg]` brings.

    Args:
        images: `(frames, H, W, C)` in [-1, 1], e.g. from `latent_walk`.
        path: a `.gif` or `.mp4` file.
        fps: frames per second.
    """
    import imageio.v3 as iio

    from keras_gans.data import to_uint8
    from keras_gans.files import atomic_path

    extension = check_walk_path(path)
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}.")
    frames = to_uint8(images)
    if frames.shape[-1] == 1:
        frames = frames[..., 0]
    with atomic_path(path) as tmp:
        if extension == ".gif":
            iio.imwrite(tmp, frames, duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(tmp, frames, fps=fps, macro_block_size=1, plugin="FFMPEG")
    return path
