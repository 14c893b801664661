"""Runs one measurement of a benchmark in a fresh Python process.

A fresh process sets its dtype policy cleanly, and its peak memory is its own.
"""

import json
import os
import subprocess
import sys


def run_child(script, *args, env=None):
    """Runs `python script *args` and returns the JSON of its last output line.

    Args:
        script: the Python file to run.
        *args: its command-line arguments.
        env: environment variables to set in the child, e.g.
            `{"KERAS_BACKEND": "jax"}`, beside this process's.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    output = subprocess.run([sys.executable, script, *map(str, args)],
                            capture_output=True, text=True, env=env, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])
