"""Trains the classifier whose features keras-gans measures GANs with.

Writes `keras_gans/assets/<dataset>_classifier.weights.h5` and prints one JSON
line with the test accuracy. Fashion-MNIST reads Debian's
`dataset-fashion-mnist` package; other datasets need `--data-dir` (or
tensorflow-datasets with internet access).

    python benchmarks/train_classifier.py --dataset fashion_mnist
    python benchmarks/train_classifier.py --dataset mnist --data-dir ~/mnist
"""

import argparse
import json
import os
import time

from keras_gans import classifier

MAX_WEIGHTS_BYTES = 2 * 1024 * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-augment", action="store_true",
                        help="train without random shifts")
    parser.add_argument("--out", help="weights file (default: the package's asset)")
    args = parser.parse_args()

    start = time.time()
    model, accuracy = classifier.train_classifier(
        args.dataset, data_dir=args.data_dir, epochs=args.epochs,
        batch_size=args.batch_size, augment=not args.no_augment, seed=args.seed,
        verbose=2)
    seconds = time.time() - start
    out = args.out or classifier.classifier_weights_path(args.dataset)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    classifier.save_classifier_weights(model, out)
    size = os.path.getsize(out)
    if size > MAX_WEIGHTS_BYTES:
        raise SystemExit(f"{out} holds {size} bytes, more than {MAX_WEIGHTS_BYTES}.")
    print(json.dumps({
        "dataset": args.dataset,
        "test_accuracy": round(accuracy, 4),
        "epochs": args.epochs,
        "augment": not args.no_augment,
        "parameters": model.count_params(),
        "weights": out,
        "weights_bytes": size,
        "train_seconds": round(seconds, 1),
    }))


if __name__ == "__main__":
    main()
