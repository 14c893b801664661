"""The JAX side of a training step.

JAX differentiates functions, not recordings, and Keras' JAX trainer runs a
step as a pure function of the model's state under `jax.jit`. So the step
reads and writes variables as on TensorFlow, inside `keras.StatelessScope`s:

- `train_step` runs a variant's step in a scope that maps every variable of
  the model, of every player's optimizer and of the trackers to the state
  `fit` passes in, and returns the values the step assigned as the new
  state. Nothing assigned inside `jit` leaks out of it or is frozen into it
  as a constant.
- `minimize(game, play)` runs `play` as a function of the trained players'
  weights under `jax.vjp`, in a scope of its own. The variables `play`
  assigns on the way (BatchNorm statistics, spectral-norm vectors, the
  noise seed, the image pool) leave that function as auxiliary outputs and
  are assigned after it. Each distinct objective is one pull-back; then
  every optimizer steps, all gradients taken.
- `input_gradients` does the same for a gradient with respect to the
  inputs inside an objective (gradient penalties, R1), so it can be
  differentiated again.
"""

import functools

import jax
import keras

from keras_gans.backend.common import check_now

# The variables of the steps being traced, innermost last: the inner scopes
# of `minimize` and `input_gradients` map all of them, since a
# `StatelessScope` does not read through to the scope around it.
_STEP_VARIABLES = []


def state_variables(model):
    """The variables of Keras' JAX training state, in its order:
    `(trainable, non-trainable, optimizer, metrics)`. The model's `optimizer`
    holds every player's optimizer, so all their slots are threaded."""
    return (model.trainable_variables, model.non_trainable_variables,
            model.optimizer.variables, model.metrics_variables)


def train_step(step):
    """`step(model, data)` as Keras' JAX trainer calls it,
    `train_step(state, data) -> (logs, state)`; called with the batch alone
    (from within another step, or eagerly), it runs `step` as it is.
    `AdversarialModel` wraps every variant's `train_step` with it.

    Example:

    ```python
    logs, state = train_step(GAN.train_step.__wrapped__)(model, state, batch)
    ```
    """

    @functools.wraps(step)
    def stateless_step(model, *args):
        if len(args) == 1:
            return step(model, args[0])
        state, data = args
        groups = state_variables(model)
        mapping = [(variable, value) for variables, values in zip(groups, state, strict=True)
                   for variable, value in zip(variables, values, strict=True)]
        _STEP_VARIABLES.append([variable for variables in groups for variable in variables])
        try:
            with keras.StatelessScope(state_mapping=mapping) as scope:
                logs = step(model, data)
        finally:
            _STEP_VARIABLES.pop()
        return logs, tuple([scope.get_current_value(variable) for variable in variables]
                           for variables in groups)

    return stateless_step


def _step_variables(game=None):
    """The variables of the step being traced; outside `fit`, the game's."""
    if _STEP_VARIABLES:
        return _STEP_VARIABLES[-1]
    return [] if game is None else [v for group in state_variables(game) for v in group]


def _call_stateless(function, variables, overrides=()):
    """Runs `function()` in a scope mapping `variables` to their current
    values and each `(variable, value)` of `overrides` to its value.

    Returns:
        `(result, assigned)`: what `function` returned, and
        `[(variable, value)]` for each mapped variable it assigned.
    """
    mapping = {id(variable): (variable, variable.value) for variable in variables}
    mapping.update((id(variable), (variable, value)) for variable, value in overrides)
    with keras.StatelessScope(state_mapping=list(mapping.values())) as scope:
        before = [(variable, scope.get_current_value(variable))
                  for variable, _ in mapping.values()]
        result = function()
    assigned = [(variable, scope.get_current_value(variable)) for variable, value in before
                if scope.get_current_value(variable) is not value]
    return result, assigned


def _assign(assigned_variables, values):
    for variable, value in zip(assigned_variables, values, strict=True):
        variable.assign(value)


def minimize(game, play):
    """Differentiates `play()`'s objectives with `jax.vjp`; each player then
    takes one optimizer step on the gradient of its objective.

    Args:
        game: the `AdversarialModel` whose players are updated.
        play: a function returning `({player: objective}, logs)`.

    Returns:
        The logs `play` returned.
    """
    players = [name for name in game.players if name not in game.frozen_players]
    trained = {name: list(game.trained_variables(name)) for name in players}
    weights = {name: [variable.value for variable in variables]
               for name, variables in trained.items()}
    # Filled while `forward` is traced (once): which objective each player
    # descends, and which variables `play` assigned.
    objective_of, assigned_variables = {}, []

    def forward(weights):
        overrides = [(variable, value) for name, variables in trained.items()
                     for variable, value in zip(variables, weights[name], strict=True)]
        (objectives, logs), assigned = _call_stateless(play, _step_variables(game), overrides)
        distinct = []
        for name, objective in objectives.items():
            index = next((i for i, seen in enumerate(distinct) if seen is objective), None)
            if index is None:
                index = len(distinct)
                distinct.append(objective)
            objective_of[name] = index
        assigned_variables.extend(variable for variable, _ in assigned)
        return tuple(distinct), (logs, [value for _, value in assigned])

    objectives, pull_back, (logs, assigned_values) = jax.vjp(forward, weights, has_aux=True)
    _assign(assigned_variables, assigned_values)

    gradients = {}
    for index in sorted(set(objective_of.values())):
        players_of_index = [name for name, i in objective_of.items() if i == index]
        scale = game.gradient_scale(game.optimizer_of(players_of_index[0]))
        seeds = tuple(keras.ops.cast(scale, o.dtype) * keras.ops.ones_like(o) if i == index
                      else keras.ops.zeros_like(o) for i, o in enumerate(objectives))
        (all_gradients,) = pull_back(seeds)
        for name in players_of_index:
            gradients[name] = all_gradients[name]

    steps = {}  # optimizer id: (optimizer, gradients, variables)
    for name, player_gradients in gradients.items():
        optimizer = game.optimizer_of(name)
        _, all_gradients, all_variables = steps.setdefault(id(optimizer), (optimizer, [], []))
        all_gradients.extend(player_gradients)
        all_variables.extend(trained[name])
    for optimizer, step_gradients, variables in steps.values():
        optimizer.apply(step_gradients, variables)
    return logs


def input_gradients(function, inputs):
    """The gradient of `sum(function(inputs))` with respect to `inputs`, in
    float32; the variables `function` assigns are assigned after it."""
    assigned_variables = []

    def total(inputs):
        outputs, assigned = _call_stateless(lambda: function(inputs), _step_variables())
        assigned_variables.extend(variable for variable, _ in assigned)
        return keras.ops.sum(keras.ops.cast(outputs, "float32")), [v for _, v in assigned]

    gradients, assigned_values = jax.grad(total, has_aux=True)(
        keras.ops.cast(inputs, "float32"))
    _assign(assigned_variables, assigned_values)
    return gradients


def checks_run_in_step(model):
    """Whether `checked` reads its conditions: only when the step runs
    eagerly (under `jit` they are symbolic)."""
    return bool(model.run_eagerly)


def checked(value, *conditions):
    """`value`, once every `(condition, message)` holds where it can be read."""
    return check_now(value, conditions, lambda tensor: isinstance(tensor, jax.core.Tracer))
