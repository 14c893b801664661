"""Training throughput and short zoo trainings on one GPU, on JAX or PyTorch.

Made for a machine with JAX or PyTorch but no TensorFlow and no network. It
measures, on the Keras backend `--backend` names:

1. images/s of `fit` for every variant (ProGAN at its 28x28 stage, CycleGAN
   at 32x32 RGB) at batch 64, 256 and 1024, in float32 and mixed_bfloat16,
   timed as `throughput.py --backends` does, after the first step (tracing,
   compilation) and a warm-up;
2. every Fashion-MNIST zoo recipe (the `keras-gans train` command recorded in
   `keras_gans/presets/*_fashion_mnist/metadata.json`), trained with that
   command for a fixed length, one epoch over the first `--steps` x 64
   training images, then its FID and KID on `--fid-samples` samples
   against the test split in the bundled classifier's feature space
   (`keras-gans train --evaluate`).

Each variant and each recipe runs in a child process that sets
`KERAS_BACKEND` before it imports Keras, and in which TensorFlow cannot be
imported (`WithoutTensorFlow`), as on the machine this is made for, also
where it is installed. A time budget (`--budget`, 540 s) bounds
the run: part 1 gets 55% of it, part 2 the rest, shared out child by child;
what does not fit is reported as skipped. The results are rewritten after
every child, so a run cut short keeps what it measured.

The Fashion-MNIST IDX files come from `--data-dir` (default `runs/fashion_mnist`
under the repository, else Debian's `/usr/share/datasets/fashion-mnist`);
without them part 1 trains on random images and part 2 is skipped.

    python benchmarks/gpu.py --backend jax --out "$OUT"
    python benchmarks/gpu.py --backend torch --tiny --out /tmp/gpu_tiny   # CPU, minutes

Writes `gpu_<backend>.json` and `gpu_<backend>.md` (and each recipe's last
sample grid) into `--out`.
"""

import argparse
import glob
import importlib.abc
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(1, ROOT)  # the working tree's keras_gans, installed or not

from keras_gans import hardware  # noqa: E402

DATA_DIRS = (os.path.join(ROOT, "runs", "fashion_mnist"), "/usr/share/datasets/fashion-mnist")
VARIANTS = ("vanilla", "dcgan", "cgan", "wgan", "wgan-gp", "sngan", "progan", "cyclegan")
SETTINGS = {
    "batch_sizes": (64, 256, 1024),
    "precisions": ("float32", "mixed_bfloat16"),
    "seconds": 1.5,
    "warm_up": 0.5,
    "images": 20000,
    "steps": 900,
    "fid_samples": 10000,
    "budget": 540.0,
}
TINY = {
    "batch_sizes": (8,),
    "seconds": 0.5,
    "warm_up": 0.5,
    "images": 2000,
    "steps": 10,
    "fid_samples": 200,
    "budget": 900.0,
}
THROUGHPUT_SHARE = 0.55
# Seconds a throughput child may overrun its share before it is stopped.
GRACE = 20.0
# Recipe options that this benchmark sets itself (and --jit-compile).
OWN_OPTIONS = ("--epochs", "--steps", "--precision", "--out", "--data-dir", "--dataset",
               "--limit", "--evaluate")


class WithoutTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `import tensorflow` fail with `ModuleNotFoundError`, as where it
    is not installed, while `"tensorflow" not in sys.modules` still holds."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

    def exec_module(self, module):
        """Never reached: `create_module` raises."""


def device_name():
    """The device the Keras backend computes on, e.g. `"NVIDIA H100 80GB HBM3"`
    or `"CPU"`."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        return "CPU" if device.platform == "cpu" else device.device_kind
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"


def training_images(data_dir, count):
    """`count` Fashion-MNIST training images and labels, or random ones
    where `data_dir` is `None`."""
    import numpy as np

    if data_dir is None:
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, (count, 28, 28, 1), dtype=np.uint8),
                rng.integers(0, 10, count).astype(np.int32))
    from keras_gans import data

    images = data.load_images("fashion_mnist", "train", data_dir=data_dir)
    return images.images[:count], images.labels[:count]


def release_memory():
    """Frees what the last model held, before the next one is built."""
    import gc

    import keras

    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()
    gc.collect()
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def throughput_child(variant, options):
    """Runs in a child process: prints one JSON line per (batch size,
    precision) of `variant`, skipping those that would end past the deadline."""
    import keras
    import throughput

    images, labels = training_images(options["data_dir"], options["images"])
    longest = 0.0
    for batch_size in options["batch_sizes"]:
        for precision in options["precisions"]:
            row = {"variant": variant, "batch_size": batch_size, "precision": precision}
            start = time.time()
            if start + longest > options["deadline"]:
                print(json.dumps({**row, "skipped": "time budget"}), flush=True)
                continue
            keras.mixed_precision.set_global_policy(precision)
            try:
                model = throughput.build(variant, {}, batch_size)
                dataset, per_step = throughput.training_data(variant, images, labels,
                                                             batch_size)
                row.update(throughput.time_training(model, dataset, per_step,
                                                    options["seconds"], options["warm_up"]))
                row["jit_compile"] = bool(model.jit_compile)
            except Exception as error:  # out of memory at a large batch, above all
                message = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split())
                row["error"] = f"{type(error).__name__}: {message[:300]}"
            model = dataset = None
            release_memory()
            longest = max(longest, time.time() - start)
            print(json.dumps(row), flush=True)


def probe_child():
    """Runs in a child process: loads keras-gans, so that a missing package
    stops the run at once, and prints the backend's version and device."""
    import keras

    import keras_gans

    keras_gans.get_variant("dcgan")
    print(json.dumps({"version": hardware.backend_version(), "keras": keras.__version__,
                      "device": device_name()}))


def recipe_child(name, options):
    """Runs in a child process: trains the zoo recipe `name` with
    `keras-gans train` and prints its scores as one JSON line."""
    from keras_gans import cli

    preset = os.path.join(ROOT, "keras_gans", "presets", name)
    with open(os.path.join(preset, "metadata.json")) as f:
        recorded = json.load(f)
    arguments = recipe_arguments(recorded["command"]) + [
        "--epochs", "1", "--limit", str(options["steps"] * 64),
        "--precision", options["precision"],
        "--jit-compile", "on" if hardware.jit_choices()[0] else "off"]
    work = tempfile.mkdtemp(prefix=f"gpu_{name}_")
    start = time.perf_counter()
    status = cli.main(["train", *arguments, "--dataset", "fashion_mnist",
                       "--data-dir", options["data_dir"],
                       "--evaluate", str(options["fid_samples"]), "--out", work, "--quiet"])
    seconds = time.perf_counter() - start
    if status:  # keras-gans train printed why
        sys.exit(status)
    with open(os.path.join(work, "preset", "metadata.json")) as f:
        trained = json.load(f)
    grids = sorted(glob.glob(os.path.join(work, "samples", "*.png")))
    if grids:
        shutil.copy(grids[-1], os.path.join(options["out"], f"{name}_{options['backend']}.png"))
    shutil.rmtree(work)
    print(json.dumps({
        "recipe": name,
        "options": " ".join(map(shlex.quote, arguments)),
        "precision": trained["precision"],
        "jit_compile": trained["jit_compile"],
        "train_seconds": trained["wall_time_seconds"],
        "total_seconds": round(seconds, 1),
        "fid": trained["fid"],
        "kid": trained["kid"],
        "coverage_min": trained.get("coverage_min"),
        "classes_covered": trained.get("classes_covered"),
        "cond_acc": trained.get("cond_acc"),
        "zoo_fid": recorded.get("fid"),
        "zoo_command": recorded["command"],
    }))


def recipe_arguments(command):
    """A recorded `keras-gans train` command's arguments after `train`, less
    the options this benchmark sets itself (length, precision, XLA, paths)."""
    words, kept, index = shlex.split(command)[2:], [], 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--jit-compile":  # its value is optional
            index += index < len(words) and words[index] in ("auto", "on", "off")
        elif word in OWN_OPTIONS:
            index += 1
        else:
            kept.append(word)
    return kept


def zoo_recipes():
    """The Fashion-MNIST presets trained with one `keras-gans train` command,
    in the zoo's order, ProGAN (the longest) last."""
    names = []
    for path in sorted(glob.glob(os.path.join(ROOT, "keras_gans", "presets", "*",
                                              "metadata.json"))):
        name = os.path.basename(os.path.dirname(path))
        with open(path) as f:
            command = json.load(f).get("command", "")
        if name.endswith("_fashion_mnist") and command.startswith("keras-gans train "):
            names.append(name)
    order = {variant: index for index, variant in enumerate(VARIANTS)}
    return sorted(names, key=lambda name: order.get(name.split("_")[0], len(order)))


def find_data_dir(given):
    """The folder of Fashion-MNIST's IDX files: `given`, else the first of
    `DATA_DIRS` that holds them; `None` where there is none."""
    for directory in [given] if given else DATA_DIRS:
        if glob.glob(os.path.join(directory, "train-images-idx3-ubyte*")) and glob.glob(
                os.path.join(directory, "t10k-images-idx3-ubyte*")):
            return os.path.abspath(directory)
    if given:
        raise SystemExit(f"--data-dir {given} holds no Fashion-MNIST IDX files "
                         "(train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz, ...).")
    return None


def run_lines(arguments, backend, timeout):
    """Runs `python gpu.py *arguments` with `KERAS_BACKEND=backend` for at most
    `timeout` seconds; returns the JSON lines it printed and, where it failed
    or was stopped, why: `{"error": message}` or `{"skipped": message}`."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    command = [sys.executable, __file__, *map(str, arguments)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=max(timeout, 1.0))
        stdout, stderr = done.stdout, done.stderr
        failure = {} if done.returncode == 0 else {"error": (
            stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]}
    except subprocess.TimeoutExpired as error:
        stdout = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout
        failure = {"skipped": f"stopped at its {timeout:.0f} s share of the time budget"}
    lines = []
    for line in (stdout or "").splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:  # keras-gans train's own messages
            continue
    return [line for line in lines if isinstance(line, dict)], failure


def cell(row):
    """A throughput table's cell: images/s, or why there is none."""
    if row is None or "skipped" in row:
        return "skipped"
    if "error" in row:
        return "out of memory" if "memory" in row["error"].lower() else "error"
    return f"{row['images_per_second']:.0f}"


def report(results):
    """The markdown report of `results`."""
    settings = results["settings"]
    lines = [f"keras-gans on {results['device']}, Keras {results['keras']} on "
             f"{results['version']} (CPU: {results['cpu']}), with TensorFlow unimportable "
             f"in every measurement (installed on the machine: "
             f"{'yes' if results['tensorflow_installed'] else 'no'}). "
             f"Data: {results['data']}.", "",
             f"Training images/s: `fit` timed over about {settings['seconds']:g} s after the "
             f"first step (tracing, compilation) and a {settings['warm_up']:g} s warm-up. "
             "WGAN, WGAN-GP and SNGAN steps read 5 minibatches of the batch size; ProGAN at "
             "its 28x28 stage; a CycleGAN step reads a batch of 32x32 RGB pairs, counted as "
             "the batch size.", ""]
    columns = [(b, p) for b in settings["batch_sizes"] for p in settings["precisions"]]
    lines += ["| variant | " + " | ".join(f"{b} {p}" for b, p in columns) + " |",
              "|" + " --- |" * (len(columns) + 1)]
    rows = {(r["variant"], r["batch_size"], r["precision"]): r for r in results["throughput"]}
    for variant in settings["variants"]:
        lines.append(f"| {variant} | " + " | ".join(
            cell(rows.get((variant, b, p))) for b, p in columns) + " |")
    errors = [f"{r['variant']} {r['batch_size']} {r['precision']}: {r['error']}"
              for r in results["throughput"] if "error" in r]
    lines += [""] + [f"- {error}" for error in errors] + ([""] if errors else [])
    if results["recipes"]:
        lines += recipe_report(results) + [""]
    return lines + [f"The run took {results['seconds']:.0f} s of a {settings['budget']:g} s "
                    "budget."]


def recipe_report(results):
    """The markdown lines of the recipes' table."""
    settings = results["settings"]
    lines = [f"Zoo recipes, each trained with its `keras-gans train` command (options "
             f"below, in {settings['recipe_precision']}) for one epoch over the first "
             f"{settings['steps'] * 64} Fashion-MNIST training images ({settings['steps']} "
             "steps of 64; ProGAN twice as many of 32), then FID and KID (x1000) on "
             f"{settings['fid_samples']} samples against the 10,000 test images in the "
             "bundled classifier's feature space. The zoo's FID is the full recipe's, on "
             "10,000 samples.", "",
             "| recipe | options | train s | total s | FID | KID | zoo FID |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in results["recipes"]:
        if "fid" not in row:
            why = (f"error: {row['error']}" if "error" in row else
                   f"skipped: {row.get('skipped', 'time budget')}")
            lines.append(f"| {row['recipe']} | {why} | | | | | |")
            continue
        lines.append(f"| {row['recipe']} | `{row['options']}` | {row['train_seconds']:.0f} | "
                     f"{row['total_seconds']:.0f} | {row['fid']:.1f} | {row['kid']:.2f} | "
                     f"{row['zoo_fid']:.1f} |")
    return lines


def write(results, out):
    name = f"gpu_{results['backend']}"
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out, f"{name}.md"), "w") as f:
        f.write("\n".join(report(results)) + "\n")


def parse_list(kind):
    return lambda text: tuple(kind(item) for item in text.split(","))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("jax", "torch"), help="required")
    parser.add_argument("--out", help="folder for the results (required)")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny settings, to check the whole run on a CPU in minutes")
    parser.add_argument("--data-dir", help="Fashion-MNIST's IDX files (gzipped or not)")
    parser.add_argument("--variants", type=parse_list(str), help="default: all")
    parser.add_argument("--recipes", type=parse_list(str),
                        help="preset names, e.g. dcgan_fashion_mnist (default: all); "
                        "'none' skips part 2")
    parser.add_argument("--batch-sizes", type=parse_list(int), help="default 64,256,1024")
    parser.add_argument("--precisions", type=parse_list(str),
                        help="default float32,mixed_bfloat16")
    parser.add_argument("--seconds", type=float, help="timed window per configuration")
    parser.add_argument("--warm-up", type=float, help="seconds of training before it")
    parser.add_argument("--images", type=int, help="training images of part 1")
    parser.add_argument("--steps", type=int,
                        help="recipe length in steps of 64 images (default 900)")
    parser.add_argument("--recipe-precision", default="float32",
                        choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--fid-samples", type=int, help="default 10000")
    parser.add_argument("--budget", type=float, help="seconds for the whole run (default 540)")
    parser.add_argument("--throughput-child")
    parser.add_argument("--recipe-child")
    parser.add_argument("--probe-child", action="store_true")
    parser.add_argument("--child-options")
    args = parser.parse_args()
    if args.throughput_child or args.recipe_child or args.probe_child:
        sys.meta_path.insert(0, WithoutTensorFlow())
    if args.throughput_child:
        throughput_child(args.throughput_child, json.loads(args.child_options))
        return
    if args.recipe_child:
        recipe_child(args.recipe_child, json.loads(args.child_options))
        return
    if args.probe_child:
        probe_child()
        return
    if not (args.backend and args.out):
        parser.error("--backend and --out are required")

    start = time.time()
    given = {key: value for key, value in vars(args).items()
             if key in SETTINGS and value is not None}
    settings = {**SETTINGS, **(TINY if args.tiny else {}), **given,
                "recipe_precision": args.recipe_precision}
    settings["variants"] = list(args.variants or VARIANTS)
    recipes = zoo_recipes() if args.recipes is None else [
        name for name in args.recipes if name != "none"]
    data_dir = find_data_dir(args.data_dir)
    os.makedirs(args.out, exist_ok=True)
    probe, failure = run_lines(["--probe-child"], args.backend, 300)
    if failure:
        raise SystemExit(f"keras-gans does not start on {args.backend}: "
                         f"{next(iter(failure.values()))}")
    results = {"backend": args.backend, **probe[0], "cpu": hardware.describe(),
               "tensorflow_installed": importlib.util.find_spec("tensorflow") is not None,
               "data": f"Fashion-MNIST from {data_dir}" if data_dir else
               "random images (no Fashion-MNIST found: recipes skipped)",
               "settings": settings, "throughput": [], "recipes": [], "seconds": 0.0}

    def record(rows, key):
        for row in rows:
            results[key].append(row)
            print(json.dumps(row), flush=True)
        results["seconds"] = round(time.time() - start, 1)
        write(results, args.out)

    phase_end = start + settings["budget"] * THROUGHPUT_SHARE
    variants = settings["variants"]
    for index, variant in enumerate(variants):
        share = (phase_end - time.time()) / (len(variants) - index)
        options = {key: settings[key] for key in
                   ("batch_sizes", "precisions", "seconds", "warm_up", "images")}
        options.update(data_dir=data_dir, deadline=time.time() + share)
        rows, failure = ([], {}) if share < 1 else run_lines(
            ["--throughput-child", variant, "--child-options", json.dumps(options)],
            args.backend, share + GRACE)
        done = {(row["batch_size"], row["precision"]) for row in rows}
        missing = failure or {"skipped": "time budget"}
        rows += [{"variant": variant, "batch_size": b, "precision": p, **missing}
                 for b in settings["batch_sizes"] for p in settings["precisions"]
                 if (b, p) not in done]
        record(rows, "throughput")
    end = start + settings["budget"]
    for index, name in enumerate(recipes):
        share = (end - time.time()) / (len(recipes) - index)
        options = {"steps": settings["steps"], "precision": settings["recipe_precision"],
                   "fid_samples": settings["fid_samples"], "data_dir": data_dir,
                   "out": os.path.abspath(args.out), "backend": args.backend}
        if data_dir is None:
            rows, failure = [], {"skipped": "no Fashion-MNIST"}
        elif share < 5:
            rows, failure = [], {"skipped": "time budget"}
        else:
            rows, failure = run_lines(["--recipe-child", name, "--child-options",
                                       json.dumps(options)], args.backend, share)
        record(rows or [{"recipe": name, **(failure or {"error": "no result"})}], "recipes")
    print("\n".join(report(results)))


if __name__ == "__main__":
    main()
