"""Batch image augmentation in PyTorch (runs on the training device).

Input: uint8 RGBA [B,4,S,S]. Output: float [B,3,S,S] in [0,1] RGB. Steps, each with its
own probability per sample: random scale / shift / small rotation; dark lines along the
shape's internal edges (line-art look); a dark outline around the shape; the icon alpha-composited on a background (white, solid colour, gradient,
noise texture or dark); brightness / contrast / saturation jitter (never hue: colours are
what the captions name); Gaussian blur; down-and-up resampling; JPEG-like 8x8 DCT
quantization with chroma subsampling; pixel noise.
"""

import math

import torch
import torch.nn.functional as F

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

_LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
           14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
           49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_CHROMA_Q = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
             47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


def normalize(x):
    """[0,1] RGB -> CLIP-normalized tensor."""
    m = torch.tensor(MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def _u(b, lo, hi, dev):
    return torch.rand(b, device=dev) * (hi - lo) + lo


def _p(b, p, dev):
    return torch.rand(b, device=dev) < p


def _geometric(x, dev):
    b = x.shape[0]
    s = _u(b, 0.55, 1.08, dev)
    ang = torch.randn(b, device=dev) * math.radians(10) * _p(b, 0.5, dev).float()
    slack = (1.08 - s).clamp(min=0.05)
    tx = (torch.rand(b, device=dev) * 2 - 1) * slack * 0.6
    ty = (torch.rand(b, device=dev) * 2 - 1) * slack * 0.6
    c, sn = torch.cos(ang), torch.sin(ang)
    # out = s R in + t  =>  in = R^T (out - t) / s
    theta = torch.stack([
        torch.stack([c / s, sn / s, -(c * tx + sn * ty) / s], 1),
        torch.stack([-sn / s, c / s, -(-sn * tx + c * ty) / s], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _backgrounds(b, size, dev):
    kind = torch.multinomial(torch.tensor([0.40, 0.18, 0.14, 0.16, 0.12], device=dev), b, replacement=True)
    white = torch.ones(b, 3, size, size, device=dev)
    c1 = torch.rand(b, 3, 1, 1, device=dev)
    c2 = torch.rand(b, 3, 1, 1, device=dev)
    # Solid colours lean light (icons are usually shown on light pages).
    solid = (0.35 + 0.65 * c1).expand(b, 3, size, size)
    ang = torch.rand(b, 1, 1, 1, device=dev) * 2 * math.pi
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size, device=dev), torch.linspace(-1, 1, size, device=dev), indexing="ij")
    t = ((torch.cos(ang) * xx + torch.sin(ang) * yy) * 0.5 + 0.5).clamp(0, 1)
    grad = c1 * (1 - t) + c2 * t
    low = F.interpolate(torch.rand(b, 3, 6, 6, device=dev), size=(size, size), mode="bilinear", align_corners=False)
    noise = (0.6 * low + 0.4 * torch.rand(b, 1, size, size, device=dev) * _u(b, 0.2, 1.0, dev).view(b, 1, 1, 1)).clamp(0, 1)
    dark = 0.25 * c1.expand(b, 3, size, size)
    bgs = torch.stack([white, solid, grad, noise, dark], 1)
    return bgs[torch.arange(b, device=dev), kind]


def _outline(rgb_p, a, dev):
    b = a.shape[0]
    on = _p(b, 0.2, dev).view(b, 1, 1, 1).float()
    k = 3 if torch.rand(()) < 0.5 else 5
    dil = F.max_pool2d(a, k, 1, k // 2)
    col = torch.rand(b, 3, 1, 1, device=dev) * 0.25
    out_a = a + dil * (1 - a)
    out_rgb = rgb_p + col * dil * (1 - a)
    return on * out_rgb + (1 - on) * rgb_p, on * out_a + (1 - on) * a


def _line_art(rgb_p, a, dev):
    """Darkens the shape's internal edges, as line-art icon styles draw them."""
    b = a.shape[0]
    on = _p(b, 0.25, dev).view(b, 1, 1, 1).float()
    luma = 0.299 * rgb_p[:, 0:1] + 0.587 * rgb_p[:, 1:2] + 0.114 * rgb_p[:, 2:3]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=dev).view(1, 1, 3, 3) / 4.0
    ky = kx.transpose(2, 3)
    f = torch.cat([luma, a], 1).reshape(b * 2, 1, *a.shape[2:])
    gx, gy = F.conv2d(f, kx, padding=1), F.conv2d(f, ky, padding=1)
    e = (gx.abs() + gy.abs()).reshape(b, 2, *a.shape[2:]).amax(1, keepdim=True)
    thr = _u(b, 0.04, 0.12, dev).view(b, 1, 1, 1)
    lines = ((e - thr) * 12.0).clamp(0, 1)
    if torch.rand(()) < 0.5:
        lines = F.max_pool2d(lines, 3, 1, 1)
    lines = lines * on
    col = torch.rand(b, 3, 1, 1, device=dev) * 0.2
    out_a = a + lines * (1 - a)
    return rgb_p * (1 - lines) + col * lines, out_a


def _jitter(x, dev):
    b = x.shape[0]
    on = _p(b, 0.5, dev).view(b, 1, 1, 1).float()
    br = _u(b, 0.85, 1.15, dev).view(b, 1, 1, 1)
    ct = _u(b, 0.85, 1.15, dev).view(b, 1, 1, 1)
    sat = _u(b, 0.8, 1.2, dev).view(b, 1, 1, 1)
    y = x * br
    m = y.mean(dim=(1, 2, 3), keepdim=True)
    y = (y - m) * ct + m
    g = (0.299 * y[:, 0:1] + 0.587 * y[:, 1:2] + 0.114 * y[:, 2:3])
    y = (y - g) * sat + g
    return (on * y + (1 - on) * x).clamp(0, 1)


def _blur(x, dev):
    b, c, h, w = x.shape
    on = _p(b, 0.25, dev)
    sigma = _u(b, 0.4, 1.3, dev)
    r = torch.arange(-2, 3, device=dev, dtype=x.dtype)
    k = torch.exp(-(r[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)
    k2 = (k[:, :, None] * k[:, None, :]).repeat_interleave(c, 0).unsqueeze(1)
    y = F.conv2d(F.pad(x.reshape(1, b * c, h, w), (2, 2, 2, 2), mode="replicate"), k2, groups=b * c).reshape(b, c, h, w)
    return torch.where(on.view(b, 1, 1, 1), y, x)


def _resample(x, dev):
    b, _, h, w = x.shape
    on = _p(b, 0.2, dev).view(b, 1, 1, 1)
    lo = int(torch.randint(24, 49, ()).item())
    y = F.interpolate(F.interpolate(x, size=(lo, lo), mode="bilinear", align_corners=False), size=(h, w), mode="bilinear", align_corners=False)
    return torch.where(on, y, x)


def _dct_matrix(dev, dtype):
    n = 8
    m = torch.zeros(n, n, device=dev, dtype=dtype)
    for k in range(n):
        for i in range(n):
            m[k, i] = math.cos(math.pi * (2 * i + 1) * k / (2 * n)) * (math.sqrt(1 / n) if k == 0 else math.sqrt(2 / n))
    return m


def _jpeg(x, dev):
    b, _, h, w = x.shape
    on = _p(b, 0.3, dev).view(b, 1, 1, 1)
    q = _u(b, 15, 85, dev)
    scale = torch.where(q < 50, 50.0 / q, 2.0 - q / 50.0).view(b, 1, 1, 1, 1, 1)
    px = x * 255.0
    r, g, bl = px[:, 0], px[:, 1], px[:, 2]
    yy = 0.299 * r + 0.587 * g + 0.114 * bl
    cb = -0.168736 * r - 0.331264 * g + 0.5 * bl + 128
    cr = 0.5 * r - 0.418688 * g - 0.081312 * bl + 128
    ycc = torch.stack([yy, cb, cr], 1)
    sub = F.interpolate(F.avg_pool2d(ycc[:, 1:], 2), scale_factor=2, mode="nearest")
    ycc = torch.cat([ycc[:, :1], sub], 1) - 128.0
    d = _dct_matrix(dev, x.dtype)
    blk = ycc.reshape(b, 3, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    coef = d @ blk @ d.t()
    qt = torch.stack([torch.tensor(_LUMA_Q, device=dev, dtype=x.dtype).view(8, 8),
                      torch.tensor(_CHROMA_Q, device=dev, dtype=x.dtype).view(8, 8),
                      torch.tensor(_CHROMA_Q, device=dev, dtype=x.dtype).view(8, 8)]).view(1, 3, 1, 1, 8, 8)
    qq = (qt * scale).clamp(min=1.0)
    coef = torch.round(coef / qq) * qq
    blk = d.t() @ coef @ d
    ycc = blk.permute(0, 1, 2, 4, 3, 5).reshape(b, 3, h, w) + 128.0
    yy, cb, cr = ycc[:, 0], ycc[:, 1] - 128, ycc[:, 2] - 128
    rgb = torch.stack([yy + 1.402 * cr, yy - 0.344136 * cb - 0.714136 * cr, yy + 1.772 * cb], 1) / 255.0
    return torch.where(on, rgb.clamp(0, 1), x)


def augment(rgba_u8):
    """Random training view of each icon: uint8 RGBA [B,4,S,S] -> float RGB [B,3,S,S] in [0,1]."""
    dev = rgba_u8.device
    x = rgba_u8.float() / 255.0
    a = x[:, 3:4]
    x = torch.cat([x[:, :3] * a, a], 1)  # premultiplied, so resampling does not bleed colour
    x = _geometric(x, dev)
    rgb_p, a = x[:, :3], x[:, 3:4].clamp(0, 1)
    rgb_p, a = _line_art(rgb_p, a, dev)
    rgb_p, a = _outline(rgb_p, a, dev)
    bg = _backgrounds(x.shape[0], x.shape[-1], dev)
    y = (rgb_p + bg * (1 - a)).clamp(0, 1)
    y = _jitter(y, dev)
    y = _blur(y, dev)
    y = _resample(y, dev)
    y = _jpeg(y, dev)
    noisy = _p(y.shape[0], 0.2, dev).view(-1, 1, 1, 1)
    y = torch.where(noisy, y + torch.randn_like(y) * _u(y.shape[0], 0.0, 0.04, dev).view(-1, 1, 1, 1), y)
    return y.clamp(0, 1)


def plain(rgba_u8):
    """The evaluation view: the icon as it is, alpha-composited on white."""
    x = rgba_u8.float() / 255.0
    a = x[:, 3:4]
    return x[:, :3] * a + (1 - a)
