"""Equal CPU time: train a variant for a fixed budget of CPU time, then score it.

Runs one recipe per call and adds its row to
`benchmarks/results/equal_time_<dataset>_<size>.json`, so recipes compared in
one table got the same budget. The clock is the process's CPU time during
training batches (`time.process_time`, all threads), so an evaluation or a
busy neighbour on another core does not count. Pin each run to its own core
(`taskset -c 1`) and say which CPU the table came from; compare rows of one
machine only.

FID, KID and class coverage are measured every `--eval-every` CPU minutes on
`--n` samples against the real test split in the bundled classifier's feature
space, with the EMA generator where the recipe keeps one.

    taskset -c 1 python benchmarks/equal_time.py dcgan --label dcgan \\
        --cpu-minutes 20 --option ema_decay=0.999
    taskset -c 1 python benchmarks/equal_time.py sngan --label sngan-w64 \\
        --cpu-minutes 20 --option width=64 --option ema_decay=0.999
    taskset -c 0 python benchmarks/equal_time.py progan --dataset emoji \\
        --image-size 64 --cpu-minutes 30 --eval-every 10 \\
        --option fade_images=6000 --option stable_images=6000
    python benchmarks/equal_time.py --table

`--save DIR` writes the final model as a preset (`save_to_preset`) and
evaluates it on `--zoo-n` samples into its `metadata.json`, as the zoo lists
its models.
"""

import argparse
import ast
import json
import os
import shlex
import sys
import time

import keras

from keras_gans import data, evaluation, hardware

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


class CPUClock(keras.callbacks.Callback):
    """Counts the process's CPU seconds inside training batches, scores the
    model every `every` of them and stops training after `limit`."""

    def __init__(self, every, limit, score):
        super().__init__()
        self.every, self.limit, self.score = every, limit, score
        self.cpu_seconds, self.next_score, self.curve = 0.0, every, []
        self.batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self.cpu_seconds += time.process_time() - self.started
        self.batches += 1
        if self.cpu_seconds >= min(self.next_score, self.limit):
            self.curve.append({"cpu_minutes": round(self.cpu_seconds / 60, 2),
                               **self.score(self.model)})
            print(json.dumps(self.curve[-1]), flush=True)
            self.next_score += self.every
            if self.cpu_seconds >= self.limit:
                self.model.stop_training = True


def parse_option(text):
    """`"width=64"` -> `("width", 64)`; values are Python literals or strings."""
    name, _, value = text.partition("=")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def images_seen(model, batches_read):
    """The images D trained on: ProGAN counts them (its stages read part of a
    batch); other variants read every image of each batch."""
    counter = getattr(model, "images_seen", None)
    return batches_read if counter is None else int(keras.ops.convert_to_numpy(counter))


def results_path(dataset, image_size):
    return os.path.join(RESULTS, f"equal_time_{dataset}_{image_size}.json")


def table(path):
    with open(path) as f:
        rows = json.load(f)
    lines = ["| recipe | CPU | CPU min | steps | images | FID | KID x1000 | min class | "
             "classes >= 5% (real) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, row in rows.items():
        last = row["curve"][-1]
        lines.append(
            f"| {label} | {row['cpu']} | {last['cpu_minutes']} | {row['steps']} | "
            f"{row['images_seen']} | {last['fid']:.2f} | {last['kid']:.2f} | "
            f"{last['coverage_min']:.2%} | {last['classes_covered']} "
            f"({last['classes_covered_real']}) |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", nargs="?", help="a variant name, e.g. dcgan or sngan")
    parser.add_argument("--label", help="the recipe's row name (default: the variant)")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--style", default="google", help="emoji style")
    parser.add_argument("--image-size", type=int, help="default: the dataset's")
    parser.add_argument("--cpu-minutes", type=float, default=20.0)
    parser.add_argument("--eval-every", type=float, default=5.0, help="CPU minutes")
    parser.add_argument("--n", type=int, default=5000, help="samples per score")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="images per (critic) minibatch")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a constructor argument of the variant (repeatable)")
    parser.add_argument("--compile-option", action="append", default=[],
                        metavar="NAME=VALUE", help="an argument of compile (repeatable)")
    parser.add_argument("--learning-rate", type=float,
                        help="Adam learning rate of both players, keeping the variant's "
                        "betas (default: the variant's optimizers)")
    parser.add_argument("--d-lr", type=float, help="D's learning rate (over --learning-rate)")
    parser.add_argument("--g-lr", type=float, help="G's learning rate (over --learning-rate)")
    parser.add_argument("--adam-betas", metavar="BETA_1,BETA_2",
                        help="Adam's betas for both players, e.g. 0.5,0.999 "
                        "(default: the variant's)")
    parser.add_argument("--precision", default="float32",
                        help="dtype policy, e.g. mixed_bfloat16 (default: float32)")
    parser.add_argument("--save", metavar="DIR", help="write the final model as a preset")
    parser.add_argument("--zoo-n", type=int, default=10000,
                        help="samples of the saved model's final evaluation")
    parser.add_argument("--finish-preset", nargs=2, metavar=("DIR", "LABEL"),
                        help="complete the metadata of a preset saved by the run LABEL")
    parser.add_argument("--table", action="store_true", help="print the table and exit")
    args = parser.parse_args()
    image_size = args.image_size or {"fashion_mnist": 28}.get(args.dataset, 32)
    path = results_path(args.dataset, image_size)
    if args.table:
        print(table(path))
        return
    if args.finish_preset:
        with open(path) as f:
            row = json.load(f)[args.finish_preset[1]]
        finish_preset(args.finish_preset[0], row, args.zoo_n)
        return
    if not args.variant:
        parser.error("give a variant, or --table")

    from keras_gans.models import get_variant

    keras.mixed_precision.set_global_policy(args.precision)
    images = data.load_images(args.dataset, "train", image_size=image_size,
                              style=args.style)
    variant = get_variant(args.variant)
    shape = images.images.shape[1:]
    model = variant(image_shape=shape, seed=0, **dict(map(parse_option, args.option)))
    if model.grows:  # ProGAN: each stage's batch is cut from one of the largest
        step_batch = max(model.schedule.batch_sizes.values())
    else:  # A step of WGAN or SNGAN reads n_critic minibatches of --batch-size.
        step_batch = args.batch_size * model.minibatches_per_step(model.get_config())
    dataset = data.make_dataset(images.images, batch_size=step_batch, seed=0)
    compile_options = dict(map(parse_option, args.compile_option))
    player_rates = {"discriminator": args.d_lr, "generator": args.g_lr}
    if args.learning_rate or args.adam_betas or args.d_lr or args.g_lr:
        for player, prefix in model.players.items():
            optimizer = model.default_optimizer()
            learning_rate = player_rates.get(player) or args.learning_rate
            if learning_rate:
                optimizer.learning_rate = learning_rate
            if args.adam_betas:
                optimizer.beta_1, optimizer.beta_2 = map(float, args.adam_betas.split(","))
            compile_options[f"{prefix}_optimizer"] = optimizer
    model.compile(**compile_options)

    def score(model):
        result = evaluation.evaluate_generator(model, dataset=args.dataset, style=args.style,
                                               n=args.n)
        return {key: result[key] for key in ("fid", "kid", "coverage_min",
                                             "classes_covered", "classes_covered_real")}

    clock = CPUClock(args.eval_every * 60, args.cpu_minutes * 60, score)
    started = time.perf_counter()
    model.fit(dataset, epochs=100_000, verbose=0, callbacks=[clock])
    steps = model.steps_taken
    row = {"variant": args.variant, "options": args.option,
           "compile_options": args.compile_option, "learning_rate": args.learning_rate,
           "d_lr": args.d_lr, "g_lr": args.g_lr, "adam_betas": args.adam_betas,
           "batch_size": args.batch_size, "cpu": hardware.describe(),
           "wall_minutes": round((time.perf_counter() - started) / 60, 1),
           "precision": args.precision, "steps": steps,
           "images_seen": images_seen(model, clock.batches * step_batch),
           "curve": clock.curve}
    if args.save:
        command = "python benchmarks/equal_time.py " + shlex.join(sys.argv[1:])
        model.save_to_preset(args.save, metadata={
            "dataset": args.dataset, "style": args.style if args.dataset == "emoji" else None,
            "command": command, "cpu": row["cpu"], "cpu_minutes": args.cpu_minutes,
            "batch_size": args.batch_size, "precision": args.precision, **clock.curve[-1]})

    os.makedirs(RESULTS, exist_ok=True)
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            rows = json.load(f)
    rows[args.label or args.variant] = row
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    print(table(path))
    if args.save:
        finish_preset(args.save, row, args.zoo_n)


def finish_preset(directory, row, n):
    """Completes a saved run's `metadata.json` as the zoo lists its models: the
    whole evaluation on `n` samples, the class names, epochs and times."""
    from keras_gans import saving

    model = saving.load_preset(directory)
    metadata = saving.read_metadata(directory)
    images = data.load_images(metadata["dataset"], "train", image_size=model.image_shape[0],
                              style=metadata.get("style") or "google")
    result = evaluation.evaluate_generator(model, dataset=metadata["dataset"],
                                           style=metadata.get("style") or "google", n=n)
    metadata.update(result, class_names=images.class_names,
                    epochs=round(row["images_seen"] / len(images.images), 2),
                    steps=row["steps"], images_seen=row["images_seen"],
                    cpu_minutes=row["curve"][-1]["cpu_minutes"],
                    wall_time_seconds=round(row["wall_minutes"] * 60),
                    **saving.run_provenance(model))
    saving.write_metadata(directory, metadata)
    print(f"{directory}: FID {result['fid']:.2f} on n={n}")


if __name__ == "__main__":
    main()
