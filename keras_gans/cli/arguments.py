"""The `keras-gans` command's arguments: one parser, built without Keras so
that help and usage errors answer at once."""

import argparse

from keras_gans.run import DATASETS, DIRECTIONS, LR_SCHEDULES, PRECISIONS, RESIZES, shown

# More images than this make an unreadable grid: `sample --out DIR/` writes files.
MAX_GRID_IMAGES = 1024
# Images generated and written at a time by `sample --out DIR/`
# (`keras_gans.sampling.SAMPLE_BATCH_SIZE`).
SAMPLE_BATCH_SIZE = 1000
# The names of `keras_gans.models.VARIANTS` and `keras_gans.losses.LOSSES`,
# so that help and usage errors answer before Keras is imported.
VARIANT_NAMES = ("cgan", "cyclegan", "dcgan", "pix2pix", "progan", "sngan", "vanilla",
                 "wgan", "wgan-gp")
LOSS_NAMES = ("hinge", "jensen_shannon", "kl", "lsgan", "minimax", "non_saturating",
              "pearson", "reverse_kl", "wasserstein")
# In an option's help: the variants that take it, with their defaults.
TAKERS = "{takers}"


class _Parser(argparse.ArgumentParser):
    """Reports a usage error in one line, like the other user errors."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default once, where it has one worth showing."""

    def _get_help_string(self, action):
        help_text = (action.help or "").replace(TAKERS, _takers(action.dest)
                                                if TAKERS in (action.help or "") else "")
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


def _truncation(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} must lie in [0, 1]")
    return value


def _add_truncation_option(parser):
    parser.add_argument("--truncation", type=_truncation, metavar="PSI",
                        help="pull z toward the mean latent: 0 gives every image the mean "
                        "latent's image, 1 no truncation")


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


def build_parser():
    parser = _Parser(
        prog="keras-gans",
        description="Train, sample and evaluate generative adversarial networks.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up and device messages")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{train,sample,interpolate,translate,evaluate,list}")

    train = commands.add_parser(
        "train", help="train a GAN variant",
        description="Train a GAN with model.fit: a sample grid and a checkpoint "
        "per epoch, the generator exported as a SavedModel at the end.",
        formatter_class=_HelpFormatter)
    train.add_argument("variant", choices=VARIANT_NAMES, help="the GAN variant")
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
    data.add_argument("--resize", choices=RESIZES, default="crop",
                      help="how --image-size treats another aspect ratio: centre crop, "
                      "pad with the background colour, or stretch")
    data.add_argument("--bad-images", choices=("warn", "error"), default="warn",
                      help="an unreadable image file is skipped with a warning, or "
                      "stops the run")
    data.add_argument("--limit", type=_positive_int,
                      help="train on the first N images only (cyclegan: of each domain; "
                      "pix2pix: pairs)")
    data.add_argument("--domain-a", metavar="SOURCE",
                      help="cyclegan, pix2pix: domain A, emoji:google, emoji:twitter, a "
                      "folder of images or (cyclegan) tfds:cycle_gan/NAME (its trainA); "
                      "pix2pix pairs two folders' images by file name")
    data.add_argument("--domain-b", metavar="SOURCE",
                      help="cyclegan, pix2pix: domain B, as --domain-a (tfds: its trainB)")
    run_group = train.add_argument_group("run")
    length = run_group.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int,
                        help="passes over the data (default 5)")
    length.add_argument("--steps", type=_positive_int,
                        help="train for at least this many steps, rounded up to whole "
                        "epochs; small datasets need more epochs than large ones")
    run_group.add_argument("--batch-size", type=_positive_int,
                     help="images per step; for WGAN, WGAN-GP and SNGAN the critic "
                     "minibatch, each step reading n_critic of them; for progan every "
                     "stage's, whose default is the variant's own (default: 64)")
    run_group.add_argument("--out", help="output directory (default: runs/VARIANT_DATASET)")
    existing = run_group.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue the run in OUT from its checkpoint")
    existing.add_argument("--overwrite", action="store_true",
                          help="delete the run in OUT (checkpoint, samples, history, "
                          "generator) and train afresh")
    run_group.add_argument("--seed", type=int, default=0,
                     help="seed of the weights, the noise, the shuffling and the grids")
    run_group.add_argument("--precision", choices=("auto", *PRECISIONS), default="auto",
                     help="Keras dtype policy; auto: float32 or, where the CPU computes "
                     "bfloat16 natively, mixed_bfloat16, whichever ran this model's step "
                     "faster in a probe on this machine (cached)")
    run_group.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                     help="also checkpoint every STEPS batches")
    run_group.add_argument("--steps-per-execution", type=_positive_int, default=1,
                     help="training steps per call of the compiled step")
    run_group.add_argument("--jit-compile", nargs="?", choices=("auto", "on", "off"),
                     const="on", default="auto",
                     help="compile the step with XLA; auto: on if it ran this model's step "
                     "faster in the same probe (see the docs' Performance guide)")
    run_group.add_argument("--stop-on-collapse", action="store_true",
                     help="stop at the first epoch whose samples have collapsed or "
                     "saturated (a warning otherwise; such a generator is never exported)")
    run_group.add_argument("--gif", action="store_true",
                     help="write an animated GIF of the sample grids")
    run_group.add_argument("--evaluate", type=_positive_int, metavar="N",
                     help="score the final generator on N samples (FID, KID, IS, class "
                     "coverage against the test split, as keras-gans evaluate) and record "
                     "the scores in its metadata.json")
    run_group.add_argument("--quiet", action="store_true", help="no progress bar")
    fine_tuning = train.add_argument_group("fine-tuning")
    fine_tuning.add_argument("--from-preset", metavar="PRESET",
                             help="start from this preset (a zoo name or a preset "
                             "directory, both players) instead of fresh weights; the data "
                             "must have its image size, channels and classes")
    fine_tuning.add_argument("--freeze-d", type=_positive_int, metavar="K",
                             help="keep the preset discriminator's first K blocks frozen "
                             "(FreezeD)")
    model = train.add_argument_group(
        "model", "defaults: the variant's own (its constructor's and compile's)")
    model.add_argument("--latent-dim", type=_positive_int,
                       help=f"size of z ({TAKERS})")
    model.add_argument("--spectral-norm", action="store_true",
                       help=f"spectral normalisation in D ({TAKERS})")
    model.add_argument("--minibatch-stddev", action="store_true",
                       help="minibatch standard-deviation feature in D "
                       f"({TAKERS})")
    model.add_argument("--discriminator-units", type=_widths, metavar="W1,W2,...",
                       help="hidden layer widths of the MLP discriminator, e.g. "
                       f"1024,512,256 ({TAKERS})")
    model.add_argument("--ema-decay", type=float,
                       help="sample and export from an EMA of G's weights")
    model.add_argument("--n-critic", "--n-dis", dest="n_critic", type=_positive_int,
                       help="critic (discriminator) steps per generator step; --n-dis is "
                       f"SNGAN's name for it ({TAKERS})")
    model.add_argument("--clip-value", type=float,
                       help=f"critic weight clipping bound ({TAKERS})")
    model.add_argument("--gp-weight", type=float,
                       help=f"gradient penalty weight lambda ({TAKERS})")
    model.add_argument("--width", type=_positive_int,
                       help=f"channels of the ResNet blocks ({TAKERS})")
    model.add_argument("--conditional", action="store_true",
                       help="train a class-conditional model on the dataset's labels "
                       "(sngan: projection discriminator; cgan always is conditional)")
    model.add_argument("--fade-images", type=_stage_images("8:5000,16:20000"),
                       metavar="N|R:N,...",
                       help="images over which each new resolution fades in, or "
                       "resolution by resolution after the first, e.g. 8:5000,16:20000 "
                       f"({TAKERS})")
    model.add_argument("--stable-images", type=_stage_images("4:5000,8:5000,16:40000"),
                       metavar="N|R:N,...",
                       help="images each resolution trains for once faded in, or "
                       "resolution by resolution, e.g. 4:5000,8:5000,16:40000 "
                       f"({TAKERS})")
    model.add_argument("--batch-sizes", type=_batch_sizes, metavar="R:B,...",
                       help="images per step at each resolution, e.g. 4:64,8:64,16:32; "
                       "resolutions not named take the variant's default "
                       f"({TAKERS})")
    model.add_argument("--reset-optimizers", action="store_true",
                       help="restart Adam whenever a fade-in or a stable phase begins, as "
                       f"the ProGAN paper's code does ({TAKERS})")
    model.add_argument("--pool-size", type=int, metavar="N",
                       help=f"translations D sees from history ({TAKERS})")
    model.add_argument("--cycle-weight", type=float, metavar="LAMBDA",
                       help=f"cycle-consistency weight ({TAKERS})")
    model.add_argument("--identity-weight", type=float,
                       help="identity loss weight, a fraction of the cycle weight "
                       f"({TAKERS})")
    model.add_argument("--generator-filters", type=_positive_int,
                       help=f"generator width ({TAKERS}; default: by "
                       "image size)")
    model.add_argument("--residual-blocks", type=int, metavar="N",
                       help=f"generator depth ({TAKERS}; default: by "
                       "image size)")
    objective = train.add_argument_group("objective")
    objective.add_argument("--loss", choices=sorted(LOSS_NAMES), metavar="LOSS",
                           help="adversarial loss: " + ", ".join(sorted(LOSS_NAMES))
                           + " (default: the variant's own)")
    objective.add_argument("--d-lr", type=float, help="D learning rate")
    objective.add_argument("--g-lr", type=float, help="G learning rate")
    objective.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                           help="linear: both learning rates fall linearly to zero at "
                           "the last of --epochs (default: constant; cyclegan, pix2pix: linear "
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
    objective.add_argument("--ada", action="store_true",
                           help="adaptive discriminator augmentation: D sees real and fake "
                           "images augmented with a probability that follows its "
                           "overfitting (not with --diff-augment)")
    objective.add_argument("--ada-target", type=float, metavar="R",
                           help="with --ada, the target of D's mean sign on real images: "
                           "above it the augmentation grows, below it shrinks (default: "
                           "0.6)")
    objective.add_argument("--ada-kimg", type=float, metavar="K",
                           help="with --ada, thousands of real images over which the "
                           "probability can go from 0 to 1 (default: 100)")

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
    _add_truncation_option(sample)
    _add_trust_option(sample)

    interpolate = commands.add_parser(
        "interpolate", help="write a walk through a generator's latent space as a GIF "
        "or MP4", description="Write a walk through random latent vectors (for a "
        "conditional model: one latent vector, between classes) as an animation.",
        formatter_class=_HelpFormatter)
    interpolate.add_argument("model", help="pretrained name, export directory or .keras "
                             "file")
    interpolate.add_argument("--out", default="walk.gif",
                             help="a .gif, or a .mp4 (needs pip install imageio[ffmpeg])")
    interpolate.add_argument("--points", type=_positive_int, default=4, metavar="N",
                             help="random latent vectors (classes, for a conditional "
                             "model) the walk passes through; at least 2")
    interpolate.add_argument("--steps", type=_positive_int, default=8, metavar="M",
                             help="frames between two points")
    interpolate.add_argument("--seed", type=int, default=0)
    interpolate.add_argument("--method", choices=("slerp", "linear"), default="slerp",
                             help="along the great circle between latent vectors, or the "
                             "straight line")
    interpolate.add_argument("--fps", type=_positive_int, default=12,
                             help="frames per second")
    interpolate.add_argument("--labels", help="a conditional model's classes to walk "
                             "between, comma-separated indices or names, one per point "
                             "(default: the classes in turn)")
    _add_truncation_option(interpolate)
    _add_trust_option(interpolate)

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
    translate.add_argument("--resize", choices=RESIZES, default="crop",
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
                          help="feature space: classifier (offline for any data: the "
                          "dataset's shipped one, one trained on --data-dir's class "
                          "folders, or for a flat folder a self-supervised one learned on "
                          "its images; trained once and cached), self_supervised, "
                          "inception (downloads ImageNet weights; comparable with papers), "
                          "or a .weights.h5 / .keras extractor file")
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


def _takers(option):
    """`"wgan: 5, wgan-gp: 5"`: the variants that take `option`, with their
    defaults; only their names for a switch that is off by default."""
    from keras_gans.cli import start_keras

    start_keras()
    from keras_gans.models import VARIANTS
    from keras_gans.run import variant_defaults

    defaults = {name: variant_defaults(cls)[option] for name, cls in VARIANTS.items()
                if option in variant_defaults(cls)}
    if not any(defaults.values()):
        return ", ".join(defaults)
    return ", ".join(f"{name}: {shown(default)}" for name, default in defaults.items())
