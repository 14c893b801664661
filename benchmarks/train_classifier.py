"""Trains the classifier whose features keras-gans measures GANs with.

Writes `keras_gans/assets/<dataset>_classifier.weights.h5` (emoji:
`emoji_<size>_classifier.weights.h5`) and prints one JSON line with the
accuracy and balanced accuracy (the mean of per-class recalls) on each test
split: emoji trains on both styles' training splits and is scored per style.
Fashion-MNIST reads Debian's `dataset-fashion-mnist` package, emoji the npm
packages' cache (`keras_gans.emoji`); other datasets need `--data-dir` (or
tensorflow-datasets with internet access).

    python benchmarks/train_classifier.py --dataset fashion_mnist
    python benchmarks/train_classifier.py --dataset emoji --image-size 64 --flip --colour 0.2
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
    parser.add_argument("--image-size", type=int, help="image side (emoji: 32 or 64)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-augment", action="store_true",
                        help="train without random shifts")
    parser.add_argument("--flip", action="store_true", help="also mirror at random")
    parser.add_argument("--colour", type=float, default=0.0,
                        help="jitter brightness, contrast and saturation by up to this")
    parser.add_argument("--balanced", action="store_true",
                        help="weight the classes' losses by the inverse of their shares")
    parser.add_argument("--style-head", action="store_true",
                        help="emoji: the features also learn each image's style")
    parser.add_argument("--out", help="weights file (default: the package's asset)")
    args = parser.parse_args()

    start = time.time()
    model, scores = classifier.train_classifier(
        args.dataset, data_dir=args.data_dir, image_size=args.image_size,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        augment=not args.no_augment, flip=args.flip, colour=args.colour,
        balanced=args.balanced, style_head=args.style_head, seed=args.seed,
        verbose=2)
    seconds = time.time() - start
    out = args.out or classifier.classifier_weights_path(args.dataset, args.image_size)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    classifier.save_classifier_weights(model, out)
    size = os.path.getsize(out)
    if size > MAX_WEIGHTS_BYTES:
        raise SystemExit(f"{out} holds {size} bytes, more than {MAX_WEIGHTS_BYTES}.")
    print(json.dumps({
        "dataset": args.dataset,
        "image_shape": list(model.input_shape[1:]),
        "test": scores,
        "epochs": args.epochs,
        "augment": {"shift": not args.no_augment, "flip": args.flip, "colour": args.colour},
        "balanced": args.balanced,
        "style_head": args.style_head,
        "parameters": model.count_params(),
        "weights": out,
        "weights_bytes": size,
        "train_seconds": round(seconds, 1),
    }))


if __name__ == "__main__":
    main()
