"""The `keras-gans` command: train, sample, translate, evaluate, list.

`arguments` builds the parser (without Keras, so that help and usage errors
answer at once); `commands` runs each command: `train` turns its arguments
into a `keras_gans.RunConfig` and calls `keras_gans.train`.
"""

import contextlib
import os
import sys

from keras_gans.cli.arguments import LOSS_NAMES, VARIANT_NAMES, build_parser
from keras_gans.cli.commands import COMMANDS, CLIError, train_config

__all__ = ["CLIError", "LOSS_NAMES", "VARIANT_NAMES", "main", "train_config"]


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


def start_keras(verbose=False):
    """Imports Keras, its backend and the variants, and on TensorFlow makes its
    devices, quietly unless `verbose` or the user asked TensorFlow for all
    its messages (`TF_CPP_MIN_LOG_LEVEL=0`)."""
    quiet = not verbose and os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0"
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced(quiet):
        import keras

        import keras_gans.models  # noqa: F401  (registers the variants for loading)

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_logical_devices("CPU")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    # Help and usage errors answer before Keras loads.
    args = build_parser().parse_args(argv)
    if args.command == "list":  # reads the presets' metadata only
        return COMMANDS["list"](args) or 0
    start_keras(args.verbose)
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
