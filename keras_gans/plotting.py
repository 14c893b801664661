"""Image grids and training curves with matplotlib."""

import math

import matplotlib.pyplot as plt
import numpy as np

from keras_gans.data import to_uint8


def tile(images, rows=None, cols=None, padding=1):
    """Tiles `(N, H, W, C)` images in [-1, 1] into one uint8 image."""
    images = to_uint8(images)
    n, height, width, channels = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = rows or math.ceil(n / cols)
    grid = np.full(
        (rows * (height + padding) + padding, cols * (width + padding) + padding,
         channels), 255, np.uint8)
    for index in range(min(n, rows * cols)):
        row, col = divmod(index, cols)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        grid[top:top + height, left:left + width] = images[index]
    return grid[..., 0] if channels == 1 else grid


def grid_figure(images, rows=None, cols=None, row_labels=None, title=None,
                scale=0.3):
    """A matplotlib figure showing images in a grid, one label per row."""
    grid = tile(images, rows, cols)
    height, width = grid.shape[:2]
    fig = plt.figure(figsize=(max(2.0, width * scale / 10),
                              max(2.0, height * scale / 10)), dpi=100)
    ax = fig.add_axes((0.16 if row_labels else 0.0, 0.0,
                       0.84 if row_labels else 1.0, 0.93 if title else 1.0))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255,
              interpolation="nearest")
    ax.set_xticks([])
    if row_labels:
        step = height / len(row_labels)
        ax.set_yticks([step * (i + 0.5) for i in range(len(row_labels))])
        ax.set_yticklabels(row_labels, fontsize=8)
    else:
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=9, y=0.99)
    return fig


def save_grid(images, path, rows=None, cols=None, row_labels=None, title=None):
    """Saves images in [-1, 1] as a PNG grid; returns the path."""
    fig = grid_figure(images, rows, cols, row_labels, title)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_gif(frames, path, duration_ms=400):
    """Saves uint8 grid frames (from `tile`) as an animated GIF."""
    from PIL import Image

    pictures = [Image.fromarray(frame) for frame in frames]
    pictures[0].save(path, save_all=True, append_images=pictures[1:],
                     duration=duration_ms, loop=0)
    return path


def plot_history(history, keys=None, ax=None):
    """Plots the per-epoch logs of a `History` (or its `.history` dict)."""
    logs = getattr(history, "history", history)
    keys = keys or sorted(logs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for key in keys:
        ax.plot(range(1, len(logs[key]) + 1), logs[key], label=key)
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
