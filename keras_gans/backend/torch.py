"""The PyTorch side of a training step.

Keras' PyTorch trainer runs `train_step(data)` eagerly, so a step is
ordinary autograd: `minimize` runs `play()` once, takes one
`torch.autograd.grad` pass per distinct objective with respect to its
players' weights (keeping the graph for the next), and then, all gradients
taken, steps every optimizer under `torch.no_grad()`. Gradients with respect
to the inputs keep their graph (`create_graph=True`), so a gradient penalty
or R1 is differentiated again.
"""

import torch
from keras import ops

from keras_gans.backend.common import check_now

# `minimize` takes several gradients through one graph (`retain_graph`),
# which a `torch.compile`d backward that donates its buffers refuses
# (`jit_compile=True` on PyTorch).
torch._functorch.config.donated_buffer = False


def train_step(step):
    """`step` itself: Keras' PyTorch trainer calls `train_step(data)`."""
    return step


def minimize(game, play):
    """Runs `play()`; each player then takes one optimizer step on the
    gradient of its objective.

    Args:
        game: the `AdversarialModel` whose players are updated.
        play: a function returning `({player: objective}, logs)`.

    Returns:
        The logs `play` returned, detached from the graph.
    """
    objectives, logs = play()
    distinct = []  # [(objective, [players])]
    for name, objective in objectives.items():
        entry = next((entry for entry in distinct if entry[0] is objective), None)
        if entry is None:
            distinct.append((objective, [name]))
        else:
            entry[1].append(name)
    steps = {}  # optimizer id: (optimizer, gradients, variables)
    for position, (objective, players) in enumerate(distinct):
        variables = [game.trained_variables(name) for name in players]
        scale = game.gradient_scale(game.optimizer_of(players[0]))
        gradients = iter(torch.autograd.grad(
            objective * ops.cast(scale, objective.dtype),
            [v.value for player_variables in variables for v in player_variables],
            retain_graph=position + 1 < len(distinct), allow_unused=True))
        for name, player_variables in zip(players, variables, strict=True):
            optimizer = game.optimizer_of(name)
            _, all_gradients, all_variables = steps.setdefault(id(optimizer),
                                                               (optimizer, [], []))
            for variable in player_variables:
                gradient = next(gradients)
                all_gradients.append(torch.zeros_like(variable.value) if gradient is None
                                     else gradient)
                all_variables.append(variable)
    with torch.no_grad():
        for optimizer, gradients, variables in steps.values():
            optimizer.apply(gradients, variables)
    return {name: value.detach() if torch.is_tensor(value) else value
            for name, value in logs.items()}


def input_gradients(function, inputs):
    """The gradient of `sum(function(inputs))` with respect to `inputs`, in
    float32, with its graph kept for a second derivative."""
    inputs = ops.cast(inputs, "float32").detach().requires_grad_(True)
    outputs = ops.cast(function(inputs), "float32")
    (gradients,) = torch.autograd.grad(ops.sum(outputs), inputs, create_graph=True)
    return gradients


def checks_run_in_step(model):
    """Whether `checked` reads its conditions: in an eager step, always."""
    return not model.jit_compile


def checked(value, *conditions):
    """`value`, once every `(condition, message)` holds."""
    return check_now(value, conditions, lambda tensor: False)
