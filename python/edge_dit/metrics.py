"""Comparison metrics for images and tensors, NumPy only (benchmark scripts that
run without PyTorch import them too)."""
import numpy as np

# Peak-to-peak range of images and samples nominally in [-1, 1].
PIXEL_PEAK = 2.0


def psnr(ref, test, peak, identical=float("inf")):
    """Peak signal-to-noise ratio of `test` against `ref` in dB: 10 log10(peak^2 / MSE),
    the MSE taken in float64.

    peak states what the data's full scale is, so every caller names it:
      a number    a fixed range, PIXEL_PEAK (2) for images and samples in [-1, 1];
      "max_abs"   max |ref|, for tensors without a fixed range (latents, activations);
      "range"     max(ref) - min(ref), the same, measured peak to peak.
    "max_abs" and "range" are computed in ref's own dtype. `identical` is returned when
    the MSE is 0 (inf by default; a JSON writer may want a finite stand-in or None).
    """
    if isinstance(peak, str):
        r = np.asarray(ref)
        if peak == "max_abs":
            peak = np.max(np.abs(r))
        elif peak == "range":
            peak = np.max(r) - np.min(r)
        else:
            raise ValueError("peak: a number, 'max_abs' or 'range', not %r" % peak)
    peak = float(peak)
    ref = np.asarray(ref, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    mse = float(np.mean((ref - test) ** 2))
    if mse == 0.0:
        return identical
    return float(10 * np.log10(peak * peak / mse))
