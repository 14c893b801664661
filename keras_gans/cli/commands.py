"""What each `keras-gans` command does with its parsed arguments."""

import dataclasses
import json
import os
import sys

from keras_gans import run
from keras_gans.cli.arguments import MAX_GRID_IMAGES
from keras_gans.run import DATASETS


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def train_config(args):
    """The `RunConfig` of parsed `keras-gans train` arguments."""
    fields = {field.name for field in dataclasses.fields(run.RunConfig)}
    return run.RunConfig(**{name: value for name, value in vars(args).items()
                            if name in fields})


def run_train(args):
    result = run.train(train_config(args))
    if result.stopped_by:  # exit status 128 + the signal: 143 SIGTERM, 130 SIGINT
        return 128 + result.stopped_by
    return 0


def _load_any(name, trust=False):
    """A pretrained name, a preset or export directory, or a `.keras` file."""
    from keras_gans import pretrained, saving

    looks_like_a_path = name.endswith(".keras") or os.sep in name or name.startswith((".", "~"))
    if looks_like_a_path and not os.path.exists(os.path.expanduser(name)):
        raise CLIError(f"{name} does not exist")
    if name.endswith(".keras"):
        return saving.load_gan(name)
    return pretrained.load_pretrained(name, trust=trust)


def _writes_files(out):
    """Whether `sample --out` names a directory for image files, not a grid."""
    return out.endswith(("/", os.sep)) or os.path.isdir(out)


def _check_sample_directory(args):
    """Refuses a directory `--out` that holds anything but samples, or samples
    without `--overwrite`."""
    from keras_gans import sampling

    held = os.listdir(args.out) if os.path.isdir(args.out) else []
    others = sorted(name for name in held if not sampling.SAMPLE_FILE.fullmatch(name))
    if others:
        raise CLIError(f"--out {args.out} holds files other than samples "
                       f"({', '.join(others[:3])}): choose a new or empty directory")
    if held and not args.overwrite:
        raise CLIError(f"--out {args.out} already holds {len(held)} samples: replace them "
                       "with --overwrite, or choose a new directory")


def _write_sample_files(args, generator, labels):
    """`sample --out DIR/`: one PNG file per image, with a progress line."""
    from keras_gans import sampling

    def progress(written):
        print(f"\rGenerated {written}/{args.n} images", end="", file=sys.stderr, flush=True)

    sampling.write_samples(generator, args.n, args.out, seed=args.seed, labels=labels,
                           progress=progress, truncation=args.truncation)
    print(file=sys.stderr)
    print(f"Wrote {args.n} samples to {args.out}: {sampling.sample_file_name(0, args.n)} "
          f"to {sampling.sample_file_name(args.n - 1, args.n)}")


def run_sample(args):
    from keras_gans import plotting

    to_files = _writes_files(args.out)
    if to_files:
        _check_sample_directory(args)
    elif args.n > MAX_GRID_IMAGES:
        raise CLIError(f"--n {args.n} is too many images for one grid (at most "
                       f"{MAX_GRID_IMAGES}): write one PNG file per image with --out DIR/")
    labels = _labels(args.labels)
    if labels is not None and len(labels) not in (1, args.n):
        raise CLIError(f"--labels gives {len(labels)} labels for --n {args.n}")
    generator = _load_any(args.model, args.trust_model)
    if not hasattr(generator, "generate"):
        raise CLIError(f"{args.model} translates images: use keras-gans translate")
    if labels is not None and not generator.conditional:
        raise CLIError(f"{args.model} is unconditional: it takes no --labels")
    if to_files:
        _write_sample_files(args, generator, labels)
        return
    images = generator.generate(args.n, labels=labels, seed=args.seed,
                                truncation=args.truncation)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    plotting.save_grid(images, args.out)
    print(f"Wrote {len(images)} samples to {args.out}")


def _labels(text):
    """`--labels "0,Ankle boot"` as `[0, "Ankle boot"]`; `None` if not given."""
    if not text:
        return None
    return [int(label) if label.strip().lstrip("-").isdigit() else label.strip()
            for label in text.split(",")]


def run_interpolate(args):
    from keras_gans import latent

    labels = _labels(args.labels)
    if args.points < 2:
        raise CLIError(f"--points {args.points}: a walk needs at least 2 points")
    latent.check_walk_path(args.out)
    generator = _load_any(args.model, args.trust_model)
    if not hasattr(generator, "generate"):
        raise CLIError(f"{args.model} translates images: it has no latent space to walk")
    if labels is not None and not generator.conditional:
        raise CLIError(f"{args.model} is unconditional: it takes no --labels")
    frames = latent.latent_walk(generator, args.points, args.steps, seed=args.seed,
                                labels=labels, method=args.method,
                                truncation=args.truncation)
    latent.write_walk(frames, args.out, fps=args.fps)
    print(f"Wrote {len(frames)} frames to {args.out}")


def run_translate(args):
    from PIL import Image

    from keras_gans import data, files, image_files

    model = _load_any(args.model, args.trust_model)
    if not hasattr(model, "translate"):
        raise CLIError(f"{args.model} generates images from noise: use keras-gans sample")
    direction = args.direction or getattr(model, "direction", None) or "a2b"
    height, width, channels = model.image_shape
    images, _, _, names = image_files.load_image_folder(
        args.input, (height, width), channels, args.background, args.resize)
    translations = data.to_uint8(model.translate(images, direction, args.batch_size))
    for name, image in zip(names, translations, strict=True):
        path = os.path.join(args.out, os.path.splitext(name)[0] + ".png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with files.atomic_path(path) as tmp:
            Image.fromarray(image[..., 0] if channels == 1 else image).save(tmp, format="PNG")
    print(f"Translated {len(names)} images ({direction}) into {args.out}")


def _model_metadata(name, generator):
    """A preset's or export's metadata; for a `.keras` checkpoint, its run's export's."""
    from keras_gans import pretrained, saving

    if hasattr(generator, "metadata"):
        return generator.metadata
    if not name.endswith(".keras"):
        return saving.read_metadata(pretrained.pretrained_path(name))
    folder = os.path.dirname(os.path.abspath(name))
    for run_dir in (folder, os.path.dirname(folder)):
        for export in ("generator", "generator_a2b"):
            metadata = saving.read_metadata(os.path.join(run_dir, export))
            if metadata:
                return metadata
    return {}


def _evaluation_data(args, metadata):
    """The dataset, data folder and style to evaluate against: the options
    given, else those the model's metadata records."""
    recorded = metadata.get("dataset")
    if args.dataset:
        dataset = args.dataset
    elif args.data_dir:
        dataset = recorded if recorded in DATASETS else os.path.basename(
            os.path.normpath(os.path.expanduser(args.data_dir)))
    elif recorded:
        dataset = recorded
    else:
        raise CLIError(f"{args.model} records no dataset: pass --dataset NAME or "
                       "--data-dir DIR")
    data_dir = args.data_dir
    if data_dir is None and dataset == recorded and metadata.get("data_dir"):
        data_dir = metadata["data_dir"]
        if not os.path.exists(data_dir):
            raise CLIError(f"{args.model} was trained on {data_dir}, which is not there: "
                           "pass --data-dir DIR")
    style = args.style or (metadata.get("style") if recorded == "emoji" else None)
    return dataset, data_dir, style or "google"


def _evaluate_translation(args, model):
    from keras_gans import evaluation

    if not hasattr(model, "translator"):
        raise CLIError(f"{args.model} holds one direction of a translator: evaluate its "
                       "preset or .keras checkpoint, which hold both")
    metadata = _model_metadata(args.model, model)
    domain_a = args.domain_a or metadata.get("domain_a")
    domain_b = args.domain_b or metadata.get("domain_b")
    if not (domain_a and domain_b):
        raise CLIError(f"{args.model} records no domains: pass --domain-a and --domain-b")
    if args.split == "all":
        raise CLIError("--split all does not apply to translation: use test or train")
    result = evaluation.evaluate_translation(model, domain_a, domain_b, split=args.split,
                                             features=args.features, seed=args.seed)
    print(json.dumps(result))


def run_evaluate(args):
    from keras_gans import data, evaluation

    generator = _load_any(args.model, args.trust_model)
    if hasattr(generator, "translate"):
        return _evaluate_translation(args, generator)
    dataset, data_dir, style = _evaluation_data(args, _model_metadata(args.model, generator))
    try:
        result = evaluation.evaluate_generator(
            generator, dataset=dataset, data_dir=data_dir, n=args.n, seed=args.seed,
            style=style, split=args.split, features=args.features)
    except data.DatasetNotFoundError:
        raise CLIError(f"dataset {dataset!r} was not found: pass --data-dir DIR, the "
                       "folder of its images") from None
    print(json.dumps(result))


def run_list(args):
    from keras_gans import files, pretrained

    models = pretrained.list_pretrained()
    if not models:
        print("No pretrained models found in: " + ", ".join(pretrained.model_dirs()))
        return
    columns = ("name", "variant", "dataset", "epochs", "fid", "kid", "cond_acc", "path")
    rows = [[files.printable(name)] + [_cell(info.get(column)) for column in columns[1:]]
            for name, info in models.items()]
    widths = [max(len(column), *(len(row[i]) for row in rows)) + 2
              for i, column in enumerate(columns)]
    for row in [list(columns), *rows]:
        print("".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _cell(value):
    from keras_gans import files

    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else files.printable(value)


COMMANDS = {"train": run_train, "sample": run_sample, "interpolate": run_interpolate,
            "translate": run_translate, "evaluate": run_evaluate, "list": run_list}
