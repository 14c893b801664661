"""What the machine offers for training: CPU model and native bfloat16.

`mixed_bfloat16` is fast only where the hardware computes in bfloat16: GPUs
and TPUs that support it, and CPUs with AMX or AVX512-BF16 (recent Intel Xeon,
AMD Zen 4 and later). On other CPUs TensorFlow emulates it and training is
several times slower than in float32 (see `benchmarks/results/`).

`fastest_settings` turns that into the dtype policy and XLA choice that
`keras-gans train` uses by default (`--precision auto --jit-compile auto`).
"""

import collections
import os
import platform

CPUINFO = "/proc/cpuinfo"
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_info(path=CPUINFO):
    """`(model name, set of feature flags)` of the first CPU; empty where the
    system does not say (non-Linux)."""
    model, flags = "", set()
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model, flags


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
    """The step's fastest dtype policy and XLA choice measured on this kind of CPU.

    DCGAN at batch 64 (`benchmarks/throughput.py`, README's Performance
    section): on CPUs that compute bfloat16 natively, `mixed_bfloat16` was
    1.18x (Xeon with AMX) and 1.23x (AMD EPYC with AVX512-BF16) faster than
    float32 and XLA slower (0.72x); on an AMD EPYC with AVX2 only, bfloat16
    was emulated (0.13x) and XLA 1.97x faster. CPUs of other kinds get the
    second rule. GPUs were not measured: float32 without XLA.

    Unlike `compile(jit_compile="auto")`, which Keras resolves to no XLA on
    every CPU-only machine, this may choose XLA on a CPU.

    Args:
        path: the `/proc/cpuinfo` to read.
        has_gpu: whether TensorFlow sees a GPU.

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
    if has_gpu:
        return Settings("float32", False, "a GPU: speed options not measured there")
    _, flags = cpu_info(path)
    native = [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags]
    if native:
        return Settings("mixed_bfloat16", False,
                        f"this CPU computes bfloat16 natively ({', '.join(native)}), "
                        "where XLA was slower")
    return Settings("float32", True,
                    "this CPU emulates bfloat16, and XLA was about 2x faster on such CPUs")
