"""Image grids written as PNG files."""

from __future__ import annotations

import math

import numpy as np


def make_grid(images: np.ndarray, *, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Tiles images into one picture.

    Args:
      images: [n, height, width, channels] in [0, 1] (channels 1 or 3), or [rows, columns,
        height, width, channels] for a grid laid out as given.
      columns: images per row of an [n, ...] stack; default the smallest square that holds them.
      pad: pixels of white between tiles.
    Returns:
      [rows * (height + pad) + pad, columns * (width + pad) + pad, channels] float in [0, 1].
    """
    # A diverged model's NaNs show as black rather than as garbage after the cast to 8 bits.
    images = np.clip(np.nan_to_num(np.asarray(images, np.float32)), 0.0, 1.0)
    if images.ndim == 5:
        columns = images.shape[1]
        images = images.reshape(-1, *images.shape[2:])
    n, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.ones((rows * (height + pad) + pad, columns * (width + pad) + pad, channels), np.float32)
    for index, image in enumerate(images):
        r, c = divmod(index, columns)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        grid[top:top + height, left:left + width] = image
    return grid


def save_png(path: str, grid: np.ndarray, *, scale: int = 2) -> None:
    """Writes a [height, width, channels] image in [0, 1] as an 8-bit PNG, upscaled by `scale`."""
    from PIL import Image

    pixels = np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)
    if scale > 1:
        pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)
