"""SNGAN: the residual blocks, spectral normalisation, the ResNet builders, the
n_dis step, the projection discriminator, saving, export and the command."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import batches, max_abs_difference, requires_fashion_mnist, run_cli

import keras_gans
from keras_gans import saving
from keras_gans.layers import SpectralNormalization
from keras_gans.networks import (
    ConditionalBatchNormalization,
    DiscriminatorBlock,
    GeneratorBlock,
    OptimizedDiscriminatorBlock,
    SNGANDiscriminator,
    SNGANGenerator,
)


def largest_singular_value(kernel):
    """The spectral norm of a kernel reshaped to (inputs, outputs), as SN sees it."""
    kernel = keras.ops.convert_to_numpy(kernel)
    return float(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])


def normalised_kernels(model):
    """The kernels the spectrally normalised layers compute with: W / sigma."""
    return [layer.layer.kernel / layer.sigma() for layer in model._flatten_layers()
            if isinstance(layer, SpectralNormalization)]


# ----------------------------------------------------------------- blocks
def test_generator_block_doubles_the_size_and_sets_the_channels():
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 6)).astype("float32")
    block = GeneratorBlock(8)
    assert block(x, training=True).shape == (2, 8, 8, 8)
    assert block.shortcut_conv is not None
    same = GeneratorBlock(6, upsample=False)
    assert same(x).shape == (2, 4, 4, 6)
    assert same.shortcut_conv is None  # the identity shortcut


def test_conditional_generator_block_scales_by_the_class():
    x = tf.random.normal((2, 4, 4, 6), seed=1)
    block = GeneratorBlock(8, num_classes=3)
    assert block([x, tf.constant([0, 2])], training=True).shape == (2, 8, 8, 8)
    norm = block.norm_1
    assert isinstance(norm, ConditionalBatchNormalization)
    norm.gamma.assign(np.stack([np.ones(6), 2 * np.ones(6), np.ones(6)]).astype("float32"))
    one = norm([x, tf.constant([0, 0])], training=True)
    two = norm([x, tf.constant([1, 1])], training=True)
    np.testing.assert_allclose(two, 2 * one, rtol=1e-5, atol=1e-6)


def test_discriminator_blocks_halve_the_size():
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    assert OptimizedDiscriminatorBlock(5)(x).shape == (2, 4, 4, 5)
    h = np.random.default_rng(1).normal(size=(2, 8, 8, 5)).astype("float32")
    assert DiscriminatorBlock(7)(h).shape == (2, 4, 4, 7)
    keeping = DiscriminatorBlock(5, downsample=False)
    assert keeping(h).shape == (2, 8, 8, 5)
    assert keeping.shortcut_conv is None


def test_spectral_normalisation_bounds_the_largest_singular_value():
    keras.utils.set_random_seed(0)
    h = np.random.default_rng(0).normal(size=(4, 8, 8, 6)).astype("float32")
    block = DiscriminatorBlock(6, downsample=False)
    block(h)
    conv = block.conv_1
    conv.layer.kernel.assign(conv.layer.kernel * 5.0)
    raw = largest_singular_value(conv.layer.kernel)
    u = conv.vector_u.numpy()
    block(h)  # inference: u is left alone
    np.testing.assert_array_equal(conv.vector_u.numpy(), u)
    for _ in range(30):  # one power iteration per training call
        block(h, training=True)
    assert raw > 2.0
    assert largest_singular_value(conv.layer.kernel) == pytest.approx(raw)  # W is kept
    assert float(conv.sigma()) == pytest.approx(raw, rel=1e-3)
    assert largest_singular_value(conv.layer.kernel / conv.sigma()) == pytest.approx(1.0,
                                                                                     abs=1e-3)


def test_spectral_normalisation_computes_with_the_normalised_kernel():
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 3)).astype("float32")
    conv = SpectralNormalization(keras.layers.Conv2D(4, 3, padding="same"), power_iterations=20)
    conv(x, training=True)
    kernel = conv.layer.kernel.numpy()
    expected = keras.ops.conv(x, kernel / largest_singular_value(kernel), padding="same")
    np.testing.assert_allclose(conv(x), expected + conv.layer.bias.numpy(), atol=1e-5)


def test_spectral_normalisation_differentiates_through_sigma():
    # W / sigma(W) does not change when W is scaled, so the gradient with
    # respect to W has no component along W (the paper's Algorithm 1); a
    # kernel treated as fixed would get one.
    keras.utils.set_random_seed(2)
    x = tf.random.normal((4, 5), seed=2)
    dense = SpectralNormalization(keras.layers.Dense(3))
    dense(x, training=True)
    kernel = dense.layer.kernel
    with tf.GradientTape(persistent=True) as tape:
        normalised = tf.reduce_sum(tf.square(dense(x, training=True)))
        fixed_sigma = tf.reduce_sum(tf.square(x @ (kernel / tf.stop_gradient(dense.sigma()))))
    through_sigma = tape.gradient(normalised, kernel.value)
    without = tape.gradient(fixed_sigma, kernel.value)
    along_kernel = lambda g: float(tf.reduce_sum(g * kernel.value) / tf.norm(g) / tf.norm(kernel))
    assert abs(along_kernel(through_sigma)) < 1e-4
    assert abs(along_kernel(without)) > 0.1


def test_weights_saved_with_keras_spectral_normalization_load(tmp_path):
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 3)).astype("float32")
    theirs = keras.layers.SpectralNormalization(keras.layers.Conv2D(4, 3, padding="same"))
    theirs(x, training=True)
    path = str(tmp_path / "sn.weights.h5")
    keras.Sequential([keras.Input((6, 6, 3)), theirs]).save_weights(path)
    ours = SpectralNormalization(keras.layers.Conv2D(4, 3, padding="same"))
    keras.Sequential([keras.Input((6, 6, 3)), ours]).load_weights(path)
    for mine, loaded in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), loaded.numpy())
    assert {"kernel", "bias", "vector_u"} <= {weight.name for weight in ours.weights}


def test_spectral_normalisation_round_trips_and_refuses_bad_layers():
    layer = SpectralNormalization(keras.layers.Dense(3), power_iterations=2)
    copy = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(copy, SpectralNormalization) and copy.power_iterations == 2
    with pytest.raises(ValueError, match="power_iterations must be at least 1, got 0"):
        SpectralNormalization(keras.layers.Dense(3), power_iterations=0)
    with pytest.raises(ValueError, match="needs a layer with a kernel; ReLU has none"):
        SpectralNormalization(keras.layers.ReLU())(np.ones((1, 3), "float32"))


def test_spectral_normalisation_keeps_sigma_in_float32_under_mixed_precision():
    conv = SpectralNormalization(keras.layers.Conv2D(4, 3, dtype="mixed_bfloat16"),
                                 dtype="mixed_bfloat16")
    outputs = conv(np.ones((1, 5, 5, 2), "float32"), training=True)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    assert conv.vector_u.dtype == "float32"
    assert keras.backend.standardize_dtype(conv.sigma().dtype) == "float32"


# --------------------------------------------------------------- builders
# Width 4: up to 32x32 every block has 4 channels (resnet_32, snresnet_32); at
# 64x64 G starts at 16 * 4 and halves, D starts at 4 and doubles (resnet_64).
@pytest.mark.parametrize("size, projected, generator_maps, discriminator_maps", [
    (28, (7, 7, 4), [(14, 14, 4), (28, 28, 4)],
     [(14, 14, 4), (7, 7, 4), (7, 7, 4), (7, 7, 4)]),
    (32, (4, 4, 4), [(8, 8, 4), (16, 16, 4), (32, 32, 4)],
     [(16, 16, 4), (8, 8, 4), (8, 8, 4), (8, 8, 4)]),
    (64, (4, 4, 64), [(8, 8, 32), (16, 16, 16), (32, 32, 8), (64, 64, 4)],
     [(32, 32, 4), (16, 16, 8), (8, 8, 16), (4, 4, 32), (2, 2, 64)]),
])
def test_builders_follow_the_reference_networks(size, projected, generator_maps,
                                                discriminator_maps):
    image_shape = (size, size, 3)
    generator = SNGANGenerator(image_shape, latent_dim=8, width=4)
    discriminator = SNGANDiscriminator(image_shape, width=4)
    assert generator.output.shape == (None, *image_shape)
    assert discriminator.output.shape == (None, 1)
    assert [layer.output.shape[1:] for layer in generator.layers
            if isinstance(layer, GeneratorBlock)] == generator_maps
    assert [layer.output.shape[1:] for layer in discriminator.layers
            if isinstance(layer, DiscriminatorBlock | OptimizedDiscriminatorBlock)
            ] == discriminator_maps
    assert generator.get_layer("project").units == np.prod(projected)


@pytest.mark.parametrize("image_shape", [(24, 24, 1), (28, 28, 2), (32, 16, 3), (4, 4, 1)])
def test_builders_refuse_other_sizes_in_one_line(image_shape):
    for build in (lambda: SNGANGenerator(image_shape, 8, 4),
                  lambda: SNGANDiscriminator(image_shape, 4)):
        with pytest.raises(ValueError, match=r"4 \* 2\*\*k or 7 \* 2\*\*k") as error:
            build()
        assert "\n" not in str(error.value)


def test_projection_discriminator_scores_image_and_class():
    discriminator = SNGANDiscriminator((8, 8, 1), width=4, num_classes=3)
    images = tf.random.normal((5, 8, 8, 1), seed=2)
    scores = {label: discriminator([images, tf.fill((5,), label)], training=True)
              for label in range(3)}
    assert scores[0].shape == (5, 1)
    assert max_abs_difference([scores[0]], [scores[1]]) > 1e-4  # sum(embed(y) * h)


# ------------------------------------------------------------------- model
def make_sngan(**kwargs):
    return keras_gans.SNGAN(image_shape=(8, 8, 1), latent_dim=8, width=4, seed=0, **kwargs)


@pytest.fixture(scope="module")
def small_images(fashion_arrays):
    return tf.image.resize(fashion_arrays[0][:32], (8, 8)).numpy().round().astype("uint8")


@pytest.fixture(scope="module")
def trained(small_images):
    keras.utils.set_random_seed(0)  # the power iterations' starting vectors
    model = make_sngan(n_critic=2, ema_decay=0.9)
    model.compile()
    before = {player: getattr(model, player).get_weights()
              for player in ("generator", "discriminator")}
    # 32 images in steps of 2 minibatches of 8: 2 steps.
    history = model.fit(batches(small_images, batch_size=16), epochs=1, verbose=0)
    return model, before, history


def test_the_paper_recipe_is_the_default():
    model = make_sngan()
    model.compile()
    assert model.n_critic == 5 and model.adversarial_loss.name == "hinge"
    for optimizer in (model.d_optimizer, model.g_optimizer):
        config = optimizer.get_config()
        assert (config["learning_rate"], config["beta_1"], config["beta_2"]) == pytest.approx(
            (2e-4, 0.0, 0.9))


def test_a_step_takes_n_critic_discriminator_updates_per_generator_update(trained):
    model, before, history = trained
    assert int(model.d_optimizer.iterations) == 4
    assert int(model.g_optimizer.iterations) == 2
    assert set(history.history) == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    for player in ("generator", "discriminator"):
        assert max_abs_difference(before[player], getattr(model, player).get_weights()) > 0
    # Every spectrally normalised layer computes with W / sigma, whose largest
    # singular value approaches 1 from above as the power iterations converge
    # (six so far: four D updates, two G updates).
    sigmas = [largest_singular_value(k) for k in normalised_kernels(model.discriminator)]
    assert len(sigmas) == 8 and all(0.999 < s < 1.25 for s in sigmas)


def test_a_batch_that_does_not_split_into_n_critic_minibatches_is_refused(small_images):
    model = make_sngan(n_critic=3)
    model.compile()
    with pytest.raises(ValueError, match="n_critic=3 minibatches, so the batch size must be a "
                                         "multiple of 3; got 16"):
        model.fit(batches(small_images, batch_size=16), epochs=1, verbose=0)


def test_keras_file_and_preset_round_trips(trained, tmp_path):
    model = trained[0]
    model.save(str(tmp_path / "sngan.keras"))
    loaded = keras_gans.load_gan(str(tmp_path / "sngan.keras"))
    assert isinstance(loaded, keras_gans.SNGAN) and loaded.get_config() == model.get_config()
    assert int(loaded.d_optimizer.iterations) == 4 and loaded.n_critic == 2
    np.testing.assert_array_equal(loaded.generate(3, seed=0), model.generate(3, seed=0))

    model.save_to_preset(str(tmp_path / "preset"))
    preset = keras_gans.SNGAN.from_preset(str(tmp_path / "preset"))
    assert preset.ema_decay == 0.9 and preset.width == 4
    np.testing.assert_array_equal(preset.generate(3, seed=0), model.generate(3, seed=0))
    with pytest.raises(ValueError, match="holds a SNGAN, not a DCGAN"):
        keras_gans.DCGAN.from_preset(str(tmp_path / "preset"))


@pytest.fixture(scope="module")
def conditional():
    model = make_sngan(num_classes=3, class_names=["circle", "square", "star"])
    # Every class starts with the same BatchNorm scale and offset; give the
    # last class offsets of its own.
    beta = model.generator.get_layer("block_1").norm_1.beta
    beta.assign(beta.numpy() + np.array([[0.0], [0.0], [1.0]], "float32"))
    return model


def test_conditional_model_generates_the_classes_asked_for(conditional):
    assert conditional.conditional and conditional.num_classes == 3
    assert len(conditional.generator.inputs) == 2 and len(conditional.discriminator.inputs) == 2
    by_name = conditional.generate(4, seed=0, labels="star")
    by_index = conditional.generate(4, seed=0, labels=[2, 2, 2, 2])
    np.testing.assert_array_equal(by_name, by_index)
    assert by_name.shape == (4, 8, 8, 1)
    assert max_abs_difference([by_index], [conditional.generate(4, seed=0, labels=0)]) > 1e-3
    with pytest.raises(ValueError, match="Unknown class 'hexagon'"):
        conditional.generate(2, labels="hexagon")


def test_conditional_export_serves_z_and_label(conditional, tmp_path):
    conditional.export(str(tmp_path / "generator"))
    serve = tf.saved_model.load(str(tmp_path / "generator")).signatures["serving_default"]
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    images = serve(z=tf.constant(z), label=tf.constant([0, 1, 2]))["images"].numpy()
    assert images.shape == (3, 8, 8, 1)
    np.testing.assert_allclose(
        images, conditional.generate_from(z, np.array([0, 1, 2], "int32")), atol=1e-5)
    exported = keras_gans.load_generator(str(tmp_path / "generator"))
    assert exported.generate(2, labels=1).shape == (2, 8, 8, 1)


def test_n_dis_is_the_papers_name_for_n_critic(tmp_path):
    model = make_sngan(n_dis=3)
    assert model.n_critic == 3 and model.n_dis == 3
    config = model.get_config()
    assert config["n_critic"] == 3 and "n_dis" not in config
    # Presets written before the rename name it n_dis.
    legacy = {**config, "n_dis": 2}
    del legacy["n_critic"]
    assert keras_gans.SNGAN.from_config(legacy).n_critic == 2


def test_unconditional_export_serves_z_alone(trained, tmp_path):
    trained[0].export(str(tmp_path / "generator"))
    signature = tf.saved_model.load(str(tmp_path / "generator")).signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"z"}


@pytest.mark.parametrize("kwargs, message", [
    ({"n_critic": 0}, "n_critic must be at least 1, got 0"),
    ({"num_classes": 1}, "num_classes must be at least 2, got 1"),
    ({"class_names": ["a", "b"]}, "2 class_names for num_classes=None"),
    ({"num_classes": 3, "generator": lambda: SNGANGenerator((8, 8, 1), 8, 4)},
     r"generator must take \[z, label\]"),
    ({"spectral_norm": True}, "SNGAN does not support spectral_norm"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sngan(**kwargs)


# ---------------------------------------------------------------- command
@requires_fashion_mnist
@pytest.mark.slow
def test_cli_trains_a_conditional_sngan_that_sample_and_evaluate_read(tmp_path, capsys):
    out = tmp_path / "sngan"
    status = run_cli(["train", "sngan", "--conditional", "--limit", "32", "--steps", "2",
                      "--batch-size", "8", "--n-dis", "2", "--width", "4", "--latent-dim", "8",
                      "--out", str(out), "--quiet"])
    assert status == 0
    model = saving.load_gan(str(out / "checkpoint" / "checkpoint.keras"))
    assert isinstance(model, keras_gans.SNGAN)
    assert (model.width, model.n_dis, model.num_classes) == (4, 2, 10)
    # 32 images in steps of 2 minibatches of 8: 2 steps, 4 D updates.
    assert int(model.g_optimizer.iterations) == 2 and int(model.d_optimizer.iterations) == 4
    metadata = saving.read_metadata(str(out / "generator"))
    assert metadata["variant"] == "SNGAN" and metadata["conditional"]

    assert run_cli(["sample", str(out / "preset"), "--n", "4", "--labels", "Trouser",
                    "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").exists()
    capsys.readouterr()
    assert run_cli(["evaluate", str(out / "generator"), "--n", "100"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 100 and "cond_acc" in result


def test_cli_refuses_conditional_for_an_unconditional_variant(capsys):
    status = run_cli(["train", "dcgan", "--conditional"])
    assert status == 2
    assert "--conditional applies to cgan, sngan, not to dcgan" in capsys.readouterr().err
