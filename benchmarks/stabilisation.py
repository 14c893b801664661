"""DCGAN on Fashion-MNIST with each stabilisation technique on, for one budget.

Every run trains `keras_gans.DCGAN` for the same number of steps from the same
seed, with one technique switched on, then reports FID, KID and class coverage
in the bundled classifier's feature space (`evaluate_generator`, n samples vs
the test set). The baseline is repeated with `--baseline-seeds` seeds: the
spread of its FID is the noise band, and a technique whose FID lies inside it
is marked as such.

    python benchmarks/stabilisation.py --steps 600 --n 2000
    python benchmarks/stabilisation.py --only "spectral norm + hinge (SNGAN)"

Writes `benchmarks/results/stabilisation.json` and `stabilisation.md`.
"""

import argparse
import json
import os
import time

import keras

import keras_gans
from keras_gans import data, evaluation

# name -> (constructor options, compile options, discriminator pre-training steps)
TECHNIQUES = {
    "baseline (non-saturating)": ({}, {}, 0),
    "minimax loss": ({}, {"loss": "minimax"}, 0),
    "least squares (LSGAN)": ({}, {"loss": "lsgan"}, 0),
    "hinge": ({}, {"loss": "hinge"}, 0),
    "wasserstein loss, no constraint": ({}, {"loss": "wasserstein"}, 0),
    "f-GAN KL": ({}, {"loss": "kl"}, 0),
    "f-GAN reverse KL": ({}, {"loss": "reverse_kl"}, 0),
    "f-GAN Jensen-Shannon": ({}, {"loss": "jensen_shannon"}, 0),
    "f-GAN Pearson chi^2": ({}, {"loss": "pearson"}, 0),
    "spectral norm + hinge (SNGAN)": ({"spectral_norm": True}, {"loss": "hinge"}, 0),
    "R1 penalty (gamma 1)": ({}, {"r1_weight": 1.0}, 0),
    "one-sided label smoothing 0.1": ({}, {"label_smoothing": 0.1}, 0),
    "instance noise 0.1, annealed": ({}, {"instance_noise": 0.1, "instance_noise_steps": -1}, 0),
    "feature matching": ({}, {"feature_matching": True}, 0),
    "historical averaging 1e-4": ({"historical_averaging": 1e-4}, {}, 0),
    "D pre-training (100 steps)": ({}, {}, 100),
    "TTUR (D 4e-4, G 1e-4)": ({}, {"ttur": True}, 0),
    "EMA of G (0.999)": ({"ema_decay": 0.999}, {}, 0),
    "DiffAugment translation,cutout": ({}, {"diff_augment": "translation,cutout"}, 0),
    "minibatch stddev": ({"minibatch_stddev": True}, {}, 0),
}

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def train_and_evaluate(name, seed, steps, batch_size, n, images):
    model_options, compile_options, pretrain_steps = TECHNIQUES[name]
    compile_options = dict(compile_options)
    if compile_options.pop("ttur", False):
        compile_options["d_optimizer"] = keras.optimizers.Adam(4e-4, beta_1=0.5)
        compile_options["g_optimizer"] = keras.optimizers.Adam(1e-4, beta_1=0.5)
    if compile_options.get("instance_noise_steps") == -1:
        compile_options["instance_noise_steps"] = steps
    keras.utils.set_random_seed(seed)
    gan = keras_gans.DCGAN(seed=seed, **model_options)
    gan.compile(**compile_options)
    dataset = data.make_dataset(images, batch_size=batch_size, seed=seed, repeat=True)
    start = time.time()
    if pretrain_steps:
        gan.pretrain_discriminator(dataset, pretrain_steps, verbose=0)
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.time() - start
    result = evaluation.evaluate_generator(gan, dataset="fashion_mnist", n=n, seed=seed)
    return {"technique": name, "seed": seed, "train_seconds": round(seconds, 1),
            **{k: result[k] for k in ("fid", "kid", "coverage_min", "classes_covered")}}


def write_results(args, runs):
    """The JSON of every run and the Markdown table with each technique's verdict."""
    baseline = [r["fid"] for r in runs if r["technique"].startswith("baseline")]
    low, high = min(baseline), max(baseline)
    lines = [f"DCGAN, {args['steps']} steps at batch {args['batch_size']} on Fashion-MNIST, "
             f"FID/KID on {args['n']} samples in the bundled classifier's feature space "
             "(lower is better). Baseline FID over "
             f"{len(baseline)} seeds: {low:.3g} to {high:.3g}; a technique inside that band "
             "is marked 'noise'.", "",
             "| technique | seed | FID | KID | min class share | classes >= 5% | "
             "verdict |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        if r["technique"].startswith("baseline"):
            verdict = "baseline"
        elif low <= r["fid"] <= high:
            verdict = "noise"
        else:
            verdict = "better" if r["fid"] < low else "worse"
        lines.append(f"| {r['technique']} | {r['seed']} | {r['fid']:.3g} | {r['kid']:.3g} | "
                     f"{r['coverage_min']:.2f} | {r['classes_covered']} | {verdict} |")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "stabilisation.json"), "w") as f:
        json.dump({"args": args, "runs": runs}, f, indent=1)
    with open(os.path.join(RESULTS, "stabilisation.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n", type=int, default=2000, help="samples evaluated")
    parser.add_argument("--baseline-seeds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=1, help="seeds of every other run")
    parser.add_argument("--only", action="append", choices=list(TECHNIQUES),
                        metavar="TECHNIQUE",
                        help="measure this technique again with the stored results' "
                             "settings and replace its rows (repeatable)")
    args = parser.parse_args()

    images = data.load_images("fashion_mnist", "train").images
    if args.only:
        with open(os.path.join(RESULTS, "stabilisation.json")) as f:
            stored = json.load(f)
        settings = stored["args"]
        runs = stored["runs"]
        for index, run in enumerate(runs):
            if run["technique"] in args.only:
                runs[index] = train_and_evaluate(run["technique"], run["seed"],
                                                 settings["steps"], settings["batch_size"],
                                                 settings["n"], images)
                print(json.dumps(runs[index]), flush=True)
        write_results(settings, runs)
        return

    runs = []
    for name in TECHNIQUES:
        seeds = args.baseline_seeds if name.startswith("baseline") else args.seeds
        for seed in range(seeds):
            runs.append(train_and_evaluate(name, seed, args.steps, args.batch_size, args.n,
                                           images))
            print(json.dumps(runs[-1]), flush=True)
    settings = {key: value for key, value in vars(args).items() if key != "only"}
    write_results(settings, runs)


if __name__ == "__main__":
    main()
