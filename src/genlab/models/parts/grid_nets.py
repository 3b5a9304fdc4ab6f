"""A fully convolutional encoder and decoder between an image and a spatial code grid (the
first stage of latent diffusion, Rombach et al. 2022, after Esser et al. 2021's VQGAN without
its attention blocks): group-normalised residual blocks at each resolution level, a stride-2
convolution between levels, so that an H x W image has an (H / f) x (W / f) code grid, f =
2^(levels - 1); the decoder mirrors it with nearest-neighbour upsampling. No linear bottleneck:
each code position describes its own patch of the image.
"""

from __future__ import annotations

from torch import Tensor, nn

from genlab.models.parts.unet import norm


def grid_side(side: int, levels: int) -> int:
    """The code grid's side for an image side: side / 2^(levels - 1), exact."""
    return side // 2 ** (levels - 1)


class GridBlock(nn.Module):
    """GroupNorm-SiLU-conv3x3 twice plus a skip (a 1x1 conv on a width change)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                  norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class GridEncoder(nn.Module):
    """Image (N, C, H, W) -> ``out_channels`` feature planes of the code grid, flattened (N,
    out_channels * h * w) in C order: a VAE's (mean, log-variance) halves are its first and
    last ``out_channels / 2`` planes."""

    def __init__(self, channels: int, widths: list[int], res_blocks: int,
                 out_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 3, padding=1)]
        c = widths[0]
        for i, w in enumerate(widths):
            for _ in range(res_blocks):
                layers.append(GridBlock(c, w))
                c = w
            if i < len(widths) - 1:
                layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        layers += [norm(c), nn.SiLU(), nn.Conv2d(c, out_channels, 3, padding=1), nn.Flatten()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Features of x; an unconditional net (``cond`` must be None, as a VAE passes it)."""
        if cond is not None:
            raise ValueError("a grid encoder takes no condition")
        return self.body(x)


class GridDecoder(nn.Module):
    """Codes of the grid (N, C, h, w), or flattened (N, C h w) -> raw (N, out_channels, H, W)
    for a likelihood head; the output convolution is its last layer."""

    def __init__(self, code_shape: tuple[int, int, int], widths: list[int], res_blocks: int,
                 out_channels: int) -> None:
        super().__init__()
        self.code_shape = tuple(code_shape)
        c = widths[-1]
        layers: list[nn.Module] = [nn.Conv2d(code_shape[0], c, 3, padding=1)]
        for i, w in reversed(list(enumerate(widths))):
            for _ in range(res_blocks):
                layers.append(GridBlock(c, w))
                c = w
            if i > 0:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                           nn.Conv2d(c, c, 3, padding=1)]
        layers += [norm(c), nn.SiLU(), nn.Conv2d(c, out_channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(z.reshape(len(z), *self.code_shape))
