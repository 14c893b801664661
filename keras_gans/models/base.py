"""What every GAN variant shares: optimizers, noise, trackers, saving, sampling.

A variant subclasses `BaseGAN` and writes only its `train_step`, which reads
top to bottom like the paper's algorithm. Everything mechanical lives here:

- `compile(d_optimizer, g_optimizer, ...)` builds both optimizers up front, so
  a `.keras` file restores their state, and wraps them for loss scaling under
  the `mixed_float16` policy;
- `sample_latent` draws z ~ N(0, I) from the model's `SeedGenerator` (saved
  with the model), giving each `tf.distribute` replica its own slice;
- trackers, `get_config`/`from_config` and `get_compile_config`;
- the stabilisation mechanics every variant can switch on: DiffAugment and
  instance noise on the discriminator's inputs, an exponential moving average
  of the generator, historical averaging;
- `generate(n)` for numpy samples and `export(path)` for a SavedModel.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_gans import augment, losses

DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_BETA_1 = 0.5


def default_optimizer(learning_rate=DEFAULT_LEARNING_RATE, beta_1=DEFAULT_BETA_1,
                      beta_2=0.999):
    """Adam with the DCGAN settings (Radford et al. 2015)."""
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2)


def _multi_worker(strategy):
    """Whether `strategy` is a MultiWorkerMirroredStrategy over several workers."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode())


def _mixes_batch(model):
    """Whether a model's output for one example depends on the rest of the batch."""
    from keras_gans.layers import MinibatchStdDev

    batch_layers = (keras.layers.BatchNormalization, MinibatchStdDev)
    return any(isinstance(layer, batch_layers) for layer in model._flatten_layers())


class BaseGAN(keras.Model):
    """Base class of the GAN variants.

    Args:
        generator: a `keras.Model` mapping `z` of shape `(batch, latent_dim)`
            (and labels, for conditional models) to images in [-1, 1].
        discriminator: a `keras.Model` mapping images (and labels) to one raw
            score per image, shape `(batch, 1)`: no sigmoid.
        seed: integer seed of the model's noise; saved with the model.
        ema_decay: keep an exponential moving average of the generator's
            weights with this decay (e.g. 0.999), warmed up as
            `min(decay, (1 + t) / (10 + t))` at step t, and sample and export
            from it (Karras et al. 2018; Yazici et al. 2019). `None` turns it
            off.
        historical_averaging: weight of the penalty
            `||theta - mean of past theta||^2` on both players (Salimans et al.
            2016, section 3.3). 0 turns it off.
    """

    tracker_names = ("d_loss", "g_loss")
    default_loss = "non_saturating"
    conditional = False

    def __init__(self, generator, discriminator, seed=None, ema_decay=None,
                 historical_averaging=0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(generator, keras.Model) or not isinstance(
            discriminator, keras.Model
        ):
            raise TypeError(
                "generator and discriminator must be keras.Model instances, got "
                f"{type(generator).__name__} and {type(discriminator).__name__}."
            )
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1), got {ema_decay}.")
        self.generator = generator
        self.discriminator = discriminator
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(
            seed if seed is not None else np.random.randint(2**31 - 1)
        )
        self.ema_decay = ema_decay
        self.ema_generator = None
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        self.historical_averaging = float(historical_averaging)
        self.historical_means = []
        if self.historical_averaging:
            self.historical_means = [
                self.add_weight(shape=v.shape, initializer="zeros",
                                trainable=False, name="historical_mean",
                                aggregation="only_first_replica")
                for v in self.historical_variables
            ]
            self.historical_count = self.add_weight(
                shape=(), initializer="zeros", trainable=False,
                name="historical_count", aggregation="only_first_replica")
        self.discriminator_mixes_batch = _mixes_batch(discriminator)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in self.tracker_names
        }
        self.train_generator = True
        self.built = True

    # ------------------------------------------------------------------ shapes
    @property
    def latent_dim(self):
        shape = self.generator.inputs[0].shape
        return int(shape[-1])

    @property
    def image_shape(self):
        return tuple(int(d) for d in self.generator.outputs[0].shape[1:])

    @property
    def num_classes(self):
        return None

    # ---------------------------------------------------------------- compile
    def compile(self, d_optimizer=None, g_optimizer=None, loss=None,
                label_smoothing=0.0, instance_noise=0.0, instance_noise_steps=0,
                diff_augment=None, r1_weight=0.0, feature_matching=False,
                **kwargs):
        """Configures training.

        Args:
            d_optimizer, g_optimizer: the discriminator's and the generator's
                optimizers; Adam(2e-4, beta_1=0.5) each by default. Give them
                different learning rates for TTUR (Heusel et al. 2017).
            loss: an adversarial loss name from `keras_gans.losses.LOSSES`
                (`"non_saturating"`, `"minimax"`, `"lsgan"`, `"hinge"`,
                `"wasserstein"`, `"kl"`, ...) or an `AdversarialLoss`.
            label_smoothing: one-sided label smoothing: real targets become
                `1 - label_smoothing` (Salimans et al. 2016).
            instance_noise: standard deviation of Gaussian noise added to every
                discriminator input (Sonderby et al. 2017; Arjovsky & Bottou
                2017).
            instance_noise_steps: anneal that noise linearly to 0 over this many
                steps; 0 keeps it constant.
            diff_augment: DiffAugment policy applied to real and fake images
                alike, e.g. `"translation,cutout"` (Zhao et al. 2020).
            r1_weight: gamma of the R1 penalty on real data, added as
                `gamma / 2 * R1` (Mescheder et al. 2018).
            feature_matching: train G to match the mean of D's `"features"`
                layer on real and fake data (Salimans et al. 2016).
            **kwargs: passed to `keras.Model.compile`, e.g.
                `steps_per_execution`, `jit_compile`.
        """
        super().compile(**kwargs)
        self.d_optimizer = self._prepare_optimizer(d_optimizer)
        self.g_optimizer = self._prepare_optimizer(g_optimizer)
        self.adversarial_loss = losses.get(loss or self.default_loss)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}.")
        self.label_smoothing = float(label_smoothing)
        self.instance_noise = float(instance_noise)
        self.instance_noise_steps = int(instance_noise_steps)
        self.diff_augment = augment.parse_policy(diff_augment)
        self.r1_weight = float(r1_weight)
        self.feature_matching = bool(feature_matching)
        self.feature_extractor = None
        if self.feature_matching:
            self.feature_extractor = self._discriminator_features()
        # Build both optimizers now: a `.keras` file then restores their state,
        # and under tf.distribute they must not be built inside the step.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def default_optimizer(self):
        """The optimizer each player gets when `compile` is given none."""
        return default_optimizer()

    def _prepare_optimizer(self, optimizer):
        optimizer = optimizer if optimizer is not None else self.default_optimizer()
        if isinstance(optimizer, str | dict):
            optimizer = keras.optimizers.get(optimizer)
        policy = keras.mixed_precision.global_policy()
        if policy.name == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def _discriminator_features(self):
        try:
            features = self.discriminator.get_layer("features").output
        except ValueError as error:
            raise ValueError(
                "feature_matching=True needs a discriminator layer named "
                "'features' (the builders in keras_gans name one)."
            ) from error
        return keras.Model(self.discriminator.inputs, features)

    def get_compile_config(self):
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": self.adversarial_loss.name,
            "label_smoothing": self.label_smoothing,
            "instance_noise": self.instance_noise,
            "instance_noise_steps": self.instance_noise_steps,
            "diff_augment": ",".join(self.diff_augment) or None,
            "r1_weight": self.r1_weight,
            "feature_matching": self.feature_matching,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def update_trackers(self, **values):
        """Updates the named trackers and returns every tracker's result."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if _multi_worker(tf.distribute.get_strategy()):
            # Keras reduces logs across workers with strategy.reduce(..., axis=0),
            # which fails on scalars (tensorflow/tensorflow#72388): give them an axis.
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    # ------------------------------------------------------------------ data
    def unpack(self, data):
        """Splits a batch into `(images, labels)` and checks the image shape.

        Unconditional models ignore labels: a dataset of `(image, label)`
        pairs trains them on the images alone.
        """
        if isinstance(data, tuple | list):
            images, labels = data[0], (data[1] if len(data) > 1 else None)
        elif isinstance(data, dict):
            images, labels = data.get("images", data.get("image")), data.get("label")
        else:
            images, labels = data, None
        return self.check_images(images), labels

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
        if not images.dtype.is_floating:
            raise ValueError(
                f"Images must be floats in [-1, 1], got dtype {images.dtype.name}. "
                "Scale uint8 pixels with x / 127.5 - 1 "
                "(keras_gans.data.load_dataset does this)."
            )
        in_range = tf.debugging.assert_less_equal(
            ops.max(ops.abs(images)), ops.cast(1.0 + 1e-3, images.dtype),
            message="Images must lie in [-1, 1] (scale uint8 pixels with "
            "x / 127.5 - 1); this batch lies outside.",
        )
        # Check before the step uses the batch, so a bad batch trains nothing.
        with tf.control_dependencies([in_range]):
            return tf.identity(images)

    def check_batch(self, data):
        """Runs the step's input checks on one batch and returns it unchanged."""
        images, labels = self.unpack(data)
        checked = [images]
        if self.conditional:
            checked.append(self.check_labels(labels))
        with tf.control_dependencies(checked):
            return tf.nest.map_structure(tf.identity, data)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`. XLA drops assertions, so under `jit_compile` the
        step's range and label checks run on the input instead: mapped over a
        `tf.data.Dataset`, or once over in-memory arrays."""
        if self.jit_compile and x is not None:
            if isinstance(x, tf.data.Dataset):
                x = x.map(lambda *batch: self.check_batch(batch if len(batch) > 1 else batch[0]),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                x = x.prefetch(tf.data.AUTOTUNE)
            elif isinstance(x, np.ndarray | tf.Tensor):
                self.check_batch(_extremes(x) if y is None else (_extremes(x), _extremes(y)))
            else:
                warnings.warn(
                    f"Under jit_compile, {type(self).__name__}.fit checks the pixel range "
                    "and labels of a tf.data.Dataset or of arrays only, not of "
                    f"{type(x).__name__} input (XLA ignores the step's assertions).",
                    stacklevel=2)
        return super().fit(x, y, *args, **kwargs)

    # ----------------------------------------------------------------- noise
    def sample_latent(self, batch_size):
        """Draws z ~ N(0, I) of shape `(batch_size, latent_dim)`."""
        return self.sample_per_replica(tf.random.stateless_normal,
                                       (batch_size, self.latent_dim))

    def sample_per_replica(self, distribution, shape):
        """Draws `distribution(shape, seed)` with a fresh seed.

        Under `tf.distribute`, every replica draws the global batch from the
        shared seed and keeps its own slice, so replicas get different samples
        and a distributed step matches a single-device step on the same data.
        """
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        batch_size = shape[0]
        samples = distribution((batch_size * replicas, *shape[1:]),
                               seed=self.seed_generator.next())
        if replicas > 1:
            start = context.replica_id_in_sync_group * batch_size
            samples = samples[start:start + batch_size]
        return samples

    def gradient_scale(self, optimizer):
        """The factor a loss's gradient is multiplied by: the optimizer's loss
        scale (`mixed_float16`) over the number of replicas, whose gradients
        `tf.distribute` sums."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return optimizer.scale_loss(ops.ones((), "float32")) / replicas

    # ------------------------------------------------------ stabilisation
    def discriminator_view(self, images):
        """What D sees of a batch: DiffAugment and instance noise, if on."""
        if self.diff_augment:
            images = augment.diff_augment(images, self.diff_augment,
                                          self.seed_generator)
        if self.instance_noise > 0.0:
            sigma = self.instance_noise
            if self.instance_noise_steps:
                step = ops.cast(self.d_optimizer.iterations, "float32")
                sigma = sigma * ops.maximum(
                    0.0, 1.0 - step / float(self.instance_noise_steps))
            noise = tf.random.stateless_normal(
                ops.shape(images), seed=self.seed_generator.next(),
                dtype=images.dtype)
            images = images + ops.cast(sigma, images.dtype) * noise
        return images

    def discriminate(self, real_inputs, fake_inputs):
        """Scores real and fake batches: one batched call when D treats every
        example on its own (equivalent, and faster), two calls when it has
        BatchNorm or minibatch statistics."""
        if self.discriminator_mixes_batch:
            return (self.discriminator(real_inputs, training=True),
                    self.discriminator(fake_inputs, training=True))
        both = tf.nest.map_structure(
            lambda r, f: ops.concatenate([r, ops.cast(f, r.dtype)], axis=0),
            real_inputs, fake_inputs)
        scores = self.discriminator(both, training=True)
        return ops.split(scores, 2, axis=0)

    @property
    def historical_variables(self):
        return (self.discriminator.trainable_variables
                + self.generator.trainable_variables)

    def historical_penalty(self, variables):
        """`weight * sum ||theta - mean past theta||^2` over `variables`."""
        if not self.historical_averaging:
            return 0.0
        means = dict(zip(
            (id(v) for v in self.historical_variables), self.historical_means,
            strict=True))
        penalty = tf.add_n([
            ops.sum(ops.square(ops.cast(v, "float32") - means[id(v)]))
            for v in variables
        ])
        return self.historical_averaging * penalty

    def after_step(self):
        """Updates the moving averages after both players' updates."""
        if self.historical_averaging:
            count = self.historical_count + 1.0
            for mean, variable in zip(self.historical_means,
                                      self.historical_variables, strict=True):
                mean.assign(mean + (ops.cast(variable, "float32") - mean) / count)
            self.historical_count.assign(count)
        if self.ema_generator is not None:
            # Warm-up as in tf.train.ExponentialMovingAverage(num_updates=t):
            # early averages follow the generator instead of its initial state.
            step = ops.cast(self.g_optimizer.iterations, "float32")
            decay = ops.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
            for average, weight in zip(self.ema_generator.weights,
                                       self.generator.weights, strict=True):
                decay_w = ops.cast(decay, average.dtype)
                average.assign(decay_w * average + (1.0 - decay_w) * weight)

    def apply_gradients(self, optimizer, tape, loss, variables):
        """Differentiates `loss` and applies the update.

        The gradient is seeded with `gradient_scale(optimizer)`, which equals
        differentiating the scaled loss, but happens in the backward pass, after
        the tape has closed.
        """
        scale = ops.cast(self.gradient_scale(optimizer), loss.dtype)
        gradients = tape.gradient(loss, variables, output_gradients=scale)
        optimizer.apply(gradients, variables)

    def pretrain_discriminator(self, dataset, steps, verbose="auto"):
        """Two-stage start: trains D alone for `steps` batches against the
        untrained generator, then `fit` trains both as usual.

        A better-informed D gives G useful gradients from the first step
        (Goodfellow et al. 2014 train D for k steps per G step; Arjovsky &
        Bottou 2017 discuss D near optimality).

        Returns:
            The `History` of the pre-training.
        """
        self.train_generator = False
        self.train_function = None  # retrace without the generator update
        try:
            return self.fit(dataset.repeat(), epochs=1, steps_per_epoch=steps,
                            verbose=verbose)
        finally:
            self.train_generator = True
            self.train_function = None

    # -------------------------------------------------------------- sampling
    @property
    def sampling_generator(self):
        """The generator used for sampling and export: the EMA one when on."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, inputs, training=False):
        return self.sampling_generator(inputs, training=training)

    def generate(self, n, seed=None, labels=None, batch_size=256):
        """Generates `n` images as a float32 numpy array in [-1, 1].

        Args:
            n: how many images.
            seed: integer seed for repeatable samples; `None` draws fresh noise.
            labels: class labels, for conditional models only.
            batch_size: images per generator call.
        """
        if labels is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional: it takes no labels."
            )
        z = latent_noise(n, self.latent_dim, seed)
        return predict_in_batches(self.sampling_generator, [z], batch_size)

    def export(self, path, metadata=None):
        """Writes the sampling generator as a TensorFlow SavedModel.

        See `keras_gans.saving.export_generator`.
        """
        from keras_gans.saving import export_generator

        return export_generator(self, path, metadata=metadata)

    # --------------------------------------------------------------- saving
    SEED_STATE_KEY = "seed_generator_state"

    def save_own_variables(self, store):
        # Keras saves no SeedGenerator state; the noise stream is part of a
        # GAN's training state, so save it too.
        super().save_own_variables(store)
        store[self.SEED_STATE_KEY] = np.asarray(self.seed_generator.state.numpy())

    def load_own_variables(self, store):
        keys = list(store.keys())
        if self.SEED_STATE_KEY in keys:
            self.seed_generator.state.assign(store[self.SEED_STATE_KEY][...])
        super().load_own_variables(
            {key: store[key] for key in keys if key != self.SEED_STATE_KEY})

    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "seed": self.seed,
            "ema_decay": self.ema_decay,
            "historical_averaging": self.historical_averaging,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _extremes(array):
    """The rows of `array` holding its smallest and largest values, as a tensor.

    The range checks of a whole in-memory dataset then run on two rows.
    """
    array = np.asarray(array)
    if array.size == 0 or array.dtype.kind not in "iuf":
        return tf.convert_to_tensor(array[:2])
    rows = [np.unravel_index(np.argmin(array), array.shape)[0],
            np.unravel_index(np.argmax(array), array.shape)[0]]
    return tf.convert_to_tensor(array[rows])


def latent_noise(n, latent_dim, seed=None):
    """`n` latent vectors z ~ N(0, I) as float32 numpy, repeatable by seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(n), int(latent_dim))).astype(np.float32)


def predict_in_batches(model, inputs, batch_size=256):
    """Runs `model` on numpy `inputs` in batches, without Keras' progress bar."""
    n = len(inputs[0])
    outputs = []
    for start in range(0, n, batch_size):
        batch = [x[start:start + batch_size] for x in inputs]
        images = model(batch if len(batch) > 1 else batch[0], training=False)
        outputs.append(ops.convert_to_numpy(ops.cast(images, "float32")))
    if not outputs:
        return np.zeros((0, *model.outputs[0].shape[1:]), np.float32)
    return np.concatenate(outputs)
