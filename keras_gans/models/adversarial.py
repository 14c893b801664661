"""The game layer: any adversarial game of named players.

A player is a `keras.Model` with its own optimizer. `AdversarialModel` owns
what every such game needs, whatever its players take and return:

- `compile` builds one optimizer per player up front (so a `.keras` file
  restores all of their state, and `tf.distribute` never builds one inside a
  step) and wraps each for loss scaling under the `mixed_float16` policy;
- the check that a variant supports every option it is given;
- the model's `SeedGenerator`, saved with the model, and draws from it;
- `minimize(play)`: `play()` computes the players' objectives; each player
  takes one step of its optimizer on its objective's gradient, with the
  historical-averaging penalty added, on whichever Keras backend runs
  (`keras_gans.backend`: paired `GradientTape`s on TensorFlow, `jax.vjp`
  on JAX, autograd on PyTorch);
- the after-step updates (moving averages of players, historical
  averages), run after every variant's `train_step`; trackers; training
  some players alone (`train_only`);
- `get_config` from the constructor's hyperparameters.

A task layer on top (`NoiseToImage`; an image-to-image model later) says what
the players take and return; a variant writes only its paper's `train_step`.
"""

import functools
import inspect
import sys
import threading
import warnings

import keras
import numpy as np
from keras import ops

from keras_gans import backend, pretrained, saving

# Constructor arguments every game takes, besides its variant's own.
GAME_ARGUMENTS = ("name", "seed", "ema_decay", "historical_averaging", "frozen_blocks")
# Keyword arguments that `keras.Model` itself takes.
KERAS_ARGUMENTS = ("name", "trainable", "dtype")


def constructor_parameters(cls):
    """The named parameters of `cls.__init__`, less `self` and `**kwargs`."""
    return [parameter.name
            for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)]


def network_blocks(network):
    """A network's blocks from its input on: lists of layers, each a layer
    with weights followed by the normalisation and weightless layers after
    it (`AdversarialModel.freeze_blocks`)."""
    normalizations = (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                      keras.layers.GroupNormalization)
    blocks = []
    for layer in _leaf_layers(network):
        if isinstance(layer, keras.layers.Embedding):
            continue
        if blocks and (not layer.weights or isinstance(layer, normalizations)):
            blocks[-1].append(layer)
        elif layer.weights:
            blocks.append([layer])
    return blocks


def _leaf_layers(network):
    for layer in network.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def constructor_defaults(cls):
    """`{parameter: default}` of `cls.__init__`, for parameters that have one."""
    return {parameter.name: parameter.default
            for parameter in inspect.signature(cls.__init__).parameters.values()
            if parameter.default is not parameter.empty}


def _mixed_float16():
    return keras.mixed_precision.global_policy().name == "mixed_float16"


# The games whose step is running, per thread (`tf.distribute` runs each
# replica's step in a thread of its own).
_STEPPING = threading.local()


def _then_after_step(step):
    """`step`, followed by the game's after-step updates. A step that calls
    its parent's (`super().train_step(data)`) runs them once."""

    @functools.wraps(step)
    def game_step(self, data):
        stepping = _STEPPING.__dict__.setdefault("games", set())
        if id(self) in stepping:
            return step(self, data)
        stepping.add(id(self))
        try:
            logs = step(self, data)
            self.after_step()
        finally:
            stepping.discard(id(self))
        return logs

    return game_step


class OptimizerGroup:
    """Every player's optimizer, seen as the one `model.optimizer` that Keras'
    trainers and callbacks know: its `variables` are all of theirs (so the
    JAX trainer threads every player's slots through its jitted step), its
    `iterations` the first player's steps, and `optimizers` lists them (so
    `keras.callbacks.LearningRateScheduler` sets each one's rate).

    Args:
        optimizers: the players' optimizers, one per optimizer prefix.
    """

    built = True

    def __init__(self, optimizers):
        self.optimizers = list(optimizers)

    @property
    def variables(self):
        return [variable for optimizer in self.optimizers for variable in optimizer.variables]

    @property
    def iterations(self):
        return self.optimizers[0].iterations

    def build(self, variables):
        """Nothing to build: `AdversarialModel.compile` builds each optimizer."""


class AdversarialModel(keras.Model):
    """Base class of every adversarial game: named players, one optimizer each.

    A subclass declares its players and the options it supports, and writes
    `train_step`:

    - `players`: `{player attribute: optimizer prefix}`, e.g.
      `{"discriminator": "d", "generator": "g"}`; `compile` then takes
      `d_optimizer` and `g_optimizer` and sets those attributes. Players
      with the same prefix share one optimizer, which steps once for all of
      them (CycleGAN's two generators, as `itertools.chain` in PyTorch).
    - `averaged_players`: the players `ema_decay` keeps a moving average of,
      as `ema_<player>`.
    - `supported_options`: the compile options it implements; any other one
      given a value raises a `ValueError` naming the variant and the option.
    - `tracker_names`: the logs of its `train_step`.
    - `presets`: `{name: description}` of the zoo presets it owns.

    Args:
        networks: `{player: keras.Model or a function building one}`. A
            model is saved whole with the game; a built one is rebuilt from
            the game's hyperparameters.
        seed: integer seed of the model's noise; saved with the model.
        ema_decay: keep an exponential moving average of the averaged
            players' weights with this decay (e.g. 0.999), warmed up as
            `min(decay, (1 + t) / (10 + t))` at step t (Karras et al. 2018;
            Yazici et al. 2019). `None` turns it off.
        historical_averaging: weight of the penalty
            `||theta - mean of past theta||^2` on every player (Salimans et
            al. 2016, section 3.3). 0 turns it off.
        **kwargs: `name`; any option this game does not take is an error.

    Example, a game's step:

    ```python
    def train_step(self, data):
        def play():
            d_loss, g_loss = ...
            return {"discriminator": d_loss, "generator": g_loss}, {"d_loss": d_loss}
        logs = self.minimize(play)
        return self.update_trackers(**logs)
    ```
    """

    players = {}
    presets = {}
    averaged_players = ()
    supported_options = frozenset()
    tracker_names = ()
    # What a training run (`keras_gans.run`) needs to know of the variant:
    # its task layer's name, whether it takes class labels ("never",
    # "optional" with `num_classes`, "always"), and whether it trains a
    # growing schedule.
    task = None
    label_conditioning = "never"
    grows = False
    conditional = False

    def __init_subclass__(cls, **kwargs):
        # The step a variant writes, as the backend's trainer calls it and
        # followed by the game's after-step updates.
        super().__init_subclass__(**kwargs)
        if "train_step" in vars(cls):
            cls.train_step = backend.train_step(_then_after_step(vars(cls)["train_step"]))

    def __init__(self, networks, seed=None, ema_decay=None, historical_averaging=0.0,
                 frozen_blocks=None, **kwargs):
        unsupported = sorted(set(kwargs) - set(KERAS_ARGUMENTS))
        if unsupported:
            raise ValueError(f"{type(self).__name__} does not support {unsupported[0]}.")
        super().__init__(**kwargs)
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1), got {ema_decay}.")
        self.custom_players = tuple(
            name for name, network in networks.items() if isinstance(network, keras.Model))
        for name in self.players:
            network = networks[name]
            if callable(network) and not isinstance(network, keras.Model):
                network = network()
            if not isinstance(network, keras.Model):
                raise TypeError(f"The {name} must be a keras.Model instance, got "
                                f"{type(network).__name__}.")
            setattr(self, name, network)
        self.frozen_blocks = {}
        for name, count in (frozen_blocks or {}).items():
            self.freeze_blocks(name, count)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(
            seed if seed is not None else np.random.randint(2**31 - 1))
        self.ema_decay = ema_decay
        for name in self.averaged_players:
            average = None
            if ema_decay is not None:
                average = keras.models.clone_model(getattr(self, name))
                average.set_weights(getattr(self, name).get_weights())
                average.trainable = False
            setattr(self, f"ema_{name}", average)
        self.historical_averaging = float(historical_averaging)
        self.historical_means = []
        if self.historical_averaging:
            self.historical_means = [
                self.add_weight(shape=v.shape, initializer="zeros", trainable=False,
                                name="historical_mean", aggregation="only_first_replica")
                for v in self.historical_variables
            ]
            self.historical_count = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="historical_count",
                aggregation="only_first_replica")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracker_names}
        self.frozen_players = frozenset()
        self.built = True

    def freeze_blocks(self, player, count):
        """Freezes the first `count` blocks of a player's network, those
        nearest its input (FreezeD, Mo et al. 2020, freezes the
        discriminator's when fine-tuning). A block is a layer with weights
        and the normalisation and weightless layers after it; embeddings are
        not blocks. Call it before `compile`; the model's config keeps it.

        Args:
            player: e.g. `"discriminator"`.
            count: how many blocks, at least 1 and fewer than the network has.

        Example:

        ```python
        gan = keras_gans.DCGAN.from_preset("dcgan_fashion_mnist")
        gan.freeze_blocks("discriminator", 2)
        gan.compile()
        ```
        """
        if player not in self.players:
            raise ValueError(f"{type(self).__name__} has no player {player!r}; its players "
                             f"are {', '.join(self.players)}.")
        blocks = network_blocks(getattr(self, player))
        if not 1 <= int(count) < len(blocks):
            raise ValueError(f"The {player} has {len(blocks)} blocks: freeze 1 to "
                             f"{len(blocks) - 1} of them, not {count}.")
        for block in blocks[:int(count)]:
            for layer in block:
                layer.trainable = False
        self.frozen_blocks[player] = int(count)

    # ---------------------------------------------------------------- compile
    def compile(self, optimizers, options, **kwargs):
        """Checks the options, then builds one optimizer per player.

        Args:
            optimizers: `{player: optimizer or None}`; `None` gives the
                variant's `default_optimizer()`.
            options: the variant's compile options, by name, as they are
                saved in the compile config.
            **kwargs: passed to `keras.Model.compile`, e.g.
                `steps_per_execution`, `jit_compile`.
        """
        self.check_supported(options)
        if _mixed_float16() and backend.NAME != "tensorflow":
            raise ValueError(
                f"The mixed_float16 policy needs loss scaling, which keras-gans does on the "
                f"TensorFlow backend only; on {backend.NAME} use mixed_bfloat16 (no loss "
                "scaling) or float32.")
        super().compile(optimizer=None, **kwargs)
        self.compile_options = dict(options)
        for prefix, players in self.players_by_optimizer().items():
            given = {id(optimizers[name]): optimizers[name] for name in players
                     if optimizers.get(name) is not None}
            if len(given) > 1:
                raise ValueError(f"{', '.join(players)} share the {prefix}_optimizer: give "
                                 "them one optimizer, not several.")
            optimizer = self._prepare_optimizer(next(iter(given.values()), None))
            setattr(self, f"{prefix}_optimizer", optimizer)
            # Build now: a `.keras` file then restores its state, and under
            # tf.distribute it must not be built inside the step.
            optimizer.build([variable for name in players
                             for variable in getattr(self, name).trainable_variables])
        self.optimizer = OptimizerGroup(getattr(self, f"{prefix}_optimizer")
                                        for prefix in self.players_by_optimizer())

    @classmethod
    def players_by_optimizer(cls):
        """`{optimizer prefix: [players it updates]}`, in declaration order."""
        groups = {}
        for name, prefix in cls.players.items():
            groups.setdefault(prefix, []).append(name)
        return groups

    @classmethod
    def minibatches_per_step(cls, options):
        """How many minibatches of real images one step reads, given the
        constructor `options` (a critic game reads `n_critic`)."""
        return 1

    def same_option(self, option, value):
        """Whether `value` gives this model's `option` in another notation
        than its config's (a run resuming the model accepts it)."""
        return False

    @classmethod
    def check_supported(cls, options):
        """Raises a `ValueError` naming the first option given a value that this
        variant does not support (and would otherwise ignore)."""
        for option, value in options.items():
            if value and option not in cls.supported_options:
                raise ValueError(f"{cls.__name__} does not support {option}.")

    def default_optimizer(self):
        """The optimizer each player gets when `compile` is given none."""
        raise NotImplementedError

    def optimizer_of(self, player):
        return getattr(self, f"{self.players[player]}_optimizer")

    def _prepare_optimizer(self, optimizer):
        optimizer = optimizer if optimizer is not None else self.default_optimizer()
        if isinstance(optimizer, str | dict):
            optimizer = keras.optimizers.get(optimizer)
        if _mixed_float16() and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def get_compile_config(self):
        optimizers = {f"{prefix}_optimizer": keras.saving.serialize_keras_object(
            getattr(self, f"{prefix}_optimizer")) for prefix in self.players_by_optimizer()}
        return {**optimizers, **self.compile_options}

    def compile_from_config(self, config):
        config = {key: keras.saving.deserialize_keras_object(value)
                  if key.endswith("_optimizer") else value for key, value in config.items()}
        self.compile(**config)

    # --------------------------------------------------------------- the step
    def minimize(self, play):
        """Plays one round of the game: each player takes one step of its
        optimizer on the gradient of its objective.

        Args:
            play: a function of no arguments that runs the forward pass and
                returns `({player: objective}, logs)`; players missing from
                it (or frozen by `train_only`) are not updated, and players
                that share an optimizer take one step of it together. The
                historical-averaging penalty is added to each objective.

        Returns:
            The `logs` that `play` returned, as values outside the
            differentiated function.

        Example:

        ```python
        def play():
            fake = self.generator(z, training=True)
            fake_scores = self.discriminator(fake, training=True)
            g_loss = self.adversarial_loss.generator_loss(fake_scores)
            return {"generator": g_loss}, {"g_loss": g_loss}
        logs = self.minimize(play)
        ```
        """

        def objectives_and_logs():
            objectives, logs = play()
            if self.historical_averaging:
                objectives = {name: objective + self.historical_penalty(name)
                              for name, objective in objectives.items()}
            return ({name: objective for name, objective in objectives.items()
                     if name not in self.frozen_players}, logs)

        return backend.minimize(self, objectives_and_logs)

    def trained_variables(self, player):
        """The variables of `player` that `minimize` updates: all its
        trainable ones. A game whose step runs only part of a player (ProGAN's
        active stage) returns that part's, so none goes without a gradient."""
        return getattr(self, player).trainable_variables

    def gradient_scale(self, optimizer):
        """The factor a loss's gradient is multiplied by: the optimizer's loss
        scale (`mixed_float16`) over the number of replicas, whose gradients
        `tf.distribute` sums."""
        return optimizer.scale_loss(ops.ones((), "float32")) / backend.replica_count()

    def sample(self, distribution, shape):
        """Draws `shape` from `"normal"` or `"uniform"` with a fresh seed,
        every `tf.distribute` replica its own slice."""
        return backend.sample(distribution, shape, self.seed_generator)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def update_trackers(self, **values):
        """Updates the named trackers and returns every tracker's result."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if backend.multi_worker():
            # Keras reduces logs across workers with strategy.reduce(..., axis=0),
            # which fails on scalars (tensorflow/tensorflow#72388): give them an axis.
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    # ------------------------------------------------------ after-step hooks
    @property
    def historical_variables(self):
        return [v for name in self.players for v in getattr(self, name).trainable_variables]

    def historical_penalty(self, player):
        """`weight * sum ||theta - mean past theta||^2` over `player`'s weights."""
        if not self.historical_averaging:
            return 0.0
        means = dict(zip((id(v) for v in self.historical_variables), self.historical_means,
                         strict=True))
        variables = getattr(self, player).trainable_variables
        penalty = ops.sum(ops.stack([
            ops.sum(ops.square(ops.cast(v, "float32") - means[id(v)])) for v in variables]))
        return self.historical_averaging * penalty

    def after_step(self):
        """Updates the moving averages after the players' updates."""
        if self.historical_averaging:
            count = self.historical_count + 1.0
            for mean, variable in zip(self.historical_means, self.historical_variables,
                                      strict=True):
                mean.assign(mean + (ops.cast(variable, "float32") - mean) / count)
            self.historical_count.assign(count)
        if self.ema_decay is None:
            return
        for name in self.averaged_players:
            # Warm-up as in tf.train.ExponentialMovingAverage(num_updates=t):
            # early averages follow the player instead of its initial state.
            step = ops.cast(self.ema_warmup_step(name), "float32")
            decay = ops.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
            for average, weight in zip(getattr(self, f"ema_{name}").weights,
                                       getattr(self, name).weights, strict=True):
                decay_w = ops.cast(decay, average.dtype)
                average.assign(decay_w * average + (1.0 - decay_w) * weight)

    @property
    def steps_taken(self):
        """The train steps so far: the generator optimizer's step count."""
        return int(self.g_optimizer.iterations)

    def reset_optimizer_states(self):
        """Restarts every optimizer as if new: its step count and moments go
        to zero; its learning rate (and a mixed-precision loss scale) stays."""
        for prefix in self.players_by_optimizer():
            optimizer = getattr(self, f"{prefix}_optimizer")
            optimizer = getattr(optimizer, "inner_optimizer", optimizer)
            rate = optimizer.learning_rate
            for variable in optimizer.variables:
                if variable is not rate:
                    variable.assign(ops.zeros_like(variable))

    def ema_warmup_step(self, player):
        """The step t of the moving average's warm-up: the player's optimizer
        steps. ProGAN counts them from the start of the current stage."""
        return self.optimizer_of(player).iterations

    def averaged(self, player):
        """The player's moving average when `ema_decay` is on, else the player."""
        average = getattr(self, f"ema_{player}", None)
        return average if average is not None else getattr(self, player)

    def train_only(self, players, dataset, steps, verbose="auto"):
        """Trains the named players alone for `steps` batches; the others'
        optimizers take no step. Returns the `History`."""
        self.frozen_players = frozenset(self.players) - frozenset(players)
        self.train_function = None  # retrace without the frozen players' updates
        try:
            return self.fit(dataset.repeat(), epochs=1, steps_per_epoch=steps,
                            verbose=verbose)
        finally:
            self.frozen_players = frozenset()
            self.train_function = None

    # ------------------------------------------------------------------ data
    def check_batch(self, data):
        """Runs the step's input checks on one batch and returns it unchanged."""
        return data

    def check_images(self, images):
        """Returns `images`, or raises a clear error if they are not a batch of
        floats in [-1, 1] of the model's image shape."""
        shape = tuple(images.shape[1:])
        if len(images.shape) != 4 or shape != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} generates images of shape "
                f"{self.image_shape}, but the dataset yields batches of shape "
                f"{tuple(images.shape)}. Resize or rebuild the model for "
                "these images (a batch must be (batch, height, width, channels))."
            )
        dtype = keras.backend.standardize_dtype(images.dtype)
        if not dtype.startswith(("float", "bfloat")):
            raise ValueError(
                f"Images must be floats in [-1, 1], got dtype {dtype}. "
                "Scale uint8 pixels with x / 127.5 - 1 "
                "(keras_gans.data.load_dataset does this)."
            )
        return backend.checked(images, (
            ops.max(ops.abs(images)) <= ops.cast(1.0 + 1e-3, images.dtype),
            "Images must lie in [-1, 1] (scale uint8 pixels with x / 127.5 - 1); "
            "this batch lies outside."))

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`. A `tf.data.Dataset` or a `keras.utils.PyDataset`
        is shuffled by its own pipeline, so `shuffle` defaults to False for it
        (Keras would warn that it ignores `shuffle=True`, or reorder batches).
        Where the step's input checks cannot run (XLA drops assertions; JAX
        traces the step) they run on the input instead: mapped over a
        `tf.data.Dataset` or a `PyDataset`, or once over in-memory arrays."""
        shuffle_given = "shuffle" in kwargs or len(args) >= 7  # fit's 9th argument
        shuffles_itself = backend.is_dataset(x) or isinstance(x, keras.utils.PyDataset)
        if x is not None and shuffles_itself and not shuffle_given:
            kwargs["shuffle"] = False
        if x is not None and not backend.checks_run_in_step(self):
            if isinstance(x, np.ndarray) or ops.is_tensor(x):
                self.check_batch(_extremes(x) if y is None else (_extremes(x), _extremes(y)))
            elif backend.is_dataset(x):
                x = backend.map_dataset(
                    x, lambda *batch: self.check_batch(batch if len(batch) > 1 else batch[0]))
            elif isinstance(x, keras.utils.PyDataset):
                from keras_gans.data import MappedBatches

                x = MappedBatches(
                    x, lambda *batch: self.check_batch(batch if len(batch) > 1 else batch[0]))
            elif backend.NAME == "tensorflow":
                warnings.warn(
                    f"Under jit_compile, {type(self).__name__}.fit checks the input of a "
                    "tf.data.Dataset, a PyDataset or arrays only, not of "
                    f"{type(x).__name__} input (XLA ignores the step's assertions).",
                    stacklevel=2)
        return super().fit(x, y, *args, **kwargs)

    # --------------------------------------------------------------- presets
    @classmethod
    def from_preset(cls, preset):
        """The compiled model saved as a preset, ready for `fit`.

        Args:
            preset: a zoo name (see `keras_gans.list_pretrained()`; each
                variant's own are in its `presets`) or a preset directory.

        Example:

        ```python
        gan = keras_gans.DCGAN.from_preset("dcgan_fashion_mnist")
        gan.fit(my_images, epochs=1)  # fine-tunes both players
        ```
        """
        path = pretrained.pretrained_path(preset)
        if not saving.is_preset(path):
            raise ValueError(f"{preset} is a SavedModel export, not a preset; load it with "
                             "keras_gans.load_pretrained for sampling.")
        model = saving.load_preset(path)
        if not isinstance(model, cls):
            own = ", ".join(cls.presets) or "none"
            raise ValueError(f"{preset} holds a {type(model).__name__}, not a {cls.__name__} "
                             f"({cls.__name__} presets: {own}).")
        return model

    def save_to_preset(self, directory, metadata=None, include_optimizer=False):
        """Writes this model as a preset directory that `from_preset` loads.

        Args:
            directory: where `config.json`, `model.weights.h5` and
                `metadata.json` are written (replacing a previous preset).
            metadata: more entries for `metadata.json`, e.g. the dataset; the
                model's own description (`describe()`) comes on top.
            include_optimizer: also save the optimizers' state.

        Example:

        ```python
        gan.save_to_preset("presets/my_dcgan", metadata={"dataset": "my_images"})
        gan = keras_gans.DCGAN.from_preset("presets/my_dcgan")
        ```
        """
        saving.save_preset(self, directory, {**(metadata or {}), **self.describe()},
                           include_optimizer=include_optimizer,
                           extras=self.write_preset_extras)

    def describe(self):
        """What `metadata.json` records about the model itself."""
        return {"variant": type(self).__name__,
                "player_parameters": {name: saving.count_parameters(getattr(self, name))
                                      for name in self.players}}

    def write_preset_extras(self, directory):
        """Writes files beside a preset's weights (none here)."""

    # --------------------------------------------------------------- saving
    SEED_STATE_KEY = "seed_generator_state"
    LAYER_SEED_STATE_KEY = "layer_seed_generator_state"

    def _layer_seed_generators(self):
        """The noise generators of the players' layers (e.g. Dropout's)."""
        return [layer.seed_generator for player in self.players
                for layer in _leaf_layers(getattr(self, player))
                if isinstance(getattr(layer, "seed_generator", None),
                              keras.random.SeedGenerator)]

    def save_own_variables(self, store):
        # Keras saves no SeedGenerator state; the noise streams (the game's
        # and its layers', e.g. Dropout's) are part of its training state.
        super().save_own_variables(store)
        store[self.SEED_STATE_KEY] = ops.convert_to_numpy(self.seed_generator.state.value)
        for index, generator in enumerate(self._layer_seed_generators()):
            store[f"{self.LAYER_SEED_STATE_KEY}_{index}"] = ops.convert_to_numpy(
                generator.state.value)

    def load_own_variables(self, store):
        keys = list(store.keys())
        if self.SEED_STATE_KEY in keys:
            self.seed_generator.state.assign(store[self.SEED_STATE_KEY][...])
        else:
            warnings.warn(f"The saved {type(self).__name__} holds no state of its noise "
                          f"generator: its noise starts again from seed {self.seed}, so "
                          "generate() without a seed, and training it further, draw other "
                          "noise than the saved model would have.", stacklevel=2)
        for index, generator in enumerate(self._layer_seed_generators()):
            key = f"{self.LAYER_SEED_STATE_KEY}_{index}"
            if key in keys:  # a file from before 0.3 holds none
                generator.state.assign(store[key][...])
        super().load_own_variables(
            {key: store[key] for key in keys if key != self.SEED_STATE_KEY
             and not key.startswith(self.LAYER_SEED_STATE_KEY)})

    def get_config(self):
        """The constructor's arguments: hyperparameters, and the players the
        user passed in, saved whole (built ones are rebuilt from the rest)."""
        config = {name: getattr(self, name) for name in GAME_ARGUMENTS}
        for parameter in constructor_parameters(type(self)):
            value = getattr(self, parameter)
            if parameter in self.players:
                value = (keras.saving.serialize_keras_object(value)
                         if parameter in self.custom_players else None)
            elif isinstance(value, tuple):
                value = list(value)
            config[parameter] = value
        return config

    @classmethod
    def from_config(cls, config):
        for key in cls.players:
            if config.get(key) is not None and _saved_model_class(config[key]) is None:
                raise ValueError(f"The {key} of a saved {cls.__name__} must be a Keras "
                                 f"model, but its config names {_named(config[key])}.")
        config = {key: keras.saving.deserialize_keras_object(value)
                  if key in cls.players and value is not None else value
                  for key, value in config.items()}
        return cls(**config)


def _saved_model_class(config):
    """The `keras.Model` subclass a serialised player names, found without
    calling or importing anything; `None` if it names no such class."""
    if not isinstance(config, dict):
        return None
    found = keras.saving.get_registered_object(str(config.get("registered_name")))
    if found is None:
        module = sys.modules.get(str(config.get("module")))
        found = getattr(module, str(config.get("class_name")), None)
    return found if isinstance(found, type) and issubclass(found, keras.Model) else None


def _named(config):
    """What a serialised object names, e.g. "the function f" or "Dense"."""
    if not isinstance(config, dict):
        return f"a {type(config).__name__}"
    if config.get("class_name") == "function":
        return f"the function {config.get('config')}"
    return repr(config.get("class_name"))


def _extremes(array):
    """The rows of `array` holding its smallest and largest values, as a tensor.

    The range checks of a whole in-memory dataset then run on two rows.
    """
    array = np.asarray(array)
    if array.size == 0 or array.dtype.kind not in "iuf":
        return ops.convert_to_tensor(array[:2])
    rows = [np.unravel_index(np.argmin(array), array.shape)[0],
            np.unravel_index(np.argmax(array), array.shape)[0]]
    return ops.convert_to_tensor(array[rows])
