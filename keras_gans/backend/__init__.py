"""What a training step needs from the Keras backend, one module per backend.

The game layer (`keras_gans.models.adversarial`) and the few layers that
touch replicas or differentiate twice call only these functions; variants
call none of them. `keras.ops` and `keras.random` do everything else.

- `train_step(step)`: a variant's `train_step(self, data)` in the form the
  backend's trainer calls (on JAX, a pure function of the model's state).
- `minimize(game, play)`: runs `play()`, which returns
  `({player: objective}, logs)`, differentiates each objective with respect
  to its player's weights and steps that player's optimizer.
- `input_gradients(function, inputs)`: the gradient of `sum(function(x))`
  with respect to `x`, differentiable again (gradient penalties, R1).
- `sample`, `normal_like`: noise from the game's `SeedGenerator`, every
  `tf.distribute` replica its own slice.
- `checked`, `after`: input checks that run before the step uses a batch;
  `checks_run_in_step(model)`: whether they can (not under XLA or `jax.jit`).
- `replica_count`, `multi_worker`, `gather_replicas`, `replica_slice`:
  `tf.distribute`'s replicas; one replica elsewhere.
- `is_dataset`, `map_dataset`: `tf.data` inputs.

Example:

```python
from keras_gans import backend

logs = backend.minimize(game, play)
```
"""

import keras

from keras_gans.backend import common

NAME = keras.backend.backend()

if NAME == "tensorflow":
    from keras_gans.backend import tensorflow as _backend
elif NAME == "jax":
    from keras_gans.backend import jax as _backend
elif NAME == "torch":
    from keras_gans.backend import torch as _backend
else:
    raise ImportError(f"keras-gans trains on the tensorflow, jax and torch Keras backends, "
                      f"not on {NAME!r}: set KERAS_BACKEND to one of them.")


def _own(name):
    """The backend module's `name`, else the one-device version of `common`."""
    return getattr(_backend, name, None) or getattr(common, name)


train_step = _own("train_step")
minimize = _own("minimize")
input_gradients = _own("input_gradients")
sample = _own("sample")
normal_like = _own("normal_like")
checks_run_in_step = _own("checks_run_in_step")
checked = _own("checked")
after = _own("after")
replica_count = _own("replica_count")
multi_worker = _own("multi_worker")
gather_replicas = _own("gather_replicas")
replica_slice = _own("replica_slice")
is_dataset = _own("is_dataset")
map_dataset = _own("map_dataset")
