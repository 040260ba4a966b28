"""Independent NumPy copy of the runtime's seeded noise (runtime/noise.h).

Philox4x32-10 keyed by the seed, counter (block low, block high, stream low,
stream high), Box-Muller in double on each pair of words, rounded to float32.
"""
import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox4x32(ctr, key):
    c0, c1, c2, c3 = [np.asarray(c, dtype=np.uint64) for c in ctr]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for r in range(10):
        if r > 0:
            k0 = (k0 + np.uint64(W0)) & np.uint64(MASK)
            k1 = (k1 + np.uint64(W1)) & np.uint64(MASK)
        p0 = np.uint64(M0) * c0
        p1 = np.uint64(M1) * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & np.uint64(MASK)
        hi1, lo1 = p1 >> np.uint64(32), p1 & np.uint64(MASK)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def gaussian_noise(seed, stream, n):
    blocks = (n + 3) // 4
    b = np.arange(blocks, dtype=np.uint64)
    ctr = (b & np.uint64(MASK), b >> np.uint64(32),
           np.full(blocks, stream & MASK, dtype=np.uint64),
           np.full(blocks, (stream >> 32) & MASK, dtype=np.uint64))
    r = philox4x32(ctr, (seed & MASK, (seed >> 32) & MASK))
    u = [(x.astype(np.float64) + 0.5) * (1.0 / 4294967296.0) for x in r]
    out = np.empty((blocks, 4), dtype=np.float64)
    for p in range(2):
        radius = np.sqrt(-2.0 * np.log(u[2 * p]))
        angle = 2.0 * np.pi * u[2 * p + 1]
        out[:, 2 * p] = radius * np.cos(angle)
        out[:, 2 * p + 1] = radius * np.sin(angle)
    return out.reshape(-1)[:n].astype(np.float32)
