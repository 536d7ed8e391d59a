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


# Ten colours that stay apart for the ten digit classes (Tableau's palette, as matplotlib's 'tab10').
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def scatter_png(path: str, points: np.ndarray, labels: np.ndarray | None = None, *, size: int = 640,
                radius: int = 2) -> None:
    """Writes points [n, 2] as a scatter plot PNG, coloured by integer labels [n] (with a legend of
    the label values) or all one colour. Axes are scaled to the points' range; no axis ticks."""
    from PIL import Image, ImageDraw

    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be [n, 2]; got shape {points.shape}")
    low, high = points.min(0), points.max(0)
    margin = 10 * radius
    xy = margin + (points - low) / np.where(high > low, high - low, 1.0) * (size - 2 * margin)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    labels = np.zeros(len(points), np.int64) if labels is None else np.asarray(labels).astype(np.int64)
    for (x, y), label in zip(xy, labels):
        draw.ellipse([x - radius, size - y - radius, x + radius, size - y + radius], fill=PALETTE[label % len(PALETTE)])
    for row, label in enumerate(np.unique(labels) if len(np.unique(labels)) > 1 else []):
        draw.rectangle([6, 6 + 14 * row, 16, 16 + 14 * row], fill=PALETTE[label % len(PALETTE)])
        draw.text((20, 5 + 14 * row), str(label), fill="black")
    image.save(path)
