"""The localizer's filter core, :class:`LocalizerCore`: the state, what it reads out, the
height channel and the prediction. The fixes are :class:`~.localization.Localizer`'s.

State ``[x_m, y_m, yaw_rad, gyro_bias_radps, odometry_scale]`` in the site frame:

- prediction from each :class:`~lunarsite.robot.types.SensedState`: distance from the
  encoders times ``odometry_scale`` (1 when the wheels grip; below 1 when they slip),
  projected to the plane with the pitch of a complementary tilt filter (gyro rates,
  pulled toward the accelerometer's gravity less the body's own motion); heading change
  from the gyro's world yaw rate less the estimated bias. Process noise grows with the
  distance driven and the time elapsed.

Slip detection (:class:`SlipStatus`): wheel odometry against the IMU (the yaw rate the
encoders imply against the gyro's, beyond what the skid-steer track factor explains) and
against the fiducials (the estimated odometry scale below ``1 - slip_scale_threshold``:
the wheels turned farther than the fixes say the rover went). While the encoders disagree
with the gyro the distance noise is inflated by ``slip_noise_factor``.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..types import Pose2, SensedState, wrap_angle
from .estimation import EstimationError, tilt_from_gravity, world_yaw_rate
from .localization_types import TURN_SLIDE_FLAT_RAD, LocalizationParams, SlipStatus

__all__ = ["BIAS", "SCALE", "YAW", "LocalizerCore", "X", "Y"]

log = logging.getLogger(__name__)

X, Y, YAW, BIAS, SCALE = range(5)


class LocalizerCore:
    """The filter core of :class:`~.localization.Localizer`; see the module docstring.

    Args:
        params: noise model (:meth:`LocalizationParams.for_rover`); ``m_per_tick`` must
            be set.
        start: initial pose (a surveyed start or a first fiducial fix).
        start_std: initial std of (x_m, y_m, yaw_rad).
    """

    def __init__(
        self,
        params: LocalizationParams,
        start: Pose2,
        start_std: tuple[float, float, float] = (0.05, 0.05, 0.05),
    ) -> None:
        if not params.m_per_tick > 0.0:
            raise ValueError("LocalizationParams.m_per_tick must be positive (use for_rover)")
        self.params = params
        self.x = np.array([start.x_m, start.y_m, start.yaw_rad, 0.0, 1.0])
        self.P = np.diag(
            [
                start_std[0] ** 2,
                start_std[1] ** 2,
                start_std[2] ** 2,
                params.gyro_bias_std_radps**2,
                params.scale_std**2,
            ]
        )
        self._last: SensedState | None = None
        self._roll = 0.0
        self._pitch = 0.0
        self._calm_s = 0.0
        self._speed_mps = 0.0
        self._residual_radps = 0.0
        self._turning_slip = False
        self._rejections: dict[str, int] = {}
        """Fixes rejected in a row, by kind (``landmark``, ``yaw``, ``pose``)."""
        self._still_s = 0.0
        self._turn_scrub_m = 0.0
        self.accepted_fixes = 0
        self.rejected_fixes = 0
        self.distance_m = 0.0
        self.z_m = math.nan
        """Height of the chassis centre in the site frame, m (NaN until
        :meth:`set_height`): carried by odometry along the pitch, corrected by
        :meth:`update_height`. See :attr:`LocalizationParams.height_walk_m_per_sqrt_m`."""
        self.z_var_m2 = math.inf

    # ------------------------------------------------------------------ reading
    @property
    def pose(self) -> Pose2:
        return Pose2(float(self.x[X]), float(self.x[Y]), wrap_angle(float(self.x[YAW])))

    @property
    def pose_std(self) -> tuple[float, float, float]:
        """Standard deviations of (x_m, y_m, yaw_rad)."""
        d = np.sqrt(np.diag(self.P)[:3])
        return (float(d[0]), float(d[1]), float(d[2]))

    @property
    def tilt_trusted(self) -> bool:
        """The body has turned slower than ``steady_yaw_rate_radps`` for ``tilt_settle_s``.

        Skid-steer turns shake the chassis (in the simulator the raw accelerometer then
        errs by 0.1–0.3 rad of tilt and the filter by up to 0.04 rad); driving straight
        the filter holds within ~0.01 rad. Range data placed with the tilt should wait.
        """
        return self._calm_s >= self.params.tilt_settle_s

    @property
    def gyro_bias_radps(self) -> float:
        return float(self.x[BIAS])

    @property
    def tilt_rad(self) -> tuple[float, float]:
        """(roll, pitch) from the gyro and the accelerometer, in rad (ZYX Euler)."""
        return (self._roll, self._pitch)

    @property
    def tilt_magnitude_rad(self) -> float:
        """How far the body leans from level, roll and pitch together, in rad."""
        return math.hypot(self._roll, self._pitch)

    @property
    def slip(self) -> SlipStatus:
        scale = float(self.x[SCALE])
        return SlipStatus(
            self._residual_radps,
            self._turning_slip,
            scale,
            scale < 1.0 - self.params.slip_scale_threshold,
        )

    # ------------------------------------------------------------------- height
    def set_height(self, z_m: float, std_m: float) -> None:
        """Start the height channel: the chassis centre at ``z_m`` (site frame), m."""
        if not (math.isfinite(z_m) and math.isfinite(std_m) and std_m > 0.0):
            raise EstimationError(f"set_height needs finite z and std > 0, got {z_m}, {std_m}")
        self.z_m, self.z_var_m2 = float(z_m), float(std_m) ** 2

    def update_height(self, z_m: float, std_m: float) -> bool:
        """Fuse a measured chassis height (a surveyed marker seen in depth), m. One more
        than ``height_gate_sigmas`` off is refused, unless ``max_rejections`` in a row
        were: then the channel is lost and restarts from it. Returns whether fused."""
        if not math.isfinite(self.z_m):
            return False
        if not (math.isfinite(z_m) and math.isfinite(std_m) and std_m > 0.0):
            raise EstimationError(f"height fix needs finite z and std > 0, got {z_m}, {std_m}")
        var = self.z_var_m2 + std_m**2
        innovation = z_m - self.z_m
        if innovation * innovation > self.params.height_gate_sigmas**2 * var:
            count = self._rejections.get("height", 0) + 1
            self._rejections["height"] = count
            if count <= self.params.max_rejections:
                log.debug("height fix %.3f m refused (estimate %.3f m)", z_m, self.z_m)
                return False
            log.warning("%d height fixes refused in a row: restarting the height", count)
            self.z_var_m2 = max(self.z_var_m2, innovation * innovation)
            var = self.z_var_m2 + std_m**2
        self._rejections["height"] = 0
        gain = self.z_var_m2 / var
        self.z_m += gain * innovation
        self.z_var_m2 *= 1.0 - gain
        return True

    def _carry_height(self, dx_m: float, dy_m: float) -> None:
        """Move the height channel with a move of the estimate (odometry or a fix's
        correction) over the ground plane the chassis tilt gives: forward descends with
        positive (nose-down) pitch, leftward climbs with positive roll (ZYX Euler). A
        correction that pulls the estimate back (wheels spun, the body did not move)
        takes back the height the spin put on."""
        if not math.isfinite(self.z_m):
            return
        yaw = float(self.x[YAW])
        c, s = math.cos(yaw), math.sin(yaw)
        along = c * dx_m + s * dy_m
        across = -s * dx_m + c * dy_m
        roll, pitch = self._roll, self._pitch
        self.z_m += -along * math.tan(pitch) + across * math.tan(roll) / math.cos(pitch)
        walk = self.params.height_walk_m_per_sqrt_m
        self.z_var_m2 += walk * walk * math.hypot(dx_m, dy_m)

    # --------------------------------------------------------------- prediction
    def predict(self, state: SensedState) -> Pose2:
        """Fold in one reading (encoders and IMU); the first only initialises."""
        if not all(math.isfinite(v) for v in (state.stamp_s, *state.gyro_radps)):
            raise EstimationError(f"reading at {state.stamp_s} s has non-finite values")
        last = self._last
        if last is None:
            self._last = state
            if all(math.isfinite(a) for a in state.accel_mps2):
                self._roll, self._pitch = tilt_from_gravity(state.accel_mps2)
            return self.pose
        dt = state.stamp_s - last.stamp_s
        if dt <= 0.0:
            if dt == 0.0:
                return self.pose
            raise EstimationError(
                f"reading stamp {state.stamp_s} s is before the previous one ({last.stamp_s} s)"
            )
        p = self.params
        d_left = (state.left_ticks - last.left_ticks) * p.m_per_tick
        d_right = (state.right_ticks - last.right_ticks) * p.m_per_tick
        self._last = state
        # Tilt: a complementary filter. The gyro's body rates carry roll and pitch from
        # step to step; the accelerometer pulls them toward gravity over
        # ``accel_time_constant_s``, after taking out what odometry and the gyro say the
        # body does (forward dv/dt, centripetal v·ω), and only while what is left is
        # close to g and near the estimate: at lunar g a 0.1 m/s² jolt, or a wheel
        # spin-up the body did not follow, would read as 0.06 rad of tilt.
        speed = 0.5 * (d_left + d_right) / dt * float(self.x[SCALE])
        forward_accel = (speed - self._speed_mps) / dt
        self._speed_mps = speed
        roll, pitch = self._roll, self._pitch
        gx, gy, gz = state.gyro_radps
        tan_p = math.tan(max(min(pitch, 1.4), -1.4))
        roll += (gx + (gy * math.sin(roll) + gz * math.cos(roll)) * tan_p) * dt
        pitch += (gy * math.cos(roll) - gz * math.sin(roll)) * dt
        if all(math.isfinite(a) for a in state.accel_mps2):
            ax, ay, az = state.accel_mps2
            measured = (ax - forward_accel, ay - speed * gz, az)
            norm = math.sqrt(sum(a * a for a in measured))
            acc_roll, acc_pitch = tilt_from_gravity(measured)
            calm = abs(norm - p.gravity_mps2) < p.accel_gate_fraction * p.gravity_mps2
            near = math.hypot(acc_roll - roll, acc_pitch - pitch) < p.accel_tilt_gate_rad
            if calm and near:
                alpha = dt / (p.accel_time_constant_s + dt)
                roll += alpha * (acc_roll - roll)
                pitch += alpha * (acc_pitch - pitch)
        self._roll, self._pitch = roll, pitch
        steady = abs(gz) < p.steady_yaw_rate_radps
        self._calm_s = self._calm_s + dt if steady else 0.0
        roll, pitch = self.tilt_rad
        gyro_rate = world_yaw_rate(state.gyro_radps, roll, pitch)
        self._check_turn_slip(d_left, d_right, gyro_rate - float(self.x[BIAS]), dt)

        ground = 0.5 * (d_left + d_right) * math.cos(pitch)
        self.distance_m += abs(ground)
        x, y, yaw, bias, scale = self.x
        dist = ground * scale
        dyaw = (gyro_rate - bias) * dt
        heading = yaw + 0.5 * dyaw
        half = 0.5 * dyaw
        sinc = 1.0 - half * half / 6.0 if abs(half) < 1e-4 else math.sin(half) / half
        chord = dist * sinc
        c, s = math.cos(heading), math.sin(heading)
        self.x = np.array([x + chord * c, y + chord * s, yaw + dyaw, bias, scale])
        self._carry_height(chord * c, chord * s)

        F = np.eye(5)
        F[X, YAW] = -chord * s
        F[Y, YAW] = chord * c
        F[X, BIAS] = chord * s * 0.5 * dt
        F[Y, BIAS] = -chord * c * 0.5 * dt
        F[YAW, BIAS] = -dt
        F[X, SCALE] = ground * sinc * c
        F[Y, SCALE] = ground * sinc * s
        slip = p.slip_noise_factor if self._turning_slip else 1.0
        # Turning, a skid-steer slides: each wheel scrubs over the ground, and the body
        # shifts by a share of that scrub the encoders (equal and opposite) cannot see.
        scrub_m = 0.5 * abs(d_right - d_left)
        before = self._turn_scrub_m
        self._turn_scrub_m = before + scrub_m if scrub_m > abs(ground) else 0.0
        # Variance of a shift f·S that grows with the turn's scrub S so far (one way; the
        # encoder-gyro slip flag says nothing more here: every pivot turn scrubs).
        slide_var = self._slide_frac() ** 2 * max(self._turn_scrub_m**2 - before**2, scrub_m**2)
        var_along = (slip * p.distance_noise_frac) ** 2 * abs(ground) + slide_var
        var_side = (slip * p.lateral_noise_frac) ** 2 * abs(ground) + slide_var
        G = np.array([[c, -s], [s, c]])
        Q = np.zeros((5, 5))
        Q[:2, :2] = G @ np.diag([var_along, var_side]) @ G.T
        Q[YAW, YAW] = (p.gyro_noise_radps * dt) ** 2 * slip + (p.gyro_scale_std * dyaw) ** 2
        Q[BIAS, BIAS] = p.gyro_bias_walk_radps_per_sqrt_s**2 * dt
        Q[SCALE, SCALE] = p.scale_walk_per_sqrt_m**2 * abs(ground)
        self.P = F @ self.P @ F.T + Q
        still = d_left == 0.0 and d_right == 0.0 and abs(gyro_rate) < p.zero_rate_max_radps
        self._still_s = self._still_s + dt if still else 0.0
        if p.zero_rate_settle_s > 0.0 and self._still_s >= p.zero_rate_settle_s:
            self._zero_rate_update(gyro_rate)
        return self.pose

    def _zero_rate_update(self, gyro_rate_radps: float) -> None:
        """Standing still, the world yaw rate the gyro reads is its bias (noise
        ``gyro_noise_radps``): a scalar Kalman update of the bias."""
        var = self.P[BIAS, BIAS] + self.params.gyro_noise_radps**2
        gain = self.P[:, BIAS] / var
        self.x = self.x + gain * (gyro_rate_radps - float(self.x[BIAS]))
        self.P = self.P - np.outer(gain, self.P[BIAS, :])
        self.P = 0.5 * (self.P + self.P.T)

    def _check_turn_slip(self, d_left: float, d_right: float, gyro_rate: float, dt: float) -> None:
        p = self.params
        if p.track_m <= 0.0:
            return
        encoder_rate = (d_right - d_left) / p.track_m / dt
        alpha = dt / (p.slip_filter_time_s + dt)
        self._residual_radps += alpha * ((encoder_rate - gyro_rate) - self._residual_radps)
        limit = p.slip_yaw_threshold_radps + p.slip_yaw_fraction * abs(gyro_rate)
        slipping = abs(self._residual_radps) > limit
        if slipping != self._turning_slip:
            log.info(
                "turning slip %s (encoders - gyro = %.3f rad/s)",
                "detected" if slipping else "over",
                self._residual_radps,
            )
        self._turning_slip = slipping

    def _slide_frac(self) -> float:
        """The body's unseen shift per m of wheel scrub in a turn in place, std: on a
        slope it also slides downhill while the wheels skid."""
        p = self.params
        beyond = max(self.tilt_magnitude_rad - TURN_SLIDE_FLAT_RAD, 0.0)
        return p.turn_slide_frac * (1.0 + p.turn_slide_per_rad_tilt * beyond)
