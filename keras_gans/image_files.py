"""Image files to uint8 arrays: any folder, any mode, one size and channel count.

`load_image_folder` reads a folder of PNG, JPEG, GIF or BMP files, flat or
one sub-folder per class, searched recursively. Every image is converted the
same way by `read_image`:

1. the first frame of the file is decoded;
2. transparency (RGBA, LA, palette images with a transparent colour) is
   composited onto a background colour, white by default, so the colours
   hidden under transparent pixels never show;
3. it is resized with antialiasing (Lanczos) to `image_size`, after a centre
   crop (`resize="crop"`), with padding in the background colour
   (`resize="pad"`), or stretched (`resize="stretch"`);
4. it becomes grayscale (1 channel, ITU-R 601 luma) or RGB (3 channels).
"""

import os
import warnings

import numpy as np
from PIL import Image, ImageColor, ImageOps

from keras_gans.files import printable

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
RESIZE_MODES = ("crop", "pad", "stretch")
ON_ERROR = ("warn", "raise")


class UnreadableImagesWarning(UserWarning):
    """Some files of an image folder could not be decoded and were skipped."""


def parse_color(color):
    """An RGB triple from a name (`"white"`), `"#rrggbb"` or an `(r, g, b)` tuple.

    Example:

    ```python
    parse_color("#808080")   # (128, 128, 128)
    ```
    """
    if isinstance(color, str):
        try:
            return ImageColor.getrgb(color)[:3]
        except ValueError:
            raise ValueError(
                f"Unknown colour {color!r}: use a name like 'white' or '#rrggbb'."
            ) from None
    rgb = tuple(int(c) for c in color)
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"A colour is three values in [0, 255], got {color!r}.")
    return rgb


def image_size_pair(image_size):
    """`(height, width)` from an int, a pair or `None`."""
    if image_size is None:
        return None
    pair = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if len(pair) != 2 or not all(int(s) == s and s >= 1 for s in pair):
        raise ValueError(
            f"image_size must be a positive int or (height, width), got {image_size!r}."
        )
    return int(pair[0]), int(pair[1])


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")


def composite(image, background=(255, 255, 255)):
    """An RGB `PIL.Image` of `image` laid over a plain background colour."""
    if image.mode.startswith("I"):  # 16-bit gray
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode == "RGB":
        return image
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    base = Image.new("RGBA", image.size, (*parse_color(background), 255))
    return Image.alpha_composite(base, image.convert("RGBA")).convert("RGB")


def fit_size(image, image_size, resize="crop", background=(255, 255, 255)):
    """`image` at `(height, width)`, cropped, padded or stretched to its aspect."""
    height, width = image_size
    if image.size == (width, height):
        return image
    lanczos = Image.Resampling.LANCZOS
    if resize == "crop":
        return ImageOps.fit(image, (width, height), method=lanczos)
    if resize == "pad":
        return ImageOps.pad(image, (width, height), method=lanczos,
                            color=parse_color(background))
    return image.resize((width, height), lanczos)


def to_array(image, channels):
    """An RGB `PIL.Image` as uint8 `(H, W, channels)`."""
    if channels == 1:
        return np.asarray(image.convert("L"), np.uint8)[..., np.newaxis]
    return np.asarray(image, np.uint8)


def read_image(path, image_size=None, channels=3, background="white", resize="crop"):
    """Reads one image file as uint8 `(H, W, channels)`.

    Args:
        path: a PNG, JPEG, GIF or BMP file (any mode: RGBA, RGB, grayscale,
            palette, 16-bit).
        image_size: `(height, width)` or an int; `None` keeps the file's size.
        channels: 1 (grayscale) or 3 (RGB).
        background: the colour transparent pixels are composited onto.
        resize: `"crop"`, `"pad"` or `"stretch"`, when the aspect ratio differs.

    Example:

    ```python
    pixels = read_image("cat.png", image_size=64)   # (64, 64, 3) uint8
    ```
    """
    with Image.open(path) as image:
        image.seek(0)
        image.load()
        rgb = composite(image, parse_color(background))
    size = image_size_pair(image_size)
    if size is not None:
        rgb = fit_size(rgb, size, resize, background)
    return to_array(rgb, channels)


def find_images(directory):
    """Image files under `directory` and their class folders.

    A folder whose top level holds only sub-folders (no image files) is read
    as one class per sub-folder, named after it, with its images searched
    recursively. Any other folder is flat: every image under it, unlabelled.
    Hidden files and folders are skipped.

    Returns:
        `(paths, labels, class_names)`, sorted; `labels` and `class_names` are
        `None` for a flat folder.
    """
    def images_under(folder):
        found = []
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, f) for f in sorted(files)
                         if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS))
        return found

    entries = sorted(e for e in os.listdir(directory) if not e.startswith("."))
    loose = [e for e in entries if os.path.isfile(os.path.join(directory, e))
             and e.lower().endswith(IMAGE_EXTENSIONS)]
    folders = [e for e in entries if os.path.isdir(os.path.join(directory, e))]
    if not loose and folders:
        per_class = [(name, images_under(os.path.join(directory, name))) for name in folders]
        per_class = [(name, paths) for name, paths in per_class if paths]
        if per_class:
            paths = [path for _, paths in per_class for path in paths]
            labels = [label for label, (_, paths) in enumerate(per_class) for _ in paths]
            return paths, np.asarray(labels, np.int32), [name for name, _ in per_class]
    return images_under(directory), None, None


def load_image_folder(directory, image_size=None, channels=None, background="white",
                      resize="crop", on_error="warn"):
    """Reads every image of a folder (flat or class folders) into one array.

    Args:
        directory: the folder; see `find_images` for flat and class folders.
        image_size: `(height, width)` or an int. `None` keeps the files' size,
            which must then be the same for all.
        channels: 1 or 3; `None` gives 1 when every image is gray, else 3.
        background: colour that transparent pixels are composited onto.
        resize: `"crop"` (centre crop to the aspect ratio, the default),
            `"pad"` (pad with the background colour) or `"stretch"`.
        on_error: `"warn"` skips undecodable files with one warning that
            counts and names them; `"raise"` stops at the first.

    Returns:
        `(images, labels, class_names, relative_paths)`: uint8
        `(N, H, W, channels)`, int32 labels or `None`, class names or `None`,
        and each image's path relative to `directory`.

    Example:

    ```python
    images, labels, names, paths = load_image_folder("~/pets", image_size=64)
    ```
    """
    directory = os.path.expanduser(directory)
    _check_choice("resize", resize, RESIZE_MODES)
    _check_choice("on_error", on_error, ON_ERROR)
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}.")
    size = image_size_pair(image_size)
    background = parse_color(background)
    paths, labels, class_names = find_images(directory)
    if not paths:
        raise ValueError(
            f"{directory} holds no images ({', '.join(IMAGE_EXTENSIONS)}), "
            "directly or in sub-folders."
        )
    images, kept, unreadable = [], [], []
    for index, path in enumerate(paths):
        try:
            image = read_image(path, size, 3, background, resize)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            if on_error == "raise":
                raise ValueError(f"Cannot read image {path}: {error}") from None
            unreadable.append(os.path.relpath(path, directory))
            continue
        if images and image.shape != images[0].shape:
            raise ValueError(
                f"Images differ in size: {paths[kept[0]]} is "
                f"{images[0].shape[1]}x{images[0].shape[0]}, {path} is "
                f"{image.shape[1]}x{image.shape[0]}; pass image_size (--image-size N)."
            )
        images.append(image)
        kept.append(index)
    if unreadable:
        shown = ", ".join(unreadable[:5]) + (", ..." if len(unreadable) > 5 else "")
        warnings.warn(f"Skipped {len(unreadable)} unreadable image file(s) in "
                      f"{printable(directory)}: {printable(shown)}", UnreadableImagesWarning,
                      stacklevel=2)
    if not images:
        raise ValueError(f"None of the {len(paths)} image files in {directory} could be read.")
    images = np.stack(images)
    if channels is None:
        channels = 1 if _all_gray(images) else 3
    if channels == 1:
        images = np.stack([to_array(Image.fromarray(image), 1) for image in images])
    relative = [os.path.relpath(paths[i], directory) for i in kept]
    return (images, None if labels is None else labels[kept], class_names, relative)


def _all_gray(images):
    return bool(np.all(images[..., 0] == images[..., 1])
                and np.all(images[..., 1] == images[..., 2]))


def conform(images, image_size=None, channels=None, background="white", resize="crop"):
    """Converts a uint8 `(N, H, W, C)` array to a size and channel count.

    Four channels are RGBA: composited onto `background`. Gray images become
    RGB by repetition, RGB become gray by luma.

    Example:

    ```python
    rgb32 = conform(mnist_images, image_size=32, channels=3)
    ```
    """
    size = image_size_pair(image_size)
    in_channels = images.shape[-1]
    target = channels or (3 if in_channels == 4 else in_channels)
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}.")
    unchanged = in_channels == target and (size is None or tuple(images.shape[1:3]) == size)
    if unchanged:
        return images
    converted = []
    for pixels in images:
        image = composite(Image.fromarray(pixels[..., 0] if in_channels == 1 else pixels),
                          parse_color(background))
        if size is not None:
            image = fit_size(image, size, resize, background)
        converted.append(to_array(image, target))
    return np.stack(converted)
