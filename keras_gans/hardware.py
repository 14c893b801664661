"""What the machine offers for training: CPU model and native bfloat16.

`mixed_bfloat16` is fast only where the hardware computes in bfloat16: GPUs
and TPUs that support it, and CPUs with AMX or AVX512-BF16 (recent Intel Xeon,
AMD Zen 4 and later). On other CPUs TensorFlow emulates it and training is
several times slower than in float32 (see `benchmarks/results/`).
"""

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
