"""What the moving average of the generator is worth: a preset scored twice.

Evaluates a preset's sampling generator (the EMA copy) and the generator it
averages, on the same noise, against the real test split of the dataset the
preset names, in the bundled classifier's feature space. Prints one JSON
line per preset.

    python benchmarks/ema_effect.py progan_fashion_mnist --n 5000
    python benchmarks/ema_effect.py runs/progan_fashion_mnist/preset --n 10000
"""

import argparse
import json

from keras_gans import evaluation, pretrained, saving


def score(model, metadata, n):
    result = evaluation.evaluate_generator(
        model, dataset=metadata.get("dataset", "fashion_mnist"),
        data_dir=metadata.get("data_dir"), style=metadata.get("style", "google"), n=n)
    return {key: result[key] for key in ("fid", "kid", "classes_covered", "coverage_min")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+", help="preset names or directories")
    parser.add_argument("--n", type=int, default=10000, help="samples per score")
    args = parser.parse_args()
    for name in args.presets:
        path = pretrained.pretrained_path(name)
        model = pretrained.load_pretrained(name)
        if getattr(model, "ema_generator", None) is None:
            raise SystemExit(f"{name} keeps no moving average of its generator.")
        metadata = saving.read_metadata(path)
        averaged = score(model, metadata, args.n)
        model.ema_generator = None  # sample from the generator the average follows
        trained = score(model, metadata, args.n)
        print(json.dumps({"preset": name, "n": args.n, "ema": averaged, "trained": trained}),
              flush=True)


if __name__ == "__main__":
    main()
