"""The errors of a simulated IMU, as its rover file gives them.

Each axis of the gyro and the accelerometer reads the true value plus:

- a turn-on bias, drawn once per run (``gyro_bias_std_radps``, ``accel_bias_std_mps2``:
  what an at-rest calibration leaves);
- an in-run bias that wanders, a first-order Gauss–Markov process whose std is the
  datasheet's in-run bias stability (``gyro_bias_instability_radps``,
  ``accel_bias_instability_mps2``) and whose correlation time is
  ``bias_correlation_time_s``: ``b ← b·e^(−dt/τ) + σ·√(1 − e^(−2dt/τ))·n``, the usual
  model of the flat floor of an Allan deviation plot (IEEE Std 952-1997, annex C);
- white noise per reading (``gyro_noise_std_radps``, ``accel_noise_std_mps2``).

Random numbers are drawn only for the terms a rover file sets, in a fixed order, so a
rover without a term reads what it read before the term existed.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from lunarsite.robot.config import ImuConfig

__all__ = ["ImuErrors"]

Vector = npt.NDArray[np.float64]


class ImuErrors:
    """The error terms of the module docstring for one IMU, advanced at each reading."""

    def __init__(self, config: ImuConfig, rng: np.random.Generator) -> None:
        self.config = config
        self._rng = rng
        # In this order, each only when the rover file sets it (the module docstring).
        self.gyro_turn_on_radps = _draw(rng, config.gyro_bias_std_radps)
        self.accel_turn_on_mps2 = _draw(rng, config.accel_bias_std_mps2)
        # The wander starts in its steady state.
        self.gyro_wander_radps = _draw(rng, config.gyro_bias_instability_radps)
        self.accel_wander_mps2 = _draw(rng, config.accel_bias_instability_mps2)

    @property
    def gyro_bias_radps(self) -> Vector:
        """The gyro's bias now (turn-on plus wander), rad/s per body axis."""
        out: Vector = self.gyro_turn_on_radps + self.gyro_wander_radps
        return out

    @property
    def accel_bias_mps2(self) -> Vector:
        """The accelerometer's bias now (turn-on plus wander), m/s² per body axis."""
        out: Vector = self.accel_turn_on_mps2 + self.accel_wander_mps2
        return out

    def read(
        self, rate_radps: Vector, specific_force_mps2: Vector, dt_s: float
    ) -> tuple[Vector, Vector]:
        """What the IMU reads of the true body rate and specific force (body axes), the
        biases having wandered for ``dt_s`` since the last reading."""
        cfg, rng = self.config, self._rng
        if dt_s > 0.0 and (cfg.gyro_bias_instability_radps or cfg.accel_bias_instability_mps2):
            keep = math.exp(-dt_s / cfg.bias_correlation_time_s)
            fresh = math.sqrt(1.0 - keep * keep)
            if cfg.gyro_bias_instability_radps:
                self.gyro_wander_radps = keep * self.gyro_wander_radps + rng.normal(
                    0.0, fresh * cfg.gyro_bias_instability_radps, 3
                )
            if cfg.accel_bias_instability_mps2:
                self.accel_wander_mps2 = keep * self.accel_wander_mps2 + rng.normal(
                    0.0, fresh * cfg.accel_bias_instability_mps2, 3
                )
        gyro: Vector = rate_radps + self.gyro_bias_radps
        accel: Vector = specific_force_mps2 + self.accel_bias_mps2
        if cfg.gyro_noise_std_radps > 0.0:
            gyro = gyro + rng.normal(0.0, cfg.gyro_noise_std_radps, 3)
        if cfg.accel_noise_std_mps2 > 0.0:
            accel = accel + rng.normal(0.0, cfg.accel_noise_std_mps2, 3)
        return gyro, accel


def _draw(rng: np.random.Generator, std: float) -> Vector:
    """Three axes' values of std ``std``; zeros, and no draw, for a std of 0."""
    out: Vector = rng.normal(0.0, std, 3) if std else np.zeros(3)
    return out
