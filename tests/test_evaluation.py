"""evaluate_generator, FIDMonitor, the shipped classifier and the CLI command."""

import glob
import json
import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import requires_fashion_mnist

import keras_gans
from keras_gans import classifier, cli, evaluation
from keras_gans.data import load_dataset, load_images, to_uint8

pytestmark = requires_fashion_mnist

RESULT_KEYS = {"fid", "kid", "kid_std", "is", "is_std", "coverage", "coverage_min",
               "classes_covered", "coverage_real", "classes_covered_real", "n", "n_real",
               "real_split", "feature_space", "fid_floor", "floor_n", "dataset"}


class RealImages:
    """A "generator" that returns training images of the requested classes."""

    image_shape = (28, 28, 1)

    def __init__(self, conditional=False, only_class=None):
        train = load_images("fashion_mnist", "train")
        self.images, self.labels = train.images, train.labels
        self.conditional = conditional
        self.num_classes = 10 if conditional else None
        self.only_class = only_class

    def generate(self, n, labels=None, seed=None):
        rng = np.random.default_rng(seed)
        if labels is None and self.only_class is not None:
            labels = np.full(n, self.only_class)
        if labels is None:
            index = rng.choice(len(self.images), n, replace=False)
        else:
            index = [rng.choice(np.flatnonzero(self.labels == label)) for label in labels]
        return self.images[index].astype(np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def extractor():
    return classifier.classifier_extractor("fashion_mnist")


def test_shipped_classifier_is_small_and_accurate():
    path = classifier.classifier_weights_path("fashion_mnist")
    assert os.path.getsize(path) <= 2 * 1024 * 1024
    model = classifier.load_classifier("fashion_mnist")
    test = load_images("fashion_mnist", "test")
    logits = model.predict(test.images[:2000].astype(np.float32) / 127.5 - 1.0,
                           batch_size=500, verbose=0)
    assert np.mean(logits.argmax(axis=1) == test.labels[:2000]) > 0.88


def test_missing_classifier_weights_name_the_training_script():
    with pytest.raises(FileNotFoundError, match="train_classifier.py --dataset mnist"):
        classifier.load_classifier("mnist", path="/nonexistent/mnist.weights.h5")


def test_evaluate_untrained_dcgan(extractor):
    gan = keras_gans.DCGAN(seed=0)
    result = evaluation.evaluate_generator(gan, n=200, extractor=extractor)
    assert set(result) == RESULT_KEYS
    json.loads(json.dumps(result))
    assert result["feature_space"] == "fashion_mnist_classifier"
    assert result["n"] == 200 and result["n_real"] == 10000
    assert result["real_split"] == "test" and result["classes_covered_real"] == 10
    assert result["fid"] > 0 and result["kid"] > 0 and result["kid_std"] >= 0
    assert 1.0 <= result["is"] <= 10.0
    assert len(result["coverage"]) == 10
    assert sum(result["coverage"]) == pytest.approx(1.0)
    assert result["coverage_min"] == min(result["coverage"])
    again = evaluation.evaluate_generator(gan, n=200, extractor=extractor)
    assert again == result


def test_real_images_score_far_better_than_noise_and_cover_every_class(extractor):
    real = evaluation.evaluate_generator(RealImages(), n=2000, extractor=extractor)
    collapsed = evaluation.evaluate_generator(RealImages(only_class=1), n=2000,
                                              extractor=extractor)
    assert real["fid"] < 0.1 * collapsed["fid"]
    assert real["kid"] < 0.1 * collapsed["kid"]
    assert real["classes_covered"] == 10 and real["coverage_min"] > 0.05
    assert real["is"] > 5.0
    assert collapsed["classes_covered"] == 1 and collapsed["coverage_min"] < 0.02
    assert collapsed["is"] < 1.5


def test_conditional_accuracy_of_a_perfect_and_an_untrained_conditional_model(extractor):
    perfect = evaluation.evaluate_generator(RealImages(conditional=True), n=1000,
                                            extractor=extractor)
    assert perfect["cond_acc"] > 0.88
    assert perfect["coverage"] == pytest.approx([0.1] * 10, abs=0.03)
    untrained = evaluation.evaluate_generator(
        keras_gans.ConditionalGAN(num_classes=10, seed=0), n=200, extractor=extractor)
    assert set(untrained) == RESULT_KEYS | {"cond_acc"}
    assert 0.0 <= untrained["cond_acc"] < 0.5
    json.loads(json.dumps(untrained))


def test_conditional_samples_are_asked_for_the_real_class_mix():
    model = types.SimpleNamespace(conditional=True, num_classes=10)
    balanced = evaluation.RealReference(None, None, 10, 10, {}, np.full(10, 0.1))
    np.testing.assert_array_equal(evaluation.labels_in_proportion(model, 23, balanced),
                                  np.arange(23) % 10)
    shares = np.array([0.6, 0.3, 0.1] + [0.0] * 7)
    skewed = evaluation.RealReference(None, None, 10, 10, {}, shares)
    labels = evaluation.labels_in_proportion(model, 1000, skewed)
    assert np.bincount(labels, minlength=10).tolist() == [600, 300, 100] + [0] * 7
    # Interleaved: every tenth of the samples holds the same mix.
    assert np.bincount(labels[:100], minlength=3).tolist()[:3] == [60, 30, 10]
    unconditional = types.SimpleNamespace(conditional=False, num_classes=None)
    assert evaluation.labels_in_proportion(unconditional, 5, skewed) is None


def test_evaluate_an_export_matches_its_model(tmp_path, extractor):
    gan = keras_gans.DCGAN(seed=0)
    gan.export(str(tmp_path / "generator"))
    exported = keras_gans.load_generator(str(tmp_path / "generator"))
    from_export = evaluation.evaluate_generator(exported, n=200, extractor=extractor)
    from_model = evaluation.evaluate_generator(gan, n=200, extractor=extractor)
    assert from_export["fid"] == pytest.approx(from_model["fid"], rel=1e-3)
    assert from_export["kid"] == pytest.approx(from_model["kid"], rel=1e-2, abs=1e-4)


def test_cli_evaluate_prints_one_json_line(tmp_path, capsys):
    gan = keras_gans.ConditionalGAN(num_classes=10, seed=0)
    gan.export(str(tmp_path / "generator"), metadata={"dataset": "fashion_mnist"})
    status = cli.main(["evaluate", str(tmp_path / "generator"), "--n", "100"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert status == 0
    result = json.loads(lines[-1])
    assert set(result) == RESULT_KEYS | {"cond_acc"} and result["n"] == 100


def test_a_generator_of_the_wrong_shape_is_refused(extractor):
    gan = keras_gans.DCGAN(image_shape=(32, 32, 3), seed=0)
    with pytest.raises(ValueError, match=r"shape \(32, 32, 3\)"):
        evaluation.evaluate_generator(gan, n=10, extractor=extractor)


def test_training_lowers_fid_and_kid(extractor):
    keras.utils.set_random_seed(0)
    gan = keras_gans.DCGAN(seed=0)
    gan.compile()
    before = evaluation.evaluate_generator(gan, n=1000, extractor=extractor)
    gan.fit(load_dataset("fashion_mnist", batch_size=32, limit=4800, seed=0), epochs=2,
            verbose=0)
    after = evaluation.evaluate_generator(gan, n=1000, extractor=extractor)
    assert after["fid"] < 0.8 * before["fid"]
    assert after["kid"] < before["kid"]
    assert after["classes_covered"] > before["classes_covered"]


class RecordLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))


def fit_with_monitor(gan, extractor, callbacks):
    gan.compile()
    monitor = evaluation.FIDMonitor(every=2, n=200, extractor=extractor)
    return gan.fit(load_dataset("fashion_mnist", batch_size=64, limit=128, seed=0),
                   epochs=4, verbose=0, callbacks=[monitor, *callbacks])


def test_fid_monitor_logs_into_history_later_callbacks_and_tensorboard(tmp_path, extractor):
    gan = keras_gans.DCGAN(seed=0)
    recorder = RecordLogs()
    history = fit_with_monitor(gan, extractor,
                               [recorder, keras.callbacks.TensorBoard(str(tmp_path))])
    assert len(history.history["fid"]) == 2
    assert len(history.history["kid"]) == 2
    assert all(np.isfinite(history.history["fid"]))
    assert ["fid" in logs for logs in recorder.logs] == [False, True, False, True]
    # The monitor measures the model as it is: the same numbers as evaluating it.
    last = evaluation.evaluate_generator(gan, n=200, extractor=extractor)
    assert history.history["fid"][-1] == pytest.approx(last["fid"], rel=1e-6)
    assert history.history["kid"][-1] == pytest.approx(last["kid"], rel=1e-6)
    tags = set()
    for path in glob.glob(str(tmp_path / "train" / "*tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    assert {"epoch_fid", "epoch_kid"} <= tags


def test_uint8_and_float_images_give_the_same_batches():
    images = RealImages().generate(64, seed=0)
    uint8_batch = next(evaluation.array_batches(to_uint8(images), 64))
    np.testing.assert_allclose(uint8_batch, images, atol=1e-6)
