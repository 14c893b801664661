"""What generate and keras-gans sample accept as counts and labels."""

import numpy as np
import pytest

import keras_gans
from keras_gans import sampling

NAMES = ["cat", "Dog", "bird"]


@pytest.fixture(scope="module")
def cgan():
    return keras_gans.ConditionalGAN(num_classes=3, image_shape=(16, 16, 1), seed=0,
                                     class_names=NAMES)


def test_labels_by_name_index_or_one_for_all():
    np.testing.assert_array_equal(sampling.requested_labels(["dog", 2, "CAT"], 3, 3, NAMES),
                                  [1, 2, 0])
    np.testing.assert_array_equal(sampling.requested_labels("bird", 2, 3, NAMES), [2, 2])
    np.testing.assert_array_equal(sampling.requested_labels(None, 4, 3), [0, 1, 2, 0])
    np.testing.assert_array_equal(sampling.requested_labels(1.0, 2, 3), [1, 1])


@pytest.mark.parametrize("labels, message", [
    ([0, 1], "Got 2 labels for 16 images: pass one label for all, or one per image"),
    ("horse", "Unknown class 'horse'.*the classes are: cat, Dog, bird"),
    (2.5, "Unknown class 2.5"),
    (3, r"Labels must lie in \[0, 3\), got values from 3 to 3"),
])
def test_bad_labels_are_named(cgan, labels, message):
    with pytest.raises(ValueError, match=message):
        cgan.generate(16, labels=labels)


def test_class_names_steer_generate_and_survive_the_config(cgan):
    by_name = cgan.generate(2, labels="Dog", seed=1)
    np.testing.assert_array_equal(by_name, cgan.generate(2, labels=[1, 1], seed=1))
    rebuilt = keras_gans.ConditionalGAN.from_config(cgan.get_config())
    assert rebuilt.class_names == NAMES


@pytest.mark.parametrize("n", [-1, 2.7, True])
def test_counts_that_are_not_whole_are_refused(cgan, n):
    with pytest.raises(ValueError, match="whole number >= 0"):
        cgan.generate(n)


def test_zero_images_and_a_float_whole_count(cgan):
    assert cgan.generate(0).shape == (0, 16, 16, 1)
    assert cgan.generate(3.0).shape == (3, 16, 16, 1)


def test_class_names_must_match_the_classes():
    with pytest.raises(ValueError, match="2 class_names for 3 classes"):
        keras_gans.ConditionalGAN(num_classes=3, class_names=["a", "b"])


def test_a_discriminator_that_ends_in_a_sigmoid_is_warned_about():
    import keras

    discriminator = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(1, activation="sigmoid")], name="mine")
    generator = keras.Sequential([keras.Input((8,)), keras.layers.Dense(256),
                                  keras.layers.Reshape((16, 16, 1))])
    with pytest.warns(UserWarning, match="'mine' ends in a sigmoid.*take logits"):
        keras_gans.GAN(generator, discriminator)


def test_fit_on_a_dataset_does_not_warn_about_shuffle(recwarn):
    from keras_gans import data

    gan = keras_gans.DCGAN(image_shape=(16, 16, 1), seed=0)
    gan.compile()
    gan.fit(data.make_dataset(np.zeros((8, 16, 16, 1), np.uint8), batch_size=4), verbose=0)
    assert not [w for w in recwarn if "shuffle" in str(w.message)]


def test_the_conditional_preset_takes_class_names(tmp_path, capsys):
    from keras_gans import cli

    out = tmp_path / "boots.png"
    assert cli.main(["sample", "cgan_fashion_mnist", "--n", "4", "--labels", "Ankle boot",
                     "--out", str(out)]) == 0
    model = keras_gans.ConditionalGAN.from_preset("cgan_fashion_mnist")
    np.testing.assert_array_equal(model.generate(2, labels="ankle boot", seed=0),
                                  model.generate(2, labels=9, seed=0))


def test_a_request_that_cannot_fit_in_memory_is_refused_up_front(cgan):
    with pytest.raises(ValueError, match=r"10000000000 images of shape \(16, 16, 1\) need "
                                         r"9536\.7 GiB, more than half"):
        cgan.generate(10**10)
