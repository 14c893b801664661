"""Hardware detection: native bfloat16 from /proc/cpuinfo, and the CLI's warning."""

import os

import pytest

from keras_gans import cli, hardware, run

AMD_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx avx2 fma
"""
XEON_AMX = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8481C
flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8481C
flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile
"""

XEON_AVX512 = """processor\t: 0
vendor_id\t: GenuineIntel
cpu MHz\t\t: 2300.000
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu avx2 fma avx512f avx512_bf16
"""


@pytest.fixture
def cpuinfo(tmp_path):
    def write(text):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        return str(path)

    return write


def test_cpu_without_bfloat16_units(cpuinfo):
    path = cpuinfo(AMD_AVX2)
    assert hardware.cpu_info(path) == ("AMD EPYC", {"fpu", "sse", "sse2", "avx", "avx2", "fma"})
    assert not hardware.cpu_has_native_bfloat16(path)
    assert hardware.describe(path).startswith("AMD EPYC, ")
    assert hardware.describe(path).endswith(", no native bfloat16")


def test_cpu_with_amx(cpuinfo):
    path = cpuinfo(XEON_AMX)
    assert hardware.cpu_has_native_bfloat16(path)
    assert hardware.describe(path).endswith("native bfloat16 (amx_bf16, avx512_bf16)")


def test_missing_cpuinfo_means_unknown(tmp_path):
    path = str(tmp_path / "absent")
    assert hardware.cpu_info(path) == ("", set())
    assert not hardware.cpu_has_native_bfloat16(path)


@pytest.mark.parametrize("native, precision, warned", [
    (False, "mixed_bfloat16", True),
    (True, "mixed_bfloat16", False),
    (False, "float32", False),
])
def test_cli_warns_when_bfloat16_would_be_emulated(monkeypatch, capsys, native, precision,
                                                   warned):
    monkeypatch.setattr(hardware, "cpu_has_native_bfloat16", lambda: native)
    run.warn_if_bfloat16_is_emulated(precision)
    assert ("emulates bfloat16" in capsys.readouterr().err) == warned


ORIGINAL_FASTEST_SETTINGS = hardware.fastest_settings
ORIGINAL_CHOOSE_SPEED = hardware.choose_speed


@pytest.mark.parametrize("text, has_gpu, precision, jit_compile", [
    (AMD_AVX2, False, "float32", True),
    (XEON_AMX, False, "mixed_bfloat16", False),
    (XEON_AMX, True, "float32", False),
    (XEON_AVX512, False, "float32", False),
    (XEON_AVX512.replace("GenuineIntel", "AuthenticAMD"), False, "mixed_bfloat16", False),
])
def test_fastest_settings_follow_the_cpu_kind(cpuinfo, text, has_gpu, precision,
                                              jit_compile):
    settings = ORIGINAL_FASTEST_SETTINGS(cpuinfo(text), has_gpu=has_gpu)
    assert (settings.precision, settings.jit_compile) == (precision, jit_compile)
    assert settings.reason


@pytest.mark.slow
def test_train_resolves_auto_speed_settings_and_explicit_flags_win(
        tmp_path, monkeypatch, capsys):
    import json

    import keras
    import numpy as np

    data = tmp_path / "tiny.npz"
    np.savez(data, x_train=np.zeros((8, 16, 16, 1), np.uint8))
    probes = []

    def probe(build, batch, key, candidates):
        probes.append((key, candidates))
        assert build().generator.output.shape[1:] == (16, 16, 1)
        return hardware.Settings("mixed_bfloat16", True, "a test probe")

    monkeypatch.setattr(hardware, "choose_speed", probe)

    def train(out, *flags):
        status = cli.main(["train", "dcgan", "--data-dir", str(data), "--batch-size", "4",
                           "--epochs", "1", "--quiet", "--out", str(tmp_path / out), *flags])
        metadata = json.loads((tmp_path / out / "generator" / "metadata.json").read_text())
        return status, capsys.readouterr().out, metadata

    status, printed, metadata = train("auto")
    assert status == 0
    assert "Speed: mixed_bfloat16, XLA (a test probe)" in printed
    assert (metadata["precision"], metadata["jit_compile"]) == ("mixed_bfloat16", True)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert probes[0] == ("dcgan 16x16x1, batch 4", hardware.speed_candidates())

    # An explicit flag wins, and auto chooses among what it leaves open.
    probes.clear()
    monkeypatch.setattr(hardware, "choose_speed", lambda build, batch, key, candidates: (
        probes.append(candidates) or hardware.Settings("float32", True, "a test probe")))
    status, printed, metadata = train("half", "--precision", "float32")
    assert status == 0 and "Speed: XLA (a test probe)" in printed
    assert probes == [[("float32", False), ("float32", True)]]

    status, printed, metadata = train("explicit", "--precision", "float32",
                                      "--jit-compile", "off")
    assert status == 0 and "Speed:" not in printed
    assert (metadata["precision"], metadata["jit_compile"]) == ("float32", False)
    assert len(probes) == 1


@pytest.mark.parametrize("text, candidates", [
    (AMD_AVX2, [("float32", False), ("float32", True)]),
    (XEON_AMX, [("float32", False), ("float32", True),
                ("mixed_bfloat16", False), ("mixed_bfloat16", True)]),
])
def test_speed_candidates_leave_out_emulated_bfloat16(cpuinfo, text, candidates):
    assert hardware.speed_candidates(cpuinfo(text)) == candidates


def test_choose_speed_probes_once_per_model_then_reads_the_cache(tmp_path, monkeypatch):
    rates = {("float32", False): 900.0, ("float32", True): 700.0,
             ("mixed_bfloat16", False): 1100.0}
    probed = []
    monkeypatch.setattr(hardware, "probe_speed", lambda build, batch, candidates, seconds: (
        probed.append(candidates) or {pair: rates[pair] for pair in candidates}))
    candidates = list(rates)

    first = ORIGINAL_CHOOSE_SPEED(None, None, "dcgan 28x28x1, batch 64", candidates,
                                  cache_dir=str(tmp_path))
    assert (first.precision, first.jit_compile) == ("mixed_bfloat16", False)
    assert "float32 900, float32 + XLA 700, mixed_bfloat16 1100" in first.reason
    assert "measured now" in first.reason
    again = ORIGINAL_CHOOSE_SPEED(None, None, "dcgan 28x28x1, batch 64", candidates,
                                  cache_dir=str(tmp_path))
    assert again[:2] == first[:2] and "earlier" in again.reason and len(probed) == 1
    other = ORIGINAL_CHOOSE_SPEED(None, None, "sngan 28x28x1, batch 320", candidates[:2],
                                  cache_dir=str(tmp_path))
    assert (other.precision, other.jit_compile) == ("float32", False) and len(probed) == 2


def test_probe_speed_builds_and_times_each_candidate_and_keeps_the_policy():
    import keras
    import numpy as np

    import keras_gans

    built = []

    def build():
        gan = keras_gans.VanillaGAN(image_shape=(8, 8, 1), latent_dim=4,
                                    discriminator_units=(16,), seed=0)
        gan.compile()
        built.append(gan.generator.dtype_policy.name)
        return gan

    images = np.zeros((8, 8, 8, 1), "float32")
    rates = hardware.probe_speed(build, images, [("float32", False), ("mixed_bfloat16", False)],
                                 seconds=0.05)
    assert built == ["float32", "mixed_bfloat16"]
    assert set(rates) == {("float32", False), ("mixed_bfloat16", False)}
    assert all(rate > 0 for rate in rates.values())
    assert keras.mixed_precision.global_policy().name == "float32"

    # A labelled batch is timed as fit gives it, (images, labels).
    def conditional():
        gan = keras_gans.ConditionalGAN(image_shape=(16, 16, 1), num_classes=2, seed=0)
        gan.compile()
        return gan

    rates = hardware.probe_speed(conditional, (np.zeros((8, 16, 16, 1), "float32"),
                                               np.arange(8) % 2),
                                 [("float32", False)], seconds=0.05)
    assert rates[("float32", False)] > 0


def test_measured_rate_is_the_fastest_step_so_a_busy_moment_does_not_decide():
    import time

    import keras
    import numpy as np
    import tensorflow as tf

    class SometimesSlow(keras.Model):
        """Steps take 10 ms, except the fourth, which takes 500 ms."""

        def __init__(self):
            super().__init__()
            self.steps = 0

        def train_step(self, data):
            return {"slow": tf.py_function(self.sleep, [], tf.float32)}

        def sleep(self):
            self.steps += 1
            time.sleep(0.5 if self.steps == 4 else 0.01)
            return 0.0

    model = SometimesSlow()
    model.compile(run_eagerly=True)
    rate = hardware.measure_images_per_second(model, np.zeros((8, 2), "float32"), seconds=0.05)
    assert model.steps >= 4  # the slow step was timed
    assert 8 / 0.5 * 5 < rate < 8 / 0.01  # but the rate is a 10 ms step's


@pytest.mark.parametrize("text, lanes", [
    (XEON_AVX512, 32),
    (XEON_AVX512.replace("GenuineIntel", "AuthenticAMD"), 16),
    (AMD_AVX2, 16),
    ("processor\t: 0\nflags\t\t: fpu sse sse2\n", 4),
])
def test_fma_lanes_follow_the_vector_units(cpuinfo, text, lanes):
    assert hardware.fp32_fma_lanes(cpuinfo(text)) == lanes


def test_peak_is_cores_clock_lanes_and_two_flops_per_fma(cpuinfo, monkeypatch):
    monkeypatch.setattr(hardware.os, "cpu_count", lambda: 2)
    peak = hardware.peak_fp32_flops(cpuinfo(XEON_AVX512))
    assert peak.flops_per_second == pytest.approx(2 * 2.3e9 * 32 * 2)
    assert peak.formula == "2 cores x 2.30 GHz x 32 FMA lanes x 2 = 294 GFLOP/s"
    assert hardware.peak_fp32_flops(cpuinfo(AMD_AVX2)).flops_per_second is None


def test_graph_flops_counts_a_matrix_product_and_a_train_step():
    import numpy as np
    import tensorflow as tf

    import keras_gans

    assert hardware.graph_flops(tf.matmul, tf.TensorSpec((8, 16)), tf.TensorSpec((16, 4))) == (
        2 * 8 * 16 * 4)
    gan = keras_gans.VanillaGAN(image_shape=(8, 8, 1), latent_dim=4,
                                discriminator_units=(16,), seed=0)
    gan.compile()
    images = np.zeros((4, 8, 8, 1), "float32")
    flops = hardware.train_step_flops(gan, images)
    # G's forward products alone: 2 * batch * inputs * outputs per dense kernel;
    # the step runs G forward and backward and D on real and fake images.
    generator_forward = sum(2 * 4 * int(np.prod(w.shape))
                            for w in gan.generator.weights if len(w.shape) == 2)
    assert flops > 3 * generator_forward
    # Per-image work grows with the batch; the optimizers' updates do not.
    flops_8, flops_12 = (hardware.train_step_flops(gan, np.zeros((n, 8, 8, 1), "float32"))
                         for n in (8, 12))
    assert flops_12 - flops_8 == pytest.approx(flops_8 - flops, rel=1e-3)
    assert flops_8 - flops > 2 * generator_forward


def fast_probe(build, batch, candidates, seconds):
    """Rates for each candidate that make float32 without XLA the fastest."""
    return {pair: 100.0 if pair == ("float32", False) else 50.0 for pair in candidates}


def test_a_speed_cache_holding_an_array_does_not_stop_training(tmp_path, monkeypatch,
                                                               capsys, recwarn):
    import json

    import numpy as np

    monkeypatch.setenv("KERAS_GANS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hardware, "choose_speed", ORIGINAL_CHOOSE_SPEED)
    monkeypatch.setattr(hardware, "probe_speed", fast_probe)
    speed = tmp_path / "cache" / "speed.json"
    speed.parent.mkdir()
    speed.write_text("[]")
    data = tmp_path / "tiny.npz"
    np.savez(data, x_train=np.zeros((8, 16, 16, 1), np.uint8))
    status = cli.main(["train", "dcgan", "--data-dir", str(data), "--batch-size", "4",
                       "--epochs", "1", "--latent-dim", "8", "--quiet",
                       "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert status == 0 and "Traceback" not in captured.err, captured.err
    assert "Speed: float32, no XLA" in captured.out
    warned = [str(w.message) for w in recwarn if "speed cache" in str(w.message)]
    assert warned == [f"Ignoring the speed cache {speed} (not rates by model): measuring "
                      "the speeds again."]
    assert len(json.loads(speed.read_text())) == 1  # rewritten with the measured speeds


@pytest.mark.parametrize("damage", ["unreadable JSON", "read-only", "full disk"])
def test_a_speed_cache_that_cannot_be_read_or_written_gives_one_warning(
        tmp_path, monkeypatch, recwarn, damage):
    """The speed cache is an optimisation: the speeds are measured and used,
    with one warning, and no temporary file is left behind."""
    import json
    import subprocess
    import types

    monkeypatch.setattr(hardware, "probe_speed", fast_probe)
    speed = tmp_path / "speed.json"
    if damage == "unreadable JSON":
        speed.write_text('{"truncated')
    elif damage == "full disk":
        def fills_the_disk(value, f, **kwargs):
            f.write("{")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(hardware, "json", types.SimpleNamespace(load=json.load,
                                                                     dump=fills_the_disk))
    elif subprocess.run(["chattr", "+i", str(tmp_path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        settings = ORIGINAL_CHOOSE_SPEED(None, None, "dcgan 16x16x1, batch 4",
                                         [("float32", False), ("float32", True)],
                                         cache_dir=str(tmp_path))
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path)], capture_output=True)
    assert (settings.precision, settings.jit_compile) == ("float32", False)
    warned = [str(w.message) for w in recwarn if "speed cache" in str(w.message)]
    assert len(warned) == 1 and str(speed) in warned[0], warned
    if damage == "unreadable JSON":
        assert "not JSON" in warned[0] and len(json.loads(speed.read_text())) == 1
    else:
        assert "Cannot write the speed cache" in warned[0]
        assert "not cached" in settings.reason
        assert os.listdir(tmp_path) == []
