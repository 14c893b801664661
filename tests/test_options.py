"""Every variant states the options it supports: any other one is refused with
a message naming the variant and the option, never silently ignored."""

import keras
import numpy as np
import pytest
from conftest import batches

import keras_gans
from keras_gans import cli
from keras_gans.models.adversarial import constructor_defaults

COMPILE_OPTIONS = {"label_smoothing": 0.1, "instance_noise": 0.1, "instance_noise_steps": 10,
                   "diff_augment": "translation", "r1_weight": 1.0, "feature_matching": True}
MODEL_OPTIONS = {"spectral_norm": True, "minibatch_stddev": True, "discriminator_units": (64,),
                 "n_critic": 2, "clip_value": 0.05, "gp_weight": 5.0}
VARIANTS = keras_gans.VARIANTS


def unsupported_compile_options():
    return [(name, option) for name, cls in VARIANTS.items() for option in COMPILE_OPTIONS
            if option not in cls.supported_options]


def unsupported_model_options():
    return [(name, option) for name, cls in VARIANTS.items() for option in MODEL_OPTIONS
            if option not in constructor_defaults(cls)]


def test_the_games_with_several_d_steps_refuse_what_they_would_ignore():
    for variant in ("wgan", "sngan"):
        assert {option for name, option in unsupported_compile_options()
                if name == variant} == {"label_smoothing", "r1_weight", "feature_matching"}
    assert {name for name, _ in unsupported_compile_options()} == {
        "wgan", "wgan-gp", "sngan", "progan", "cyclegan", "pix2pix"}


@pytest.fixture(scope="module")
def models():
    return {name: cls(seed=0) for name, cls in VARIANTS.items()}


@pytest.mark.parametrize("name, option", unsupported_compile_options())
def test_an_unsupported_compile_option_is_refused(models, name, option):
    model = models[name]
    with pytest.raises(ValueError, match=f"^{type(model).__name__} does not support {option}"):
        model.compile(**{option: COMPILE_OPTIONS[option]})


@pytest.mark.parametrize("name, option", unsupported_model_options())
def test_an_unsupported_model_option_is_refused(name, option):
    cls = VARIANTS[name]
    with pytest.raises(ValueError, match=f"^{cls.__name__} does not support {option}"):
        cls(**{option: MODEL_OPTIONS[option]})


@pytest.mark.parametrize("name", sorted(name for name, cls in VARIANTS.items()
                                         if "instance_noise" in cls.supported_options))
def test_every_supported_option_is_accepted(models, name):
    model = models[name]
    model.compile(**{option: value for option, value in COMPILE_OPTIONS.items()
                     if option in model.supported_options})
    assert model.get_compile_config()["instance_noise"] == 0.1


def test_the_command_line_refuses_an_unsupported_option(data_args, tmp_path, capsys):
    status = cli.main(["train", "wgan", "--label-smoothing", "0.1", "--out", str(tmp_path),
                       "--quiet", *data_args])
    assert status == 2
    assert capsys.readouterr().err == (
        "keras-gans train: error: WGAN does not support label_smoothing.\n")
    assert not (tmp_path / "checkpoint").exists()


@pytest.mark.parametrize("cls", [keras_gans.WGAN, keras_gans.WGANGP, keras_gans.DCGAN])
def test_pretrain_discriminator_leaves_the_generator_alone(cls, fashion_arrays):
    model = cls(n_critic=1, seed=0) if cls is not keras_gans.DCGAN else cls(seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.01),
                  g_optimizer=keras.optimizers.SGD(0.01))
    generator_before = model.generator.get_weights()
    critic_before = model.discriminator.get_weights()
    model.pretrain_discriminator(batches(fashion_arrays[0][:32], batch_size=16), steps=2,
                                 verbose=0)
    assert int(model.d_optimizer.iterations) == 2 and int(model.g_optimizer.iterations) == 0
    for before, after in zip(generator_before, model.generator.get_weights(), strict=True):
        if before.dtype.kind == "f" and before.ndim > 1:  # BatchNorm statistics may move
            np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(a, b) for a, b in zip(
        critic_before, model.discriminator.get_weights(), strict=True))
