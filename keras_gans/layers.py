"""Layers used by the keras_gans networks."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gans")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the batch's mean feature standard deviation as one more channel.

    Works on feature maps `[N, H, W, C]` and on flat features `[N, F]` alike:
    the spread is appended along the last axis.

    Lets the discriminator see the variety of a whole batch, so that a
    collapsed generator is easy to reject (Karras et al. 2018, section 3;
    a simplified form of Salimans et al. 2016's minibatch discrimination).
    """

    def call(self, inputs):
        inputs = ops.convert_to_tensor(inputs)
        std = ops.sqrt(ops.var(inputs, axis=0) + 1e-8)
        mean_std = ops.mean(std)
        extra = ops.ones_like(inputs[..., :1]) * ops.cast(mean_std, inputs.dtype)
        return ops.concatenate([inputs, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)
