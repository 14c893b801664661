"""The TensorFlow side of a training step.

`minimize` records `play()` on a persistent `tf.GradientTape` and takes each
player's gradient from it, as paired tapes do; the rest is what Keras'
backend-neutral `ops` cannot express: `tf.distribute` replica contexts,
stateless random draws per replica and graph assertions.
"""

import tensorflow as tf
from keras import ops

DISTRIBUTIONS = {"normal": tf.random.stateless_normal, "uniform": tf.random.stateless_uniform}


def train_step(step):
    """`step` itself: Keras' TensorFlow trainer traces `train_step(data)`."""
    return step


def minimize(game, play):
    """Runs `play()` on a tape; each player then takes one optimizer step on
    the gradient of its objective.

    Args:
        game: the `AdversarialModel` whose players are updated.
        play: a function returning `({player: objective}, logs)`.

    Returns:
        The logs `play` returned.

    The gradient is seeded with the game's `gradient_scale` (loss scale over
    replicas), which equals differentiating the scaled loss. Players that
    share an optimizer are updated by one step of it on all their gradients;
    every optimizer steps once all gradients are taken.

    Example:

    ```python
    logs = minimize(game, lambda: ({"discriminator": d_loss_of_fresh_call()}, {}))
    ```
    """
    with tf.GradientTape(persistent=True) as tape:
        objectives, logs = play()
    steps = {}  # optimizer id: (optimizer, gradients, variables)
    for name, objective in objectives.items():
        optimizer = game.optimizer_of(name)
        variables = game.trained_variables(name)
        scale = ops.cast(game.gradient_scale(optimizer), objective.dtype)
        gradients = tape.gradient(objective, variables, output_gradients=scale)
        _, all_gradients, all_variables = steps.setdefault(id(optimizer), (optimizer, [], []))
        all_gradients.extend(gradients)
        all_variables.extend(variables)
    for optimizer, gradients, variables in steps.values():
        optimizer.apply(gradients, variables)
    return logs


def input_gradients(function, inputs):
    """The gradient of `sum(function(inputs))` with respect to `inputs`, in float32."""
    inputs = ops.cast(inputs, "float32")
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = function(inputs)
    return ops.cast(tape.gradient(outputs, inputs), "float32")


def replica_count():
    """How many replicas `tf.distribute` sums the gradients of."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def multi_worker():
    """Whether training runs under a MultiWorkerMirroredStrategy over several workers."""
    strategy = tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode())


def sample(distribution, shape, seed_generator):
    """Draws `shape` from `"normal"` or `"uniform"` (0, 1) with a fresh seed.

    Under `tf.distribute`, every replica draws the global batch from the shared
    seed and keeps its own slice, so replicas get different samples and a
    distributed step matches a single-device step on the same data.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    batch_size = shape[0]
    samples = DISTRIBUTIONS[distribution]((batch_size * replicas, *shape[1:]),
                                          seed=seed_generator.next())
    if replicas > 1:
        start = context.replica_id_in_sync_group * batch_size
        samples = samples[start:start + batch_size]
    return samples


def normal_like(tensor, seed_generator):
    """Standard normal noise of `tensor`'s shape and dtype (every replica its own)."""
    return tf.random.stateless_normal(ops.shape(tensor), seed=seed_generator.next(),
                                      dtype=tensor.dtype)


def checks_run_in_step(model):
    """Whether `checked`'s assertions run in the traced step: XLA drops them."""
    return not model.jit_compile


def checked(value, *conditions):
    """`value`, once every `(condition, message)` holds: in a graph, the checks
    run before anything that uses `value`, so a bad batch trains nothing."""
    return after([tf.debugging.Assert(ops.all(condition), [message])
                  for condition, message in conditions], value)


def after(dependencies, value):
    """`value`, computed only once the tensors `dependencies` are."""
    with tf.control_dependencies(dependencies):
        return tf.nest.map_structure(tf.identity, value)


def is_dataset(x):
    return isinstance(x, tf.data.Dataset)


def map_dataset(dataset, function):
    """`dataset.map(function)` in order, prefetched."""
    return dataset.map(function, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)


def gather_replicas(tensor):
    """`tensor` of every `tf.distribute` replica, concatenated along axis 0 in
    replica order: the global batch (`tensor` itself on one device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tensor
    return context.all_gather(tensor, axis=0)


def replica_slice(tensor, size):
    """This replica's `size` rows of a global batch made by `gather_replicas`."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tensor
    start = context.replica_id_in_sync_group * size
    return tensor[start:start + size]
