"""Emoji images offline: Noto Color Emoji and Twemoji from the npm registry.

The npm packages `emoji-datasource-google` (Noto Color Emoji, Apache-2.0) and
`emoji-datasource-twitter` (Twemoji, CC-BY-4.0), version 16.0.0, each hold
3,786 RGBA 64x64 PNGs, one per emoji and skin-tone variant, named by Unicode
code point, and `emoji.json`, which gives each its category and short name.

On first use `npm pack` fetches a package as a tarball; only `emoji.json` and
`img/<style>/64/` are unpacked, into `~/.cache/keras_gans/emoji/` (or
`$KERAS_GANS_CACHE/emoji/`). Without npm, fetch the tarball elsewhere with
`npm pack emoji-datasource-google@16.0.0` and pass its path as `data_dir`.

Labels are the nine categories of `CATEGORIES`; the five "Component" images
(skin-tone swatches and hair parts) are left out. The two styles' images of
one emoji share its code point, so `ImageData.ids` pairs them. About a tenth
of the emoji, chosen by a hash of the code point of the emoji without skin
tone (so all its variants go together), form the `"test"` split in both
styles; the rest are `"train"`.
"""

import errno
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import warnings
import zlib

import numpy as np

from keras_gans import image_files

VERSION = "16.0.0"
PACKAGES = {"google": "emoji-datasource-google", "twitter": "emoji-datasource-twitter"}
LICENSES = {"google": "Apache-2.0 (Noto Color Emoji)", "twitter": "CC-BY-4.0 (Twemoji)"}
CATEGORIES = [
    "Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
    "Travel & Places", "Activities", "Objects", "Symbols", "Flags",
]
TEST_BUCKETS = 10  # one emoji in ten goes to the test split
SPLITS = ("train", "test", "all")
# Written into a cached package once it is whole: what it holds.
COMPLETE_FILE = "keras_gans_complete.json"


def cache_root():
    """`$KERAS_GANS_CACHE`, or `~/.cache/keras_gans`."""
    return os.environ.get("KERAS_GANS_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_gans")


def _check_style(style):
    if style not in PACKAGES:
        raise ValueError(f"Unknown emoji style {style!r}; expected one of {', '.join(PACKAGES)}.")


def _is_package_dir(directory, style):
    return (os.path.isfile(os.path.join(directory, "emoji.json"))
            and os.path.isdir(os.path.join(directory, "img", style, "64")))


def _inventory(directory, style):
    """What a package holds: its emoji.json's SHA-256, and the number and
    total size of its images."""
    with open(os.path.join(directory, "emoji.json"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    sizes = [entry.stat().st_size
             for entry in os.scandir(os.path.join(directory, "img", style, "64"))
             if entry.name.endswith(".png")]
    return {"emoji_json_sha256": digest, "images": len(sizes), "image_bytes": sum(sizes)}


def cache_problem(directory, style):
    """Why the cached package in `directory` is not whole, or `None` when it
    holds what its `COMPLETE_FILE` says it was unpacked with."""
    if not os.path.lexists(directory):
        return "it is missing"
    try:
        with open(os.path.join(directory, COMPLETE_FILE)) as f:
            recorded = json.load(f)
        found = _inventory(directory, style)
    except (OSError, ValueError):
        return f"it has no readable {COMPLETE_FILE}, emoji.json or images"
    if not isinstance(recorded, dict) or recorded.get("images") != found["images"]:
        expected = recorded.get("images") if isinstance(recorded, dict) else "?"
        return f"it holds {found['images']} of its {expected} images"
    if recorded.get("emoji_json_sha256") != found["emoji_json_sha256"]:
        return "its emoji.json is not the one it was unpacked with"
    if recorded.get("image_bytes") != found["image_bytes"]:
        return "its images are not the size they were unpacked at"
    return None


def _install(unpacked, destination, style):
    """Renames the whole package `unpacked` to `destination`. When another
    process put a whole one there first, that one is kept; a damaged one is
    set aside and replaced."""
    for _ in range(3):
        try:
            os.rename(unpacked, destination)
            return
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        if cache_problem(destination, style) is None:
            return
        aside = tempfile.mkdtemp(prefix=".emoji-damaged-", dir=os.path.dirname(destination))
        try:
            os.rename(destination, os.path.join(aside, "package"))
        except FileNotFoundError:  # another process set it aside first
            pass
        finally:
            shutil.rmtree(aside, ignore_errors=True)
    raise OSError(errno.EEXIST, f"{destination} kept changing while unpacking into it")


def extract_package(tarball, destination, style):
    """Unpacks `emoji.json` and `img/<style>/64/` of an npm tarball.

    The files go to a temporary folder beside `destination`, which gets a
    `COMPLETE_FILE` recording what it holds and is then renamed into place,
    so an interrupted extraction leaves nothing half written, and processes
    unpacking at once all end with one whole package. Other members (the
    sprite sheets, most of the tarball) are skipped.
    """
    wanted = f"package/img/{style}/64/"
    destination = os.path.abspath(destination)
    parent = os.path.dirname(destination)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".emoji-", dir=parent)
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.isfile() and (
                m.name == "package/emoji.json"
                or (m.name.startswith(wanted) and m.name.endswith(".png")))]
            archive.extractall(staging, members=members, filter="data")
        unpacked = os.path.join(staging, "package")
        if not _is_package_dir(unpacked, style):
            raise ValueError(f"{tarball} is not an emoji-datasource package with "
                             f"img/{style}/64 images.")
        with open(os.path.join(unpacked, COMPLETE_FILE), "w") as f:
            json.dump(_inventory(unpacked, style), f)
        _install(unpacked, destination, style)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"Cannot unpack {tarball}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def fetch_package(style, destination):
    """Fetches the style's package with `npm pack` and unpacks its images."""
    spec = f"{PACKAGES[style]}@{VERSION}"
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(
            f"Loading the {style} emoji needs the npm client to fetch {spec} "
            "(apt-get install npm). Without it, run `npm pack "
            f"{spec}` on a machine that has npm and pass the .tgz as data_dir."
        )
    with tempfile.TemporaryDirectory() as download:
        result = subprocess.run([npm, "pack", spec, "--silent"], cwd=download,
                                capture_output=True, text=True, timeout=900)
        tarballs = [f for f in os.listdir(download) if f.endswith(".tgz")]
        if result.returncode != 0 or not tarballs:
            detail = " ".join((result.stderr or result.stdout).split())[:300]
            raise FileNotFoundError(f"`npm pack {spec}` failed: {detail}")
        return extract_package(os.path.join(download, tarballs[0]), destination, style)


def package_dir(style="google", data_dir=None):
    """The unpacked package of `style`, fetched into the cache on first use.

    Args:
        style: `"google"` or `"twitter"`.
        data_dir: an unpacked package folder, or a `.tgz` from `npm pack`;
            `None` uses the cache and fetches with npm when it is empty.

    The cache is checked against its `COMPLETE_FILE` on every use: a
    damaged one is unpacked again (from `data_dir`'s `.tgz`, or fetched),
    with a warning, and where that fails the error says it is damaged.
    """
    _check_style(style)
    cached = os.path.join(cache_root(), "emoji", f"{PACKAGES[style]}-{VERSION}")
    tarball = None
    if data_dir is not None:
        data_dir = os.path.expanduser(data_dir)
        if os.path.isfile(data_dir):
            tarball = data_dir
        else:
            for candidate in (data_dir, os.path.join(data_dir, "package")):
                if _is_package_dir(candidate, style):
                    return candidate
            raise FileNotFoundError(
                f"{data_dir} is neither an emoji-datasource package folder with "
                f"emoji.json and img/{style}/64/ nor its .tgz."
            )
    problem = cache_problem(cached, style)
    if problem is None:
        return cached
    damaged = os.path.lexists(cached)
    try:
        if tarball is not None:
            extract_package(tarball, cached, style)
        else:
            fetch_package(style, cached)
    except (FileNotFoundError, ValueError) as error:
        if not damaged:
            raise
        raise type(error)(f"The emoji cache {cached} is damaged ({problem}) and could not "
                          f"be unpacked again: {error}") from None
    if damaged:
        warnings.warn(f"The emoji cache {cached} was damaged ({problem}): unpacked it "
                      "again.", stacklevel=2)
    return cached


def emoji_records(directory, style):
    """Every emoji and skin-tone variant with an image in `style`.

    Returns:
        A list of dicts with `code_point` (lower case, e.g. `"1f600"`),
        `base` (the code point without skin tone), `file`, `category` (an
        index into `CATEGORIES`) and `name`, in the package's sort order.
    """
    path = os.path.join(directory, "emoji.json")
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except ValueError as error:
        raise ValueError(f"{path} is not readable JSON ({error}).") from None
    flag = f"has_img_{style}"
    records = []
    for entry in sorted(entries, key=lambda e: e.get("sort_order", 0)):
        if entry.get("category") not in CATEGORIES:
            continue
        base = entry["unified"].lower()
        variants = [entry, *entry.get("skin_variations", {}).values()]
        for variant in variants:
            if not variant.get(flag, True):
                continue
            records.append({
                "code_point": variant["unified"].lower(),
                "base": base,
                "file": variant["image"],
                "category": CATEGORIES.index(entry["category"]),
                "name": entry.get("short_name", ""),
            })
    return records


def in_test_split(base_code_point):
    """Whether an emoji (by its code point without skin tone) is held out."""
    return zlib.crc32(base_code_point.encode()) % TEST_BUCKETS == 0


def load_emoji(style="google", split="train", image_size=64, channels=3,
               background="white", data_dir=None):
    """Loads one style of emoji as uint8 images with category labels.

    Args:
        style: `"google"` (Noto Color Emoji) or `"twitter"` (Twemoji).
        split: `"train"` (about 90% of the emoji), `"test"` or `"all"`.
        image_size: an int or `(height, width)`; the 64x64 originals are
            resized with antialiasing.
        channels: 3 (RGB) or 1.
        background: the colour the transparent pixels are composited onto.
        data_dir: the package folder or `.tgz`, see `package_dir`.

    Returns:
        `(images, labels, code_points)`: uint8 `(N, H, W, channels)`, int32
        category ids and each image's code point.

    Example:

    ```python
    images, labels, code_points = load_emoji("twitter", image_size=32)
    ```
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r} for emoji; expected one of {SPLITS}.")
    directory = package_dir(style, data_dir)
    image_dir = os.path.join(directory, "img", style, "64")
    records = [r for r in emoji_records(directory, style)
               if split == "all" or in_test_split(r["base"]) == (split == "test")]
    records = [r for r in records if os.path.isfile(os.path.join(image_dir, r["file"]))]
    if not records:
        raise ValueError(f"{image_dir} holds no {split} images of emoji.json's emoji.")
    images = np.stack([
        image_files.read_image(os.path.join(image_dir, r["file"]), image_size, channels,
                               background)
        for r in records])
    labels = np.asarray([r["category"] for r in records], np.int32)
    return images, labels, np.asarray([r["code_point"] for r in records])
