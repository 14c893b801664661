"""Training and sampling throughput of keras-gans against the reference recipe.

Every configuration (model, batch size, dtype policy, options) trains in its own
Python process, so the policy is set cleanly and its peak memory is its own.
The configurations are run round-robin for `--repeats` rounds, so machine
drift hits them all alike; the table reports each one's best round.

    python benchmarks/throughput.py --seconds 20 --repeats 2

Writes `benchmarks/results/throughput<suffix>.json` and `.md`.

With `--backends`, it instead trains every variant with the reference recipe
(batch 64, float32, the variants' defaults) on each Keras backend named, each
child process setting `KERAS_BACKEND` before it imports Keras, and tabulates
images/s by variant and backend with the ratio to TensorFlow:

    python benchmarks/throughput.py --backends tensorflow,jax,torch --seconds 15 --repeats 1

Writes `benchmarks/results/throughput_backends<suffix>.json` and `.md`. A cell
during whose window other processes kept more than `--busy` cores busy (a
test suite, say) is measured once more at the end, and the faster
measurement kept; `--remeasure-busy` does only that, for the last run's file.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

from child_process import run_child

from keras_gans import hardware

HERE = os.path.dirname(os.path.abspath(__file__))

# The policy the per-variant rows train in: bfloat16 only where the CPU computes
# it natively (elsewhere it is emulated and several times slower).
FAST_POLICY = "mixed_bfloat16" if hardware.cpu_has_native_bfloat16() else "float32"

# (name, model, batch size, policy, extra options)
CONFIGS = [
    ("reference", "reference", 64, "float32", {}),
    ("dcgan", "dcgan", 64, "float32", {}),
    ("dcgan", "dcgan", 64, "mixed_bfloat16", {}),
    ("dcgan", "dcgan", 64, "mixed_float16", {}),
    ("reference", "reference", 256, "float32", {}),
    ("dcgan", "dcgan", 256, "float32", {}),
    ("dcgan", "dcgan", 256, "mixed_bfloat16", {}),
    ("reference", "reference", 64, "mixed_bfloat16", {}),
    ("dcgan + steps_per_execution=8", "dcgan", 64, "float32", {"steps_per_execution": 8}),
    ("dcgan + steps_per_execution=8", "dcgan", 64, "mixed_bfloat16",
     {"steps_per_execution": 8}),
    ("dcgan + jit_compile", "dcgan", 64, "float32", {"jit_compile": True}),
    ("dcgan + jit_compile", "dcgan", 64, "mixed_bfloat16", {"jit_compile": True}),
    ("dcgan + spectral norm (one D call)", "dcgan-sn", 64, FAST_POLICY, {}),
    ("vanilla", "vanilla", 64, FAST_POLICY, {}),
    ("cgan", "cgan", 64, FAST_POLICY, {}),
    ("wgan", "wgan", 64, FAST_POLICY, {}),
    ("wgan-gp", "wgan-gp", 64, FAST_POLICY, {}),
    ("sngan", "sngan", 64, FAST_POLICY, {}),
    ("progan (28x28 stage)", "progan", 64, FAST_POLICY, {}),
]
AUTOMATIC = "dcgan, keras-gans train's automatic choice"

BACKENDS = ("tensorflow", "jax", "torch")
# (row, model) of the table by backend: batch 64, float32, the variants' defaults.
BACKEND_ROWS = [
    ("vanilla", "vanilla"),
    ("dcgan", "dcgan"),
    ("cgan", "cgan"),
    ("wgan", "wgan"),
    ("wgan-gp", "wgan-gp"),
    ("sngan", "sngan"),
    ("progan (28x28 stage)", "progan"),
    ("cyclegan (32x32 RGB)", "cyclegan"),
]
CYCLEGAN_SHAPE = (32, 32, 3)
TRAINING_IMAGES = 20000


def automatic_choice():
    """What `keras-gans train dcgan` picks here: its probe's cached choice for
    the DCGAN at batch 64 (probed now if no run has cached it)."""
    from keras_gans import data

    images = data.load_images("fashion_mnist", "train").images[:64]
    settings = hardware.choose_speed(lambda: build("dcgan", {}), images,
                                     "dcgan 28x28x1, batch 64")
    print(f"The automatic choice: {settings.precision}, XLA {settings.jit_compile} "
          f"({settings.reason})", flush=True)
    return (AUTOMATIC, "dcgan", 64, settings.precision, {"jit_compile": settings.jit_compile})


def row_key(row):
    return json.dumps([row["name"], row["batch_size"], row["policy"], row["jit_compile"]])


def build(model_name, options, batch_size=64):
    """The compiled model of a configuration, built under the global dtype policy.

    Args:
        model_name: `"reference"` (the TensorFlow tutorial's DCGAN),
            `"dcgan-sn"`, or a variant name; ProGAN is built at its last
            stage, fully faded in, and CycleGAN at `CYCLEGAN_SHAPE`.
        options: `steps_per_execution` and `jit_compile` for `compile`.
        batch_size: ProGAN's batch size at every stage.
    """
    import keras_gans

    compile_options = {k: options[k] for k in ("steps_per_execution", "jit_compile")
                       if k in options}
    if model_name == "reference":
        sys.path.insert(0, HERE)
        from reference_dcgan import TutorialDCGAN

        model = TutorialDCGAN()
    elif model_name == "dcgan-sn":
        model = keras_gans.DCGAN(seed=0, spectral_norm=True)
    elif model_name == "progan":
        model = keras_gans.ProGAN(image_shape=(28, 28, 1), seed=0,
                                  batch_sizes=batch_size)
        model.images_seen.assign(model.schedule.total_images)
        model.sync_stage()
    elif model_name == "cyclegan":
        model = keras_gans.CycleGAN(image_shape=CYCLEGAN_SHAPE, seed=0)
    else:
        model = keras_gans.get_variant(model_name)(seed=0)
    model.compile(**compile_options)
    return model


def minibatches(model_name):
    """Minibatches one step reads: WGAN's n_critic = 5, SNGAN's n_dis = 5."""
    return 5 if model_name in ("wgan", "wgan-gp", "sngan") else 1


def training_data(model_name, images, labels, batch_size):
    """The batches `fit` trains a configuration on, and the images one step reads.

    Args:
        model_name: as for `build`; a CycleGAN step reads one batch of pairs
            (counted as `batch_size` images): the first and second halves of
            `images`, padded to 32x32 and repeated over 3 channels.
        images, labels: uint8 training images `(N, 28, 28, 1)` and their labels.
        batch_size: images per minibatch.
    """
    import numpy as np

    from keras_gans import data

    if model_name == "cyclegan":
        rgb = np.repeat(np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=-1)
        half = len(rgb) // 2
        return data.unpaired_dataset(rgb[:half], rgb[half:], batch_size, seed=0), batch_size
    per_step = batch_size * minibatches(model_name)
    dataset = data.make_dataset(images, labels if model_name == "cgan" else None,
                                batch_size=per_step, seed=0, repeat=True)
    return dataset, per_step


def fit_steps(model, dataset, steps):
    """Trains `steps` steps, or to the end of the epoch of a finite dataset
    that holds fewer; returns the steps trained."""
    from keras_gans import data

    per_epoch = data.batch_count(dataset)
    if per_epoch is None or per_epoch < 0 or per_epoch >= steps:
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
        return steps
    epochs = math.ceil(steps / per_epoch)
    model.fit(dataset, epochs=epochs, verbose=0)
    return epochs * per_epoch


def busy_cpu_seconds():
    """CPU seconds the whole machine has computed since it started (user,
    system and interrupts, from Linux's `/proc/stat`), or `None` elsewhere."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(field) for field in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    user, nice, system, _, _, irq, softirq = ticks
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def time_training(model, dataset, images_per_step, seconds, warm_up=2.0):
    """Images/s of `model.fit` on `dataset` over a window of about `seconds`.

    The first step traces and compiles the step (JAX, TensorFlow). Then `fit`
    trains 1, 2, 4, ... steps until `warm_up` seconds have passed, the last
    of them giving the rate that sets how many steps fill the window, which
    one `fit` trains while the clock runs.

    Args:
        model: a compiled model.
        dataset: its training batches.
        images_per_step: images one step reads.
        seconds: the timed window.
        warm_up: seconds of training before it, after the first step.

    Returns:
        A dict: `images_per_second`, `steps_per_second`, `steps` and
        `seconds` of the window, `cpu_cores_busy` (this process's CPU time
        over the window's wall time), `other_cores_busy` (the rest of the
        machine's, `None` where unknown) and `first_step_seconds` (tracing
        and compilation included).
    """
    def timed(steps):
        start = time.perf_counter()
        steps = fit_steps(model, dataset, steps)
        return steps, time.perf_counter() - start

    _, first_step = timed(1)
    steps, warmed = 0, 0.0
    while warmed < warm_up:
        steps, elapsed = timed(2 * steps or 1)
        warmed += elapsed
    cpu_start, machine_start = time.process_time(), busy_cpu_seconds()
    steps, elapsed = timed(max(1, round(steps / elapsed * seconds)))
    cpu = time.process_time() - cpu_start
    machine = None if machine_start is None else busy_cpu_seconds() - machine_start
    return {
        "images_per_second": round(steps * images_per_step / elapsed, 1),
        "steps_per_second": round(steps / elapsed, 3),
        "steps": steps,
        "seconds": round(elapsed, 2),
        "cpu_cores_busy": round(cpu / elapsed, 2),
        "other_cores_busy": None if machine is None else round(
            max(0.0, machine - cpu) / elapsed, 2),
        "first_step_seconds": round(first_step, 1),
    }


def measure_training(model_name, batch_size, policy, options, seconds):
    """Runs in the child process: images/s of `fit` after a warm-up."""
    import resource

    import keras
    import tensorflow as tf

    from keras_gans import data

    keras.mixed_precision.set_global_policy(policy)
    model = build(model_name, options)
    images = data.load_images("fashion_mnist", "train")
    dataset, per_step = training_data(model_name, images.images[:TRAINING_IMAGES],
                                      images.labels[:TRAINING_IMAGES], batch_size)
    dataset = dataset.take(10_000_000)
    flops_per_image = hardware.train_step_flops(model, next(iter(dataset))) / per_step

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())
            if self.times[-1] - self.times[0] > seconds + 5:
                self.model.stop_training = True

    timer = Timer()
    steps_per_execution = options.get("steps_per_execution", 1)
    model.fit(dataset, epochs=1, steps_per_epoch=1_000_000, verbose=0, callbacks=[timer])
    warm = timer.times[len(timer.times) // 5:]  # drop tracing and warm-up
    steps = (len(warm) - 1) * steps_per_execution
    elapsed = warm[-1] - warm[0]
    return {
        "images_per_second": round(steps * per_step / elapsed, 1),
        "steps_per_second": round(steps / elapsed, 2),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "mflops_per_image": round(flops_per_image / 1e6, 1),
        "gflops_per_second": round(flops_per_image * steps * per_step / elapsed / 1e9, 1),
        "tensorflow": tf.__version__,
    }


def measure_backend(model_name, seconds):
    """Runs in a child process whose `KERAS_BACKEND` the parent set: images/s
    of `fit` with the reference recipe (batch 64, float32), after a warm-up."""
    import resource

    import keras

    from keras_gans import data

    model = build(model_name, {})
    images = data.load_images("fashion_mnist", "train")
    dataset, per_step = training_data(model_name, images.images[:TRAINING_IMAGES],
                                      images.labels[:TRAINING_IMAGES], 64)
    result = time_training(model, dataset, per_step, seconds)
    return {
        **result,
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "backend": keras.backend.backend(),
        "version": hardware.backend_version(),
        "keras": keras.__version__,
        "jit_compile": bool(model.jit_compile),
    }


def measure_sampling(seconds, batch_size=256):
    """Images/s of an exported DCGAN generator's serving signature."""
    import tempfile

    import tensorflow as tf

    import keras_gans

    gan = keras_gans.DCGAN(seed=0)
    path = os.path.join(tempfile.mkdtemp(), "generator")
    gan.export(path)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    z = tf.random.normal((batch_size, gan.latent_dim))
    serve(z=z)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        serve(z=z)["images"].numpy()
        count += batch_size
    return {"images_per_second": round(count / (time.perf_counter() - start), 1)}


def run_backends(args):
    """Every variant on every backend of `--backends`, round-robin, then once
    more each cell that other processes disturbed; writes
    `throughput_backends<suffix>.json` and `.md` and prints the table."""
    backends = args.backends.split(",")
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"--backends: unknown {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(BACKENDS)}")
    name = f"throughput_backends{args.suffix}"
    results_json = os.path.join(HERE, "results", f"{name}.json")
    best, errors, minutes = {}, {}, 0.0
    if args.remeasure_busy:
        with open(results_json) as f:
            saved = json.load(f)
        best, errors, minutes = saved["rows"], saved["errors"], saved["minutes"]
    start = time.perf_counter()

    def measure(row, model, backend, label):
        try:
            result = run_child(__file__, "--backend-child", model, "--seconds",
                               args.seconds, env={"KERAS_BACKEND": backend})
        except subprocess.CalledProcessError as error:
            errors[f"{row} | {backend}"] = (error.stderr.strip().splitlines()
                                           or ["no output"])[-1]
            print(f"{row} on {backend} failed: {errors[f'{row} | {backend}']}", flush=True)
            return
        if result["backend"] != backend:
            raise SystemExit(f"The child ran on {result['backend']}, not {backend}: "
                             "is the Keras backend fixed in ~/.keras/keras.json?")
        print(json.dumps({"round": label, "row": row, **result}), flush=True)
        previous = best.setdefault(row, {}).get(backend)
        if previous is None or result["images_per_second"] > previous["images_per_second"]:
            best[row][backend] = result

    rounds = 0 if args.remeasure_busy else args.repeats
    for round_index in range(rounds):
        for row, model in BACKEND_ROWS:
            for backend in backends:
                measure(row, model, backend, round_index)
    for row, model in BACKEND_ROWS:
        for backend in backends:
            result = best.get(row, {}).get(backend)
            if result and (result["other_cores_busy"] or 0) > args.busy:
                measure(row, model, backend, "again: other processes were busy")
    minutes += (time.perf_counter() - start) / 60
    lines = backend_table(best, backends, args)
    lines += ["", f"The run took {minutes:.0f} min."]
    if errors:
        lines += ["", "Failed: " + "; ".join(f"{key}: {message}"
                                           for key, message in errors.items())]
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(results_json, "w") as f:
        json.dump({"machine": hardware.describe(), "seconds": args.seconds,
                   "repeats": args.repeats, "minutes": round(minutes, 1), "rows": best,
                   "errors": errors}, f, indent=1)
    with open(os.path.join(HERE, "results", f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def backend_table(best, backends, args):
    """The markdown lines of the table by backend: images/s of each variant,
    with the ratio to TensorFlow, and the seconds of the first step."""
    versions = {}
    for results in best.values():
        versions.update({backend: result["version"] for backend, result in results.items()})
    keras_version = next((result["keras"] for results in best.values()
                          for result in results.values()), "?")
    ratios = "tensorflow" in backends
    header, first_header = ["variant"], ["variant"]
    for backend in backends:
        name = versions.get(backend, hardware.BACKEND_NAMES[backend])
        header.append(f"{name} images/s")
        first_header.append(name)
        if ratios and backend != "tensorflow":
            header.append(f"{hardware.BACKEND_NAMES[backend]} / TF")
    lines = [f"Training images/s by Keras backend on {hardware.describe()}, Keras "
             f"{keras_version}: the reference recipe (batch 64, float32, the variants' "
             "default settings, `fit` on `keras_gans.data` batches of 20,000 Fashion-MNIST "
             f"images); best of {args.repeats} round(s) of a {args.seconds:g} s window, "
             "timed after the first step (tracing, compilation) and a 2 s warm-up, and of "
             "one more where other processes kept over "
             f"{args.busy:g} cores busy during the window. "
             "WGAN, WGAN-GP and SNGAN steps read 5 minibatches of 64; a CycleGAN step "
             "reads 64 pairs of 32x32 RGB images (padded Fashion-MNIST), counted as 64. "
             "Without XLA on TensorFlow and PyTorch, jit-compiled on JAX (each backend's "
             "default).", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row, _ in BACKEND_ROWS:
        results = best.get(row, {})
        cells = [row]
        reference = results.get("tensorflow", {}).get("images_per_second")
        for backend in backends:
            rate = results.get(backend, {}).get("images_per_second")
            cells.append("failed" if rate is None else f"{rate:.0f}")
            if ratios and backend != "tensorflow":
                cells.append(f"{rate / reference:.2f}x" if rate and reference else "")
        lines.append("| " + " | ".join(cells) + " |")
    others = [result["other_cores_busy"] for results in best.values()
              for result in results.values() if result["other_cores_busy"] is not None]
    if others:
        lines += ["", f"Other processes kept {max(others):.2f} cores busy at most, "
                  f"{sum(others) / len(others):.2f} on average, during these windows "
                  "(`other_cores_busy` in the JSON, by cell)."]
    lines += ["", "Seconds of the first step (tracing and compilation included):", "",
              "| " + " | ".join(first_header) + " |", "|" + " --- |" * len(first_header)]
    for row, _ in BACKEND_ROWS:
        results = best.get(row, {})
        cells = [row] + [f"{results[b]['first_step_seconds']:.1f}" if b in results else ""
                         for b in backends]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backends", help="comma-separated Keras backends, e.g. "
                        "tensorflow,jax,torch: the table of every variant by backend")
    parser.add_argument("--busy", type=float, default=0.25,
                        help="with --backends, a cell during whose window other processes "
                        "kept more cores than this busy is measured once more, and the "
                        "faster measurement kept")
    parser.add_argument("--remeasure-busy", action="store_true",
                        help="with --backends, only measure once more the busy cells of "
                        "the results file the last run wrote")
    parser.add_argument("--child")
    parser.add_argument("--backend-child")
    parser.add_argument("--sampling-child", action="store_true")
    parser.add_argument("--suffix", default="", help="of the results' file names, e.g. _xeon")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_training(*json.loads(args.child), args.seconds)))
        return
    if args.backend_child:
        print(json.dumps(measure_backend(args.backend_child, args.seconds)))
        return
    if args.sampling_child:
        print(json.dumps(measure_sampling(args.seconds)))
        return
    if args.backends:
        run_backends(args)
        return

    results_json = os.path.join(HERE, "results", f"throughput{args.suffix}.json")
    configs = [*CONFIGS, automatic_choice()]
    best = {}
    for round_index in range(args.repeats):
        for config in configs:
            _, model, batch_size, policy, options = config
            result = run_child(__file__, "--child",
                               json.dumps([model, batch_size, policy, options]),
                               "--seconds", args.seconds)
            print(json.dumps({"round": round_index, "config": config, **result}), flush=True)
            row = {"name": config[0], "batch_size": config[2], "policy": config[3],
                   "jit_compile": bool(config[4].get("jit_compile")), **result}
            key = row_key(row)
            if key not in best or result["images_per_second"] > best[key]["images_per_second"]:
                best[key] = row
    sampling = run_child(__file__, "--sampling-child", "--seconds", args.seconds)

    reference = best[row_key({"name": "reference", "batch_size": 64, "policy": "float32",
                              "jit_compile": False})]["images_per_second"]
    machine, peak = hardware.describe(), hardware.peak_fp32_flops()
    lines = [f"Training throughput on {machine}, TensorFlow "
             f"{next(iter(best.values()))['tensorflow']}; best of {args.repeats} interleaved "
             f"rounds of {args.seconds:.0f} s. WGAN steps read n_critic = 5 critic "
             "minibatches of the batch size, SNGAN steps n_dis = 5 discriminator "
             "minibatches. FLOPs per image: one training step's graph, counted as "
             "TensorFlow's profiler does, over the images it reads. The float32 peak: "
             f"{peak.formula}.", "",
             "| configuration | batch | policy | XLA | images/s | steps/s | vs reference "
             "float32 b64 | MFLOPs/image | GFLOP/s | share of fp32 peak | peak memory |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in best.values():
        share = (f"{row['gflops_per_second'] * 1e9 / peak.flops_per_second:.0%}"
                 if peak.flops_per_second else "")
        lines.append(f"| {row['name']} | {row['batch_size']} | {row['policy']} | "
                     f"{'yes' if row['jit_compile'] else 'no'} | "
                     f"{row['images_per_second']:.0f} | {row['steps_per_second']:.1f} | "
                     f"{row['images_per_second'] / reference:.2f}x | "
                     f"{row['mflops_per_image']:.0f} | {row['gflops_per_second']:.0f} | "
                     f"{share} | {row['peak_memory_mb']} MB |")
    lines += ["", f"Sampling from an exported DCGAN SavedModel (batch 256): "
              f"{sampling['images_per_second']:.0f} images/s."]
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(results_json, "w") as f:
        json.dump({"machine": machine, "peak_fp32": peak.formula, "rows": list(best.values()),
                   "sampling": sampling},
                  f, indent=1)
    with open(os.path.join(HERE, "results", f"throughput{args.suffix}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
