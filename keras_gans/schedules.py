"""Learning-rate schedules the variants' papers use."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gans")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate held for `constant_steps`, then falling linearly to
    zero over `decay_steps` (CycleGAN: 100 epochs of each; Zhu et al. 2017,
    section 7.1). The rate falls every step, where the paper's code lowers
    it once an epoch.

    Args:
        initial_learning_rate: the rate of the constant phase.
        constant_steps: steps at that rate.
        decay_steps: steps from it to zero.

    Example:

    ```python
    steps = 53  # batches per epoch
    schedule = ConstantThenLinearDecay(2e-4, 100 * steps, 100 * steps)
    optimizer = keras.optimizers.Adam(schedule, beta_1=0.5)
    ```
    """

    def __init__(self, initial_learning_rate, constant_steps, decay_steps):
        if constant_steps < 0 or decay_steps < 1:
            raise ValueError(f"constant_steps must be >= 0 and decay_steps >= 1, got "
                             f"{constant_steps} and {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.constant_steps = int(constant_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        decayed = (ops.cast(step, "float32") - self.constant_steps) / self.decay_steps
        return self.initial_learning_rate * (1.0 - ops.clip(decayed, 0.0, 1.0))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "constant_steps": self.constant_steps, "decay_steps": self.decay_steps}
