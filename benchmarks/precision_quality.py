"""Sample quality under each dtype policy after the same training.

Trains the same DCGAN (same seed, data order, batch and epochs) once per
policy and seed, each in its own process, and evaluates each with the same
FID, KID and class coverage, to check that a faster policy costs no quality.
Two seeds per policy show how far runs differ by chance alone.

    python benchmarks/precision_quality.py --epochs 3 --n 5000 --seeds 2 --jit-compile

Writes `benchmarks/results/precision_quality.json` and `.md`.
"""

import argparse
import json
import os
import time

from child_process import run_child

from keras_gans import hardware

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
POLICIES = ("float32", "mixed_bfloat16")


def train_and_evaluate(policy, seed, epochs, n, jit_compile):
    """Runs in a child process."""
    import keras

    import keras_gans
    from keras_gans import data, evaluation

    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(seed)
    gan = keras_gans.DCGAN(seed=seed, ema_decay=0.999)
    gan.compile(jit_compile=jit_compile or "auto")
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
    parser.add_argument("--jit-compile", action="store_true", help="compile with XLA")
    parser.add_argument("--child", nargs=2, metavar=("POLICY", "SEED"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        policy, seed = args.child[0], int(args.child[1])
        print(json.dumps(train_and_evaluate(policy, seed, args.epochs, args.n,
                                            args.jit_compile)))
        return

    results = []
    for seed in range(args.seeds):
        for policy in POLICIES:
            options = ["--jit-compile"] if args.jit_compile else []
            result = run_child(__file__, "--child", policy, seed, "--epochs", args.epochs,
                               "--n", args.n, *options)
            results.append({"policy": policy, "seed": seed, **result})
            print(json.dumps(results[-1]), flush=True)

    compiler = "XLA" if args.jit_compile else "no XLA"
    lines = [f"DCGAN (EMA 0.999, batch 64, {compiler}) after {args.epochs} epochs of "
             f"Fashion-MNIST on {hardware.describe()}; FID and KID on n={args.n} against "
             "the test set.", "",
             "| policy | seed | training seconds | FID | KID | classes covered |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['policy']} | {r['seed']} | {r['train_seconds']:.0f} | "
                     f"{r['fid']:.1f} | {r['kid']:.2f} ± {r['kid_std']:.2f} | "
                     f"{r['classes_covered']}/10 |")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "precision_quality.json"), "w") as f:
        json.dump({"epochs": args.epochs, "n": args.n, "jit_compile": args.jit_compile,
                   "results": results}, f, indent=1)
    with open(os.path.join(RESULTS, "precision_quality.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
