"""The simulated IMU's error terms: turn-on bias, wandering in-run bias, white noise."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from lunarsite.robot.config import ImuConfig
from lunarsite.sim.imu_errors import ImuErrors


def test_the_in_run_bias_wanders_with_the_datasheet_std_and_its_correlation_time() -> None:
    sigma, tau, dt = 4e-5, 10.0, 0.05
    imu = ImuErrors(
        ImuConfig(gyro_bias_instability_radps=sigma, bias_correlation_time_s=tau),
        np.random.default_rng(3),
    )
    still = np.zeros(3)
    biases = np.array([imu.read(still, still, dt)[0] for _ in range(60_000)])  # 3,000 s
    # Standing still with no white noise, the gyro reads its bias.
    assert np.std(biases, axis=0) == pytest.approx(np.full(3, sigma), rel=0.15)
    lag = round(tau / dt)
    centred = biases - biases.mean(axis=0)
    corr = [float(np.corrcoef(centred[:-lag, k], centred[lag:, k])[0, 1]) for k in range(3)]
    assert np.mean(corr) == pytest.approx(np.exp(-1.0), abs=0.1)  # one correlation time
    short = [float(np.corrcoef(centred[:-1, k], centred[1:, k])[0, 1]) for k in range(3)]
    assert min(short) > 0.99  # a bias, not noise: it barely moves in one reading


def test_terms_a_rover_file_leaves_out_draw_no_random_numbers() -> None:
    rng = np.random.default_rng(5)
    imu = ImuErrors(ImuConfig(), rng)
    state = rng.bit_generator.state
    gyro, accel = imu.read(np.array([0.1, 0.0, 0.0]), np.array([0.0, 0.0, 1.62]), 0.05)
    assert rng.bit_generator.state == state
    assert gyro.tolist() == [0.1, 0.0, 0.0] and accel.tolist() == [0.0, 0.0, 1.62]


def test_turn_on_bias_stays_put_and_noise_does_not() -> None:
    imu = ImuErrors(
        ImuConfig(accel_bias_std_mps2=0.01, accel_noise_std_mps2=0.005),
        np.random.default_rng(9),
    )
    still = np.zeros(3)
    reads = np.array([imu.read(still, still, 0.05)[1] for _ in range(4000)])
    assert reads.mean(axis=0) == pytest.approx(imu.accel_turn_on_mps2, abs=0.0005)
    assert np.std(reads, axis=0) == pytest.approx(np.full(3, 0.005), rel=0.1)


def test_a_rover_file_s_imu_figures_are_checked() -> None:
    with pytest.raises(ValidationError, match="bias_correlation_time_s"):
        ImuConfig(bias_correlation_time_s=0.0)
    with pytest.raises(ValidationError, match="gyro_bias_instability_radps"):
        ImuConfig(gyro_bias_instability_radps=-1e-5)
