"""A numpy DDIM sampler written from the paper's formulas (Song et al. 2020,
deterministic eta = 0), as the oracle for edge's runtime/sampler.cc.

Conventions (the ones edge documents in runtime/sampler.h, and diffusers'
DDIMScheduler defaults apart from clip_sample):
  - betas: linear from beta_start to beta_end over train_steps, or
    "scaled linear" (linear in sqrt(beta), then squared);
    alpha_bar[t] = prod_{s <= t} (1 - beta_s);
  - timesteps "leading": ratio = train_steps // steps, t_i = (steps-1-i) * ratio;
  - the step from t goes to t - ratio; below 0 the final alpha_bar is 1
    (diffusers' set_alpha_to_one=True);
  - predictions: epsilon, velocity (v = sqrt(ab) eps - sqrt(1-ab) x0) and
    sample (x0).

tests/python/ddim_vs_diffusers.py checks this oracle against diffusers.
"""
import numpy as np


def alpha_bar(train_steps, schedule, beta_start, beta_end):
    # The file stores the betas as float32: use the same values.
    b0, b1 = float(np.float32(beta_start)), float(np.float32(beta_end))
    if schedule == "linear":
        betas = np.linspace(b0, b1, train_steps, dtype=np.float64)
    elif schedule == "scaled-linear":
        betas = np.linspace(b0 ** 0.5, b1 ** 0.5, train_steps, dtype=np.float64) ** 2
    else:
        raise ValueError(schedule)
    return np.cumprod(1.0 - betas)


def timesteps(train_steps, steps):
    ratio = train_steps // steps
    return [int(t) for t in (np.arange(steps) * ratio)[::-1]], ratio


def step(x, model_out, t, t_prev, ab, prediction):
    """One deterministic DDIM update x_t -> x_{t_prev}."""
    a = ab[t]
    a_prev = ab[t_prev] if t_prev >= 0 else 1.0
    if prediction == "epsilon":
        eps = model_out
        x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
    elif prediction == "velocity":
        x0 = np.sqrt(a) * x - np.sqrt(1 - a) * model_out
        eps = np.sqrt(a) * model_out + np.sqrt(1 - a) * x
    elif prediction == "sample":
        x0 = model_out
        eps = (x - np.sqrt(a) * x0) / np.sqrt(1 - a)
    else:
        raise ValueError(prediction)
    return np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * eps


def sample(model_fn, noise, steps, train_steps, schedule, beta_start, beta_end, prediction):
    """Runs the sampler from `noise`; model_fn(x, t) gives the (guided)
    prediction. Returns the latents after every step, [steps, *noise.shape]."""
    ab = alpha_bar(train_steps, schedule, beta_start, beta_end)
    ts, ratio = timesteps(train_steps, steps)
    x = noise.astype(np.float64)
    out = []
    for t in ts:
        x = step(x, model_fn(x, t), t, t - ratio, ab, prediction)
        out.append(x)
    return np.stack(out)
