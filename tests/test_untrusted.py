"""Exports keras-gans did not make: their graphs are checked before loading.
And `keras-gans sample --out DIR/`: any number of images in bounded memory."""

import glob
import json
import os
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2

import keras_gans
from keras_gans import sampling, saving
from keras_gans.data import to_uint8
from keras_gans.models import VARIANTS
from keras_gans.networks import DCGANDiscriminator

IMAGE_SHAPE = (16, 16, 1)
LATENT_DIM = 8
SHIPPED_EXPORTS = sorted(glob.glob(os.path.join(
    os.path.dirname(__file__), "..", "saved_models", "*", "saved_model.pb")))


def one_line_error(capsys, status, *fragments):
    captured = capsys.readouterr()
    assert status == 2, captured.err[-3000:]
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "error:" in lines[0] and "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def tiny_model(variant, **options):
    kwargs = {"num_classes": 3} if variant == "cgan" else {}
    return VARIANTS[variant](image_shape=IMAGE_SHAPE, latent_dim=LATENT_DIM, seed=0,
                             **kwargs, **options)


# Every variant's export: each variant in float32 with EMA off, and under
# mixed_bfloat16 with EMA on; DCGAN's discriminator options in both.
GENERATORS = [name for name, cls in VARIANTS.items() if issubclass(cls, keras_gans.NoiseToImage)]
EXPORTS = [(variant, "float32", {}) for variant in GENERATORS] + [
    (variant, "mixed_bfloat16", {"ema_decay": 0.9}) for variant in GENERATORS] + [
    ("dcgan", "float32", {"spectral_norm": True, "minibatch_stddev": True})]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """`{(variant, precision, options): export directory}` of untrained models."""
    directory = tmp_path_factory.mktemp("exports")
    paths = {}
    for index, (variant, precision, options) in enumerate(EXPORTS):
        keras.mixed_precision.set_global_policy(precision)
        try:
            model = tiny_model(variant, **options)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        paths[index] = str(directory / f"{index}_{variant}")
        if index == 0:  # the functional path writes the same export
            saving.export_generator(model, paths[index])
        else:
            model.export(paths[index])
    return paths


@pytest.fixture(scope="module")
def dcgan_export(exports):
    return exports[EXPORTS.index(("dcgan", "float32", {}))]


@pytest.fixture(scope="module")
def cgan_export(exports):
    return exports[EXPORTS.index(("cgan", "float32", {}))]


def write_module(path, serve):
    """Saves a `tf.Module` whose `serving_default(z)` runs `serve(z)` and
    returns `{"images": ...}` of `IMAGE_SHAPE`, like a keras-gans export, with
    no other op than a generator's."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, LATENT_DIM], tf.float32, name="z")])
    def serving_default(z):
        with tf.control_dependencies(serve(z)):
            pixel = tf.reshape(tf.tanh(z[:, :1]), [-1, 1, 1, 1])
            return {"images": tf.tile(pixel, [1, *IMAGE_SHAPE])}

    module.serving_default = serving_default
    tf.saved_model.save(module, str(path), signatures={"serving_default": serving_default})
    return str(path)


@pytest.fixture(scope="module")
def malicious(tmp_path_factory):
    """The issue's export: sampling writes a file and copies another one."""
    directory = tmp_path_factory.mktemp("malicious")
    secret = directory / "secret.txt"
    secret.write_text("the user's secret")
    written, copied = directory / "written.txt", directory / "copied.txt"

    def serve(z):
        return [tf.io.write_file(str(written), "owned"),
                tf.io.write_file(str(copied), tf.io.read_file(str(secret)))]

    return write_module(directory / "generator", serve), written, copied


# ----------------------------------------------------- refused without trust
def test_cli_refuses_an_export_that_writes_files(malicious, tmp_path, capsys):
    path, written, copied = malicious
    status = run_cli(["sample", path, "--n", "2", "--out", str(tmp_path / "grid.png")])
    line = one_line_error(capsys, status, f"{path} is not a generator export keras-gans "
                          "can trust: its graph calls WriteFile, ReadFile.", "--trust-model",
                          "trust=True")
    assert line.startswith("keras-gans sample: error: ")
    assert not written.exists() and not copied.exists()
    assert not (tmp_path / "grid.png").exists()
    status = run_cli(["evaluate", path, "--dataset", "fashion_mnist", "--n", "2"])
    one_line_error(capsys, status, "its graph calls WriteFile, ReadFile")
    assert not written.exists()


def test_python_api_refuses_it_and_loads_it_when_trusted(malicious, monkeypatch):
    path, written, copied = malicious
    for load in (keras_gans.load_pretrained, keras_gans.load_generator,
                 saving.ExportedGenerator):
        with pytest.raises(ValueError, match="its graph calls WriteFile, ReadFile"):
            load(path)
    monkeypatch.setenv("KERAS_GANS_MODELS", os.path.dirname(path))
    with pytest.raises(ValueError, match="not a generator export keras-gans can trust"):
        keras_gans.load_pretrained("generator")
    assert not written.exists()

    # Trusted, it loads and its graph does what it says: the check is what stops it.
    generator = keras_gans.load_pretrained(path, trust=True)
    assert generator.generate(2, seed=0).shape == (2, *IMAGE_SHAPE)
    assert written.read_text() == "owned" and copied.read_text() == "the user's secret"


def test_list_does_not_load_graphs(malicious, monkeypatch, capsys):
    path = malicious[0]

    def refuse(*args, **kwargs):
        raise AssertionError("keras-gans list loaded a SavedModel")

    monkeypatch.setattr(tf.saved_model, "load", refuse)
    monkeypatch.setenv("KERAS_GANS_MODELS", os.path.dirname(path))
    assert run_cli(["list"]) == 0
    assert path in capsys.readouterr().out


DANGEROUS = {
    "PyFunc": lambda z, d: [tf.numpy_function(lambda x: x, [z], tf.float32)],
    "EagerPyFunc": lambda z, d: [tf.py_function(lambda x: x, [z], tf.float32)],
    "MatchingFiles": lambda z, d: [tf.io.matching_files(f"{d}/*")],
    "PrintV2": lambda z, d: [tf.print(z, output_stream=f"file://{d}/printed.txt")],
    "TFRecordDataset": lambda z, d: [tf.data.TFRecordDataset(f"{d}/data.tfrecord").reduce(
        tf.constant(""), lambda a, b: b)],
    "CreateSummaryFileWriter": lambda z, d: [tf.raw_ops.CreateSummaryFileWriter(
        writer=tf.raw_ops.SummaryWriter(), logdir=d, max_queue=1, flush_millis=1,
        filename_suffix="")],
    # Checkpoint ops are refused outside the saver's own functions.
    "SaveV2": lambda z, d: [tf.raw_ops.SaveV2(prefix=f"{d}/ckpt", tensor_names=["z"],
                                               shape_and_slices=[""], tensors=[z])],
    "RestoreV2": lambda z, d: tf.raw_ops.RestoreV2(
        prefix=f"{d}/ckpt", tensor_names=["z"], shape_and_slices=[""], dtypes=[tf.float32]),
}


@pytest.mark.parametrize("op", sorted(DANGEROUS))
def test_file_python_summary_dataset_and_checkpoint_ops_are_refused(op, tmp_path):
    path = write_module(tmp_path / "export", lambda z: DANGEROUS[op](z, str(tmp_path)))
    with pytest.raises(ValueError, match=f"its graph calls [^.]*\\b{op}\\b") as error:
        saving.check_generator_graph(path)
    assert "\n" not in str(error.value)


def read_saved_model(path):
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model


def edited_copy(source, destination, edit):
    """A copy of `source`'s `saved_model.pb` in `destination`, changed by
    `edit(meta_graph, functions)` (functions by name)."""
    saved_model = read_saved_model(source)
    meta_graph = saved_model.meta_graphs[0]
    edit(meta_graph, {function.signature.name: function
                      for function in meta_graph.graph_def.library.function})
    os.makedirs(destination)
    with open(os.path.join(destination, "saved_model.pb"), "wb") as f:
        f.write(saved_model.SerializeToString())
    return str(destination)


def add_call(functions, caller, callee):
    """Makes function `caller` call function `callee`."""
    node = functions[caller].node_def.add(name="extra_call", op="StatefulPartitionedCall")
    node.attr["f"].func.name = callee


def test_the_saver_functions_are_the_only_place_for_checkpoint_ops(dcgan_export, tmp_path):
    saving.check_generator_graph(dcgan_export)

    def signature_calls_the_saver(meta_graph, functions):
        serving = next(name for name in functions if "signature_wrapper" in name)
        add_call(functions, serving, next(name for name in functions if "traced_save" in name))

    def model_calls_restore_v2(meta_graph, functions):
        model = next(name for name in functions if "<lambda>" in name
                     and "signature_wrapper" not in name)
        functions[model].node_def.add(name="restore", op="RestoreV2")

    def serving_named_as_the_restore_op(meta_graph, functions):
        """serving_default's node named as the saver's restore op in place of
        TensorFlow's, for loaders that read only `signature_def` (TF Serving)."""
        model_calls_restore_v2(meta_graph, functions)
        graph = meta_graph.graph_def
        restore = meta_graph.saver_def.restore_op_name
        [index] = [i for i, node in enumerate(graph.node) if node.name == restore]
        [function] = [i for i, function in enumerate(graph.library.function)
                      if function.signature.name == graph.node[index].attr["f"].func.name]
        del graph.node[index], graph.library.function[function]
        meta_graph.saver_def.restore_op_name = meta_graph.signature_def[
            "serving_default"].outputs["images"].name.split(":")[0]
        meta_graph.ClearField("object_graph_def")

    for edit, op in ((signature_calls_the_saver, "SaveV2"), (model_calls_restore_v2, "RestoreV2"),
                     (serving_named_as_the_restore_op, "RestoreV2")):
        path = edited_copy(dcgan_export, tmp_path / edit.__name__, edit)
        with pytest.raises(ValueError, match=f"its graph calls [^.]*\\b{op}\\b"):
            saving.check_generator_graph(path)


def test_unknown_ops_and_undefined_functions_are_refused(dcgan_export, tmp_path):
    def unknown_op(meta_graph, functions):
        meta_graph.graph_def.node.add(name="custom", op="MyCustomKernel")

    def undefined_function(meta_graph, functions):
        add_call(functions, next(iter(functions)), "__inference_elsewhere_1")

    for edit, shown in ((unknown_op, "MyCustomKernel"),
                        (undefined_function, "an undefined function __inference_elsewhere_1")):
        path = edited_copy(dcgan_export, tmp_path / edit.__name__, edit)
        with pytest.raises(ValueError, match=f"its graph calls {shown}\\."):
            saving.check_generator_graph(path)


def test_a_corrupt_saved_model_is_a_one_line_error(dcgan_export, tmp_path, capsys):
    with open(os.path.join(dcgan_export, "saved_model.pb"), "rb") as f:
        data = f.read()
    for name, content in (("garbage", b"garbage"), ("truncated", data[:len(data) // 2])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "saved_model.pb").write_bytes(content)
        with pytest.raises(ValueError, match="holds a corrupt or unreadable SavedModel "
                           r"\(saved_model.pb: DecodeError") as error:
            keras_gans.load_generator(str(tmp_path / name))
        assert "\n" not in str(error.value)
    status = run_cli(["sample", str(tmp_path / "truncated"), "--out", str(tmp_path / "g.png")])
    one_line_error(capsys, status, "corrupt or unreadable SavedModel")


# ----------------------------------------------------- our own exports pass
@pytest.mark.parametrize("index", range(len(EXPORTS)),
                         ids=[f"{v}-{p}-{'-'.join(o) or 'plain'}" for v, p, o in EXPORTS])
def test_every_variant_export_passes(exports, index):
    saving.check_generator_graph(exports[index])
    # Its checkpoint ops pass because they are in TensorFlow's saver functions.
    savers = saving.saver_functions(read_saved_model(exports[index]).meta_graphs[0])
    assert {re.sub(r"_\d+$", "", name) for name in savers} == {
        "__inference__traced_save", "__inference__traced_restore"}


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_translator_exports_pass(tmp_path, precision):
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = keras_gans.CycleGAN(image_shape=(32, 32, 3), generator_filters=4,
                                    residual_blocks=1, seed=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.export(str(tmp_path / "b2a"), direction="b2a")
    translator = keras_gans.load_pretrained(str(tmp_path / "b2a"))
    assert translator.translate(np.zeros((2, 32, 32, 3), np.uint8)).shape == (2, 32, 32, 3)


def test_exports_load_without_trust(dcgan_export, cgan_export):
    generator = keras_gans.load_pretrained(dcgan_export)
    assert generator.generate(3, seed=0).shape == (3, *IMAGE_SHAPE)
    conditional = keras_gans.load_generator(cgan_export)
    assert conditional.generate(3, labels=2, seed=0).shape == (3, *IMAGE_SHAPE)


def test_a_generator_of_other_keras_layers_passes(tmp_path):
    """The allowlist's layers beyond the variants' own: upsampling, reflection
    padding, group and layer normalisation, separable and depthwise
    convolutions, and other activations."""

    class ReflectionPadding(keras.layers.Layer):
        def call(self, x):
            return keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")

    layers = keras.layers
    z = keras.Input((LATENT_DIM,))
    x = layers.Reshape((4, 4, 4))(layers.Dense(64)(z))
    x = layers.Conv2D(8, 3)(ReflectionPadding()(layers.UpSampling2D()(x)))
    x = layers.Activation("gelu")(layers.GroupNormalization(groups=-1)(x))
    x = layers.UpSampling2D(interpolation="bilinear")(x)
    x = layers.Activation("silu")(layers.LayerNormalization()(x))
    x = layers.SeparableConv2D(8, 3, padding="same", activation="softplus")(x)
    x = layers.DepthwiseConv2D(3, padding="same", activation="selu")(x)
    x = layers.Conv2D(8, 1, activation="elu")(x)
    x = layers.Multiply()([x, layers.Activation("sigmoid")(x)])
    x = layers.Conv2D(1, 3, padding="same", activation="tanh")(layers.ReLU(6.0)(x))
    model = keras_gans.GAN(keras.Model(z, x), DCGANDiscriminator(IMAGE_SHAPE), seed=0)
    model.export(str(tmp_path / "export"))
    saving.check_generator_graph(str(tmp_path / "export"))


@pytest.mark.parametrize("pb", SHIPPED_EXPORTS,
                         ids=[os.path.basename(os.path.dirname(p)) for p in SHIPPED_EXPORTS])
def test_shipped_exports_pass(pb):
    saving.check_generator_graph(os.path.dirname(pb))


def test_shipped_exports_are_found():
    assert len(SHIPPED_EXPORTS) >= 6


# ------------------------------------------------ sample --out DIR/ in batches
@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 4 images, and the size of every batch generated."""
    sizes = []
    generate_from = saving.ExportedGenerator.generate_from

    def recorded(self, z, labels=None, batch_size=256):
        sizes.append(len(z))
        return generate_from(self, z, labels, batch_size)

    monkeypatch.setattr(sampling, "SAMPLE_BATCH_SIZE", 4)
    monkeypatch.setattr(saving.ExportedGenerator, "generate_from", recorded)
    return sizes


def read_images(directory):
    names = sorted(os.listdir(directory))
    return names, np.stack([np.asarray(Image.open(os.path.join(directory, name)))
                            for name in names])


def test_sample_writes_n_files_in_bounded_batches(dcgan_export, small_batches, tmp_path,
                                                  capsys):
    out = tmp_path / "samples"
    status = run_cli(["sample", dcgan_export, "--n", "10", "--seed", "3",
                      "--out", f"{out}/"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert small_batches == [4, 4, 2]
    assert "Generated 10/10 images" in captured.err
    assert f"Wrote 10 samples to {out}/: 000000.png to 000009.png" in captured.out
    names, images = read_images(out)
    assert names == [f"{i:06d}.png" for i in range(10)]
    assert images.shape == (10, 16, 16) and images.dtype == np.uint8
    # The images generate(n, seed) gives, whatever the batch size.
    expected = to_uint8(keras_gans.load_generator(dcgan_export).generate(10, seed=3))[..., 0]
    assert np.abs(images.astype(int) - expected).max() <= 1
    assert not [name for name in os.listdir(tmp_path) if name != "samples"]

    # The same seed writes the same files; --overwrite replaces the directory.
    again = tmp_path / "again"
    assert run_cli(["sample", dcgan_export, "--n", "10", "--seed", "3", "--out",
                    f"{again}/"]) == 0
    np.testing.assert_array_equal(read_images(again)[1], images)
    assert run_cli(["sample", dcgan_export, "--n", "5", "--seed", "4", "--out", str(again),
                    "--overwrite"]) == 0
    names, other = read_images(again)
    assert len(names) == 5 and not np.array_equal(other, images[:5])


def test_conditional_batches_continue_the_class_cycle(cgan_export):
    generator = keras_gans.load_generator(cgan_export)
    batches = list(sampling.sample_batches(generator, 7, seed=1, batch_size=3))
    assert [len(batch) for batch in batches] == [3, 3, 1]
    np.testing.assert_allclose(np.concatenate(batches), generator.generate(7, seed=1),
                               atol=1e-5)
    one_class = np.concatenate(list(sampling.sample_batches(
        generator, 5, seed=1, labels=[2], batch_size=2)))
    np.testing.assert_allclose(one_class, generator.generate(5, seed=1, labels=2), atol=1e-5)
    with pytest.raises(ValueError, match="Got 2 labels for 5 images"):
        next(sampling.sample_batches(generator, 5, labels=[0, 1]))


def test_sample_batches_of_a_model_match_its_generate():
    model = tiny_model("vanilla")
    batches = np.concatenate(list(sampling.sample_batches(model, 5, seed=2, batch_size=2)))
    np.testing.assert_allclose(batches, model.generate(5, seed=2), atol=1e-5)


def test_sample_directory_refusals(dcgan_export, tmp_path, capsys):
    out = tmp_path / "samples"
    assert run_cli(["sample", dcgan_export, "--n", "3", "--out", f"{out}/"]) == 0
    capsys.readouterr()
    before = read_images(out)[1]
    status = run_cli(["sample", dcgan_export, "--n", "3", "--seed", "1", "--out", str(out)])
    one_line_error(capsys, status, f"--out {out} already holds 3 samples", "--overwrite")
    (out / "notes.txt").write_text("mine")
    status = run_cli(["sample", dcgan_export, "--n", "3", "--out", str(out), "--overwrite"])
    one_line_error(capsys, status, f"--out {out} holds files other than samples (notes.txt)")
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    np.testing.assert_array_equal(read_images(out)[1], before)

    status = run_cli(["sample", dcgan_export, "--n", "2000", "--out", str(tmp_path / "g.png")])
    one_line_error(capsys, status, "--n 2000 is too many images for one grid (at most 1024)",
                   "--out DIR/")
    assert not (tmp_path / "g.png").exists()


def test_an_interrupted_sample_run_leaves_the_directory_as_it_was(dcgan_export, tmp_path,
                                                                  monkeypatch):
    out = tmp_path / "samples"
    generator = keras_gans.load_generator(dcgan_export)
    sampling.write_samples(generator, 3, str(out), seed=0)
    before = read_images(out)
    calls = []

    def fail_on_the_second_batch(written):
        calls.append(written)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sampling, "SAMPLE_BATCH_SIZE", 2)
    with pytest.raises(OSError, match="No space left on device"):
        sampling.write_samples(generator, 6, str(out), seed=1,
                               progress=fail_on_the_second_batch)
    after = read_images(out)
    assert after[0] == before[0]
    np.testing.assert_array_equal(after[1], before[1])
    assert os.listdir(tmp_path) == ["samples"]


# ------------------------------------------------------- presets from elsewhere
@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """A compiled tiny DCGAN's preset."""
    model = tiny_model("dcgan")
    model.compile()
    path = tmp_path_factory.mktemp("preset") / "dcgan"
    model.save_to_preset(str(path))
    return path


def edited_preset(preset, destination, config=None, weights=None):
    """A copy of `preset` whose config.json holds `config` (text) and whose
    weights file `weights(h5py.File)` edits."""
    import shutil

    import h5py

    shutil.copytree(preset, destination)
    if config is not None:
        (destination / saving.CONFIG_FILE).write_text(config)
    if weights is not None:
        with h5py.File(destination / saving.WEIGHTS_FILE, "r+") as file:
            weights(file)
    return str(destination)


def sample(path, tmp_path):
    return run_cli(["sample", path, "--n", "2", "--out", str(tmp_path / "grid.png")])


def test_a_player_naming_a_keras_function_is_refused_before_it_runs(preset, tmp_path, capsys):
    config = json.loads((preset / saving.CONFIG_FILE).read_text())
    config["config"]["generator"] = {
        "module": "keras.config", "class_name": "function",
        "config": "disable_interactive_logging", "registered_name": "function"}
    path = edited_preset(preset, tmp_path / "hostile", json.dumps(config))
    try:
        status = sample(path, tmp_path)
        assert keras.config.is_interactive_logging_enabled(), "the function ran"
    finally:
        keras.config.enable_interactive_logging()
    one_line_error(capsys, status, "The generator of a saved DCGAN must be a Keras model",
                   "the function disable_interactive_logging")
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("text, problem", [
    ("[]", "holds an array, not a JSON object"), ("null", "holds null, not a JSON object"),
    ('{"class_name": ', "is not readable JSON (Expecting value")])
def test_a_config_that_is_not_a_json_object_is_one_line_naming_it(preset, tmp_path, capsys,
                                                                   text, problem):
    path = edited_preset(preset, tmp_path / "bad", text)
    one_line_error(capsys, sample(path, tmp_path),
                   f"{os.path.join(path, saving.CONFIG_FILE)} {problem}")


def test_a_preset_with_nan_weights_is_refused(preset, tmp_path, capsys):
    def poison(file):
        kernel = file["generator/layers/dense/vars/0"]
        kernel[...] = np.nan

    path = edited_preset(preset, tmp_path / "nan", weights=poison)
    one_line_error(capsys, sample(path, tmp_path),
                   f"{os.path.join(path, saving.WEIGHTS_FILE)} holds weights that are NaN or "
                   "infinite (generator/dense")
    assert not (tmp_path / "grid.png").exists()


def test_a_preset_without_its_noise_state_loads_with_a_warning(preset, tmp_path):
    path = edited_preset(preset, tmp_path / "stateless",
                         weights=lambda file: file.__delitem__("vars/seed_generator_state"))
    with pytest.warns(UserWarning, match="holds no state of its noise generator: its noise "
                                         "starts again from seed 0"):
        assert sample(path, tmp_path) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saving.load_preset(str(preset))


def test_weights_of_another_shape_are_a_one_line_error(preset, tmp_path, capsys):
    config = json.loads((preset / saving.CONFIG_FILE).read_text())
    config["config"]["latent_dim"] = 2 * LATENT_DIM
    path = edited_preset(preset, tmp_path / "wider", json.dumps(config))
    one_line_error(capsys, sample(path, tmp_path), f"{path} is not a loadable keras-gans preset")
