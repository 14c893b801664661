"""Builds the zoo (presets and serving exports) from training runs; prints its table.

Each run directory is the `--out` of a `keras-gans train` command (see
`RECIPES`). For every model this script evaluates the exported generator with
`keras_gans.evaluation.evaluate_generator` (10k samples against the
Fashion-MNIST test set, in the bundled classifier's feature space), renders
`samples.png`, adds the evaluation and the recipe to `metadata.json`, and
installs the export as `saved_models/<name>/` and the run's preset (both
players, written by `keras-gans train`) as `keras_gans/presets/<name>/`,
each with an atomic rename. The
reference (TensorFlow's DCGAN tutorial recipe, `reference_dcgan.py`) is
evaluated the same way at every training budget saved under
`<runs>/reference_dcgan/`, for comparison at equal CPU time.

    python benchmarks/build_zoo.py --runs runs --n 10000
"""

import argparse
import dataclasses
import json
import os
import shlex
import shutil

import keras

from keras_gans import cli, evaluation, plotting, saving
from keras_gans.files import atomic_path

# name -> (run directory under --runs, the single command that trains it).
RECIPES = {
    "vanilla_fashion_mnist": (
        "vanilla_wide",
        "keras-gans train vanilla --epochs 60 --ema-decay 0.999 --minibatch-stddev "
        "--discriminator-units 1024,512,256"),
    "dcgan_fashion_mnist": (
        "dcgan_fashion_mnist",
        "keras-gans train dcgan --epochs 45 --ema-decay 0.999 --jit-compile"),
    "cgan_fashion_mnist": (
        "cgan_fashion_mnist",
        "keras-gans train cgan --epochs 8 --ema-decay 0.999"),
    "wgan_fashion_mnist": (
        "wgan_nc1_clip05",
        "keras-gans train wgan --epochs 14 --n-critic 1 --clip-value 0.05 --d-lr 2e-4 "
        "--g-lr 2e-4 --ema-decay 0.999"),
    "wgan-gp_fashion_mnist": (
        "wgan-gp_b0_lr4e-4_linear",
        "keras-gans train wgan-gp --epochs 18 --n-critic 1 --ema-decay 0.999 --jit-compile "
        "--d-lr 4e-4 --g-lr 4e-4 --beta-1 0 --lr-schedule linear"),
    "progan_fashion_mnist": (
        "progan_fashion_mnist",
        "keras-gans train progan --fade-images 20000 --stable-images 20000 --steps 3125 "
        "--precision float32 --jit-compile off"),
}
TABLE_COLUMNS = ("fid", "kid", "coverage_min", "classes_covered", "cond_acc", "epochs",
                 "wall_time_seconds")

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def render_samples(generator, path, seed=0):
    """An 8x8 grid, or one row of 8 per class for conditional generators."""
    if generator.conditional:
        classes = generator.num_classes
        labels = [c for c in range(classes) for _ in range(8)]
        images = generator.generate(len(labels), labels=labels, seed=seed)
        plotting.save_grid(images, path, rows=classes, cols=8,
                           row_labels=generator.class_names)
    else:
        plotting.save_grid(generator.generate(64, seed=seed), path, rows=8, cols=8)


def recipe(command):
    """A training command's `RunConfig`, less what does not change the model
    (the output directory, resuming, the progress bar)."""
    arguments = shlex.split(command)[1:]
    config = cli.train_config(cli.build_parser().parse_args(arguments))
    return dataclasses.replace(config, out=None, resume=False, overwrite=False, quiet=False)


def build_model(name, run_dir, command, out_dir, presets_dir, n):
    export_dir = os.path.join(run_dir, "generator")
    generator = saving.load_generator(export_dir)
    trained_with = generator.metadata.get("command", "")
    if recipe(trained_with) != recipe(command):
        raise SystemExit(f"{export_dir} was trained with `{trained_with}`, "
                         f"not with {name}'s recipe `{command}`.")
    result = evaluation.evaluate_generator(generator, dataset="fashion_mnist", n=n)
    metadata = {**generator.metadata, **result, "command": command, "name": name}
    target = os.path.join(out_dir, name)
    with atomic_path(target) as tmp:
        shutil.copytree(export_dir, tmp)
        with open(os.path.join(tmp, saving.METADATA_FILE), "w") as f:
            json.dump(metadata, f, indent=2)
        render_samples(saving.load_generator(tmp), os.path.join(tmp, "samples.png"))
    preset_dir = os.path.join(run_dir, "preset")
    if os.path.isdir(preset_dir):
        with atomic_path(os.path.join(presets_dir, name)) as tmp:
            shutil.copytree(preset_dir, tmp)
            saving.write_metadata(tmp, {**saving.read_metadata(preset_dir), **result,
                                        "command": command, "name": name})
    else:
        print(f"{name}: {run_dir} holds no preset; keeping keras_gans/presets/{name}")
    return metadata


def reference_runs(root):
    """Every saved reference generator under `root` (one per training budget)."""
    runs = []
    for directory, _, files in os.walk(root):
        if "generator.keras" in files and "run.json" in files:
            with open(os.path.join(directory, "run.json")) as f:
                runs.append((json.load(f)["wall_time_seconds"], directory))
    return [directory for _, directory in sorted(runs)]


def evaluate_reference(run_dir, n):
    """Evaluates the tutorial recipe's saved generator: its table row name and row."""
    from reference_dcgan import TutorialDCGAN

    model = TutorialDCGAN()
    model.generator = keras.saving.load_model(os.path.join(run_dir, "generator.keras"))
    with open(os.path.join(run_dir, "run.json")) as f:
        run = json.load(f)
    result = evaluation.evaluate_generator(model, dataset="fashion_mnist", n=n)
    minutes = f"{run['budget_minutes']:g}"
    grid = os.path.join(RESULTS, f"reference_dcgan_{minutes}min.png")
    plotting.save_grid(model.generate(64, seed=0), grid, rows=8, cols=8)
    return f"reference (TF DCGAN tutorial, {minutes}min)", {
        **result, "epochs": run["epochs"], "wall_time_seconds": run["wall_time_seconds"],
        "command": f"python benchmarks/reference_dcgan.py --minutes {minutes}",
        "samples": f"![reference, {minutes} min]({os.path.relpath(grid)})"}


def published_reference_rows():
    """The reference rows of the `zoo.json` this script last wrote, if any."""
    path = os.path.join(RESULTS, "zoo.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {name: row for name, row in json.load(f).items()
                if name.startswith("reference")}


def markdown_table(rows):
    header = "| model | " + " | ".join(TABLE_COLUMNS) + " | samples |"
    lines = [header, "|" + " --- |" * (len(TABLE_COLUMNS) + 2)]
    for name, info in rows.items():
        cells = []
        for column in TABLE_COLUMNS:
            value = info.get(column)
            if column == "wall_time_seconds" and value is not None:
                value = f"{value / 60:.1f} min"
            elif isinstance(value, float):
                value = f"{value:.4g}"
            cells.append("" if value is None else str(value))
        grid = info.get("samples", "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {grid} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--out", default="saved_models")
    parser.add_argument("--presets", default=os.path.join("keras_gans", "presets"))
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--only", nargs="*", choices=list(RECIPES),
                        help="rebuild only these models; the table keeps the others' rows")
    args = parser.parse_args()

    rows = {}
    for name, (run, command) in RECIPES.items():
        run_dir = os.path.join(args.runs, run)
        selected = not args.only or name in args.only
        if selected and os.path.isdir(os.path.join(run_dir, "generator")):
            rows[name] = build_model(name, run_dir, command, args.out, args.presets, args.n)
        elif os.path.isdir(os.path.join(args.out, name)):
            print(f"keeping the shipped {name}"
                  + (f": no export in {run_dir}" if selected else ""))
            rows[name] = saving.read_metadata(os.path.join(args.out, name))
        else:
            print(f"skipping {name}: no export in {run_dir} or {args.out}")
            continue
        rows[name]["samples"] = f"![{name}]({args.out}/{name}/samples.png)"
        print(json.dumps({"model": name, **{k: rows[name].get(k) for k in TABLE_COLUMNS}}),
              flush=True)
    reference_dirs = reference_runs(os.path.join(args.runs, "reference_dcgan"))
    for run_dir in reference_dirs:
        name, result = evaluate_reference(run_dir, args.n)
        rows[name] = result
        print(json.dumps({"model": name, **result}), flush=True)
    if not reference_dirs:
        published = published_reference_rows()
        print(f"keeping the published reference rows ({len(published)}): no reference "
              f"runs under {os.path.join(args.runs, 'reference_dcgan')}")
        rows.update(published)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "zoo.json"), "w") as f:
        json.dump(rows, f, indent=1)
    table = markdown_table(rows)
    with open(os.path.join(RESULTS, "zoo.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
