"""Training and sampling throughput of keras-gans against the reference recipe.

Every configuration (model, batch size, dtype policy, options) trains in its own
Python process, so the policy is set cleanly and its peak memory is its own.
The configurations are run round-robin for `--repeats` rounds, so machine
drift hits them all alike; the table reports each one's best round.

    python benchmarks/throughput.py --seconds 20 --repeats 2

Writes `benchmarks/results/throughput<suffix>.json` and `.md`.
"""

import argparse
import json
import os
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


def build(model_name, options):
    import keras_gans

    compile_options = {k: options[k] for k in ("steps_per_execution", "jit_compile")
                       if k in options}
    if model_name == "reference":
        sys.path.insert(0, HERE)
        from reference_dcgan import TutorialDCGAN

        model = TutorialDCGAN()
    elif model_name == "dcgan-sn":
        model = keras_gans.DCGAN(seed=0, spectral_norm=True)
    elif model_name == "progan":  # at its last stage, fully faded in
        model = keras_gans.ProGAN(final_image_shape=(28, 28, 1), seed=0, batch_sizes=64)
        model.images_seen.assign(model.schedule.total_images)
        model.sync_stage()
    else:
        model = keras_gans.get_variant(model_name)(seed=0)
    model.compile(**compile_options)
    return model


def measure_training(model_name, batch_size, policy, options, seconds):
    """Runs in the child process: images/s of `fit` after a warm-up."""
    import resource

    import keras
    import tensorflow as tf

    from keras_gans import data

    keras.mixed_precision.set_global_policy(policy)
    model = build(model_name, options)
    images = data.load_images("fashion_mnist", "train")
    labelled = model_name == "cgan"
    # WGAN steps read n_critic = 5 critic minibatches, SNGAN steps n_dis = 5.
    per_step = batch_size * (5 if model_name in ("wgan", "wgan-gp", "sngan") else 1)
    dataset = data.make_dataset(images.images[:20000],
                                images.labels[:20000] if labelled else None,
                                batch_size=per_step, seed=0, repeat=True)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child")
    parser.add_argument("--sampling-child", action="store_true")
    parser.add_argument("--suffix", default="", help="of the results' file names, e.g. _xeon")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_training(*json.loads(args.child), args.seconds)))
        return
    if args.sampling_child:
        print(json.dumps(measure_sampling(args.seconds)))
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
