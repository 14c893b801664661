"""The `keras-gans` command: train, sample, translate, evaluate, list."""

import argparse
import contextlib
import json
import math
import os
import shlex
import shutil
import signal
import sys
import tempfile

DATASETS = ("fashion_mnist", "mnist", "emoji", "cifar10")
# More images than this make an unreadable grid: `sample --out DIR/` writes files.
MAX_GRID_IMAGES = 1024
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
LR_SCHEDULES = ("constant", "linear")
DIRECTIONS = ("a2b", "b2a")


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Reports a usage error in one line, like the other user errors."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default once, where it has one worth showing."""

    def _get_help_string(self, action):
        help_text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and "default" not in help_text and action.option_strings:
            help_text += " (default: %(default)s)"
        return help_text


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


def _add_trust_option(parser):
    parser.add_argument("--trust-model", action="store_true",
                        help="load a SavedModel export without first checking that its "
                        "graph holds only the ops a generator needs (no file access, "
                        "Python calls, ...): only for exports from a source you trust")


def _per_resolution(text, example):
    """`"RESOLUTION:COUNT,..."`, e.g. `"4:64,8:32"`, as `{4: 64, 8: 32}`."""
    try:
        pairs = [[int(part) for part in item.split(":")] for item in text.split(",")]
        counts = {resolution: count for resolution, count in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of RESOLUTION:COUNT, e.g. {example}"
        ) from None
    if len(counts) < len(pairs):
        raise argparse.ArgumentTypeError(f"{text}: a resolution is named twice")
    return counts


def _batch_sizes(text):
    """`"4:64,8:64,16:32"` as `{4: 64, 8: 64, 16: 32}`."""
    sizes = _per_resolution(text, "4:64,8:32")
    if not all(size >= 1 for size in sizes.values()):
        raise argparse.ArgumentTypeError(f"{text}: every batch size must be at least 1")
    return sizes


def _stage_images(example):
    """The argparse type of a schedule length: `"20000"` as 20000, for every
    stage; `"8:5000,16:20000"` as `{8: 5000, 16: 20000}`, stage by stage."""
    def parse(text):
        if ":" in text:
            return _per_resolution(text, example)
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is neither a number of images nor a list of RESOLUTION:COUNT, "
                f"e.g. {example}") from None
    return parse


def _build_parser():
    from keras_gans.losses import LOSSES as LOSS_NAMES
    from keras_gans.models import VARIANTS
    from keras_gans.sampling import SAMPLE_BATCH_SIZE

    parser = _Parser(
        prog="keras-gans",
        description="Train, sample and evaluate generative adversarial networks.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up and device messages")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{train,sample,translate,evaluate,list}")

    train = commands.add_parser(
        "train", help="train a GAN variant",
        description="Train a GAN with model.fit: a sample grid and a checkpoint "
        "per epoch, the generator exported as a SavedModel at the end.",
        formatter_class=_HelpFormatter)
    train.add_argument("variant", choices=sorted(VARIANTS), help="the GAN variant")
    data = train.add_argument_group("data")
    data.add_argument("--dataset",
                      help=f"dataset name ({', '.join(DATASETS)}, or any "
                      "tensorflow-datasets image dataset); default: the --data-dir "
                      "folder's name, else fashion_mnist")
    data.add_argument("--data-dir", help="read the dataset from this directory: IDX "
                      "files, a .npz, or images (PNG, JPEG, GIF, BMP), flat or in "
                      "class folders; for emoji, the npm package or its .tgz")
    data.add_argument("--style", choices=("google", "twitter"), default="google",
                      help="emoji style: Noto Color Emoji or Twemoji")
    data.add_argument("--image-size", type=_positive_int, metavar="N",
                      help="resize every image to NxN (default: as stored; emoji 64)")
    data.add_argument("--channels", type=int, choices=(1, 3),
                      help="1 (grayscale) or 3 (RGB); default: from the data")
    data.add_argument("--background", default="white",
                      help="colour that transparent pixels are laid onto (a name or "
                      "#rrggbb)")
    data.add_argument("--resize", choices=("crop", "pad", "stretch"), default="crop",
                      help="how --image-size treats another aspect ratio: centre crop, "
                      "pad with the background colour, or stretch")
    data.add_argument("--bad-images", choices=("warn", "error"), default="warn",
                      help="an unreadable image file is skipped with a warning, or "
                      "stops the run")
    data.add_argument("--limit", type=_positive_int,
                      help="train on the first N images only (of each domain, for cyclegan)")
    data.add_argument("--domain-a", metavar="SOURCE",
                      help="cyclegan: domain A, emoji:google, emoji:twitter, a folder of "
                      "images or tfds:cycle_gan/NAME (its trainA)")
    data.add_argument("--domain-b", metavar="SOURCE",
                      help="cyclegan: domain B, as --domain-a (tfds: its trainB)")
    run = train.add_argument_group("run")
    length = run.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int,
                        help="passes over the data (default 5)")
    length.add_argument("--steps", type=_positive_int,
                        help="train for at least this many steps, rounded up to whole "
                        "epochs; small datasets need more epochs than large ones")
    run.add_argument("--batch-size", type=_positive_int,
                     help="images per step; for WGAN, WGAN-GP and SNGAN the critic "
                     "minibatch, each step reading n_critic of them; for progan every "
                     "stage's, whose default is the variant's own (default: 64)")
    run.add_argument("--out", help="output directory (default: runs/VARIANT_DATASET)")
    existing = run.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue the run in OUT from its checkpoint")
    existing.add_argument("--overwrite", action="store_true",
                          help="delete the run in OUT (checkpoint, samples, history, "
                          "generator) and train afresh")
    run.add_argument("--seed", type=int, default=0,
                     help="seed of the weights, the noise, the shuffling and the grids")
    run.add_argument("--precision", choices=("auto", *PRECISIONS), default="auto",
                     help="Keras dtype policy; auto: float32 or, where the CPU computes "
                     "bfloat16 natively, mixed_bfloat16, whichever ran this model's step "
                     "faster in a probe on this machine (cached)")
    run.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                     help="also checkpoint every STEPS batches")
    run.add_argument("--steps-per-execution", type=_positive_int, default=1,
                     help="training steps per call of the compiled step")
    run.add_argument("--jit-compile", nargs="?", choices=("auto", "on", "off"),
                     const="on", default="auto",
                     help="compile the step with XLA; auto: on if it ran this model's step "
                     "faster in the same probe (see the README's Performance section)")
    run.add_argument("--stop-on-collapse", action="store_true",
                     help="stop at the first epoch whose samples have collapsed or "
                     "saturated (a warning otherwise; such a generator is never exported)")
    run.add_argument("--gif", action="store_true",
                     help="write an animated GIF of the sample grids")
    run.add_argument("--evaluate", type=_positive_int, metavar="N",
                     help="score the final generator on N samples (FID, KID, IS, class "
                     "coverage against the test split, as keras-gans evaluate) and record "
                     "the scores in its metadata.json")
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
    model.add_argument("--n-critic", "--n-dis", dest="n_critic", type=_positive_int,
                       help="critic (discriminator) steps per generator step; --n-dis is "
                       f"SNGAN's name for it ({_takers('n_critic')})")
    model.add_argument("--clip-value", type=float,
                       help=f"critic weight clipping bound ({_takers('clip_value')})")
    model.add_argument("--gp-weight", type=float,
                       help=f"gradient penalty weight lambda ({_takers('gp_weight')})")
    model.add_argument("--width", type=_positive_int,
                       help=f"channels of the ResNet blocks ({_takers('width')})")
    model.add_argument("--conditional", action="store_true",
                       help="train a class-conditional model on the dataset's labels "
                       "(sngan: projection discriminator; cgan always is conditional)")
    model.add_argument("--fade-images", type=_stage_images("8:5000,16:20000"),
                       metavar="N|R:N,...",
                       help="images over which each new resolution fades in, or "
                       "resolution by resolution after the first, e.g. 8:5000,16:20000 "
                       f"({_takers('fade_images')})")
    model.add_argument("--stable-images", type=_stage_images("4:5000,8:5000,16:40000"),
                       metavar="N|R:N,...",
                       help="images each resolution trains for once faded in, or "
                       "resolution by resolution, e.g. 4:5000,8:5000,16:40000 "
                       f"({_takers('stable_images')})")
    model.add_argument("--batch-sizes", type=_batch_sizes, metavar="R:B,...",
                       help="images per step at each resolution, e.g. 4:64,8:64,16:32; "
                       "resolutions not named take the variant's default "
                       f"({_takers('batch_sizes')})")
    model.add_argument("--reset-optimizers", action="store_true",
                       help="restart Adam whenever a fade-in or a stable phase begins, as "
                       f"the ProGAN paper's code does ({_takers('reset_optimizers')})")
    model.add_argument("--pool-size", type=int, metavar="N",
                       help=f"translations D sees from history ({_takers('pool_size')})")
    model.add_argument("--cycle-weight", type=float, metavar="LAMBDA",
                       help=f"cycle-consistency weight ({_takers('cycle_weight')})")
    model.add_argument("--identity-weight", type=float,
                       help="identity loss weight, a fraction of the cycle weight "
                       f"({_takers('identity_weight')})")
    model.add_argument("--generator-filters", type=_positive_int,
                       help=f"generator width ({_takers('generator_filters')}; default: by "
                       "image size)")
    model.add_argument("--residual-blocks", type=int, metavar="N",
                       help=f"generator depth ({_takers('residual_blocks')}; default: by "
                       "image size)")
    objective = train.add_argument_group("objective")
    objective.add_argument("--loss", choices=sorted(LOSS_NAMES), metavar="LOSS",
                           help="adversarial loss: " + ", ".join(sorted(LOSS_NAMES))
                           + " (default: the variant's own)")
    objective.add_argument("--d-lr", type=float, help="D learning rate")
    objective.add_argument("--g-lr", type=float, help="G learning rate")
    objective.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                           help="linear: both learning rates fall linearly to zero at "
                           "the last of --epochs (default: constant; cyclegan: linear "
                           "over the second half, as in its paper)")
    objective.add_argument("--decay-epochs", type=_positive_int, metavar="N",
                           help="with --lr-schedule linear, the rates hold for the first "
                           "epochs and fall over the last N only")
    objective.add_argument("--beta-1", type=float,
                           help="Adam's beta_1 for both optimizers (default: the "
                           "variant's; not for wgan, which uses RMSprop)")
    objective.add_argument("--label-smoothing", type=float, metavar="S",
                           help="one-sided label smoothing: D's target for real images "
                           "is 1 - S")
    objective.add_argument("--instance-noise", type=float, metavar="SIGMA",
                           help="Gaussian noise of this scale on D's inputs, annealed")
    objective.add_argument("--diff-augment", metavar="POLICY",
                           help="DiffAugment on both D inputs: translation, cutout, "
                           "color, comma-separated")
    objective.add_argument("--r1-weight", type=float, metavar="GAMMA",
                           help="R1 gradient penalty on real images")
    objective.add_argument("--feature-matching", action="store_true",
                           help="G matches D's features of real images")

    sample = commands.add_parser(
        "sample", help="render a grid, or write image files, from an exported or "
        "pretrained generator", formatter_class=_HelpFormatter)
    sample.add_argument("model", help="pretrained name, export directory or .keras file")
    sample.add_argument("--n", type=_positive_int, default=64,
                        help=f"how many images; at most {MAX_GRID_IMAGES} in a grid")
    sample.add_argument("--out", default="grid.png",
                        help="a PNG path for one grid of the images; or a directory (one "
                        "that exists, or a path ending in /) for one PNG file per image, "
                        "000000.png, 000001.png, ..., generated and written "
                        f"{SAMPLE_BATCH_SIZE} at a time so that any --n fits in memory; "
                        "the directory appears once whole")
    sample.add_argument("--overwrite", action="store_true",
                        help="replace a directory --out that already holds samples")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--labels", help="comma-separated class indices or names, one for "
                        "all images or one per image "
                        "(conditional models; default: cycle through classes)")
    _add_trust_option(sample)

    translate = commands.add_parser(
        "translate", help="translate a folder of images with an image-to-image model",
        formatter_class=_HelpFormatter)
    translate.add_argument("model", help="pretrained name, preset or export directory, or "
                           ".keras file")
    translate.add_argument("--direction", choices=DIRECTIONS,
                           help="a2b or b2a (default: an export's own, else a2b)")
    translate.add_argument("--in", dest="input", required=True, metavar="DIR",
                           help="folder of images, searched recursively")
    translate.add_argument("--out", required=True, metavar="DIR",
                           help="where the translations go, as PNGs under the input files' "
                           "names")
    translate.add_argument("--batch-size", type=_positive_int, default=64)
    translate.add_argument("--background", default="white",
                           help="colour that transparent pixels are laid onto")
    translate.add_argument("--resize", choices=("crop", "pad", "stretch"), default="crop",
                           help="how images of another size or shape are brought to the "
                           "model's")
    _add_trust_option(translate)

    evaluate = commands.add_parser(
        "evaluate", help="FID, KID, IS and class coverage of a generator; translation "
        "measures of an image-to-image model",
        formatter_class=_HelpFormatter)
    evaluate.add_argument("model", help="pretrained name, export directory or .keras file")
    evaluate.add_argument("--dataset", help="the real images' dataset (default: the one "
                          "the model's metadata records; with --data-dir alone, the "
                          "folder's name unless the model was trained on "
                          f"{', '.join(DATASETS)})")
    evaluate.add_argument("--data-dir", help="the real images' folder (default: the one "
                          "the model was trained on); for emoji, the npm package or .tgz")
    evaluate.add_argument("--style", choices=("google", "twitter"),
                          help="emoji style (default: the model's, else google)")
    evaluate.add_argument("--split", choices=("test", "train", "all"), default="test",
                          help="the real split; a folder without train/ and test/ "
                          "sub-folders gives all its images")
    evaluate.add_argument("--features", default="classifier",
                          help="feature space: classifier (the dataset's shipped one, or "
                          "one trained on --data-dir's class folders and cached), "
                          "inception (downloads ImageNet weights), or a .weights.h5 / "
                          ".keras extractor file")
    evaluate.add_argument("--domain-a", metavar="SOURCE",
                          help="an image-to-image model's domain A (default: the one it "
                          "was trained on)")
    evaluate.add_argument("--domain-b", metavar="SOURCE",
                          help="its domain B (default: the one it was trained on)")
    evaluate.add_argument("--n", type=_positive_int, default=10000,
                          help="the number of generated images; real images are the "
                          "whole split")
    evaluate.add_argument("--seed", type=int, default=0)
    _add_trust_option(evaluate)

    commands.add_parser("list", help="list the pretrained generators")
    return parser


def _dataset_name(args):
    """`--dataset`, else the `--data-dir` folder's name, else fashion_mnist."""
    if args.dataset:
        return args.dataset
    if args.data_dir:
        return os.path.basename(os.path.normpath(os.path.expanduser(args.data_dir)))
    return "fashion_mnist"


def _run_name(args):
    name = f"{args.variant}_{args.dataset}"
    if args.dataset == "emoji":
        name += f"_{args.style}"
    return name + (f"_{args.image_size}" if args.image_size else "")


def _load_training_images(args):
    from keras_gans import data

    return data.load_images(
        args.dataset, "train", data_dir=args.data_dir, image_size=args.image_size,
        channels=args.channels, style=args.style, background=args.background,
        resize=args.resize, on_error="raise" if args.bad_images == "error" else "warn")


class _NoiseToImageRun:
    """What `keras-gans train` does for a generator of images from noise: one
    dataset, sample grids, a collapse check, one exported generator."""

    default_lr_schedule = "constant"

    def __init__(self, args):
        if args.domain_a or args.domain_b:
            raise CLIError(f"--domain-a and --domain-b apply to cyclegan, not to {args.variant}")
        self.args = args
        args.dataset = _dataset_name(args)
        self.run_name = _run_name(args)

    def load(self):
        args = self.args
        self.images = images = _load_training_images(args)
        if args.evaluate:
            _check_evaluation(args, images.image_shape)
        self.x, self.y = images.images, images.labels
        if args.limit:
            self.x = self.x[:args.limit]
            self.y = None if self.y is None else self.y[:args.limit]

    def model_arguments(self, conditional=False):
        """The constructor arguments the data gives (a variant takes those it has)."""
        shape = self.images.image_shape
        classes = ({"num_classes": self.images.num_classes,
                    "class_names": self.images.class_names or None} if conditional else {})
        return {"image_shape": shape, "final_image_shape": shape, **classes}

    def dataset(self, batch_size, conditional):
        from keras_gans import data

        if conditional and self.y is None:
            raise CLIError(f"a conditional {self.args.variant} needs labels, but "
                           f"{self.images.source} has none")
        return data.make_dataset(self.x, self.y if conditional else None,
                                 batch_size=batch_size, seed=self.args.seed)

    def decay_epochs(self):
        return self.args.decay_epochs

    def monitors(self, out):
        from keras_gans import callbacks as gan_callbacks

        args = self.args
        self.grid = gan_callbacks.SampleGrid(os.path.join(out, "samples"), gif=args.gif,
                                             seed=args.seed,
                                             class_names=self.images.class_names)
        self.collapse = gan_callbacks.CollapseMonitor(
            self.x[:64].astype("float32") / 127.5 - 1, stop=args.stop_on_collapse,
            seed=args.seed)
        return [self.collapse, self.grid]

    def problem(self, checkpoint):
        if self.collapse.problem:
            return (f"{self.collapse.problem}; it is not exported (the checkpoint "
                    f"{checkpoint.path} holds it): try lower learning rates")
        return None

    def evaluate(self, model):
        """With `--evaluate N`, the final generator's scores, else `{}`."""
        if not self.args.evaluate:
            return {}
        from keras_gans import evaluation

        args = self.args
        return evaluation.evaluate_generator(model, dataset=args.dataset, data_dir=args.data_dir,
                                             n=args.evaluate, seed=args.seed, style=args.style)

    def metadata(self):
        args = self.args
        return {
            "dataset": args.dataset,
            **({"style": args.style} if args.dataset == "emoji" else {}),
            **({"data_dir": os.path.abspath(os.path.expanduser(args.data_dir))}
               if args.data_dir else {}),
            "source": self.images.source,
            "class_names": self.images.class_names,
        }

    def export(self, model, out, metadata):
        """Exports the generator; returns the metadata written and what to print."""
        export_dir = os.path.join(out, "generator")
        written, skipped = _export_if_possible(
            lambda: model.export(export_dir, metadata=metadata), metadata)
        samples = f"Samples: {self.grid.paths[-1]}. " if self.grid.paths else ""
        return written, samples + (skipped or f"Generator: {export_dir}")


class _ImageToImageRun:
    """What `keras-gans train` does for a translator between two domains:
    unpaired batches, translation grids, one export per direction."""

    default_lr_schedule = "linear"
    noise_data_options = ("dataset", "data_dir")

    def __init__(self, args):
        from keras_gans import data

        for option in self.noise_data_options:
            if getattr(args, option):
                raise CLIError(f"{_flag(option)} does not apply to {args.variant}: give its "
                               "domains with --domain-a and --domain-b")
        if not (args.domain_a and args.domain_b):
            raise CLIError(f"{args.variant} needs --domain-a and --domain-b, e.g. "
                           "--domain-a emoji:google --domain-b emoji:twitter")
        if args.evaluate:
            raise CLIError(f"--evaluate scores generators from noise; score a trained "
                           f"{args.variant} with keras-gans evaluate OUT/preset")
        self.args = args
        args.dataset = (f"{data.domain_name(args.domain_a)}_to_"
                        f"{data.domain_name(args.domain_b)}")
        self.run_name = f"{args.variant}_{args.dataset}" + (
            f"_{args.image_size}" if args.image_size else "")

    def load(self):
        from keras_gans import data

        args = self.args
        conversion = dict(image_size=args.image_size, channels=args.channels or 3,
                          background=args.background, resize=args.resize,
                          on_error="raise" if args.bad_images == "error" else "warn")
        self.a = data.load_domain(args.domain_a, "train", "A", **conversion)
        self.b = data.load_domain(args.domain_b, "train", "B", **conversion)
        if self.a.image_shape != self.b.image_shape:
            raise CLIError(f"{args.domain_a} holds images of shape {self.a.image_shape}, "
                           f"{args.domain_b} of {self.b.image_shape}: pass --image-size N")

    def model_arguments(self, conditional=False):
        """The constructor arguments the data gives."""
        return {"image_shape": self.a.image_shape}

    def dataset(self, batch_size, conditional=False):
        from keras_gans import data

        limit = self.args.limit
        return data.unpaired_dataset(self.a.images[:limit], self.b.images[:limit],
                                     batch_size=batch_size, seed=self.args.seed)

    def decay_epochs(self):
        """The paper's schedule by default: the rates fall over the second half."""
        return self.args.decay_epochs or max(1, self.args.epochs // 2)

    def monitors(self, out):
        from keras_gans import callbacks as gan_callbacks

        shown = min(8, len(self.a.images), len(self.b.images))
        self.grid = gan_callbacks.TranslationGrid(
            os.path.join(out, "samples"), self.a.images[:shown], self.b.images[:shown],
            gif=self.args.gif)
        return [self.grid]

    def problem(self, checkpoint):
        return None

    def evaluate(self, model):
        return {}

    def metadata(self):
        args = self.args
        return {"dataset": args.dataset, "domain_a": _domain_path(args.domain_a),
                "domain_b": _domain_path(args.domain_b),
                "source": f"{self.a.source} | {self.b.source}"}

    def export(self, model, out, metadata):
        """Exports both directions; returns the metadata written and what to print."""
        paths = [os.path.join(out, f"generator_{direction}") for direction in DIRECTIONS]

        def export_both():
            for path, direction in zip(paths, DIRECTIONS, strict=True):
                written = model.export(path, direction=direction, metadata=metadata)
            return written

        written, skipped = _export_if_possible(export_both, metadata)
        samples = f"Translations: {self.grid.paths[-1]}. " if self.grid.paths else ""
        return written, samples + (skipped or f"Translators: {', '.join(paths)}")


def _export_if_possible(export, metadata):
    """`(export(), None)`: the metadata an export wrote; where SavedModel
    export needs TensorFlow and it is absent, `(metadata, why none was written)`."""
    from keras_gans.hardware import TensorFlowRequiredError

    try:
        return export(), None
    except TensorFlowRequiredError as error:
        return metadata, f"No SavedModel export ({error}); the preset holds the model."


def _domain_path(domain):
    """A domain as recorded in metadata: an absolute path for a folder."""
    if domain.startswith(("emoji:", "tfds:")):
        return domain
    return os.path.abspath(os.path.expanduser(domain))


def _training_run(args):
    """The task layer's part of `keras-gans train` for the variant."""
    from keras_gans.models import ImageToImage, get_variant

    if issubclass(get_variant(args.variant), ImageToImage):
        return _ImageToImageRun(args)
    return _NoiseToImageRun(args)


# What a run writes under --out.
RUN_FILES = ("checkpoint", "samples", "history.json", "generator", "generator_a2b",
             "generator_b2a", "preset")


def _out_dir(args, run_name):
    out = args.out or os.path.join("runs", run_name)
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out} exists and is not a directory")
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise CLIError(f"--out {out} cannot be written: {error.strerror}") from None
    previous = _previous_run(out)
    if previous and not (args.resume or args.overwrite):
        raise CLIError(f"--out {out} already holds a run ({', '.join(previous)}): "
                       "continue it with --resume, or replace it with --overwrite")
    return out


def _read_history(out, epochs):
    """The first `epochs` epochs of `out`'s history.json, for a checkpoint
    whose state does not hold them."""
    path = os.path.join(out, "history.json")
    try:
        with open(path) as f:
            return {key: values[:epochs] for key, values in json.load(f).items()}
    except FileNotFoundError:
        return {}
    except (ValueError, AttributeError) as error:
        raise CLIError(f"{path} is corrupt ({error}); move it away to resume "
                       "without the earlier epochs' logs") from None


def _checkpoint_kept(checkpoint):
    """Which checkpoint a stopped run leaves, for its message."""
    from keras_gans.callbacks import GANCheckpoint

    state = GANCheckpoint.read_state(checkpoint.directory)
    if not state:
        return "No checkpoint was written."
    return f"The checkpoint {checkpoint.path} ({GANCheckpoint.where(state)}) is intact."


def _previous_run(out):
    return [name for name in RUN_FILES if os.path.exists(os.path.join(out, name))]


def _delete_previous_run(out):
    for name in _previous_run(out):
        path = os.path.join(out, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


# The command line's model and objective options, by constructor or `compile`
# argument name; their defaults are the variant's own.
MODEL_OPTIONS = ("latent_dim", "spectral_norm", "minibatch_stddev", "discriminator_units",
                 "ema_decay", "n_critic", "clip_value", "gp_weight", "width",
                 "fade_images", "stable_images", "batch_sizes", "reset_optimizers",
                 "pool_size", "cycle_weight",
                 "identity_weight", "generator_filters", "residual_blocks")
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


def _compile_parameters(cls):
    import inspect

    return inspect.signature(cls.compile).parameters


def _build_model(args, model_arguments, steps_per_epoch, decay_epochs=None):
    """The variant built from the options and the data's `model_arguments`
    (image shape, classes), compiled; `decay_epochs` of a linear schedule
    hold the rates until the last ones (`None`: they fall from the start)."""
    import keras

    from keras_gans.models import get_variant
    from keras_gans.schedules import ConstantThenLinearDecay

    cls = get_variant(args.variant)
    takes = _model_defaults(cls)
    kwargs = {option: getattr(args, option) for option in MODEL_OPTIONS if option in takes}
    kwargs.update({name: value for name, value in model_arguments.items() if name in takes},
                  seed=args.seed)
    if "batch_sizes" in kwargs and args.batch_size:  # progan: --batch-size for every stage
        kwargs["batch_sizes"] = args.batch_size
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
        if args.lr_schedule == "linear" and decay_epochs is None:
            learning_rate = keras.optimizers.schedules.PolynomialDecay(
                learning_rate, decay_steps=args.epochs * steps_per_epoch,
                end_learning_rate=0.0)
        elif args.lr_schedule == "linear":
            learning_rate = ConstantThenLinearDecay(
                learning_rate, (args.epochs - decay_epochs) * steps_per_epoch,
                decay_epochs * steps_per_epoch)
        config["learning_rate"] = learning_rate
        return type(default).from_config(config)

    model.compile(d_optimizer=optimizer(args.d_lr), g_optimizer=optimizer(args.g_lr),
                  **{option: getattr(args, option) for option in COMPILE_OPTIONS
                     if option in _compile_parameters(cls)})
    return model


def _choose_speed_settings(args, build=None, batch=None):
    """Resolves `--precision auto` and `--jit-compile auto|on|off`; prints
    what auto chose, in one line. On a CPU with `build()` and a `batch`,
    auto times the step in each candidate setting once per machine
    and model (`hardware.choose_speed`); otherwise the CPU kind decides
    (`hardware.fastest_settings`)."""
    import keras

    from keras_gans import hardware

    has_gpu = hardware.has_accelerator()
    fastest = hardware.fastest_settings(has_gpu=has_gpu)
    automatic = args.precision == "auto" or args.jit_compile == "auto"
    if automatic and build is not None and not has_gpu:
        candidates = [(precision, jit_compile)
                      for precision, jit_compile in hardware.speed_candidates()
                      if args.precision in ("auto", precision)
                      and args.jit_compile in ("auto", "on" if jit_compile else "off")]
        if candidates:
            shape = "x".join(str(size) for size in keras.tree.flatten(batch)[0].shape[1:])
            key = (f"{args.variant} {shape}, batch {keras.tree.flatten(batch)[0].shape[0]}"
                   f"{', conditional' if args.conditional else ''}")
            fastest = hardware.choose_speed(build, batch, key, candidates)
    chosen = []
    if args.precision == "auto":
        args.precision = fastest.precision
        chosen.append(args.precision)
    if args.jit_compile == "auto":
        args.jit_compile = fastest.jit_compile
        chosen.append("XLA" if args.jit_compile else "no XLA")
    else:
        args.jit_compile = args.jit_compile == "on"
    if chosen:
        print(f"Speed: {', '.join(chosen)} ({fastest.reason}); --precision and "
              "--jit-compile choose otherwise.")


def _use_speed_settings(args, build=None, batch=None):
    """Chooses the speed settings and sets the global dtype policy to them."""
    import keras

    _choose_speed_settings(args, build, batch)
    keras.mixed_precision.set_global_policy(args.precision)
    _warn_if_bfloat16_is_emulated(args.precision)


def _warn_if_bfloat16_is_emulated(precision):
    """mixed_bfloat16 on a CPU without bfloat16 units runs several times slower."""
    from keras_gans import hardware

    if (precision == "mixed_bfloat16" and not hardware.has_accelerator()
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
    if args.batch_size and args.batch_sizes:
        raise CLIError("--batch-size sets every stage's batch size and --batch-sizes names "
                       "them one by one: give one of them")
    takes = _model_defaults(cls)
    given = {option: getattr(args, option) for option in MODEL_OPTIONS}
    # --conditional sets the constructor's num_classes from the data.
    given["num_classes"] = args.conditional
    for option, value in given.items():
        if option not in takes and value not in (None, False):
            takers = [name for name, cls in VARIANTS.items() if option in _model_defaults(cls)]
            flag = "--conditional" if option == "num_classes" else _flag(option)
            raise CLIError(f"{flag} applies to {', '.join(takers)}, not to {args.variant}")


def _fill_variant_defaults(args):
    """Sets the options not given to the variant's defaults."""
    from keras_gans.models import get_variant

    cls = get_variant(args.variant)
    compile_defaults = {name: parameter.default for name, parameter
                        in _compile_parameters(cls).items()}
    defaults = {**_model_defaults(cls), **compile_defaults}
    for option in (*MODEL_OPTIONS, *COMPILE_OPTIONS):
        if getattr(args, option) is None and option in defaults:
            setattr(args, option, defaults[option])


def _checkpoint_options(model):
    """The model and objective options a checkpoint was trained with, by `args` name."""
    config, compiled = model.get_config(), model.get_compile_config()
    d_lr, lr_schedule, _ = _learning_rate(model.d_optimizer)
    options = {option: config[option] for option in MODEL_OPTIONS if option in config}
    options.update({option: compiled[option] for option in COMPILE_OPTIONS
                    if option in compiled})
    if hasattr(model, "adversarial_loss"):
        options["loss"] = model.adversarial_loss.name
    options.update(
        d_lr=d_lr,
        g_lr=_learning_rate(model.g_optimizer)[0],
        lr_schedule=lr_schedule,
        beta_1=model.d_optimizer.get_config().get("beta_1"),
        conditional=_is_conditional(model),
    )
    return {option: tuple(value) if isinstance(value, list) else value
            for option, value in options.items()}


def _is_conditional(model):
    """Whether a model takes class labels: only a conditional noise-to-image one."""
    from keras_gans.models import NoiseToImage

    return isinstance(model, NoiseToImage) and model.conditional


def _learning_rate(optimizer):
    """`(initial learning rate, schedule name, steps to zero or None)`."""
    rate = optimizer.get_config()["learning_rate"]
    if not isinstance(rate, dict):
        return float(rate), "constant", None
    config = rate["config"]
    if rate["class_name"] == "ConstantThenLinearDecay":
        return (float(config["initial_learning_rate"]), "linear",
                int(config["constant_steps"]) + int(config["decay_steps"]))
    if rate["class_name"] != "PolynomialDecay":
        return config.get("initial_learning_rate"), rate["class_name"], None
    return float(config["initial_learning_rate"]), "linear", int(config["decay_steps"])


def _growth_schedule(args, model, image_shape):
    """The `GrowthSchedule` of a growing variant (progan): the checkpoint's,
    or the one its options give; `None` for other variants."""
    from keras_gans.models import get_variant
    from keras_gans.models.progan import GrowthSchedule, stage_resolutions

    if "batch_sizes" not in _model_defaults(get_variant(args.variant)):
        return None
    if model is not None:
        if args.batch_size and set(model.batch_sizes.values()) != {args.batch_size}:
            raise CLIError(f"--batch-size {args.batch_size} differs from the checkpoint's "
                           f"{_shown(model.batch_sizes)}; drop it to resume, or train afresh "
                           "in a new --out")
        return model.schedule
    return GrowthSchedule(stage_resolutions(image_shape), args.fade_images,
                          args.stable_images, args.batch_sizes or args.batch_size)


def _check_state_matches_the_optimizers(state, model, steps_per_epoch, path):
    """A checkpoint's epoch must lie where its optimizers' step count puts it
    at this run's steps per epoch (a resumed epoch restarts, so its step in
    the epoch is not exact)."""
    epoch, steps = int(state.get("epoch", 0)), model.steps_taken
    if not epoch * steps_per_epoch <= steps <= (epoch + 1) * steps_per_epoch:
        raise CLIError(f"{path} records epoch {epoch}, but its optimizers have taken {steps} "
                       f"steps, and epochs here are {steps_per_epoch} steps: resume with "
                       "the data and --batch-size it was trained with, or train afresh in "
                       "a new --out")


def _check_schedule_ends_with_this_run(args, model, steps_per_epoch):
    """A resumed linear schedule must reach zero at this run's last epoch."""
    _, _, decay_steps = _learning_rate(model.d_optimizer)
    rate = model.d_optimizer.get_config()["learning_rate"]
    falling = isinstance(rate, dict) and rate["config"].get("decay_steps")
    if args.decay_epochs and falling and falling != args.decay_epochs * steps_per_epoch:
        raise CLIError(f"--decay-epochs {args.decay_epochs}: the checkpoint's learning rates "
                       f"fall over its last {format(falling / steps_per_epoch, 'g')} epochs")
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
    if isinstance(value, dict):  # --batch-sizes, --stable-images 4:1000,...
        return ",".join(f"{key}:{item}" for key, item in value.items())
    return str(value)


def _same_option(given, saved):
    if isinstance(given, float) and isinstance(saved, (int, float)):
        return math.isclose(given, saved, rel_tol=1e-6)
    if isinstance(given, str) and isinstance(saved, str):  # e.g. --diff-augment
        return set(given.replace(" ", "").split(",")) == set(saved.split(","))
    return given == saved


def _same_stage_lengths(model, option, given):
    """Whether `--fade-images` or `--stable-images` gives a growing model's
    own lengths, written as one number or resolution by resolution."""
    if option not in ("fade_images", "stable_images"):
        return False
    from keras_gans.models.progan import GrowthSchedule

    schedule = model.schedule
    lengths = {"fade_images": schedule.fade_images, "stable_images": schedule.stable_images,
               option: given}
    rebuilt = GrowthSchedule(schedule.resolutions, lengths["fade_images"],
                             lengths["stable_images"])
    return (rebuilt.fade_lengths, rebuilt.stable_lengths) == (schedule.fade_lengths,
                                                              schedule.stable_lengths)


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
        if (given == defaults[option] or _same_option(given, saved)
                or _same_stage_lengths(model, option, given)):
            continue
        differs = ("the checkpoint's model was trained without it" if saved in (None, False)
                   else f"{_shown(given)} differs from the checkpoint's {_shown(saved)}")
        raise CLIError(f"{_flag(option)}: {differs}; drop it to resume, or train afresh "
                       "in a new --out")


def run_train(args):

    from keras_gans import callbacks as gan_callbacks
    from keras_gans import data, files, hardware, saving

    _check_variant_options(args)
    task = _training_run(args)
    out = _out_dir(args, task.run_name)
    task.load()
    if args.overwrite:
        _delete_previous_run(out)

    checkpoint_dir = os.path.join(out, "checkpoint")
    model, initial_epoch, state = None, 0, {}
    if args.resume:
        _use_speed_settings(args)  # by CPU kind: the checkpoint holds the model
        model, initial_epoch = gan_callbacks.GANCheckpoint.resume(checkpoint_dir)
        if model is None:
            raise CLIError(f"--resume: there is no checkpoint in {checkpoint_dir} to resume; "
                           "train without --resume to start afresh")
        state = gan_callbacks.GANCheckpoint.read_state(checkpoint_dir)
        if "history" not in state:  # a checkpoint from before the state held it
            state["history"] = _read_history(out, initial_epoch)
    checkpoint = gan_callbacks.GANCheckpoint(
        checkpoint_dir, every_steps=args.checkpoint_every, history=state.get("history"),
        previous_seconds=state.get("train_seconds", saving.read_metadata(
            os.path.join(out, "generator")).get("wall_time_seconds", 0.0)))
    if model is None:
        _fill_variant_defaults(args)
        conditional = args.variant == "cgan" or args.conditional
        # A WGAN or SNGAN step reads n_critic critic minibatches.
        minibatches = args.n_critic or 1
    else:
        _check_options_against_checkpoint(args, model, checkpoint.path)
        conditional = _is_conditional(model)
        minibatches = getattr(model, "n_critic", 1)
    schedule = _growth_schedule(args, model, task.model_arguments()["image_shape"])
    if schedule is None:
        args.batch_size = args.batch_size or 64
        step_batch = args.batch_size * minibatches
    else:  # a progan step takes its stage's batch from batches of the largest
        step_batch = max(schedule.batch_sizes.values())
    dataset = task.dataset(step_batch, conditional)
    steps_per_epoch = data.batch_count(dataset)
    if schedule is not None:
        print(f"{args.variant} grows {schedule.summary()}.")
        if not (args.epochs or args.steps):
            args.epochs = math.ceil(schedule.total_steps / steps_per_epoch)
            print(f"The schedule's {schedule.total_steps} steps: {args.epochs} epochs of "
                  f"{steps_per_epoch} steps.")
    if args.steps:
        args.epochs = math.ceil(args.steps / steps_per_epoch)
        print(f"--steps {args.steps}: {args.epochs} epochs of {steps_per_epoch} steps.")
    args.epochs = args.epochs or 5
    if model is None:
        args.lr_schedule = args.lr_schedule or task.default_lr_schedule
        decay_epochs = task.decay_epochs() if args.lr_schedule == "linear" else None
        if args.decay_epochs and args.lr_schedule != "linear":
            raise CLIError("--decay-epochs applies to --lr-schedule linear")
        if decay_epochs and decay_epochs > args.epochs:
            raise CLIError(f"--decay-epochs {decay_epochs} exceeds --epochs {args.epochs}")

        def build():
            return _build_model(args, task.model_arguments(conditional), steps_per_epoch,
                                decay_epochs)

        _use_speed_settings(args, build, next(iter(dataset)))
        model = build()
    else:
        _check_state_matches_the_optimizers(state, model, steps_per_epoch, checkpoint.path)
        _check_schedule_ends_with_this_run(args, model, steps_per_epoch)
    # How to run the step is this command's choice, not the checkpoint's.
    model.steps_per_execution = args.steps_per_execution
    model.jit_compile = args.jit_compile
    # A mid-epoch checkpoint restarts its epoch; the run ends as many steps early.
    steps_to_go = args.epochs * steps_per_epoch - model.steps_taken
    if args.resume:
        print(f"Resuming from {checkpoint.path} at epoch {initial_epoch + 1}, "
              f"{steps_to_go} steps to go.")
    if initial_epoch >= args.epochs:
        print(f"Already trained for {initial_epoch} epochs; nothing to do.")
    stop = gan_callbacks.StopOnNonFinite()
    interrupt = gan_callbacks.StopOnSignal()
    end = gan_callbacks.StopAfterSteps(steps_to_go)
    model.fit(dataset, epochs=args.epochs, initial_epoch=initial_epoch,
              callbacks=[stop, interrupt, end, checkpoint, *task.monitors(out)], shuffle=False,
              verbose=0 if args.quiet else "auto")
    wall_time = checkpoint.train_seconds
    if stop.message:
        raise CLIError(f"{stop.message} {_checkpoint_kept(checkpoint)}")
    with files.atomic_path(os.path.join(out, "history.json")) as tmp, open(tmp, "w") as f:
        json.dump(checkpoint.history, f, indent=1)
    if interrupt.received:  # exit status 128 + the signal: 143 SIGTERM, 130 SIGINT
        where = gan_callbacks.GANCheckpoint.where(
            gan_callbacks.GANCheckpoint.read_state(checkpoint_dir))
        print(f"keras-gans train: stopped by {signal.Signals(interrupt.received).name} at "
              f"{where}, checkpointed in {checkpoint.path}: continue with --resume.",
              file=sys.stderr)
        return 128 + interrupt.received
    problem = task.problem(checkpoint)
    if problem:
        raise CLIError(problem)
    scores = task.evaluate(model)
    run_metadata, exported = task.export(model, out, {
        **task.metadata(),
        "epochs": args.epochs,
        "batch_size": args.batch_size if schedule is None else schedule.batch_sizes,
        "precision": args.precision,
        "jit_compile": bool(model.jit_compile),
        "wall_time_seconds": round(wall_time, 1),
        "cpu": hardware.describe(),
        "command": "keras-gans " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        **scores,
    })
    model.save_to_preset(os.path.join(out, "preset"),
                         metadata={**run_metadata, **saving.run_provenance(model)})
    fid = f"FID {scores['fid']:.2f} ({scores['n']} samples). " if scores else ""
    print(f"Trained {args.variant} to epoch {args.epochs} in {wall_time:.0f} s of training. "
          f"{fid}{exported}")


def _check_evaluation(args, image_shape):
    """Refuses `--evaluate` before training when no feature space fits the data."""
    from keras_gans import evaluation

    try:
        evaluation.feature_extractor("classifier", args.dataset, args.data_dir, image_shape)
    except ValueError as error:
        raise CLIError(f"--evaluate: {error}") from None


def _load_any(name, trust=False):
    """A pretrained name, a preset or export directory, or a `.keras` file."""
    from keras_gans import pretrained, saving

    if name.endswith(".keras"):
        return saving.load_gan(name)
    return pretrained.load_pretrained(name, trust=trust)


def _writes_files(out):
    """Whether `sample --out` names a directory for image files, not a grid."""
    return out.endswith(("/", os.sep)) or os.path.isdir(out)


def _check_sample_directory(args):
    """Refuses a directory `--out` that holds anything but samples, or samples
    without `--overwrite`."""
    from keras_gans import sampling

    held = os.listdir(args.out) if os.path.isdir(args.out) else []
    others = sorted(name for name in held if not sampling.SAMPLE_FILE.fullmatch(name))
    if others:
        raise CLIError(f"--out {args.out} holds files other than samples "
                       f"({', '.join(others[:3])}): choose a new or empty directory")
    if held and not args.overwrite:
        raise CLIError(f"--out {args.out} already holds {len(held)} samples: replace them "
                       "with --overwrite, or choose a new directory")


def _write_sample_files(args, generator, labels):
    """`sample --out DIR/`: one PNG file per image, with a progress line."""
    from keras_gans import sampling

    def progress(written):
        print(f"\rGenerated {written}/{args.n} images", end="", file=sys.stderr, flush=True)

    sampling.write_samples(generator, args.n, args.out, seed=args.seed, labels=labels,
                           progress=progress)
    print(file=sys.stderr)
    print(f"Wrote {args.n} samples to {args.out}: {sampling.sample_file_name(0, args.n)} "
          f"to {sampling.sample_file_name(args.n - 1, args.n)}")


def run_sample(args):
    from keras_gans import plotting

    to_files = _writes_files(args.out)
    if to_files:
        _check_sample_directory(args)
    elif args.n > MAX_GRID_IMAGES:
        raise CLIError(f"--n {args.n} is too many images for one grid (at most "
                       f"{MAX_GRID_IMAGES}): write one PNG file per image with --out DIR/")
    labels = None
    if args.labels:
        labels = [int(label) if label.strip().lstrip("-").isdigit() else label.strip()
                  for label in args.labels.split(",")]
        if len(labels) not in (1, args.n):
            raise CLIError(f"--labels gives {len(labels)} labels for --n {args.n}")
    generator = _load_any(args.model, args.trust_model)
    if not hasattr(generator, "generate"):
        raise CLIError(f"{args.model} translates images: use keras-gans translate")
    if labels is not None and not generator.conditional:
        raise CLIError(f"{args.model} is unconditional: it takes no --labels")
    if to_files:
        _write_sample_files(args, generator, labels)
        return
    images = generator.generate(args.n, labels=labels, seed=args.seed)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    plotting.save_grid(images, args.out)
    print(f"Wrote {len(images)} samples to {args.out}")


def run_translate(args):
    from PIL import Image

    from keras_gans import data, files, image_files

    model = _load_any(args.model, args.trust_model)
    if not hasattr(model, "translate"):
        raise CLIError(f"{args.model} generates images from noise: use keras-gans sample")
    direction = args.direction or getattr(model, "direction", None) or "a2b"
    height, width, channels = model.image_shape
    images, _, _, names = image_files.load_image_folder(
        args.input, (height, width), channels, args.background, args.resize)
    translations = data.to_uint8(model.translate(images, direction, args.batch_size))
    for name, image in zip(names, translations, strict=True):
        path = os.path.join(args.out, os.path.splitext(name)[0] + ".png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with files.atomic_path(path) as tmp:
            Image.fromarray(image[..., 0] if channels == 1 else image).save(tmp, format="PNG")
    print(f"Translated {len(names)} images ({direction}) into {args.out}")


def _model_metadata(name, generator):
    """A preset's or export's metadata; for a `.keras` checkpoint, its run's export's."""
    from keras_gans import pretrained, saving

    if hasattr(generator, "metadata"):
        return generator.metadata
    if not name.endswith(".keras"):
        return saving.read_metadata(pretrained.pretrained_path(name))
    folder = os.path.dirname(os.path.abspath(name))
    for run_dir in (folder, os.path.dirname(folder)):
        for export in ("generator", "generator_a2b"):
            metadata = saving.read_metadata(os.path.join(run_dir, export))
            if metadata:
                return metadata
    return {}


def _evaluation_data(args, metadata):
    """The dataset, data folder and style to evaluate against: the options
    given, else those the model's metadata records."""
    recorded = metadata.get("dataset")
    if args.dataset:
        dataset = args.dataset
    elif args.data_dir:
        dataset = recorded if recorded in DATASETS else os.path.basename(
            os.path.normpath(os.path.expanduser(args.data_dir)))
    elif recorded:
        dataset = recorded
    else:
        raise CLIError(f"{args.model} records no dataset: pass --dataset NAME or "
                       "--data-dir DIR")
    data_dir = args.data_dir
    if data_dir is None and dataset == recorded and metadata.get("data_dir"):
        data_dir = metadata["data_dir"]
        if not os.path.exists(data_dir):
            raise CLIError(f"{args.model} was trained on {data_dir}, which is not there: "
                           "pass --data-dir DIR")
    style = args.style or (metadata.get("style") if recorded == "emoji" else None)
    return dataset, data_dir, style or "google"


def _evaluate_translation(args, model):
    from keras_gans import evaluation

    if not hasattr(model, "translator"):
        raise CLIError(f"{args.model} holds one direction of a translator: evaluate its "
                       "preset or .keras checkpoint, which hold both")
    metadata = _model_metadata(args.model, model)
    domain_a = args.domain_a or metadata.get("domain_a")
    domain_b = args.domain_b or metadata.get("domain_b")
    if not (domain_a and domain_b):
        raise CLIError(f"{args.model} records no domains: pass --domain-a and --domain-b")
    if args.split == "all":
        raise CLIError("--split all does not apply to translation: use test or train")
    result = evaluation.evaluate_translation(model, domain_a, domain_b, split=args.split,
                                             features=args.features, seed=args.seed)
    print(json.dumps(result))


def run_evaluate(args):
    from keras_gans import data, evaluation

    generator = _load_any(args.model, args.trust_model)
    if hasattr(generator, "translate"):
        return _evaluate_translation(args, generator)
    dataset, data_dir, style = _evaluation_data(args, _model_metadata(args.model, generator))
    try:
        result = evaluation.evaluate_generator(
            generator, dataset=dataset, data_dir=data_dir, n=args.n, seed=args.seed,
            style=style, split=args.split, features=args.features)
    except data.DatasetNotFoundError:
        raise CLIError(f"dataset {dataset!r} was not found: pass --data-dir DIR, the "
                       "folder of its images") from None
    print(json.dumps(result))


def run_list(args):
    from keras_gans import files, pretrained

    models = pretrained.list_pretrained()
    if not models:
        print("No pretrained models found in: " + ", ".join(pretrained.model_dirs()))
        return
    columns = ("name", "variant", "dataset", "epochs", "fid", "kid", "cond_acc", "path")
    rows = [[files.printable(name)] + [_cell(info.get(column)) for column in columns[1:]]
            for name, info in models.items()]
    widths = [max(len(column), *(len(row[i]) for row in rows)) + 2
              for i, column in enumerate(columns)]
    for row in [list(columns), *rows]:
        print("".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _cell(value):
    from keras_gans import files

    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else files.printable(value)


COMMANDS = {"train": run_train, "sample": run_sample, "translate": run_translate,
            "evaluate": run_evaluate, "list": run_list}


@contextlib.contextmanager
def _native_stderr_silenced(silenced):
    """Hides what native code writes to file descriptor 2, e.g. TensorFlow's
    start-up lines ("oneDNN custom operations are on", "failed call to
    cuInit"), which its C++ logging prints before any setting can stop it."""
    if not silenced:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _start_keras(verbose):
    """Imports Keras, its backend and the variants, and on TensorFlow makes its
    devices, quietly unless `verbose` or the user set `TF_CPP_MIN_LOG_LEVEL`
    themselves."""
    quiet = not verbose and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    if quiet:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with _native_stderr_silenced(quiet):
        import keras

        import keras_gans.models  # noqa: F401  (registers the variants for loading)

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_logical_devices("CPU")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    _start_keras(verbose="--verbose" in argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    import keras

    from keras_gans import files
    from keras_gans.hardware import TensorFlowRequiredError

    # `train` sets the dtype policy; a caller in the same process gets theirs back.
    policy = keras.mixed_precision.global_policy()
    try:
        status = COMMANDS[args.command](args)
    except (CLIError, ValueError, OSError,  # OSError: e.g. a full disk
            TensorFlowRequiredError) as error:  # e.g. loading an export without TensorFlow
        message = str(error).strip() or type(error).__name__
        if isinstance(error, OSError) and error.strerror:  # no "[Errno 28]"
            message = error.strerror + (f": {error.filename}" if error.filename else "")
        print(f"keras-gans {args.command}: error: {files.printable(message)}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
