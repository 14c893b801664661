"""Image folders and emoji packages: conversions, layouts, bad files, the CLI."""

import json
import os
import re
import tarfile
import textwrap

import numpy as np
import pytest
from PIL import Image

from keras_gans import cli, data, emoji, image_files

RED = (255, 0, 0)


def _rgba_red_on_transparent(size=8):
    """Red square in the middle; the transparent border hides green pixels."""
    pixels = np.zeros((size, size, 4), np.uint8)
    pixels[..., 1] = 255  # green, but fully transparent
    pixels[2:-2, 2:-2] = (*RED, 255)
    return Image.fromarray(pixels)


# ------------------------------------------------------------------ conversions
def test_rgba_is_composited_onto_white_not_its_hidden_colour(tmp_path):
    _rgba_red_on_transparent().save(tmp_path / "a.png")

    pixels = image_files.read_image(tmp_path / "a.png")

    assert pixels.shape == (8, 8, 3)
    np.testing.assert_array_equal(pixels[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(pixels[4, 4], RED)


def test_background_colour_is_the_users(tmp_path):
    _rgba_red_on_transparent().save(tmp_path / "a.png")
    pixels = image_files.read_image(tmp_path / "a.png", background="#000080")
    np.testing.assert_array_equal(pixels[0, 0], [0, 0, 128])


def test_palette_image_with_transparency(tmp_path):
    image = Image.new("P", (6, 6), 1)
    image.putpalette([0, 255, 0, 0, 0, 255] + [0] * 762)  # 0 green, 1 blue
    image.info["transparency"] = 0
    image.putpixel((0, 0), 0)
    image.save(tmp_path / "p.png", transparency=0)

    pixels = image_files.read_image(tmp_path / "p.png")

    np.testing.assert_array_equal(pixels[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(pixels[3, 3], [0, 0, 255])


def test_grayscale_to_rgb_and_rgb_to_grayscale(tmp_path):
    Image.fromarray(np.full((4, 4), 77, np.uint8)).save(tmp_path / "g.png")
    Image.new("RGB", (4, 4), (200, 100, 50)).save(tmp_path / "c.bmp")

    rgb = image_files.read_image(tmp_path / "g.png", channels=3)
    gray = image_files.read_image(tmp_path / "c.bmp", channels=1)

    np.testing.assert_array_equal(rgb[0, 0], [77, 77, 77])
    assert gray.shape == (4, 4, 1)
    assert gray[0, 0, 0] == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)


@pytest.mark.parametrize("resize, shape_of_red", [
    ("stretch", (8, 8)),  # the whole image is red
    ("crop", (8, 8)),     # the red centre fills the square after cropping
    ("pad", (4, 8)),      # white bands above and below
])
def test_resize_modes_on_a_wide_image(tmp_path, resize, shape_of_red):
    Image.new("RGB", (16, 8), RED).save(tmp_path / "wide.png")

    pixels = image_files.read_image(tmp_path / "wide.png", image_size=8, resize=resize)

    red = np.all(pixels == RED, axis=-1)
    rows, cols = np.nonzero(red)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == shape_of_red


def test_downscaling_is_antialiased(tmp_path):
    stripes = np.zeros((64, 64), np.uint8)
    stripes[:, ::2] = 255
    Image.fromarray(stripes).save(tmp_path / "stripes.png")

    pixels = image_files.read_image(tmp_path / "stripes.png", image_size=16, channels=1)

    assert abs(float(pixels.mean()) - 127.5) < 8 and pixels.std() < 20  # gray, not stripes


def test_gif_reads_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), colour) for colour in (RED, (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(image_files.read_image(tmp_path / "anim.gif")[0, 0], RED)


def test_conform_brings_arrays_to_a_size_and_channel_count():
    gray = np.full((2, 28, 28, 1), 200, np.uint8)
    rgba = np.zeros((1, 8, 8, 4), np.uint8)

    assert image_files.conform(gray, image_size=32, channels=3).shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(image_files.conform(rgba)[0, 0, 0], [255, 255, 255])
    assert image_files.conform(gray) is gray


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 0}, "image_size"),
    ({"channels": 4}, "channels must be 1 or 3"),
    ({"resize": "squash"}, "resize must be one of crop, pad, stretch"),
    ({"background": "notacolour"}, "Unknown colour 'notacolour'"),
])
def test_bad_conversion_options_are_named(tmp_path, kwargs, message):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=message):
        image_files.load_image_folder(str(tmp_path), **kwargs)


# ----------------------------------------------------------------- folders
def _flat_rgba_folder(root, count=6, size=12):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        _rgba_red_on_transparent(size).save(root / f"{i:03d}.png")
    return root


def test_flat_folder_of_rgba_pngs_loads_as_rgb_without_labels(tmp_path):
    folder = _flat_rgba_folder(tmp_path / "flat")

    loaded = data.load_images("flat", data_dir=str(folder), image_size=(8, 8))

    assert loaded.images.shape == (6, 8, 8, 3)
    assert loaded.labels is None and loaded.class_names == []
    assert loaded.ids[0] == "000.png"
    assert loaded.name == "flat"


def test_class_folders_are_searched_recursively(tmp_path):
    for label, name in enumerate(("apples", "pears")):
        nested = tmp_path / "fruit" / name / "deeper"
        nested.mkdir(parents=True)
        for i in range(2 + label):
            Image.new("L", (5, 5), 40 * i).save(nested / f"{i}.jpg")

    loaded = data.load_images("fruit", data_dir=str(tmp_path / "fruit"))

    assert loaded.class_names == ["apples", "pears"]
    np.testing.assert_array_equal(loaded.labels, [0, 0, 1, 1, 1])
    assert loaded.images.shape == (5, 5, 5, 1)  # all gray: one channel


def test_train_and_test_subfolders_give_the_splits(tmp_path):
    for split, count in (("train", 3), ("test", 2)):
        _flat_rgba_folder(tmp_path / "set" / split, count)

    train = data.load_images("set", "train", data_dir=str(tmp_path / "set"))
    test = data.load_images("set", "test", data_dir=str(tmp_path / "set"))

    assert (len(train.images), len(test.images)) == (3, 2)


def test_corrupt_file_is_skipped_with_a_warning_that_names_it(tmp_path):
    folder = _flat_rgba_folder(tmp_path / "flat", count=3)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "empty.jpg").write_bytes(b"")

    with pytest.warns(image_files.UnreadableImagesWarning,
                      match=r"Skipped 2 unreadable .*broken\.png, empty\.jpg"):
        loaded = data.load_images("flat", data_dir=str(folder))
    assert len(loaded.images) == 3

    with pytest.raises(ValueError, match="Cannot read image .*broken.png"):
        data.load_images("flat", data_dir=str(folder), on_error="raise")


def test_file_names_with_control_characters_are_printed_escaped(tmp_path, recwarn, capsys):
    """A name holding an escape sequence (ESC[2J clears the terminal), a newline
    or a carriage return is printed escaped, as `keras-gans list` prints it."""
    folder = _flat_rgba_folder(tmp_path / "flat", count=2)
    (folder / "\x1b[2Jevil\n\r.png").write_bytes(b"not an image")
    args = ["train", "dcgan", "--data-dir", str(folder), "--batch-size", "4", "--quiet",
            "--out", str(tmp_path / "run")]

    assert cli.main(args) == 2  # two images are fewer than one batch
    warned = [str(w.message) for w in recwarn.list
              if issubclass(w.category, image_files.UnreadableImagesWarning)]
    assert warned == [f"Skipped 1 unreadable image file(s) in {folder}: "
                      "\\x1b[2Jevil\\n\\r.png"]
    capsys.readouterr()
    assert cli.main([*args, "--bad-images", "error"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err and len(err.strip().splitlines()) == 1
    assert "\\x1b[2Jevil\\n\\r.png" in err


def test_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no pictures")
    with pytest.raises(ValueError, match="holds no images"):
        data.load_images("x", data_dir=str(tmp_path))


def test_dataset_name_with_a_hyphen_gets_a_suggestion():
    with pytest.raises(data.DatasetNotFoundError, match="did you mean 'fashion_mnist'"):
        data.load_images("fashion-mnist")


# ----------------------------------------------------------------- emoji
EMOJI = [  # (unified, category, skin tones)
    ("1F600", "Smileys & Emotion", ()),
    ("1F34E", "Food & Drink", ()),
    ("1F44D", "People & Body", ("1F3FB", "1F3FF")),
    ("1F3FB", "Component", ()),
    ("1F1EB-1F1F7", "Flags", ()),
    ("1F405", "Animals & Nature", ("1F3FB",)),  # in the test split
]


def _fake_emoji_package(root, styles=("google", "twitter")):
    """A package folder like emoji-datasource's: emoji.json and img/STYLE/64."""
    entries = []
    for order, (unified, category, tones) in enumerate(EMOJI):
        entry = {"unified": unified, "image": f"{unified.lower()}.png", "category": category,
                 "short_name": f"e{order}", "sort_order": order, "has_img_google": True,
                 "has_img_twitter": unified != "1F34E"}
        entry["skin_variations"] = {
            tone: {"unified": f"{unified}-{tone}", "image": f"{unified.lower()}-{tone.lower()}.png",
                   "has_img_google": True, "has_img_twitter": True} for tone in tones}
        entries.append(entry)
    root.mkdir(parents=True)
    (root / "emoji.json").write_text(json.dumps(entries))
    for style_index, style in enumerate(styles):
        folder = root / "img" / style / "64"
        folder.mkdir(parents=True)
        for i, entry in enumerate(entries):
            for variant in [entry, *entry["skin_variations"].values()]:
                pixels = np.zeros((64, 64, 4), np.uint8)
                pixels[16:48, 16:48] = (40 * i, 100 * style_index, 200, 255)
                Image.fromarray(pixels).save(folder / variant["image"])
    return root


@pytest.fixture
def emoji_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GANS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_emoji_loads_with_categories_and_code_points(tmp_path, emoji_cache):
    package = _fake_emoji_package(tmp_path / "package")

    google = data.load_images("emoji", split="all", style="google", image_size=32,
                              data_dir=str(package))
    twitter = data.load_images("emoji", split="all", style="twitter", data_dir=str(package))

    assert google.images.shape == (8, 32, 32, 3)  # the Component swatch is left out
    assert list(google.ids) == ["1f600", "1f34e", "1f44d", "1f44d-1f3fb", "1f44d-1f3ff",
                                "1f1eb-1f1f7", "1f405", "1f405-1f3fb"]
    assert [google.class_names[label] for label in google.labels[:3]] == [
        "Smileys & Emotion", "Food & Drink", "People & Body"]
    np.testing.assert_array_equal(google.images[0, 0, 0], [255, 255, 255])  # alpha on white
    assert "1f34e" not in twitter.ids and twitter.images.shape[1:] == (64, 64, 3)
    assert google.source == "emoji:google" and google.num_classes == 9


def test_emoji_splits_hold_out_whole_emoji_in_both_styles(tmp_path, emoji_cache):
    package = _fake_emoji_package(tmp_path / "package")
    records = emoji.emoji_records(str(package), "google")
    held_out = {r["code_point"] for r in records if emoji.in_test_split(r["base"])}

    splits = {split: set(data.load_images("emoji", split=split, data_dir=str(package)).ids)
              for split in ("train", "test", "all")}

    assert splits["test"] == held_out == {"1f405", "1f405-1f3fb"}
    assert splits["train"] | splits["test"] == splits["all"]
    assert not splits["train"] & splits["test"]
    bases = {cp: r["base"] for r in records for cp in [r["code_point"]]}
    assert {bases[cp] for cp in splits["train"]}.isdisjoint(
        {bases[cp] for cp in splits["test"]})


def test_emoji_test_split_is_about_a_tenth():
    bases = [f"{code:x}" for code in range(0x1F300, 0x1F300 + 2000)]
    share = np.mean([emoji.in_test_split(base) for base in bases])
    assert 0.07 < share < 0.13


def _fake_tarball(tmp_path, style="google"):
    package = _fake_emoji_package(tmp_path / "src" / "package", styles=(style,))
    (package / "img" / style / "sheets").mkdir()
    (package / "img" / style / "sheets" / "big.png").write_bytes(b"sprite sheet")
    tarball = tmp_path / f"emoji-datasource-{style}-16.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(package, arcname="package")
    return tarball


def test_emoji_tarball_is_unpacked_into_the_cache_without_sprite_sheets(tmp_path, emoji_cache):
    tarball = _fake_tarball(tmp_path)

    loaded = data.load_images("emoji", split="all", data_dir=str(tarball))

    cached = emoji_cache / "emoji" / "emoji-datasource-google-16.0.0"
    assert len(loaded.images) == 8
    assert (cached / "emoji.json").exists()
    assert not (cached / "img" / "google" / "sheets").exists()
    again = data.load_images("emoji", split="all")  # from the cache, no npm
    np.testing.assert_array_equal(again.images, loaded.images)


def test_emoji_fetched_with_npm_pack_on_first_use(tmp_path, emoji_cache, monkeypatch):
    tarball = _fake_tarball(tmp_path, "twitter")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$@" > {tmp_path}/npm_args
        cp {tarball} .
        """))
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    loaded = data.load_images("emoji", split="all", style="twitter")

    assert len(loaded.images) == 7  # the apple has no Twitter image
    assert (tmp_path / "npm_args").read_text().split()[:2] == [
        "pack", "emoji-datasource-twitter@16.0.0"]


def test_emoji_without_npm_says_what_to_do(emoji_cache, monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(FileNotFoundError, match="needs the npm client.*pass the .tgz"):
        data.load_images("emoji")


def test_two_processes_unpacking_into_an_empty_cache_both_succeed(tmp_path, emoji_cache,
                                                                   monkeypatch):
    """The process that finishes second finds the first one's whole package in
    place, and uses it."""
    tarball = _fake_tarball(tmp_path)
    extractall = tarfile.TarFile.extractall
    other = []

    def while_another_process_unpacks(archive, *args, **kwargs):
        extractall(archive, *args, **kwargs)
        if not other:  # the other process unpacks too, and renames its copy first
            other.append(None)
            other[0] = data.load_images("emoji", split="all", data_dir=str(tarball))

    monkeypatch.setattr(tarfile.TarFile, "extractall", while_another_process_unpacks)
    mine = data.load_images("emoji", split="all", data_dir=str(tarball))

    np.testing.assert_array_equal(mine.images, other[0].images)
    cached = emoji_cache / "emoji" / "emoji-datasource-google-16.0.0"
    assert os.listdir(cached.parent) == [cached.name]  # no staging folder left
    assert emoji.cache_problem(str(cached), "google") is None


def test_the_same_tarball_twice_in_a_row(tmp_path, emoji_cache):
    tarball = _fake_tarball(tmp_path)
    first = data.load_images("emoji", split="all", data_dir=str(tarball))
    second = data.load_images("emoji", split="all", data_dir=str(tarball))
    np.testing.assert_array_equal(second.images, first.images)


def _delete_half_the_images(package):
    images = sorted((package / "img" / "google" / "64").iterdir())
    for image in images[:4]:
        image.unlink()


@pytest.mark.parametrize("damage, problem", [
    (_delete_half_the_images, "it holds 5 of its 9 images"),
    (lambda package: (package / "emoji.json").write_bytes(
        (package / "emoji.json").read_bytes()[:100]),
     "its emoji.json is not the one it was unpacked with"),
    (lambda package: (package / emoji.COMPLETE_FILE).unlink(),
     f"it has no readable {emoji.COMPLETE_FILE}")],
    ids=["images deleted", "emoji.json truncated", "never completed"])
def test_a_damaged_emoji_cache_is_refused_or_unpacked_again(tmp_path, emoji_cache,
                                                            monkeypatch, damage, problem):
    tarball = _fake_tarball(tmp_path)
    whole = data.load_images("emoji", split="all", data_dir=str(tarball))
    cached = emoji_cache / "emoji" / "emoji-datasource-google-16.0.0"
    damage(cached)

    monkeypatch.setenv("PATH", "")  # no npm to fetch it again
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"The emoji cache {cached} is damaged ({problem}") + ".*needs the npm client"):
        data.load_images("emoji", split="all")
    with pytest.warns(UserWarning, match=re.escape(
            f"The emoji cache {cached} was damaged ({problem}")):
        again = data.load_images("emoji", split="all", data_dir=str(tarball))
    np.testing.assert_array_equal(again.images, whole.images)
    assert emoji.cache_problem(str(cached), "google") is None


def test_emoji_bad_style_and_split(tmp_path, emoji_cache):
    package = _fake_emoji_package(tmp_path / "package")
    with pytest.raises(ValueError, match="Unknown emoji style 'apple'"):
        data.load_images("emoji", style="apple", data_dir=str(package))
    with pytest.raises(ValueError, match="Unknown split 'all'"):
        data.load_images("fashion_mnist", split="all")


# ----------------------------------------------------------------- the CLI
def _train(args, capsys):
    status = cli.main(["train", "dcgan", "--batch-size", "2", "--quiet", *args])
    return status, capsys.readouterr()


@pytest.mark.slow
def test_cli_trains_on_a_flat_folder_of_rgba_pngs(tmp_path, capsys):
    folder = _flat_rgba_folder(tmp_path / "my_images", count=4, size=20)
    out = tmp_path / "run"

    status, printed = _train(["--data-dir", str(folder), "--image-size", "16",
                              "--epochs", "1", "--out", str(out)], capsys)

    assert status == 0, printed.err
    metadata = json.loads((out / "generator" / "metadata.json").read_text())
    assert metadata["dataset"] == "my_images"
    assert metadata["image_shape"] == [16, 16, 3]
    assert metadata["data_dir"] == str(folder)
    assert metadata["class_names"] == []
    grid = Image.open(out / "samples" / "epoch_001.png")
    assert grid.mode in ("RGB", "RGBA")


@pytest.mark.slow
def test_cli_trains_on_emoji_with_steps(tmp_path, emoji_cache, capsys):
    package = _fake_emoji_package(tmp_path / "package")
    out = tmp_path / "run"

    status, printed = _train(["--dataset", "emoji", "--data-dir", str(package),
                              "--image-size", "16", "--steps", "5", "--out", str(out)],
                             capsys)

    assert status == 0, printed.err
    metadata = json.loads((out / "generator" / "metadata.json").read_text())
    steps_per_epoch = len(data.load_images("emoji", data_dir=str(package)).images) // 2
    assert metadata["epochs"] == -(-5 // steps_per_epoch)
    assert metadata["style"] == "google" and metadata["image_shape"] == [16, 16, 3]
    assert f"--steps 5: {metadata['epochs']} epochs" in printed.out


def test_cli_refuses_epochs_and_steps_together(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "dcgan", "--epochs", "2", "--steps", "10"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_names_the_bad_image_option(tmp_path, capsys):
    folder = _flat_rgba_folder(tmp_path / "imgs", count=2)
    (folder / "bad.png").write_bytes(b"junk")

    status, printed = _train(["--data-dir", str(folder), "--bad-images", "error",
                              "--out", str(tmp_path / "run")], capsys)

    assert status == 2
    assert "Cannot read image" in printed.err and "bad.png" in printed.err
    assert not (tmp_path / "run" / "checkpoint").exists()

