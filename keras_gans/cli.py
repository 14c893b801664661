"""The `keras-gans` command: train, sample, evaluate, list."""

import argparse
import json
import math
import os
import shlex
import sys

DATASETS = ("fashion_mnist", "mnist", "cifar10")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
LR_SCHEDULES = ("constant", "linear")


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Reports a usage error in one line, like the other user errors."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _widths(text):
    try:
        widths = tuple(int(width) for width in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of layer widths") from None
    if not all(width >= 1 for width in widths):
        raise argparse.ArgumentTypeError(f"{text}: every width must be at least 1")
    return widths


def _build_parser():
    from keras_gans.models import VARIANTS

    parser = _Parser(
        prog="keras-gans",
        description="Train, sample and evaluate generative adversarial networks.",
    )
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{train,sample,evaluate,list}")

    train = commands.add_parser(
        "train", help="train a GAN variant",
        description="Train a GAN with model.fit: a sample grid and a checkpoint "
        "per epoch, the generator exported as a SavedModel at the end.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("variant", choices=sorted(VARIANTS), help="the GAN variant")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", default="fashion_mnist",
                      help=f"dataset name ({', '.join(DATASETS)}, or any "
                      "tensorflow-datasets image dataset)")
    data.add_argument("--data-dir", help="read the dataset from this directory "
                      "(IDX files, a .npz, or class folders)")
    data.add_argument("--limit", type=_positive_int,
                      help="train on the first N images only")
    run = train.add_argument_group("run")
    run.add_argument("--epochs", type=_positive_int, default=5)
    run.add_argument("--batch-size", type=_positive_int, default=64,
                     help="images per step; for WGAN and WGAN-GP the critic "
                     "minibatch, each step reading n_critic of them")
    run.add_argument("--out", help="output directory (default runs/VARIANT_DATASET)")
    run.add_argument("--resume", action="store_true",
                     help="continue from the checkpoint in OUT")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--precision", choices=PRECISIONS, default="float32",
                     help="Keras dtype policy; mixed_bfloat16 is fast only on GPUs "
                     "and on CPUs with AMX or AVX512-BF16")
    run.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                     help="also checkpoint every STEPS batches")
    run.add_argument("--steps-per-execution", type=_positive_int, default=1,
                     help="training steps per call of the compiled step")
    run.add_argument("--jit-compile", action="store_true",
                     help="compile the step with XLA (faster on some CPUs, slower on "
                     "others: see the README's Performance section)")
    run.add_argument("--gif", action="store_true",
                     help="write an animated GIF of the sample grids")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    model = train.add_argument_group(
        "model", "defaults: the variant's own (its constructor's and compile's)")
    model.add_argument("--latent-dim", type=_positive_int,
                       help=f"size of z ({_takers('latent_dim')})")
    model.add_argument("--spectral-norm", action="store_true",
                       help=f"spectral normalisation in D ({_takers('spectral_norm')})")
    model.add_argument("--minibatch-stddev", action="store_true",
                       help="minibatch standard-deviation feature in D "
                       f"({_takers('minibatch_stddev')})")
    model.add_argument("--discriminator-units", type=_widths, metavar="W1,W2,...",
                       help="hidden layer widths of the MLP discriminator, e.g. "
                       f"1024,512,256 ({_takers('discriminator_units')})")
    model.add_argument("--ema-decay", type=float,
                       help="sample and export from an EMA of G's weights")
    model.add_argument("--n-critic", type=_positive_int,
                       help=f"critic steps per generator step ({_takers('n_critic')})")
    model.add_argument("--clip-value", type=float,
                       help=f"critic weight clipping bound ({_takers('clip_value')})")
    model.add_argument("--gp-weight", type=float,
                       help=f"gradient penalty weight lambda ({_takers('gp_weight')})")
    objective = train.add_argument_group("objective")
    objective.add_argument("--loss", help="adversarial loss (default: the "
                           "variant's own; see keras_gans.losses.LOSSES)")
    objective.add_argument("--d-lr", type=float, help="D learning rate")
    objective.add_argument("--g-lr", type=float, help="G learning rate")
    objective.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant",
                           help="linear: both learning rates fall linearly to zero at "
                           "the last of --epochs")
    objective.add_argument("--beta-1", type=float,
                           help="Adam's beta_1 for both optimizers (default: the "
                           "variant's; not for wgan, which uses RMSprop)")
    objective.add_argument("--label-smoothing", type=float)
    objective.add_argument("--instance-noise", type=float)
    objective.add_argument("--diff-augment", help="e.g. translation,cutout")
    objective.add_argument("--r1-weight", type=float)
    objective.add_argument("--feature-matching", action="store_true")

    sample = commands.add_parser(
        "sample", help="render a grid from an exported or pretrained generator",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sample.add_argument("model", help="pretrained name, export directory or .keras file")
    sample.add_argument("--n", type=_positive_int, default=64)
    sample.add_argument("--out", default="grid.png", help="PNG path")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--labels", help="comma-separated class labels "
                        "(conditional models; default: cycle through classes)")

    evaluate = commands.add_parser(
        "evaluate", help="FID, KID, IS and class coverage of a generator",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    evaluate.add_argument("model", help="pretrained name, export directory or .keras file")
    evaluate.add_argument("--dataset", default="fashion_mnist")
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--n", type=_positive_int, default=10000,
                          help="generated and real images compared")
    evaluate.add_argument("--seed", type=int, default=0)

    commands.add_parser("list", help="list the pretrained generators")
    return parser


def _out_dir(args):
    out = args.out or os.path.join("runs", f"{args.variant}_{args.dataset}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out} exists and is not a directory")
    return out


# The command line's model and objective options, by constructor or `compile`
# argument name; their defaults are the variant's own.
MODEL_OPTIONS = ("latent_dim", "spectral_norm", "minibatch_stddev", "discriminator_units",
                 "ema_decay", "n_critic", "clip_value", "gp_weight")
COMPILE_OPTIONS = ("loss", "label_smoothing", "instance_noise", "diff_augment", "r1_weight",
                   "feature_matching")


def _model_defaults(cls):
    """`{option: default}` of a variant's constructor, the game's arguments included."""
    from keras_gans.models import AdversarialModel
    from keras_gans.models.adversarial import constructor_defaults

    return {**constructor_defaults(AdversarialModel), **constructor_defaults(cls)}


def _takers(option):
    """`"wgan: 5, wgan-gp: 5"`: the variants that take `option`, with their
    defaults; only their names for a switch that is off by default."""
    from keras_gans.models import VARIANTS

    defaults = {name: _model_defaults(cls)[option] for name, cls in VARIANTS.items()
                if option in _model_defaults(cls)}
    if not any(defaults.values()):
        return ", ".join(defaults)
    return ", ".join(f"{name}: {_shown(default)}" for name, default in defaults.items())


def _build_model(args, num_classes, image_shape, steps_per_epoch):
    import keras

    from keras_gans.models import get_variant

    cls = get_variant(args.variant)
    kwargs = {option: getattr(args, option) for option in MODEL_OPTIONS
              if option in _model_defaults(cls)}
    kwargs.update(image_shape=image_shape, seed=args.seed)
    if "num_classes" in _model_defaults(cls):
        kwargs["num_classes"] = num_classes
    model = cls(**kwargs)

    def optimizer(learning_rate):
        default = model.default_optimizer()
        config = default.get_config()
        if args.beta_1 is not None:
            if "beta_1" not in config:
                raise CLIError(f"--beta-1 sets Adam's beta_1, but {args.variant} trains "
                               f"with {type(default).__name__}")
            config["beta_1"] = args.beta_1
        if learning_rate is None:
            learning_rate = config["learning_rate"]
        if args.lr_schedule == "linear":
            learning_rate = keras.optimizers.schedules.PolynomialDecay(
                learning_rate, decay_steps=args.epochs * steps_per_epoch,
                end_learning_rate=0.0)
        config["learning_rate"] = learning_rate
        return type(default).from_config(config)

    model.compile(d_optimizer=optimizer(args.d_lr), g_optimizer=optimizer(args.g_lr),
                  **{option: getattr(args, option) for option in COMPILE_OPTIONS})
    return model


def _warn_if_bfloat16_is_emulated(precision):
    """mixed_bfloat16 on a CPU without bfloat16 units runs several times slower."""
    import tensorflow as tf

    from keras_gans import hardware

    if (precision == "mixed_bfloat16" and not tf.config.list_physical_devices("GPU")
            and not hardware.cpu_has_native_bfloat16()):
        print(f"keras-gans train: warning: this CPU ({hardware.describe()}) emulates "
              "bfloat16, so mixed_bfloat16 trains several times slower than float32 "
              "here; --precision float32 is faster.", file=sys.stderr)


def _flag(option):
    return "--" + option.replace("_", "-")


def _check_variant_options(args):
    """Refuses a model option the variant's constructor does not take, and an
    objective option it does not support."""
    from keras_gans.models import VARIANTS, get_variant

    cls = get_variant(args.variant)
    cls.check_supported({option: getattr(args, option) for option in COMPILE_OPTIONS})
    takes = _model_defaults(cls)
    for option in MODEL_OPTIONS:
        if option not in takes and getattr(args, option) not in (None, False):
            takers = [name for name, cls in VARIANTS.items() if option in _model_defaults(cls)]
            raise CLIError(f"{_flag(option)} applies to {', '.join(takers)}, "
                           f"not to {args.variant}")


def _fill_variant_defaults(args):
    """Sets the options not given to the variant's defaults."""
    import inspect

    from keras_gans.models import get_variant

    cls = get_variant(args.variant)
    compile_defaults = {name: parameter.default for name, parameter
                        in inspect.signature(cls.compile).parameters.items()}
    defaults = {**_model_defaults(cls), **compile_defaults}
    for option in (*MODEL_OPTIONS, *COMPILE_OPTIONS):
        if getattr(args, option) is None and option in defaults:
            setattr(args, option, defaults[option])


def _checkpoint_options(model):
    """The model and objective options a checkpoint was trained with, by `args` name."""
    config, compiled = model.get_config(), model.get_compile_config()
    d_lr, lr_schedule, _ = _learning_rate(model.d_optimizer)
    options = {option: config[option] for option in MODEL_OPTIONS if option in config}
    options.update({option: compiled[option] for option in COMPILE_OPTIONS})
    options.update(
        loss=model.adversarial_loss.name,
        d_lr=d_lr,
        g_lr=_learning_rate(model.g_optimizer)[0],
        lr_schedule=lr_schedule,
        beta_1=model.d_optimizer.get_config().get("beta_1"),
    )
    return {option: tuple(value) if isinstance(value, list) else value
            for option, value in options.items()}


def _learning_rate(optimizer):
    """`(initial learning rate, schedule name, steps to zero or None)`."""
    rate = optimizer.get_config()["learning_rate"]
    if not isinstance(rate, dict):
        return float(rate), "constant", None
    config = rate["config"]
    if rate["class_name"] != "PolynomialDecay":
        return config.get("initial_learning_rate"), rate["class_name"], None
    return float(config["initial_learning_rate"]), "linear", int(config["decay_steps"])


def _check_schedule_ends_with_this_run(args, model, steps_per_epoch):
    """A resumed linear schedule must reach zero at this run's last epoch."""
    _, _, decay_steps = _learning_rate(model.d_optimizer)
    if decay_steps is not None and decay_steps != args.epochs * steps_per_epoch:
        last_epoch = format(decay_steps / steps_per_epoch, "g")
        raise CLIError(f"--epochs {args.epochs}: the checkpoint's learning rates fall to "
                       f"zero at epoch {last_epoch} (--lr-schedule linear); resume with "
                       f"--epochs {last_epoch}")


def _shown(value):
    """An option's value as it is typed on the command line."""
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def _same_option(given, saved):
    if isinstance(given, float) and isinstance(saved, (int, float)):
        return math.isclose(given, saved, rel_tol=1e-6)
    if isinstance(given, str) and isinstance(saved, str):  # e.g. --diff-augment
        return set(given.replace(" ", "").split(",")) == set(saved.split(","))
    return given == saved


def _check_options_against_checkpoint(args, model, checkpoint_path):
    """A resumed run trains the checkpoint's model as it was compiled.

    Another variant, or a model or objective option the checkpoint was not
    trained with, is an error rather than silently ignored.
    """
    from keras_gans.models import get_variant

    if type(model) is not get_variant(args.variant):
        raise CLIError(f"{checkpoint_path} holds a {type(model).__name__}, not a "
                       f"{args.variant}; resume it as that variant or choose another --out")
    defaults = vars(_build_parser().parse_args(["train", args.variant]))
    for option, saved in _checkpoint_options(model).items():
        given = getattr(args, option)
        if given == defaults[option] or _same_option(given, saved):
            continue
        differs = ("the checkpoint's model was trained without it" if saved in (None, False)
                   else f"{_shown(given)} differs from the checkpoint's {_shown(saved)}")
        raise CLIError(f"{_flag(option)}: {differs}; drop it to resume, or train afresh "
                       "in a new --out")


def run_train(args):
    import keras

    from keras_gans import callbacks as gan_callbacks
    from keras_gans import data, hardware, saving

    _check_variant_options(args)
    out = _out_dir(args)
    keras.mixed_precision.set_global_policy(args.precision)
    _warn_if_bfloat16_is_emulated(args.precision)
    images = data.load_images(args.dataset, "train", data_dir=args.data_dir)
    conditional = args.variant == "cgan"
    if conditional and images.labels is None:
        raise CLIError(f"cgan needs labels, but {images.source} has none")
    x, y = images.images, images.labels
    if args.limit:
        x, y = x[:args.limit], None if y is None else y[:args.limit]

    checkpoint_dir = os.path.join(out, "checkpoint")
    model, initial_epoch, previous_seconds = None, 0, 0.0
    if args.resume:
        model, initial_epoch = gan_callbacks.GANCheckpoint.resume(checkpoint_dir)
        previous_seconds = gan_callbacks.GANCheckpoint.read_state(checkpoint_dir).get(
            "train_seconds",
            saving.read_metadata(os.path.join(out, "generator")).get("wall_time_seconds", 0.0))
    checkpoint = gan_callbacks.GANCheckpoint(checkpoint_dir, every_steps=args.checkpoint_every,
                                             previous_seconds=previous_seconds)
    if args.resume:
        if model is None:
            print(f"No checkpoint in {checkpoint.directory}; starting afresh.")
        else:
            print(f"Resuming from {checkpoint.path} at epoch {initial_epoch + 1}.")
    if model is None:
        _fill_variant_defaults(args)
        n_critic = args.n_critic or 1
    else:
        _check_options_against_checkpoint(args, model, checkpoint.path)
        n_critic = getattr(model, "n_critic", 1)
    # A WGAN step reads n_critic critic minibatches.
    step_batch = args.batch_size * n_critic
    dataset = data.make_dataset(x, y if conditional else None, batch_size=step_batch,
                                seed=args.seed)
    steps_per_epoch = int(dataset.cardinality())
    if model is None:
        model = _build_model(args, images.num_classes, images.image_shape, steps_per_epoch)
    else:
        _check_schedule_ends_with_this_run(args, model, steps_per_epoch)
    # How to run the step is this command's choice, not the checkpoint's.
    model.steps_per_execution = args.steps_per_execution
    if args.jit_compile:
        model.jit_compile = True
    if initial_epoch >= args.epochs:
        print(f"Already trained for {initial_epoch} epochs; nothing to do.")
    stop = gan_callbacks.StopOnNonFinite()
    grid = gan_callbacks.SampleGrid(os.path.join(out, "samples"), gif=args.gif,
                                    seed=args.seed, class_names=images.class_names)
    history = model.fit(dataset, epochs=args.epochs, initial_epoch=initial_epoch,
                        callbacks=[stop, checkpoint, grid], shuffle=False,
                        verbose=0 if args.quiet else "auto")
    wall_time = checkpoint.train_seconds
    if stop.message:
        raise CLIError(stop.message)

    history_path = os.path.join(out, "history.json")
    logs = {}
    if args.resume and os.path.exists(history_path):
        with open(history_path) as f:  # the epochs of the runs this one resumed
            logs = {k: v[:initial_epoch] for k, v in json.load(f).items()}
    for key, values in history.history.items():
        logs[key] = logs.get(key, []) + [float(v) for v in values]
    with open(history_path, "w") as f:
        json.dump(logs, f, indent=1)
    export_dir = os.path.join(out, "generator")
    run_metadata = model.export(export_dir, metadata={
        "dataset": args.dataset,
        "class_names": images.class_names,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "precision": args.precision,
        "jit_compile": bool(model.jit_compile),
        "wall_time_seconds": round(wall_time, 1),
        "cpu": hardware.describe(),
        "command": "keras-gans " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    })
    model.save_to_preset(os.path.join(out, "preset"), metadata=run_metadata)
    last_grid = grid.paths[-1] if grid.paths else None
    print(f"Trained {args.variant} to epoch {args.epochs} in {wall_time:.0f} s of training. "
          f"Samples: {last_grid}. Generator: {export_dir}")


def _load_any(name):
    """A pretrained name, a preset or export directory, or a `.keras` file."""
    from keras_gans import pretrained, saving

    if name.endswith(".keras"):
        return saving.load_gan(name)
    return pretrained.load_pretrained(name)


def run_sample(args):
    from keras_gans import plotting

    generator = _load_any(args.model)
    labels = None
    if args.labels:
        try:
            labels = [int(label) for label in args.labels.split(",")]
        except ValueError:
            raise CLIError(f"--labels must be integers, got {args.labels!r}") from None
        if len(labels) == 1:
            labels = labels * args.n
        if len(labels) != args.n:
            raise CLIError(f"--labels gives {len(labels)} labels for --n {args.n}")
    if labels is not None and not generator.conditional:
        raise CLIError(f"{args.model} is unconditional: it takes no --labels")
    images = generator.generate(args.n, labels=labels, seed=args.seed)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    plotting.save_grid(images, args.out)
    print(f"Wrote {len(images)} samples to {args.out}")


def run_evaluate(args):
    from keras_gans import evaluation

    generator = _load_any(args.model)
    result = evaluation.evaluate_generator(
        generator, dataset=args.dataset, data_dir=args.data_dir, n=args.n,
        seed=args.seed)
    print(json.dumps(result))


def run_list(args):
    from keras_gans import pretrained

    models = pretrained.list_pretrained()
    if not models:
        print("No pretrained models found in: " + ", ".join(pretrained.model_dirs()))
        return
    columns = ("variant", "epochs", "fid", "kid", "cond_acc", "path")
    print(f"{'name':<32}" + "".join(f"{c:<12}" for c in columns[:-1]) + "path")
    for name, info in models.items():
        cells = []
        for column in columns[:-1]:
            value = info.get(column, "")
            if isinstance(value, float):
                value = f"{value:.4g}"
            cells.append(f"{value if value is not None else '':<12}")
        print(f"{name:<32}" + "".join(cells) + info["path"])


COMMANDS = {"train": run_train, "sample": run_sample, "evaluate": run_evaluate,
            "list": run_list}


def main(argv=None):
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except (CLIError, ValueError, FileNotFoundError) as error:
        message = str(error).strip() or type(error).__name__
        print(f"keras-gans {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
