"""The floor and ceiling of FID and KID in the classifier's feature space.

Floor: `n` real training images against the test split, the best a generator
can hope for at that sample size. Ceiling: `n` images of uniform noise in
[-1, 1] against the test split. Prints one JSON line.

    python benchmarks/metric_bounds.py --dataset fashion_mnist --n 10000
"""

import argparse
import json

import numpy as np

from keras_gans import classifier, data, evaluation


def noise_batches(n, image_shape, batch_size, seed):
    rng = np.random.default_rng(seed)
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        yield rng.uniform(-1.0, 1.0, (count, *image_shape)).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    extractor = classifier.classifier_extractor(args.dataset)
    train = data.load_images(args.dataset, "train", data_dir=args.data_dir)
    test = data.load_images(args.dataset, "test", data_dir=args.data_dir)
    rng = np.random.default_rng(args.seed)
    chosen = np.sort(rng.choice(len(train.images), args.n, replace=False))

    real = evaluation.measure(evaluation.array_batches(test.images, args.batch_size),
                              extractor, seed=args.seed)
    floor = evaluation.measure(
        evaluation.array_batches(train.images[chosen], args.batch_size), extractor,
        seed=args.seed + 1)
    ceiling = evaluation.measure(
        noise_batches(args.n, test.image_shape, args.batch_size, args.seed), extractor,
        seed=args.seed + 2)
    print(json.dumps({
        "dataset": args.dataset,
        "feature_space": extractor.name,
        "n": args.n,
        "n_real": len(test.images),
        "floor_real_train_vs_test": evaluation.compare(floor, real, seed=args.seed),
        "ceiling_uniform_noise_vs_test": evaluation.compare(ceiling, real, seed=args.seed),
    }))


if __name__ == "__main__":
    main()
