"""keras_gans.networks: every generator and discriminator builds from its
constructor arguments alone, runs on a batch, rebuilds from its config and
survives a `.keras` round trip; the variants build their players from it."""

import json

import keras
import numpy as np
import pytest
from keras import ops

import keras_gans
from keras_gans import networks

BATCH = 2
LABELS = np.array([0, 2], "int32")


def z(latent_dim):
    return np.random.default_rng(0).normal(size=(BATCH, latent_dim)).astype("float32")


def images(shape):
    return np.random.default_rng(1).uniform(-1, 1, (BATCH, *shape)).astype("float32")


# (network, its input batch, the output shape of one example), tiny sizes.
CASES = {
    "mlp_generator": (
        lambda: networks.MLPGenerator((8, 8, 1), latent_dim=4, units=(8,)),
        z(4),
        (8, 8, 1),
    ),
    "mlp_discriminator": (
        lambda: networks.MLPDiscriminator(
            (8, 8, 1), units=(8, 4), spectral_norm=True, minibatch_stddev=True
        ),
        images((8, 8, 1)),
        (1,),
    ),
    "dcgan_generator": (
        lambda: networks.DCGANGenerator((16, 16, 1), latent_dim=4, base_filters=4),
        z(4),
        (16, 16, 1),
    ),
    "dcgan_generator_conditional": (
        lambda: networks.DCGANGenerator(
            (16, 16, 3), latent_dim=4, base_filters=4, num_classes=3, embedding_dim=2
        ),
        [z(4), LABELS],
        (16, 16, 3),
    ),
    "dcgan_critic": (
        lambda: networks.DCGANDiscriminator((16, 16, 1), base_filters=4, normalization="layer"),
        images((16, 16, 1)),
        (1,),
    ),
    "dcgan_discriminator_conditional": (
        lambda: networks.DCGANDiscriminator(
            (16, 16, 3), 4, spectral_norm=True, minibatch_stddev=True, num_classes=3
        ),
        [images((16, 16, 3)), LABELS],
        (1,),
    ),
    "sngan_generator": (
        lambda: networks.SNGANGenerator((8, 8, 1), latent_dim=4, width=4),
        z(4),
        (8, 8, 1),
    ),
    "sngan_generator_conditional": (
        lambda: networks.SNGANGenerator((8, 8, 3), latent_dim=4, width=4, num_classes=3),
        [z(4), LABELS],
        (8, 8, 3),
    ),
    "sngan_discriminator": (
        lambda: networks.SNGANDiscriminator((8, 8, 1), width=4),
        images((8, 8, 1)),
        (1,),
    ),
    "sngan_projection_discriminator": (
        lambda: networks.SNGANDiscriminator((8, 8, 3), width=4, num_classes=3),
        [images((8, 8, 3)), LABELS],
        (1,),
    ),
    "progressive_generator": (
        lambda: networks.ProgressiveGenerator(4, resolutions=(4, 8), widths=(8, 4), channels=1),
        z(4),
        (8, 8, 1),
    ),
    "progressive_discriminator": (
        lambda: networks.ProgressiveDiscriminator((4, 8), (8, 4), 1, mbstd_group_size=2),
        images((8, 8, 1)),
        (1,),
    ),
    "cyclegan_generator": (
        lambda: networks.CycleGANGenerator((32, 32, 3), filters=2, residual_blocks=1),
        images((32, 32, 3)),
        (32, 32, 3),
    ),
    "patchgan_discriminator": (
        lambda: networks.PatchGANDiscriminator((32, 32, 3), filters=2),
        images((32, 32, 3)),
        (2, 2, 1),
    ),
}


def outputs(network, inputs):
    return ops.convert_to_numpy(network(inputs, training=False))


@pytest.mark.parametrize("case", CASES)
def test_a_network_runs_rebuilds_from_its_config_and_saves(case, tmp_path):
    build, inputs, shape = CASES[case]
    network = build()
    assert isinstance(network, keras.Model)
    expected = outputs(network, inputs)
    assert expected.shape == (BATCH, *shape)

    config = network.get_config()
    rebuilt = type(network).from_config(config)
    assert rebuilt.get_config() == config
    rebuilt.set_weights(network.get_weights())
    np.testing.assert_allclose(outputs(rebuilt, inputs), expected, atol=1e-6)

    path = str(tmp_path / "network.keras")
    network.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(network) and loaded.get_config() == config
    np.testing.assert_allclose(outputs(loaded, inputs), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: networks.MLPGenerator(units=()), "units must be one or more positive"),
        (lambda: networks.MLPDiscriminator(dropout=1.0), r"dropout must lie in \[0, 1\)"),
        (lambda: networks.DCGANGenerator(latent_dim=0), "latent_dim must be a positive integer"),
        (lambda: networks.DCGANGenerator((16, 16, 2)), "with 1 or 3 channels, got"),
        (lambda: networks.DCGANDiscriminator(normalization="group"), "normalization must be"),
        (lambda: networks.SNGANDiscriminator(width=0), "width must be at least 1, got 0"),
        (lambda: networks.SNGANGenerator((12, 12, 1)), "A ResNet GAN needs square images"),
        (lambda: networks.PatchGANDiscriminator((48, 48, 3)), "square images of side 32"),
        (lambda: networks.ProgressiveGenerator(4, (4, 8), (8,), 1), "widths must give"),
        (lambda: networks.ProgressiveDiscriminator((4, 16), (8, 4), 1), "must each double"),
    ],
)
def test_bad_sizes_are_named_in_one_line(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# Each variant, tiny, and the classes of the players it builds.
VARIANTS = {
    "vanilla": (lambda: keras_gans.VanillaGAN((8, 8, 1), 4), "MLP"),
    "dcgan": (lambda: keras_gans.DCGAN((16, 16, 1), 4), "DCGAN"),
    "cgan": (lambda: keras_gans.ConditionalGAN(3, (16, 16, 1), 4), "DCGAN"),
    "wgan": (lambda: keras_gans.WGAN((16, 16, 1), 4), "DCGAN"),
    "wgan-gp": (lambda: keras_gans.WGANGP((16, 16, 1), 4), "DCGAN"),
    "sngan": (lambda: keras_gans.SNGAN((8, 8, 1), 4, 4), "SNGAN"),
    "progan": (lambda: keras_gans.ProGAN((8, 8, 1), 4, fmap_base=16, fmap_max=4), "Progressive"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_variants_build_their_players_from_the_networks(variant):
    build, family = VARIANTS[variant]
    model = build()
    assert type(model.generator) is getattr(networks, f"{family}Generator")
    assert type(model.discriminator) is getattr(networks, f"{family}Discriminator")


def test_cyclegan_builds_resnet_generators_and_patch_discriminators():
    model = keras_gans.CycleGAN(
        (32, 32, 3), generator_filters=2, residual_blocks=1, discriminator_filters=2
    )
    for name in ("generator_a2b", "generator_b2a"):
        assert type(getattr(model, name)) is networks.CycleGANGenerator
        assert getattr(model, name).name == name
    for name in ("discriminator_a", "discriminator_b"):
        assert type(getattr(model, name)) is networks.PatchGANDiscriminator


def test_a_network_given_to_a_variant_is_saved_as_its_class_and_arguments():
    generator = networks.SNGANGenerator((8, 8, 1), latent_dim=4, width=4)
    model = keras_gans.SNGAN((8, 8, 1), width=4, generator=generator, seed=0)
    config = model.get_config()
    assert config["generator"]["registered_name"] == "keras_gans>SNGANGenerator"
    assert config["generator"]["config"]["width"] == 4
    assert config["discriminator"] is None  # built by the variant, rebuilt from its options
    restored = keras_gans.SNGAN.from_config(config)
    assert type(restored.generator) is networks.SNGANGenerator
    assert restored.generator.get_config() == generator.get_config()


def test_a_graph_saved_when_the_blocks_lived_in_keras_gans_resnet_still_loads():
    image = keras.Input((8, 8, 1))
    h = networks.OptimizedDiscriminatorBlock(4)(image)
    h = networks.DiscriminatorBlock(4, downsample=False)(h)
    model = keras.Model(image, keras.layers.GlobalAveragePooling2D()(h))
    saved = json.dumps(keras.saving.serialize_keras_object(model))
    # Files written before keras_gans.networks name the blocks' old module.
    old = saved.replace('"keras_gans.networks.sngan"', '"keras_gans.resnet"')
    assert '"keras_gans.resnet"' in old
    restored = keras.saving.deserialize_keras_object(json.loads(old))
    restored.set_weights(model.get_weights())
    x = images((8, 8, 1))
    np.testing.assert_allclose(outputs(restored, x), outputs(model, x), atol=1e-6)
