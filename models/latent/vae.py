"""A tiny KL autoencoder for the latent demo, laid out like diffusers' AutoencoderKL.

Encoder: conv_in, down blocks of ResnetBlocks (GroupNorm, SiLU, Conv3x3, twice, plus a
residual) each followed by a stride-2 Conv3x3 except the last, a mid block (ResnetBlock,
single-head self-attention, ResnetBlock), GroupNorm, SiLU, conv_out to 2 x latent
channels (mean and log-variance). Decoder: conv_in, the same mid block, up blocks of
ResnetBlocks each followed by a nearest 2x upsample and a Conv3x3 except the last,
GroupNorm, SiLU, conv_out to RGB. Two stride-2 stages: 64x64x3 <-> 16x16x4.

Only the decoder ships (in the model file, after the denoiser); the encoder is used at
training time to make the denoiser's training latents. The denoiser works on scaled
latents z = (mean - shift) * scale with scale = 1 / std of the training latents (computed
after the autoencoder is trained); `LatentDecoder` takes such z and returns
decode(z / scale + shift), nominally in [-1, 1].

Plain ops only (Conv, GroupNorm, SiLU, nearest interpolate, explicit softmax attention)
so that torch 1.13's ONNX exporter (opset 17) gives Conv, InstanceNormalization (how
GroupNorm exports), Sigmoid/Mul, Resize, MatMul and Softmax.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

VAE_CONFIG = dict(latent_channels=4, enc_channels=(32, 64, 96), enc_layers=2,
                  dec_channels=(32, 32, 48), dec_layers=1, groups=8)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class AttentionBlock(nn.Module):
    """Single-head self-attention over the h*w positions, with a residual."""

    def __init__(self, ch, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, ch, eps=1e-6)
        self.to_q = nn.Linear(ch, ch)
        self.to_k = nn.Linear(ch, ch)
        self.to_v = nn.Linear(ch, ch)
        self.to_out = nn.Linear(ch, ch)
        self.scale = ch ** -0.5

    def forward(self, x):
        b, c, h, w = x.shape
        n = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C]
        q, k, v = self.to_q(n), self.to_k(n), self.to_v(n)
        attn = torch.softmax(torch.matmul(q, k.transpose(1, 2)) * self.scale, dim=-1)
        o = self.to_out(torch.matmul(attn, v))
        return x + o.transpose(1, 2).reshape(b, c, h, w)


class MidBlock(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(ch, ch, groups), ResnetBlock(ch, ch, groups)])
        self.attention = AttentionBlock(ch, groups)

    def forward(self, x):
        return self.resnets[1](self.attention(self.resnets[0](x)))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, down):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.downsample = nn.Conv2d(cout, cout, 3, stride=2, padding=1) if down else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.downsample(x) if self.downsample is not None else x


class UpBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, up):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.upsample_conv = nn.Conv2d(cout, cout, 3, padding=1) if up else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.upsample_conv is not None:
            x = self.upsample_conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class Encoder(nn.Module):
    def __init__(self, latent_channels, channels, layers, groups):
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        cin = channels[0]
        blocks = []
        for i, c in enumerate(channels):
            blocks.append(DownBlock(cin, c, layers, groups, down=i < len(channels) - 1))
            cin = c
        self.down_blocks = nn.ModuleList(blocks)
        self.mid_block = MidBlock(cin, groups)
        self.conv_norm_out = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv_out = nn.Conv2d(cin, 2 * latent_channels, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for blk in self.down_blocks:
            h = blk(h)
        h = self.mid_block(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, latent_channels, channels, layers, groups):
        super().__init__()
        rev = list(reversed(channels))
        self.conv_in = nn.Conv2d(latent_channels, rev[0], 3, padding=1)
        self.mid_block = MidBlock(rev[0], groups)
        cin = rev[0]
        blocks = []
        for i, c in enumerate(rev):
            blocks.append(UpBlock(cin, c, layers, groups, up=i < len(rev) - 1))
            cin = c
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv_out = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, z):
        h = self.mid_block(self.conv_in(z))
        for blk in self.up_blocks:
            h = blk(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class TinyVAE(nn.Module):
    def __init__(self, latent_channels=4, enc_channels=(32, 64, 96), enc_layers=2,
                 dec_channels=(32, 32, 48), dec_layers=1, groups=8):
        super().__init__()
        self.config = dict(latent_channels=latent_channels, enc_channels=tuple(enc_channels),
                           enc_layers=enc_layers, dec_channels=tuple(dec_channels), dec_layers=dec_layers,
                           groups=groups)
        self.latent_channels = latent_channels
        self.factor = 2 ** (len(enc_channels) - 1)
        self.encoder = Encoder(latent_channels, enc_channels, enc_layers, groups)
        self.decoder = Decoder(latent_channels, dec_channels, dec_layers, groups)

    def encode(self, x):
        """x in [-1, 1] -> (mean, logvar), each [B, latent, H / factor, W / factor]."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(z)


class LatentDecoder(nn.Module):
    """What ships: the DiT's (scaled) latent z -> image, nominally in [-1, 1] (not clamped
    here: an image writer clamps when it rounds to 8 bits)."""

    def __init__(self, decoder, scale, shift):
        super().__init__()
        self.decoder = decoder
        self.scale = float(scale)
        self.shift = float(shift)

    def forward(self, z):
        return self.decoder(z * (1.0 / self.scale) + self.shift)


def count_params(module):
    return sum(p.numel() for p in module.parameters())


def conv_flops(module, shape):
    """Multiply-adds x 2 of the Conv2d, Linear and attention matmuls for one input of
    `shape` (C, H, W), counted with forward hooks on a zero input."""
    total = [0]
    hooks = []

    def conv_hook(m, inp, out):
        k = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
        total[0] += 2 * out.numel() * k

    def linear_hook(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    def attn_hook(m, inp, out):
        _, c, h, w = inp[0].shape
        total[0] += 2 * 2 * (h * w) * (h * w) * c

    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, AttentionBlock):
            hooks.append(m.register_forward_hook(attn_hook))
    with torch.no_grad():
        module(torch.zeros((1,) + tuple(shape)))
    for h in hooks:
        h.remove()
    return total[0]
