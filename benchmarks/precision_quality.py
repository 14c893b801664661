"""Sample quality under each speed configuration after the same training.

Trains the same DCGAN (same seed, data order, batch and epochs) once per
configuration and seed, each in its own process, and evaluates each with the
same FID, KID and class coverage, to check that a faster configuration costs
no quality. Two seeds per configuration show how far runs differ by chance.

A configuration is a dtype policy, `+xla` for XLA, or `auto`: what
`keras-gans train` picks on this machine (`keras_gans.hardware.fastest_settings`).

    python benchmarks/precision_quality.py --epochs 3 --n 5000 --seeds 2 \
        --configs float32,auto --suffix _xeon

Writes `benchmarks/results/precision_quality<suffix>.json` and `.md`.
"""

import argparse
import json
import os
import time

from child_process import run_child

from keras_gans import hardware

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

def resolve(config):
    """`"mixed_bfloat16+xla"` or `"auto"` -> `(policy, jit_compile)`."""
    if config == "auto":
        settings = hardware.fastest_settings()
        return settings.precision, settings.jit_compile
    policy, _, xla = config.partition("+")
    return policy, xla == "xla"


def label(policy, jit_compile):
    return policy + (" + XLA" if jit_compile else "")


def train_and_evaluate(policy, seed, epochs, n, jit_compile):
    """Runs in a child process."""
    import keras

    import keras_gans
    from keras_gans import data, evaluation

    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(seed)
    gan = keras_gans.DCGAN(seed=seed, ema_decay=0.999)
    gan.compile(jit_compile=jit_compile)
    dataset = data.load_dataset("fashion_mnist", batch_size=64, seed=seed)
    start = time.perf_counter()
    gan.fit(dataset, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    result = evaluation.evaluate_generator(gan, dataset="fashion_mnist", n=n)
    return {"train_seconds": round(seconds, 1), "fid": result["fid"], "kid": result["kid"],
            "kid_std": result["kid_std"], "classes_covered": result["classes_covered"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--configs", default="float32,auto",
                        help="comma-separated: a policy, policy+xla, or auto")
    parser.add_argument("--suffix", default="", help="of the results' file names")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "SEED"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        policy, jit_compile = resolve(args.child[0])
        print(json.dumps(train_and_evaluate(policy, int(args.child[1]), args.epochs, args.n,
                                            jit_compile)))
        return

    results = []
    for seed in range(args.seeds):
        for config in args.configs.split(","):
            result = run_child(__file__, "--child", config, seed, "--epochs", args.epochs,
                               "--n", args.n)
            name = label(*resolve(config)) + (" (auto)" if config == "auto" else "")
            results.append({"config": name, "seed": seed, **result})
            print(json.dumps(results[-1]), flush=True)

    lines = [f"DCGAN (EMA 0.999, batch 64) after {args.epochs} epochs of "
             f"Fashion-MNIST on {hardware.describe()}; FID and KID on n={args.n} against "
             "the test set.", "",
             "| configuration | seed | training seconds | FID | KID | classes covered |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['config']} | {r['seed']} | {r['train_seconds']:.0f} | "
                     f"{r['fid']:.1f} | {r['kid']:.2f} ± {r['kid_std']:.2f} | "
                     f"{r['classes_covered']}/10 |")
    os.makedirs(RESULTS, exist_ok=True)
    stem = os.path.join(RESULTS, f"precision_quality{args.suffix}")
    with open(stem + ".json", "w") as f:
        json.dump({"epochs": args.epochs, "n": args.n, "cpu": hardware.describe(),
                   "results": results}, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
