"""A MkDocs hook: the repository's sample grids and result images, served
under `repo/` in the site, so that the pages show them without copies in
`docs/`. `keras_gans/presets/dcgan_fashion_mnist/samples.png` is then
`repo/keras_gans/presets/dcgan_fashion_mnist/samples.png`, linked from a
page by a relative path (`../repo/...` from a page one folder deep)."""

from pathlib import Path

from mkdocs.structure.files import File

FOLDERS = ("keras_gans/presets", "saved_models", "benchmarks/results")
SUFFIXES = (".png", ".gif")


def on_files(files, config):
    root = Path(config.config_file_path).parent
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in SUFFIXES:
                uri = f"repo/{path.relative_to(root).as_posix()}"
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
