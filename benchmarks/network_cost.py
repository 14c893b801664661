"""What each network of the DCGAN and the SNGAN costs, and what spectral
normalisation adds.

Times one forward and backward pass in training (the loss is the mean
output; gradients for every trainable weight, not applied) of each network
on one batch, as a compiled function, after two warm-up calls; the best of
`--repeats` rounds of `--calls` calls. The SNGAN discriminator is timed with
`keras_gans.layers.SpectralNormalization`, with `keras.layers.SpectralNormalization`
and with no normalisation, so the last three rows tell what the power
iterations and the division by `sigma` cost.

    python benchmarks/network_cost.py --image-size 28 --width 32

Writes `benchmarks/results/network_cost.json` and `network_cost.md`.
"""

import argparse
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

import keras_gans
from keras_gans import hardware
from keras_gans.networks import sngan

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def milliseconds_per_pass(network, inputs, calls, repeats):
    """Best time of one compiled forward and backward pass of `network`."""

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(network(inputs, training=True))
        return tape.gradient(loss, network.trainable_variables)

    forward_backward()
    forward_backward()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            forward_backward()
        best = min(best, (time.perf_counter() - start) / calls)
    return 1000 * best


def sngan_discriminator(image_shape, width, spectral_normalization):
    """The SNGAN discriminator built with another wrapper in place of
    `keras_gans.layers.SpectralNormalization`."""
    default = sngan.SpectralNormalization
    sngan.SpectralNormalization = spectral_normalization
    try:
        return sngan.SNGANDiscriminator(image_shape, width)
    finally:
        sngan.SpectralNormalization = default


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--width", type=int, default=32, help="the SNGAN's width")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    image_shape = (args.image_size, args.image_size, args.channels)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (args.batch_size, *image_shape)).astype("float32"))
    dcgan = keras_gans.DCGAN(image_shape=image_shape, seed=0)
    sngan = keras_gans.SNGAN(image_shape=image_shape, width=args.width, seed=0)
    networks = {
        "DCGAN generator": (dcgan.generator, tf.random.normal((args.batch_size,
                                                                dcgan.latent_dim))),
        "DCGAN discriminator": (dcgan.discriminator, images),
        "SNGAN generator": (sngan.generator, tf.random.normal((args.batch_size,
                                                                sngan.latent_dim))),
        "SNGAN discriminator": (sngan.discriminator, images),
        "SNGAN discriminator, keras.layers.SpectralNormalization": (
            sngan_discriminator(image_shape, args.width, keras.layers.SpectralNormalization),
            images),
        "SNGAN discriminator, no spectral normalisation": (
            sngan_discriminator(image_shape, args.width, lambda layer, **kwargs: layer), images),
    }
    rows = []
    for name, (network, inputs) in networks.items():
        rows.append({"network": name, "weights": int(network.count_params()),
                     "ms": round(milliseconds_per_pass(network, inputs, args.calls,
                                                       args.repeats), 2)})
        print(json.dumps(rows[-1]), flush=True)

    cpu = hardware.describe()
    lines = [f"One forward and backward pass in training, batch {args.batch_size}, "
             f"{args.image_size}x{args.image_size}x{args.channels}, SNGAN width {args.width}, "
             f"float32, on {cpu}.", "",
             "| network | weights | ms per pass |", "| --- | --- | --- |"]
    lines += [f"| {r['network']} | {r['weights']:,} | {r['ms']:.1f} |" for r in rows]
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "network_cost.json"), "w") as f:
        json.dump({"args": vars(args), "cpu": cpu, "rows": rows}, f, indent=1)
    with open(os.path.join(RESULTS, "network_cost.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
