"""The floor and ceiling of FID and KID in a dataset's classifier feature space.

Floor: up to `n` real training images against the test split, the best a
generator can hope for at that sample size. Ceiling: `n` images of uniform
noise in [-1, 1] against the test split. Probes show what the feature space
sees: the test split mirrored, blurred (halved and enlarged again) and, in
colour, with red and blue swapped, each against itself untouched; for emoji,
also the other style's training images against the test split. Prints one
JSON line (one per emoji style).

    python benchmarks/metric_bounds.py --dataset fashion_mnist --n 10000
    python benchmarks/metric_bounds.py --dataset emoji --image-size 64
"""

import argparse
import json

import numpy as np
from PIL import Image

from keras_gans import classifier, data, emoji, evaluation


def noise_batches(n, image_shape, batch_size, seed):
    rng = np.random.default_rng(seed)
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        yield rng.uniform(-1.0, 1.0, (count, *image_shape)).astype(np.float32)


def probes(images):
    """Transformed copies of uint8 images: what may the feature space miss?"""
    height, width = images.shape[1:3]
    blurred = np.stack([np.asarray(Image.fromarray(np.squeeze(image)).resize(
        (width // 2, height // 2), Image.BILINEAR).resize((width, height), Image.BILINEAR))
        for image in images]).reshape(images.shape)
    changed = {"mirrored": images[:, :, ::-1], "blurred": blurred}
    if images.shape[-1] == 3:
        changed["red_blue_swapped"] = images[..., ::-1]
    return changed


def sample(images, n, rng):
    """At most `n` of `images`, drawn without replacement."""
    if n >= len(images):
        return images
    return images[np.sort(rng.choice(len(images), n, replace=False))]


def bounds(args, style, other_style=None):
    load = {"data_dir": args.data_dir, "image_size": args.image_size}
    if style:
        load = {"style": style, "image_size": args.image_size or 64}
    train = data.load_images(args.dataset, "train", **load)
    test = data.load_images(args.dataset, "test", **load)
    extractor = classifier.classifier_extractor(args.dataset, image_shape=test.image_shape)
    rng = np.random.default_rng(args.seed)
    floor_images = sample(train.images, args.n, rng)

    def measured(images, seed):
        return evaluation.measure(evaluation.array_batches(images, args.batch_size),
                                  extractor, seed=seed)

    real = measured(test.images, args.seed)
    result = {
        "dataset": args.dataset,
        **({"style": style} if style else {}),
        "feature_space": extractor.name,
        "n": len(floor_images),
        "n_real": len(test.images),
        "floor_real_train_vs_test": evaluation.compare(measured(floor_images, args.seed + 1),
                                                       real, seed=args.seed),
        "ceiling_uniform_noise_vs_test": evaluation.compare(
            evaluation.measure(noise_batches(args.n, test.image_shape, args.batch_size,
                                             args.seed), extractor, seed=args.seed + 2),
            real, seed=args.seed),
    }
    result["probes_vs_test"] = {
        name: evaluation.compare(measured(images, args.seed + 4), real, seed=args.seed)
        for name, images in probes(test.images).items()}
    if other_style:
        other = data.load_images(args.dataset, "train", style=other_style,
                                 image_size=args.image_size or 64)
        result[f"{other_style}_train_vs_test"] = evaluation.compare(
            measured(sample(other.images, args.n, rng), args.seed + 3), real,
            seed=args.seed)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--image-size", type=int, help="image side (emoji: 32 or 64)")
    parser.add_argument("--style", choices=tuple(emoji.PACKAGES),
                        help="one emoji style (default: both)")
    parser.add_argument("--n", type=int, default=10000,
                        help="training (or noise) images compared with the test split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    if args.dataset != "emoji":
        print(json.dumps(bounds(args, None)))
        return
    for style in [args.style] if args.style else list(emoji.PACKAGES):
        other_style = next(s for s in emoji.PACKAGES if s != style)
        print(json.dumps(bounds(args, style, other_style)), flush=True)


if __name__ == "__main__":
    main()
