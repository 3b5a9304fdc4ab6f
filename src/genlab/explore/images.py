"""Images as PNG data URLs: small enough (a 28 x 28 digit is ~300 bytes) to travel inside the
JSON of a response, so one request returns a whole strip of decodes."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def png_bytes(image: Tensor) -> bytes:
    """One image (C, H, W), floats in [0, 1] or uint8, as PNG bytes (grey or RGB)."""
    t = image.detach().cpu()
    if t.dtype != torch.uint8:
        t = t.float().nan_to_num(0.0).clamp(0, 1).mul(255).round().to(torch.uint8)
    array = t.permute(1, 2, 0).numpy()
    if array.shape[2] == 1:
        array = array[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def data_url(image: Tensor) -> str:
    """One image as a ``data:image/png;base64,...`` URL for an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def data_urls(images: Tensor) -> list[str]:
    """A batch (N, C, H, W) as N data URLs."""
    return [data_url(im) for im in images]
