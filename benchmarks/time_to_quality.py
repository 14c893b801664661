"""Time to quality: training time until FID first reaches a target.

Trains the reference (TensorFlow's DCGAN tutorial recipe, float32, batch 256)
for `--reference-minutes`, measuring FID every `--eval-every` seconds of
training; its last FID becomes the target. Then trains keras-gans' DCGAN with
the fastest settings of `throughput.py` (batch 64, EMA, and `mixed_bfloat16`
where the CPU computes bfloat16 natively) until its FID reaches the target, or
for as long as the reference trained. The clock counts training only: it stops
while FID is measured.

FID is measured on `--n` samples against the Fashion-MNIST test set in the
bundled classifier's feature space.

    python benchmarks/time_to_quality.py --reference-minutes 10 --eval-every 60

Writes `benchmarks/results/time_to_quality.json` and `.md`, and the reference's
generator to `runs/reference_dcgan/` for `build_zoo.py`.
"""

import argparse
import json
import os
import time

import keras
from reference_dcgan import TutorialDCGAN

import keras_gans
from keras_gans import data, evaluation, hardware

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


class FIDClock(keras.callbacks.Callback):
    """Measures FID every `every` seconds of training time; stops at `target`
    or after `limit` seconds of training."""

    def __init__(self, every, limit, n, target=None):
        super().__init__()
        self.every, self.limit, self.n, self.target = every, limit, n, target
        self.curve = []

    def on_train_begin(self, logs=None):
        self.train_seconds = 0.0
        self.last = time.perf_counter()
        self.next_eval = self.every

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.train_seconds += now - self.last
        if self.train_seconds >= self.next_eval or self.train_seconds >= self.limit:
            fid = evaluation.evaluate_generator(self.model, n=self.n)["fid"]
            self.curve.append((round(self.train_seconds, 1), round(fid, 3)))
            print(json.dumps({"model": self.model.name, "seconds": self.curve[-1][0],
                              "fid": fid}), flush=True)
            self.next_eval += self.every
            reached = self.target is not None and fid <= self.target
            if reached or self.train_seconds >= self.limit:
                self.model.stop_training = True
        self.last = time.perf_counter()

    def first_time_at_or_below(self, target):
        return next((seconds for seconds, fid in self.curve if fid <= target), None)


def train(model, dataset, clock):
    model.fit(dataset, epochs=10_000, verbose=0, callbacks=[clock])
    return clock


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-minutes", type=float, default=20.0)
    parser.add_argument("--eval-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", default="runs/reference_dcgan")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"),
                        help="keras-gans' dtype policy (default: mixed_bfloat16 where the "
                        "CPU computes bfloat16 natively, else float32)")
    args = parser.parse_args()
    precision = args.precision or (
        "mixed_bfloat16" if hardware.cpu_has_native_bfloat16() else "float32")
    limit = args.reference_minutes * 60
    images = data.load_images("fashion_mnist", "train").images

    reference = TutorialDCGAN(name="reference")
    reference.compile()
    reference_clock = train(reference, data.make_dataset(images, batch_size=256, seed=0),
                            FIDClock(args.eval_every, limit, args.n))
    target = reference_clock.curve[-1][1]
    os.makedirs(args.out, exist_ok=True)
    reference.generator.save(os.path.join(args.out, "generator.keras"))
    steps = int(reference.generator_optimizer.iterations)
    with open(os.path.join(args.out, "run.json"), "w") as f:
        json.dump({"budget_minutes": args.reference_minutes,
                   "wall_time_seconds": reference_clock.train_seconds,
                   "epochs": round(steps * 256 / len(images), 2),
                   "steps": steps, "batch_size": 256}, f)

    keras.mixed_precision.set_global_policy(precision)
    dcgan = keras_gans.DCGAN(seed=0, ema_decay=0.999, name="keras_gans_dcgan")
    dcgan.compile()
    dcgan_clock = train(dcgan, data.make_dataset(images, batch_size=64, seed=0),
                        FIDClock(args.eval_every / 2, limit, args.n, target=target))

    reference_time = reference_clock.first_time_at_or_below(target)
    dcgan_time = dcgan_clock.first_time_at_or_below(target)
    result = {"target_fid": target, "n": args.n,
              "reference": {"seconds_to_target": reference_time,
                            "curve": reference_clock.curve},
              "keras_gans_dcgan": {"seconds_to_target": dcgan_time,
                                   "curve": dcgan_clock.curve}}
    speedup = f"{reference_time / dcgan_time:.1f}x" if dcgan_time else "not reached"
    lines = [
        f"On {hardware.describe()}. Target: the reference's FID after "
        f"{args.reference_minutes:.0f} min of training, "
        f"{target:.3g} (n={args.n}, classifier features).", "",
        "| model | training seconds to target | FID curve (seconds, FID) |",
        "| --- | --- | --- |",
        f"| reference (TF tutorial, float32, b256) | {reference_time} | "
        f"{reference_clock.curve} |",
        f"| keras-gans DCGAN ({precision}, b64, EMA) | {dcgan_time} | "
        f"{dcgan_clock.curve} |", "",
        f"Speed-up to the target: {speedup}.",
    ]
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "time_to_quality.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(RESULTS, "time_to_quality.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
