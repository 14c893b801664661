"""Where a DCGAN training step spends its time.

Times, for the same model and batch, the pieces of `GAN.train_step` as
separate compiled functions, each after a warm-up:

- the input pipeline alone (`keras_gans.data.make_dataset`), to show whether
  it can starve the step;
- the generator's forward pass;
- forward passes of both networks (G, then D on the real and the fake batch);
- forward plus both backward passes (the two tapes' gradients, not applied);
- the whole `train_step` through `fit` (gradients applied by both optimizers,
  EMA and metrics updated).

Each policy runs in its own process, so the dtype policy is set cleanly.

    python benchmarks/profile_step.py --batch-size 64 --seconds 5

Writes `benchmarks/results/profile_step.json` and `profile_step.md`.
"""

import argparse
import json
import os
import time

from child_process import run_child

from keras_gans import hardware

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
POLICIES = ("float32", "mixed_bfloat16")


def time_call(function, seconds):
    """Milliseconds per call of `function`, after two warm-up calls."""
    function()
    function()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        function()
        calls += 1
    return 1000 * (time.perf_counter() - start) / calls


def profile(policy, batch_size, seconds):
    """Runs in a child process: milliseconds per step of each piece."""
    import keras
    import tensorflow as tf

    import keras_gans
    from keras_gans import data

    keras.mixed_precision.set_global_policy(policy)
    images = data.load_images("fashion_mnist", "train").images
    gan = keras_gans.DCGAN(seed=0, ema_decay=0.999)
    gan.compile()
    real = tf.constant(images[:batch_size].astype("float32") / 127.5 - 1.0)
    z = tf.random.normal((batch_size, gan.latent_dim))

    batches = iter(data.make_dataset(images, batch_size=batch_size, seed=0, repeat=True))

    @tf.function
    def generator_forward():
        return gan.generator(z, training=True)

    @tf.function
    def forward():
        return gan.discriminate(real, gan.generator(z, training=True))

    @tf.function
    def forward_backward():
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            real_logits, fake_logits = gan.discriminate(real, gan.generator(z, training=True))
            d_loss = gan.adversarial_loss.discriminator_loss(real_logits, fake_logits)
            g_loss = gan.adversarial_loss.generator_loss(fake_logits)
        return (d_tape.gradient(d_loss, gan.discriminator.trainable_variables),
                g_tape.gradient(g_loss, gan.generator.trainable_variables))

    class StepTimes(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())
            if self.times[-1] - self.times[0] > seconds:
                self.model.stop_training = True

    # One long fit; the first fifth of the steps (tracing, warm-up) is dropped.
    step_times = StepTimes()
    gan.fit(tf.data.Dataset.from_tensors(real).repeat(), steps_per_epoch=1_000_000,
            epochs=1, verbose=0, callbacks=[step_times])
    warm = step_times.times[len(step_times.times) // 5:]
    return {
        "input pipeline": time_call(lambda: next(batches), seconds),
        "generator forward": time_call(generator_forward, seconds),
        "forward (G, D on real and fake)": time_call(forward, seconds),
        "forward + both backward passes": time_call(forward_backward, seconds),
        "whole train_step in fit": 1000 * (warm[-1] - warm[0]) / (len(warm) - 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(profile(args.child, args.batch_size, args.seconds)))
        return

    results = {}
    for policy in POLICIES:
        results[policy] = run_child(__file__, "--child", policy, "--batch-size",
                                    args.batch_size, "--seconds", args.seconds)
        print(json.dumps({"policy": policy, **results[policy]}), flush=True)

    step = {policy: results[policy]["whole train_step in fit"] for policy in POLICIES}
    lines = [f"DCGAN step at batch {args.batch_size} on {hardware.describe()}: "
             "milliseconds per batch, and share of the whole step.",
             "", "| piece | " + " | ".join(POLICIES) + " |",
             "|" + " --- |" * (len(POLICIES) + 1)]
    for piece in results[POLICIES[0]]:
        cells = [f"{results[p][piece]:.2f} ms ({results[p][piece] / step[p]:.0%})"
                 for p in POLICIES]
        lines.append(f"| {piece} | " + " | ".join(cells) + " |")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "profile_step.json"), "w") as f:
        json.dump({"batch_size": args.batch_size, "milliseconds": results}, f, indent=1)
    with open(os.path.join(RESULTS, "profile_step.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
