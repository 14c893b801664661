"""Presets, `.keras` loading, SavedModel exports of generators, and loading exports.

A preset is a directory that rebuilds a whole model ready for `fit`:
`config.json` (the model's serialised Keras config with its compile config),
`model.weights.h5` (every player, and the optimizers' state if saved with
it), `metadata.json` and, for generators, `samples.png`.

An export is a TensorFlow SavedModel directory whose `serving_default`
signature takes `z` (float32 `[N, latent_dim]`), plus `label` (int32 `[N]`)
for conditional models, and returns `{"images": float32 [N, H, W, C]}` in
[-1, 1], with a `metadata.json` beside the SavedModel files. An
image-to-image model exports each direction on its own, taking `images`
(float32 `[N, H, W, C]` in [-1, 1]) instead of `z`. It loads with
`tf.saved_model.load(path)` alone: no keras_gans, no Keras code.

Loading an export runs its graph, so before loading one keras_gans checks
that the graph holds only the ops a generator needs (`check_generator_graph`).

Presets and `.keras` files work on every Keras backend without TensorFlow;
writing, checking and loading SavedModel exports need TensorFlow and raise a
one-line `TensorFlowRequiredError` where it is absent.
"""

import datetime
import importlib
import json
import os
import shlex
import sys
import zipfile

import keras
import numpy as np

from keras_gans.files import (
    CONFIG_FILE,
    METADATA_FILE,
    WEIGHTS_FILE,
    atomic_path,
    is_preset,
    read_json_object,
    read_metadata,
)
from keras_gans.hardware import require_tensorflow
from keras_gans.latent import truncate
from keras_gans.sampling import (
    check_count,
    latent_noise,
    predict_in_batches,
    requested_labels,
    unit_range_batch,
)

SAMPLES_FILE = "samples.png"


def _register_variants():
    """Imports every variant, so that its class deserialises even when only
    this module was imported (the models import it, so it cannot import them
    at its top)."""
    importlib.import_module("keras_gans.models")


def load_gan(path):
    """Loads a `.keras` GAN with `safe_mode=True`; a clear error if unreadable."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No saved model at {path}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a loadable keras-gans model: it is damaged, not a "
                         "whole .keras (zip) file, as a write or copy cut short leaves it.")
    _register_variants()
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        message = " ".join(str(error).split())[:300]
        raise ValueError(f"{path} is not a loadable keras-gans model "
                         f"({type(error).__name__}: {message}).") from error


def run_provenance(model):
    """Where each part of a preset saved at the end of a training run came
    from, for its `metadata.json`.

    Example:

    ```python
    model.save_to_preset("presets/mine", metadata=saving.run_provenance(model))
    ```
    """
    return {
        "generator": "trained: the run's EMA average of the generator"
        if getattr(model, "ema_decay", None) else "trained: the run's generator",
        "discriminator": "trained: the run's discriminator",
        "optimizers": "the run's, at their initial learning rates, no state",
    }


def save_preset(model, directory, metadata=None, include_optimizer=False, extras=None):
    """Writes `model` as a preset directory, atomically.

    Args:
        model: a compiled `AdversarialModel`.
        directory: the preset directory; replaced if it exists.
        metadata: entries for `metadata.json` (dataset, epochs, evaluation...).
        include_optimizer: also save every optimizer's state (doubles to
            triples the weights' size with Adam), to continue a run exactly.
        extras: a function of the temporary directory writing more files.
    """
    if not model.compiled:
        raise ValueError("Compile the model before saving it as a preset: a preset "
                         "holds its compile configuration.")
    config = keras.saving.serialize_keras_object(model)
    with atomic_path(directory) as tmp:
        os.makedirs(tmp)
        with open(os.path.join(tmp, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=2)
        weights_path = os.path.join(tmp, WEIGHTS_FILE)
        if include_optimizer:
            model.save_weights(weights_path)
        else:
            # The same model uncompiled has every weight but no optimizer.
            players = keras.saving.deserialize_keras_object(
                {key: value for key, value in config.items() if key != "compile_config"})
            players.set_weights(model.get_weights())
            players.seed_generator.state.assign(model.seed_generator.state)
            players.save_weights(weights_path)
        write_metadata(tmp, {
            "variant": type(model).__name__,
            "optimizer_state": include_optimizer,
            "keras_version": keras.__version__,
            **(metadata or {}),
        })
        if extras is not None:
            extras(tmp)


def load_preset(path):
    """Rebuilds the compiled model of a preset directory, with `safe_mode=True`.

    Raises:
        ValueError: in one line, for a config that is not a JSON object, players
            that are not Keras models, weights of other shapes, or weights
            holding a NaN or infinity.
    """
    from keras_gans.callbacks import non_finite_variables

    if not is_preset(path):
        raise FileNotFoundError(f"{path} is not a preset directory (no {CONFIG_FILE}).")
    config = read_json_object(os.path.join(path, CONFIG_FILE))
    compile_config = config.pop("compile_config", None)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    _register_variants()
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        if read_metadata(path).get("optimizer_state"):
            model.compile_from_config(compile_config)
            model.load_weights(weights_path)
        else:
            model.load_weights(weights_path)
            model.compile_from_config(compile_config)
    except Exception as error:
        message = " ".join(str(error).split())[:300]
        raise ValueError(f"{path} is not a loadable keras-gans preset "
                         f"({type(error).__name__}: {message}).") from error
    bad = non_finite_variables(model)
    if bad:
        raise ValueError(f"{weights_path} holds weights that are NaN or infinite "
                         f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): "
                         "the model would generate nothing but NaN.")
    return model


def count_parameters(model):
    return int(sum(np.prod(v.shape) for v in model.weights))


def export_generator(gan, path, metadata=None):
    """Writes `gan`'s sampling generator as a SavedModel: `gan.export(path, metadata)`."""
    return gan.export(path, metadata=metadata)


def export_endpoint(model, path, serve, inputs, metadata):
    """Writes `serve` as the `serving_default` of a SavedModel tracking `model`.

    The directory is written beside `path` and renamed into place, so an
    interrupted export leaves a previous export at `path` whole.

    Args:
        model: the `keras.Model` whose variables the endpoint uses.
        path: the export directory.
        serve: a function of the inputs, in order, returning a dict of tensors.
        inputs: `{name: (dtype, shape)}` of `serve`'s arguments, e.g.
            `{"z": ("float32", (None, 100))}`.
        metadata: entries for `metadata.json` (variant, dataset, epochs, ...);
            the Keras and TensorFlow versions, the command and the time are added.

    Returns:
        The metadata written.

    Raises:
        TensorFlowRequiredError: TensorFlow is not installed.
    """
    tf = require_tensorflow("SavedModel export")
    archive = keras.export.ExportArchive()
    archive.track(model)
    signature = [tf.TensorSpec(shape, dtype, name=name)
                 for name, (dtype, shape) in inputs.items()]
    archive.add_endpoint("serving_default", serve, input_signature=signature)
    info = {
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        **metadata,
    }
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)
        write_metadata(tmp, info)
    return info


def write_metadata(directory, metadata):
    with open(os.path.join(directory, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2)


# The op types a generator export may run: those in the exports of every
# variant (EMA on and off, float32 and mixed_bfloat16) and of generators built
# from Keras's other standard layers (tests/test_untrusted.py exports them).
# Any other op, e.g. a file, network, process, summary, dataset, print or
# Python-function op, makes an export untrusted.
GENERATOR_OPS = frozenset({
    # Arithmetic, reductions, comparisons and casts (mixed precision).
    "AddV2", "Sub", "Mul", "Neg", "Square", "SquaredDifference", "Rsqrt", "Erfc",
    "Mean", "Sum", "Minimum", "Maximum", "ClipByValue", "Less", "Select", "SelectV2",
    "Cast",
    # Layers: dense and convolution kernels, activations, padding and resizing.
    "MatMul", "BiasAdd", "Conv2D", "Conv2DBackpropInput", "DepthwiseConv2dNative",
    "Relu", "Relu6", "LeakyRelu", "Elu", "Selu", "Sigmoid", "Softplus", "Tanh",
    "MirrorPad", "ResizeBilinear",
    # Shapes, slicing, concatenation and embedding lookups.
    "Shape", "Reshape", "Squeeze", "ExpandDims", "Pack", "ConcatV2", "StridedSlice",
    "GatherV2", "Tile",
    # The variables holding the weights, in memory.
    "VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp",
    "DisableCopyOnRead",
    # Graph structure: constants, inputs, identities, calls of the export's functions.
    "Const", "Placeholder", "Identity", "IdentityN", "StopGradient", "NoOp",
    "StatefulPartitionedCall", "PartitionedCall",
})

# Ops that write or read the export's `variables/` checkpoint and build its
# file names: allowed only in the save and restore functions TensorFlow
# writes for the SavedModel's `saver_def`, which no signature calls.
CHECKPOINT_OPS = frozenset({
    "SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
    "StaticRegexFullMatch",
})


def _called_functions(node, functions):
    """The names of the functions a graph node calls: its function-valued
    attributes (`f` of a call, branches, bodies), or its op if that is one."""
    names = [node.op] if node.op in functions else []
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        names.extend(function.name for function in value.list.func)
    return names


def _reachable(names, functions):
    """`names` and every function they call, directly or not."""
    seen, stack = set(), list(names)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            if name in functions:
                stack.extend(callee for node in functions[name].node_def
                             for callee in _called_functions(node, functions))
    return seen


def _node_name(tensor_name):
    """`"call"` of a tensor or control input name `"call:0"` or `"^call"`."""
    return tensor_name.lstrip("^").split(":")[0]


def _upstream(names, nodes):
    """The graph nodes `names` and every node they read from."""
    by_name = {node.name: node for node in nodes}
    seen, stack = set(), [_node_name(name) for name in names]
    while stack:
        name = stack.pop()
        if name not in seen and name in by_name:
            seen.add(name)
            stack.extend(_node_name(input_name) for input_name in by_name[name].input)
    return seen


def _object_graph_functions(object_graph):
    """The functions a SavedModel's objects (its signatures, methods,
    resources and savers) refer to."""
    names = list(object_graph.concrete_functions)
    for node in object_graph.nodes:
        names += node.function.concrete_functions
        if node.bare_concrete_function.concrete_function_name:
            names.append(node.bare_concrete_function.concrete_function_name)
    return names


def saver_functions(meta_graph):
    """The functions TensorFlow writes to save and restore a SavedModel's
    variables: those called by the nodes its `saver_def` names, and by nothing
    else (no signature, object or other function)."""
    graph = meta_graph.graph_def
    functions = {function.signature.name: function for function in graph.library.function}
    saver = meta_graph.saver_def
    signature_nodes = _upstream(
        [tensor.name for signature in meta_graph.signature_def.values()
         for tensor in (*signature.inputs.values(), *signature.outputs.values())],
        graph.node)
    saver_nodes = {_node_name(name) for name in (saver.save_tensor_name,
                                                 saver.restore_op_name) if name}
    saver_nodes -= signature_nodes
    calls = {node.name: _called_functions(node, functions) for node in graph.node}
    candidates = _reachable(
        [name for node in saver_nodes for name in calls.get(node, [])], functions)
    other_roots = [name for node, names in calls.items() if node not in saver_nodes
                   for name in names]
    other_roots += _object_graph_functions(meta_graph.object_graph_def)
    other_roots += [name for name in functions if name not in candidates]
    return candidates - _reachable(other_roots, functions)


def untrusted_ops(meta_graph):
    """What in one SavedModel meta graph a generator would not run, in order:
    op types outside `GENERATOR_OPS`, checkpoint ops outside the
    `saver_functions`, and calls of functions the graph does not define."""
    functions = {function.signature.name: function
                 for function in meta_graph.graph_def.library.function}
    savers = saver_functions(meta_graph)
    found = []
    graphs = [(meta_graph.graph_def.node, GENERATOR_OPS)] + [
        (function.node_def,
         GENERATOR_OPS | CHECKPOINT_OPS if name in savers else GENERATOR_OPS)
        for name, function in functions.items()]
    for nodes, allowed in graphs:
        for node in nodes:
            if node.op not in allowed and node.op not in functions:
                found.append(node.op)
            found.extend(f"an undefined function {name}"
                         for name in _called_functions(node, functions)
                         if name not in functions)
    return list(dict.fromkeys(found))


def check_generator_graph(path):
    """Raises a one-line `ValueError` unless the SavedModel in directory
    `path` runs only the ops a generator needs (see `GENERATOR_OPS`).

    Reads `saved_model.pb` without loading it: nothing in it runs. Needs
    TensorFlow, whose protocol buffers describe the file.

    Example:

    ```python
    keras_gans.saving.check_generator_graph("runs/dcgan_fashion_mnist/generator")
    ```
    """
    require_tensorflow("Checking a SavedModel export")
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            saved_model.ParseFromString(f.read())
    except (OSError, DecodeError) as error:
        raise ValueError(f"{path} holds a corrupt or unreadable SavedModel "
                         f"(saved_model.pb: {type(error).__name__}: "
                         f"{' '.join(str(error).split())[:200]}).") from None
    if not saved_model.meta_graphs:
        raise ValueError(f"{path} holds a corrupt or unreadable SavedModel "
                         "(saved_model.pb has no graph).")
    found = list(dict.fromkeys(
        op for meta_graph in saved_model.meta_graphs for op in untrusted_ops(meta_graph)))
    if found:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        raise ValueError(
            f"{path} is not a generator export keras-gans can trust: its graph calls "
            f"{shown}. Load it only if you trust its source: keras-gans sample "
            f"{shlex.quote(path)} --trust-model / load_pretrained({path!r}, trust=True).")


class ExportedGenerator:
    """A generator exported by keras_gans, loaded with `tf.saved_model.load`.

    Args:
        path: the export directory.
        trust: load the SavedModel without checking its graph first (see
            `check_generator_graph`); only for exports from a trusted source.
        loaded: its `(saved model, serving_default)` if already loaded.

    Attributes:
        metadata: the export's `metadata.json`.
        latent_dim, image_shape, num_classes, conditional: from the signature.
    """

    def __init__(self, path, trust=False, loaded=None):
        self.path = path
        self.saved_model, self.signature, inputs = _open_export(path, "z", trust, loaded)
        self.metadata = read_metadata(path)
        self.latent_dim = int(inputs["z"].shape[-1])
        self.conditional = "label" in inputs
        self.image_shape = tuple(
            self.signature.structured_outputs["images"].shape[1:])
        self.num_classes = self.metadata.get("num_classes") or (
            10 if self.conditional else None)
        self.class_names = self.metadata.get("class_names")

    def __repr__(self):
        return (f"ExportedGenerator({self.path!r}, variant="
                f"{self.metadata.get('variant')!r}, latent_dim={self.latent_dim})")

    def __call__(self, z, labels=None):
        """Runs the signature on latent vectors (and labels); returns numpy."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"This generator takes z of shape (N, {self.latent_dim}), got "
                f"{z.shape}."
            )
        labels = self.sampling_labels(len(z), labels)
        import tensorflow as tf

        if self.conditional:
            outputs = self.signature(z=tf.constant(z), label=tf.constant(labels))
        else:
            outputs = self.signature(z=tf.constant(z))
        return outputs["images"].numpy()

    def sampling_labels(self, n, labels):
        """The int32 class of each of `n` images (`None` for an unconditional
        generator): one per image, or one for all, by index or name; `None`
        cycles through the classes."""
        if not self.conditional:
            if labels is not None:
                raise ValueError("This generator is unconditional: it takes no labels.")
            return None
        return requested_labels(labels, n, self.num_classes, self.class_names)

    def generate(self, n, labels=None, seed=None, batch_size=256, truncation=None):
        """Generates `n` images in [-1, 1] as float32 numpy `(n, H, W, C)`.

        Args:
            n: how many images.
            labels: for conditional generators, one class per image or one for
                all; `None` cycles through the classes.
            seed: integer seed for repeatable samples.
            batch_size: images per call of the signature.
            truncation: psi in [0, 1]: z is pulled toward the mean latent (0),
                as `keras_gans.latent.truncate` explains; 0 gives the mean
                latent's image, 1 (or `None`) none.
        """
        n = check_count(n, self.image_shape)
        z = truncate(latent_noise(n, self.latent_dim, seed), truncation)
        return self.generate_from(z, self.sampling_labels(n, labels), batch_size)

    def generate_from(self, z, labels=None, batch_size=256):
        """The images of numpy latent vectors `z` (and one label per vector)."""
        inputs = [z] if labels is None else [z, labels]
        return predict_in_batches(self, inputs, self.image_shape, batch_size)


def load_generator(path, trust=False):
    """Loads an exported generator directory as an `ExportedGenerator`.

    Args:
        path: the export directory.
        trust: skip the check of its graph (`check_generator_graph`); only
            for exports from a source you trust.
    """
    return ExportedGenerator(path, trust=trust)


def _load_serving_default(path, trust=False):
    """`(saved model, its serving_default signature)`, after checking its graph
    unless `trust`; a clear error if unreadable."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No exported generator at {path}.")
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise ValueError(f"{path} is not a SavedModel directory (no saved_model.pb).")
    tf = require_tensorflow("Loading a SavedModel export")
    if not trust:
        check_generator_graph(path)
    try:
        saved_model = tf.saved_model.load(path)
        return saved_model, saved_model.signatures["serving_default"]
    except Exception as error:
        raise ValueError(
            f"{path} holds a corrupt or unreadable SavedModel "
            f"({type(error).__name__}: {str(error)[:300]})."
        ) from error


def _open_export(path, input_name, trust=False, loaded=None):
    """`(saved model, serving_default, its input specs)` of an export whose
    signature takes `input_name`; `loaded` is a `_load_serving_default` result."""
    saved_model, signature = loaded or _load_serving_default(path, trust)
    inputs = signature.structured_input_signature[1]
    if input_name not in inputs:
        raise ValueError(f"{path}: serving_default takes no {input_name!r} input.")
    return saved_model, signature, inputs


class ExportedTranslator:
    """One direction of an image-to-image model exported by keras_gans, loaded
    with `tf.saved_model.load`: `serving_default(images=...)` maps float32
    images in [-1, 1] to `{"images": ...}`.

    Args:
        path: the export directory.
        trust: load the SavedModel without checking its graph first.
        loaded: its `(saved model, serving_default)` if already loaded.

    Attributes:
        metadata: the export's `metadata.json`.
        direction: `"a2b"` or `"b2a"`, from the metadata.
        image_shape: from the signature.
    """

    def __init__(self, path, trust=False, loaded=None):
        self.path = path
        self.saved_model, self.signature, inputs = _open_export(path, "images", trust, loaded)
        self.metadata = read_metadata(path)
        self.image_shape = tuple(inputs["images"].shape[1:])
        self.direction = self.metadata.get("direction")

    def __repr__(self):
        return (f"ExportedTranslator({self.path!r}, variant="
                f"{self.metadata.get('variant')!r}, direction={self.direction!r})")

    def translate(self, images, direction=None, batch_size=256):
        """Translates `(N, H, W, C)` uint8 or [-1, 1] images; float32 numpy in [-1, 1].

        Args:
            images: the batch to translate.
            direction: `None`, or the export's own direction (any other is an error).
            batch_size: images per call.
        """
        if direction is not None and direction != self.direction:
            raise ValueError(f"{self.path} translates {self.direction}, not {direction}.")
        images = unit_range_batch(images, self.image_shape)
        import tensorflow as tf

        return predict_in_batches(
            lambda batch: self.signature(images=tf.constant(batch))["images"], [images],
            self.image_shape, batch_size)


def load_export(path, trust=False):
    """Loads a SavedModel export of keras_gans: an `ExportedGenerator` when its
    `serving_default` takes `z`, an `ExportedTranslator` when it takes `images`.

    Args:
        path: the export directory.
        trust: skip the check of its graph (`check_generator_graph`); only
            for exports from a source you trust.
    """
    loaded = _load_serving_default(path, trust)
    if "images" in loaded[1].structured_input_signature[1]:
        return ExportedTranslator(path, loaded=loaded)
    return ExportedGenerator(path, loaded=loaded)
