"""The contract every registered variant keeps, on the backend the suite runs
on: `fit` trains every player, a resumed run ends where an uninterrupted one
does, the `.keras` file, the preset and (on TensorFlow) the export give the
same images, options it does not implement and images of another shape are
refused in one line. A variant gets these tests by registering a small case
in `tests/variants.py`.
"""

import keras
import numpy as np
import pytest
from variants import CASES, COLOUR, outputs

import keras_gans
from keras_gans import saving


def weights_of(network):
    return [keras.ops.convert_to_numpy(w.value) for w in network.weights]


def changed(before, after):
    return any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def optimizer_slots(optimizer):
    """The optimizer's per-weight state (Adam's moments, RMSprop's average)."""
    return [keras.ops.convert_to_numpy(v.value) for v in optimizer.variables
            if "iteration" not in v.path and "learning_rate" not in v.path]


def noise_states(model):
    """The states of the game's noise stream and of its players' layers' streams."""
    return [keras.ops.convert_to_numpy(generator.state.value)
            for generator in (model.seed_generator, *model._layer_seed_generators())]


def compiled(name):
    build, inputs = CASES[name]
    model = build()
    model.compile()
    return model, inputs


def fit(model, inputs, **kwargs):
    return model.fit(*inputs, batch_size=len(inputs[0]) // 2, shuffle=False, verbose=0,
                     **kwargs)


@pytest.fixture(scope="module")
def trained():
    """Each case's model after one epoch (two steps), built once."""
    models = {}

    def get(name):
        if name not in models:
            model, inputs = compiled(name)
            fit(model, inputs, epochs=1)
            models[name] = model
        return models[name]

    return get


def test_every_variant_registers_a_case():
    registered = {type(build()).__name__ for build, _ in CASES.values()}
    assert registered >= {cls.__name__ for cls in keras_gans.VARIANTS.values()}


@pytest.mark.parametrize("name", list(CASES))
def test_fit_trains_every_player(name):
    model, inputs = compiled(name)
    before = {player: weights_of(getattr(model, player)) for player in model.players}
    noise = noise_states(model)
    history = fit(model, inputs, epochs=1)

    steps = 2
    for player in model.players:
        optimizer = model.optimizer_of(player)
        updates = steps * (model.minibatches_per_step(model.get_config())
                           if player.startswith("discriminator") else 1)
        assert int(optimizer.iterations) == updates, player
        assert changed(before[player], weights_of(getattr(model, player))), player
        # Not reset at every step, as when a jitted step leaves them behind.
        assert any(np.any(slot != 0) for slot in optimizer_slots(optimizer)), player
    # The noise moves on (a jitted step must leave no stream behind): the game's
    # stream, or in a game that draws nothing of its own (pix2pix, whose noise
    # is dropout) every one of its layers'.
    moved = [not np.array_equal(a, b) for a, b in zip(noise, noise_states(model), strict=True)]
    assert moved[0] or (len(moved) > 1 and all(moved[1:])), moved
    for log in history.history.values():
        assert np.all(np.isfinite(log))


@pytest.mark.parametrize("name", list(CASES))
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(name, tmp_path):
    """Two steps, saved and loaded, then one more: as three steps in a row."""
    keras.utils.set_random_seed(0)
    straight, inputs = compiled(name)
    fit(straight, inputs, epochs=3, steps_per_epoch=1)

    keras.utils.set_random_seed(0)
    first, _ = compiled(name)
    fit(first, inputs, epochs=2, steps_per_epoch=1)
    first.save(tmp_path / "run.keras")
    resumed = keras.saving.load_model(tmp_path / "run.keras")
    fit(resumed, inputs, epochs=3, initial_epoch=2, steps_per_epoch=1)

    for player in straight.players:
        assert int(resumed.optimizer_of(player).iterations) == int(
            straight.optimizer_of(player).iterations)
        for expected, actual in zip(weights_of(getattr(straight, player)),
                                    weights_of(getattr(resumed, player)), strict=True):
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_keras_file_and_preset_give_the_same_images(name, trained, tmp_path):
    model = trained(name)
    model.save(tmp_path / "model.keras")
    model.save_to_preset(str(tmp_path / "preset"))
    for loaded in (saving.load_gan(str(tmp_path / "model.keras")),
                   type(model).from_preset(str(tmp_path / "preset"))):
        assert type(loaded) is type(model)
        np.testing.assert_allclose(outputs(loaded), outputs(model), atol=1e-6)
        for player in model.players:
            for a, b in zip(weights_of(getattr(model, player)),
                            weights_of(getattr(loaded, player)), strict=True):
                np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="SavedModel exports are written on the TensorFlow backend")
@pytest.mark.parametrize("name", list(CASES))
def test_the_export_gives_the_models_images(name, trained, tmp_path):
    model = trained(name)
    if hasattr(model, "translate"):
        model.export(str(tmp_path / "export"), direction="a2b")
        export = saving.load_export(str(tmp_path / "export"))
        np.testing.assert_allclose(export.translate(COLOUR[:2]),
                                   model.translate(COLOUR[:2], "a2b"), atol=1e-5)
    else:
        model.export(str(tmp_path / "export"))
        export = saving.load_export(str(tmp_path / "export"))
        labels = [0, 1, 2, 3] if model.conditional else None
        np.testing.assert_allclose(export.generate(4, labels=labels, seed=0),
                                   outputs(model), atol=1e-5)


UNSUPPORTED = ("r1_weight", 1.0), ("feature_matching", True), ("label_smoothing", 0.1), (
    "diff_augment", "color")


@pytest.mark.parametrize("name", list(CASES))
def test_options_it_does_not_implement_are_refused(name):
    cls = type(CASES[name][0]())
    refused = [(option, value) for option, value in UNSUPPORTED
               if option not in cls.supported_options]
    if not refused:
        pytest.skip(f"{cls.__name__} implements every option tried")
    option, value = refused[0]
    with pytest.raises(ValueError, match=f"{cls.__name__} does not support {option}"):
        cls.check_supported({option: value})
    variant = next(key for key, other in keras_gans.VARIANTS.items() if other is cls)
    with pytest.raises(ValueError, match=f"does not support {option}"):
        keras_gans.train(variant, **{option: value})


@pytest.mark.parametrize("name", list(CASES))
def test_images_of_another_shape_are_refused_in_one_line(name):
    model, inputs = compiled(name)
    wrong = [np.zeros((4, 12, 12, 2), "float32"), *inputs[1:]]
    if hasattr(model, "translate"):
        wrong = [wrong[0], wrong[0]]
    with pytest.raises(ValueError) as error:
        model.fit(*[array[:4] for array in wrong], batch_size=2, verbose=0)
    message = str(error.value)
    assert "\n" not in message.strip() and "12, 12, 2)" in message, message
