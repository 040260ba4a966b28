"""Checks the numpy DDIM oracle (ddim_oracle.py) against diffusers'
DDIMScheduler, which CI does not have: run it in a virtual environment with
diffusers, e.g. the model zoo's (tests/models/zoo/make_zoo.sh):

  <venv>/bin/python tests/python/ddim_vs_diffusers.py

Every schedule x prediction x step count of test_ddim_oracle.py, with the same
fixed model function, eta = 0, clip_sample off; prints the largest difference
of the trajectories relative to each step's largest value. Last run (diffusers
0.42.1, torch 2.15.0, numpy 2.4.6): every timestep list equal, alpha_bar
within 1.3e-6 relative (diffusers' float32 product), trajectories stepped with
the same alpha_bar within 7.5e-16 (float64 on both sides).
"""
import os
import sys

import numpy as np
import torch
from diffusers import DDIMScheduler

sys.path.insert(0, os.path.dirname(__file__))
import ddim_oracle  # noqa: E402

DIFFUSERS_SCHEDULE = {"linear": "linear", "scaled-linear": "scaled_linear"}
DIFFUSERS_PREDICTION = {"epsilon": "epsilon", "velocity": "v_prediction", "sample": "sample"}


def model_fn(x, t):
    return 0.7 * np.tanh(0.9 * x) + 0.3 * np.tanh(0.002 * t)


def main():
    noise = np.random.default_rng(11).standard_normal((1, 4, 8, 8))
    worst = ab_err = 0.0
    for schedule, b0, b1 in [("linear", 1e-4, 0.02), ("scaled-linear", 0.00085, 0.012)]:
        for prediction in ["epsilon", "velocity", "sample"]:
            for steps in [20, 7]:
                ref = ddim_oracle.sample(model_fn, noise, steps, 1000, schedule, b0, b1, prediction)
                s = DDIMScheduler(num_train_timesteps=1000, beta_start=float(np.float32(b0)),
                                  beta_end=float(np.float32(b1)), beta_schedule=DIFFUSERS_SCHEDULE[schedule],
                                  prediction_type=DIFFUSERS_PREDICTION[prediction], clip_sample=False,
                                  set_alpha_to_one=True, steps_offset=0, timestep_spacing="leading")
                # diffusers keeps alphas_cumprod in float32, the oracle in
                # float64: compare the schedules, then step with the oracle's.
                ab = ddim_oracle.alpha_bar(1000, schedule, b0, b1)
                ab_err = max(ab_err, float(np.max(np.abs(s.alphas_cumprod.double().numpy() / ab - 1))))
                s.alphas_cumprod = torch.from_numpy(ddim_oracle.alpha_bar(1000, schedule, b0, b1))
                s.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
                s.set_timesteps(steps)
                ts, _ = ddim_oracle.timesteps(1000, steps)
                assert [int(t) for t in s.timesteps] == ts, (s.timesteps, ts)
                x = torch.from_numpy(noise)
                for i, t in enumerate(s.timesteps):
                    out = torch.from_numpy(model_fn(x.numpy(), int(t)))
                    x = s.step(out, t, x, eta=0.0).prev_sample
                    e = float(np.max(np.abs(x.numpy() - ref[i])) / max(1.0, np.max(np.abs(ref[i]))))
                    worst = max(worst, e)
                print(f"{schedule} {prediction} {steps} steps: done")
    # float32 rounding of alpha_bar is ~1e-7 relative; the trajectories are
    # float64 on both sides, so anything above 1e-9 is a difference of formulas.
    print(f"alpha_bar: largest relative difference {ab_err:.1e}; trajectories: largest difference {worst:.1e}")
    sys.exit(0 if worst <= 1e-9 and ab_err <= 1e-5 else 1)


if __name__ == "__main__":
    main()
