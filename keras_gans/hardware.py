"""What the machine offers for training: CPU model, native bfloat16, peak FLOP/s.

`mixed_bfloat16` is fast only where the hardware computes in bfloat16: GPUs
and TPUs that support it, and CPUs with AMX or AVX512-BF16 (recent Intel Xeon,
AMD Zen 4 and later). On other CPUs TensorFlow emulates it and training is
several times slower than in float32 (see `benchmarks/results/`).

`choose_speed` times a model's step in each dtype policy and XLA setting
worth trying on this CPU and caches the fastest: `keras-gans train` uses it by
default (`--precision auto --jit-compile auto`). `fastest_settings` is the rule
by CPU kind it falls back on (resumed runs, GPUs). `train_step_flops` and
`peak_fp32_flops` say how close to the hardware a step runs.

Describing the CPU needs no TensorFlow; `require_tensorflow` gives the module
to the few features that do need it, or a one-line error where it is absent.
"""

import collections
import itertools
import json
import os
import platform
import warnings

from keras_gans.files import atomic_path

CPUINFO = "/proc/cpuinfo"
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


class TensorFlowRequiredError(ImportError):
    """A feature that needs TensorFlow (or its Keras backend) was used without it."""


def require_tensorflow(feature, backend=False):
    """The `tensorflow` module, for a feature that needs it.

    Args:
        feature: what needs it, for the message, e.g. `"SavedModel export"`.
        backend: the feature also needs TensorFlow as the Keras backend.

    Raises:
        TensorFlowRequiredError: in one line, where TensorFlow is not
            installed (or, with `backend`, Keras runs on another backend).

    Example:

    ```python
    tf = require_tensorflow("SavedModel export")
    ```
    """
    try:
        import tensorflow
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        raise TensorFlowRequiredError(
            f"{feature} needs TensorFlow: pip install tensorflow") from None
    import keras

    if backend and keras.backend.backend() != "tensorflow":
        raise TensorFlowRequiredError(
            f"{feature} needs the TensorFlow backend of Keras, not "
            f"{keras.backend.backend()}: set KERAS_BACKEND=tensorflow")
    return tensorflow


def backend_version():
    """The Keras backend and its version, e.g. `"TensorFlow 2.21.0"` or `"JAX 0.4.35"`."""
    import importlib

    import keras

    name = keras.backend.backend()
    return f"{BACKEND_NAMES.get(name, name)} {importlib.import_module(name).__version__}"


def has_accelerator():
    """Whether the Keras backend computes on a GPU (or, on JAX, any accelerator)."""
    import keras

    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if name == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if name == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def jit_choices():
    """The `jit_compile` settings worth trying on the Keras backend: both on
    TensorFlow; on JAX `True` only (without jit every op runs on its own, far
    slower); elsewhere `False` only, Keras's own choice on PyTorch."""
    import keras

    return {"tensorflow": (False, True), "jax": (True,)}.get(keras.backend.backend(), (False,))


def _first_cpu(path=CPUINFO):
    """The `key: value` fields of the first processor in `/proc/cpuinfo`; empty
    where the system does not say (non-Linux)."""
    fields = {}
    try:
        with open(path) as f:
            for line in f:
                key, colon, value = line.partition(":")
                if not colon:
                    if fields:
                        break
                    continue
                if key.strip() in fields:
                    break
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_info(path=CPUINFO):
    """`(model name, set of feature flags)` of the first CPU; empty where the
    system does not say (non-Linux)."""
    fields = _first_cpu(path)
    return fields.get("model name", ""), set(fields.get("flags", "").split())


def cpu_has_native_bfloat16(path=CPUINFO):
    """Whether the CPU computes bfloat16 natively (AMX or AVX512-BF16)."""
    _, flags = cpu_info(path)
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def describe(path=CPUINFO):
    """One line about the machine, e.g. `"AMD EPYC, 2 cores, no native bfloat16"`."""
    model, flags = cpu_info(path)
    native = [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags]
    bfloat16 = f"native bfloat16 ({', '.join(native)})" if native else "no native bfloat16"
    return f"{model or platform.machine()}, {os.cpu_count()} cores, {bfloat16}"


Settings = collections.namedtuple("Settings", ["precision", "jit_compile", "reason"])


def fastest_settings(path=CPUINFO, has_gpu=False):
    """The dtype policy and XLA choice that was fastest on this kind of CPU:
    the rule `keras-gans train` falls back on where it does not probe
    (`choose_speed`), for resumed runs and on GPUs.

    The rules follow DCGAN's measured speeds on each CPU kind
    (`benchmarks/throughput.py`; the docs' Performance guide has the
    table): `mixed_bfloat16` without XLA where the CPU computes bfloat16
    natively and it ran faster (Xeon with AMX, AMD EPYC with AVX512-BF16),
    float32 without XLA on a Xeon with AVX512-BF16 but no AMX, float32 with
    XLA on an AVX2-only CPU and on CPUs of other kinds. GPUs: float32
    without XLA.

    Unlike `compile(jit_compile="auto")`, which Keras resolves to no XLA on
    every CPU-only machine, this may choose XLA on a CPU.

    On JAX and PyTorch the dtype policy follows the same rule and
    `jit_compile` is the backend's one choice (`jit_choices`).

    Args:
        path: the `/proc/cpuinfo` to read.
        has_gpu: whether the backend sees a GPU (`has_accelerator`).

    Returns:
        `Settings(precision, jit_compile, reason)`.

    Example:

    ```python
    settings = keras_gans.hardware.fastest_settings()
    keras.mixed_precision.set_global_policy(settings.precision)
    gan = keras_gans.DCGAN()
    gan.compile(jit_compile=settings.jit_compile)
    ```
    """
    import keras

    settings = _tensorflow_settings(path, has_gpu)
    name = keras.backend.backend()
    if name == "tensorflow":
        return settings
    jit_compile = jit_choices()[0]
    return Settings(settings.precision, jit_compile,
                    f"{settings.reason}; on {BACKEND_NAMES.get(name, name)} keras-gans "
                    f"{'jit-compiles' if jit_compile else 'does not compile'} the step")


def _tensorflow_settings(path, has_gpu):
    """`fastest_settings`' rule, as measured on the TensorFlow backend."""
    if has_gpu:
        return Settings("float32", False, "a GPU: speed options not measured there")
    _, flags = cpu_info(path)
    native = [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags]
    intel = _first_cpu(path).get("vendor_id") == "GenuineIntel"
    if native and intel and "amx_bf16" not in flags:
        return Settings("float32", False,
                        "on a Xeon with AVX512-BF16 but no AMX, bfloat16 (0.67x) and XLA "
                        "(0.80x) were slower")
    if native:
        return Settings("mixed_bfloat16", False,
                        f"this CPU computes bfloat16 natively ({', '.join(native)}), "
                        "where XLA was slower")
    return Settings("float32", True,
                    "this CPU emulates bfloat16, and XLA was about 2x faster on such CPUs")


Peak = collections.namedtuple("Peak", ["flops_per_second", "formula"])


def fp32_fma_lanes(path=CPUINFO):
    """float32 multiply-adds one core can issue per cycle, from its vector
    extensions: 32 with AVX-512 on Intel (two 512-bit FMA units), 16 with
    AVX-512 on AMD (Zen 4 splits it over 256-bit units) or with AVX2 and FMA
    (two 256-bit units), 4 otherwise (SSE, no fused multiply-add)."""
    fields = _first_cpu(path)
    flags = set(fields.get("flags", "").split())
    if "avx512f" in flags and fields.get("vendor_id") == "GenuineIntel":
        return 32
    if "avx512f" in flags or {"avx2", "fma"} <= flags:
        return 16
    return 4


def peak_fp32_flops(path=CPUINFO):
    """The machine's float32 peak: cores x clock x FMA lanes x 2 FLOPs per FMA.

    The clock is `/proc/cpuinfo`'s `cpu MHz` (the base clock on most virtual
    machines; turbo is not counted). bfloat16 units (AMX, AVX512-BF16) can go
    beyond this figure.

    Args:
        path: the `/proc/cpuinfo` to read.

    Returns:
        `Peak(flops_per_second, formula)`, with `flops_per_second=None` where
        the clock is unknown.

    Example:

    ```python
    peak = keras_gans.hardware.peak_fp32_flops()
    print(peak.formula)   # 2 cores x 2.30 GHz x 32 FMA lanes x 2 = 294 GFLOP/s
    ```
    """
    mhz = _first_cpu(path).get("cpu MHz")
    if not mhz:
        return Peak(None, "the CPU's clock is unknown")
    cores, lanes, ghz = os.cpu_count(), fp32_fma_lanes(path), float(mhz) / 1000
    flops = cores * ghz * 1e9 * lanes * 2
    return Peak(flops, f"{cores} cores x {ghz:.2f} GHz x {lanes} FMA lanes x 2 = "
                       f"{flops / 1e9:.0f} GFLOP/s")


def graph_flops(function, *input_signature):
    """Floating-point operations of one call of `function`, counted from its
    graph with the cost functions TensorFlow's profiler uses (convolutions and
    their gradients, matrix products, element-wise ops; ops without a cost
    function, such as casts and copies, count 0). Needs TensorFlow.

    Args:
        function: a Python function of tensors, or a `tf.function`.
        *input_signature: `tf.TensorSpec`s (or nests of them) of its arguments.

    Returns:
        The count, an int.

    Example:

    ```python
    flops = keras_gans.hardware.graph_flops(
        tf.matmul, tf.TensorSpec((8, 16)), tf.TensorSpec((16, 4)))   # 1024
    ```
    """
    tf = require_tensorflow("Counting a graph's FLOPs")
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.profiler.internal import flops_registry  # noqa: F401 (registers)
    from tensorflow.python.util import deprecation

    if not isinstance(function, tf.types.experimental.PolymorphicFunction):
        function = tf.function(function)
    graph = function.get_concrete_function(*input_signature).graph
    total = 0
    with deprecation.silence():  # the cost functions read shapes through a TF1 helper
        for op in graph.get_operations():
            try:
                total += tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
            except (ValueError, TypeError):  # no cost function, or an unknown shape
                continue
    return int(total)


def train_step_flops(model, batch):
    """FLOPs of one `model.train_step(batch)`: both players' forward and
    backward passes and the optimizer updates. Needs the TensorFlow backend.

    Args:
        model: a built, compiled model.
        batch: one batch as `fit` would give it (a tensor, or a tuple of them).

    Example:

    ```python
    flops = keras_gans.hardware.train_step_flops(gan, images[:64]) / 64   # per image
    ```
    """
    tf = require_tensorflow("Counting a training step's FLOPs", backend=True)
    signature = tf.nest.map_structure(
        lambda x: tf.TensorSpec.from_tensor(tf.convert_to_tensor(x)), batch)
    return graph_flops(model.train_step, signature)


def speed_candidates(path=CPUINFO):
    """The `(precision, jit_compile)` pairs worth timing on this CPU: float32
    with each of the backend's `jit_choices` (without and with XLA on
    TensorFlow), and mixed_bfloat16 likewise where the CPU computes bfloat16
    natively (elsewhere it is emulated, several times slower)."""
    precisions = ["float32"] + (["mixed_bfloat16"] if cpu_has_native_bfloat16(path) else [])
    return [(precision, jit_compile) for precision in precisions
            for jit_compile in jit_choices()]


def measure_images_per_second(model, batch, seconds=2.0):
    """Images per second of `model.fit` on `batch`, repeated, timed over
    `seconds` (at least 3 steps) by its fastest step: other work on the
    machine only ever slows a step down. Warm the step up first (`warm_up`)."""
    import time

    import keras

    from keras_gans.data import repeat_batch

    images = int(keras.tree.flatten(batch)[0].shape[0])
    dataset = repeat_batch(batch)
    ends = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            ends.append(time.perf_counter())
            if len(ends) > 3 and ends[-1] - ends[0] >= seconds:
                self.model.stop_training = True

    model.fit(dataset, epochs=1, steps_per_epoch=1_000_000, verbose=0, callbacks=[Clock()],
              shuffle=False)
    return images / min(end - start for start, end in itertools.pairwise(ends))


def warm_up(model, batch):
    """Two steps of `fit` on `batch`: the first traces or compiles the step."""
    from keras_gans.data import repeat_batch

    model.fit(repeat_batch(batch), epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)


def probe_speed(build, batch, candidates, seconds=2.0):
    """Times a model's training step under each dtype policy and XLA choice.

    Args:
        build: `build()` returns the compiled model, built under the global
            dtype policy the probe sets; the probe sets its `jit_compile`.
        batch: one training batch, as `fit` would give it.
        candidates: `(precision, jit_compile)` pairs, e.g. `speed_candidates()`.
        seconds: timing per candidate, after its warm-up (two steps, the
            first tracing or compiling the step), in two interleaved rounds
            so that a passing slowdown of the machine does not decide.

    Returns:
        `{(precision, jit_compile): images per second}`, each candidate's
        better round; the global policy is left as it was.

    Example:

    ```python
    def make_gan():
        gan = keras_gans.DCGAN()
        gan.compile()
        return gan

    rates = keras_gans.hardware.probe_speed(
        make_gan, images[:64], keras_gans.hardware.speed_candidates())
    ```
    """
    import keras

    policy = keras.mixed_precision.global_policy()
    models = {}
    try:
        for precision, jit_compile in candidates:
            keras.mixed_precision.set_global_policy(precision)
            model = models[(precision, jit_compile)] = build()
            model.jit_compile = jit_compile
            warm_up(model, batch)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    rates = dict.fromkeys(models, 0.0)
    for _ in range(2):
        for candidate, model in models.items():
            rates[candidate] = max(rates[candidate],
                                   measure_images_per_second(model, batch, seconds / 2))
    return rates


def choose_speed(build, batch, key, candidates=None, seconds=2.0, cache_dir=None):
    """The fastest `(precision, jit_compile)` of `candidates` for a model on
    this machine: probed once (`probe_speed`), then read from
    `speed.json` in `cache_dir` (default `$KERAS_GANS_CACHE`, else
    `~/.cache/keras_gans`) under `key`, this CPU and the Keras backend.

    Args:
        build, batch, seconds: as for `probe_speed`.
        key: names the model and its batch, e.g. `"dcgan 28x28x1, batch 64"`.
        candidates: default `speed_candidates()`.

    Returns:
        `Settings(precision, jit_compile, reason)`, the reason giving the
        measured rates.

    Example:

    ```python
    settings = keras_gans.hardware.choose_speed(make_gan, images[:64], "my dcgan, batch 64")
    keras.mixed_precision.set_global_policy(settings.precision)
    gan = make_gan()
    gan.jit_compile = settings.jit_compile
    ```
    """
    from keras_gans.emoji import cache_root

    candidates = candidates or speed_candidates()
    path = os.path.join(cache_dir or cache_root(), "speed.json")
    entry = (f"{describe()} | {backend_version()} | {key} | "
             + ", ".join(_speed_name(*candidate) for candidate in candidates))
    cache = _read_speed_cache(path)
    if entry in cache:
        rates = {tuple(pair): rate for *pair, rate in cache[entry]}
        how = f"measured on this machine earlier, cached in {path}"
    else:
        rates = probe_speed(build, batch, candidates, seconds)
        cache[entry] = [[*pair, round(rate, 1)] for pair, rate in rates.items()]
        how = f"measured now, cached in {path}"
        try:
            with atomic_path(path) as temporary, open(temporary, "w") as f:
                json.dump(cache, f, indent=1)
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else error
            warnings.warn(f"Cannot write the speed cache {path} ({reason}): the speeds "
                          "are measured again next time.", stacklevel=2)
            how = "measured now, not cached"
    precision, jit_compile = max(rates, key=rates.get)
    measured = ", ".join(f"{_speed_name(*pair)} {rate:.{0 if rate >= 10 else 1}f}"
                         for pair, rate in rates.items())
    return Settings(precision, jit_compile, f"images/s: {measured}; {how}")


def _read_speed_cache(path):
    """The speed cache at `path` as a dict: `{}` when there is none, and with
    a warning when it cannot be used (it is rewritten once measured)."""
    try:
        with open(path) as f:
            cache = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        problem = error.strerror if isinstance(error, OSError) else f"not JSON: {error}"
    else:
        if isinstance(cache, dict) and all(
                isinstance(rates, list) and all(isinstance(r, list) and len(r) == 3
                                                for r in rates) for rates in cache.values()):
            return cache
        problem = "not rates by model"
    warnings.warn(f"Ignoring the speed cache {path} ({problem}): measuring the speeds "
                  "again.", stacklevel=3)
    return {}


def _speed_name(precision, jit_compile):
    return precision + (" + XLA" if jit_compile else "")
