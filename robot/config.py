"""What the robot knows about itself: the rover configuration.

A rover file (YAML, read by ``lunarsite.launch``) is validated into a :class:`RoverConfig`.
The same object feeds the controller (wheel radius, track, encoder resolution, limits,
sensor noise for its filters) and the simulator (chassis, masses, motors), so the lab
rover and a Lunabotics-class excavator are two files, not two code paths.

Every quantity is SI and the unit is in the field name (``radius_m``, ``max_torque_nm``).
Models are strict: unknown keys, wrong types and impossible values are rejected by
pydantic, and :mod:`lunarsite.launch.schema` turns the errors into messages that name
the file and the field.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BatteryConfig",
    "CameraConfig",
    "ChassisConfig",
    "DriveConfig",
    "EncoderConfig",
    "ImuConfig",
    "JointConfig",
    "LimitsConfig",
    "NonNegative",
    "Positive",
    "RoverConfig",
    "ScannerConfig",
    "StereoDepthConfig",
    "StrictModel",
    "ToolConfig",
    "Vec3",
    "WheelsConfig",
]

Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]


class StrictModel(BaseModel):
    """Base of every file schema: frozen, no unknown keys, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ChassisConfig(StrictModel):
    """The rover body as a box; the wheel axles sit ``axle_drop_m`` below its centre."""

    length_m: Positive
    width_m: Positive
    height_m: Positive
    mass_kg: Positive
    axle_drop_m: NonNegative = 0.0
    """Vertical distance from the chassis centre down to the wheel axles, in m."""
    com_offset_xyz_m: Vec3 = (0.0, 0.0, 0.0)
    """Centre of mass of the chassis body (batteries, electronics, counterweight) from its
    geometric centre, in m. A rover counterweights a front tool by moving mass back."""


class WheelsConfig(StrictModel):
    """Four wheels in a skid-steer layout (two per side, each side driven together)."""

    radius_m: Positive
    width_m: Positive
    mass_kg: Positive
    wheelbase_m: Positive
    """Front axle to rear axle, in m."""
    track_m: Positive
    """Left wheel centre to right wheel centre, in m."""
    friction: Annotated[float, Field(gt=0.0, le=2.0)] = 0.8
    """Coulomb friction coefficient of the wheel on regolith (dimensionless)."""
    suspension_stiffness_npm: Positive | None = None
    """Spring rate of each wheel's vertical suspension, in N/m; None: wheels fixed to the
    chassis (a rigid four-wheel chassis rests on whichever three or two wheels touch)."""
    suspension_damping_nspm: Annotated[float, Field(ge=0.0)] = 0.0
    """Damping of each wheel's suspension, in N·s/m."""
    suspension_travel_m: Positive = 0.05
    """Travel of each wheel's suspension either way from its rest position, in m."""
    lateral_friction_ratio: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    """Sideways (along the axle) friction as a share of ``friction`` (dimensionless).

    A wheel in loose soil resists sliding along its axle less than it pushes along its
    rim at high slip (Ishigami et al. 2007, J. Field Robotics 24(3), side force against
    slip angle on lunar regolith simulant); below 1 a skid-steer turns in place more
    readily. 1 is plain isotropic Coulomb friction.
    """


class DriveConfig(StrictModel):
    """Motors and the motion limits the controller must respect."""

    max_wheel_torque_nm: Positive
    """Stall torque available at each wheel, in N·m."""
    max_wheel_speed_radps: Positive
    """No-load wheel speed, in rad/s."""
    max_speed_mps: Positive
    """Highest body speed the controller will command, in m/s."""
    max_yaw_rate_radps: Positive
    """Highest body yaw rate the controller will command, in rad/s."""
    max_accel_mps2: Positive = 0.5
    """Highest body acceleration the controller will command, in m/s²."""
    effective_track_factor: Annotated[float, Field(ge=1.0, le=4.0)] = 1.0
    """Skid-steer slip: yaw rate = (v_r - v_l) / (track · factor). 1 is an ideal diff drive."""


class EncoderConfig(StrictModel):
    """One quadrature encoder per side, on the motor channel."""

    ticks_per_rev: Annotated[int, Field(gt=0)]
    """Counts per wheel revolution (after gearing)."""
    noise_std_ticks: NonNegative = 0.0
    """Gaussian read noise on each count report, in ticks (does not accumulate)."""


class ImuConfig(StrictModel):
    """A 6-axis IMU fixed to the chassis centre, axes aligned with the body."""

    gyro_noise_std_radps: NonNegative = 0.0
    gyro_bias_std_radps: NonNegative = 0.0
    """Standard deviation of the constant per-run gyro bias, in rad/s."""
    accel_noise_std_mps2: NonNegative = 0.0
    accel_bias_std_mps2: NonNegative = 0.0
    """Standard deviation of the constant per-run accelerometer bias, per axis, m/s²."""
    gyro_bias_instability_radps: NonNegative = 0.0
    """In-run bias stability of the gyro (the floor of its Allan deviation), rad/s: the
    bias wanders with this std over ``bias_correlation_time_s``."""
    accel_bias_instability_mps2: NonNegative = 0.0
    """In-run bias stability of the accelerometer, per axis, m/s²."""
    bias_correlation_time_s: Positive = 100.0
    """Correlation time of the in-run bias wander (a first-order Gauss–Markov process),
    s."""


class ScannerConfig(StrictModel):
    """A range scanner (lidar) as its datasheet gives it. The fan of rays it casts for
    mapping (azimuths, elevations, the mapping range) is the mission's; these are the
    part's own errors: range noise, beam-pointing noise, a blind zone, returns lost
    when too little light comes back, and false returns."""

    part: Annotated[str, Field(min_length=1)]
    """The scanner the figures come from, with its datasheet."""
    range_std_m: NonNegative
    """Random range error of one return (1σ), m."""
    angle_std_rad: NonNegative = 0.0
    """Random pointing error of one beam (1σ, each axis), rad."""
    min_range_m: NonNegative = 0.0
    """The blind zone: nothing nearer returns, m."""
    vertical_fov_rad: Annotated[float, Field(gt=0.0, le=math.pi)] | None = None
    """Vertical field of view; the fan's lowest rays are dropped beyond it (the mount
    looks down from its highest ray), rad. None: the mission's fan as it is."""
    rated_range_m: Positive = math.inf
    """Detection range on a target of ``rated_reflectivity`` seen square on, m. A return
    comes back while reflectivity × cos(incidence) / range² is at least what the rated
    target gives at the rated range (a lidar's link budget), else it is lost."""
    rated_reflectivity: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    surface_reflectivity: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    """Reflectivity assumed for what the scanner sees (dark regolith, an assumed figure:
    the datasheet's own rated 10%)."""
    false_return_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """Share of beams that report a return at a random range (a datasheet's false alarm
    ratio)."""


class StereoDepthConfig(StrictModel):
    """Depth by stereo matching, as a datasheet gives it: a disparity error of
    ``disparity_std_px`` triangulates to a range error σz = z²·σd / (f·B), growing with
    the square of range; no depth (0) nearer than ``min_range_m``, beyond ``max_range_m``
    and where the surface is seen more obliquely than ``max_incidence_rad``."""

    part: Annotated[str, Field(min_length=1)]
    """The camera the figures come from, with its datasheet."""
    baseline_m: Positive
    focal_px: Positive
    """Focal length of the depth imager at the resolution it matches at, in px."""
    disparity_std_px: Positive
    """RMS error of a pixel's disparity (the subpixel RMS), in px."""
    min_range_m: Positive
    max_range_m: Positive
    max_incidence_rad: Annotated[float, Field(gt=0.0, le=math.pi / 2)] = 1.4
    """Angle between the line of sight and the surface normal beyond which matching fails
    (grazing ground far ahead), in rad."""

    @model_validator(mode="after")
    def _range_order(self) -> StereoDepthConfig:
        if self.max_range_m <= self.min_range_m:
            raise ValueError(
                f"max_range_m ({self.max_range_m}) must be greater than min_range_m "
                f"({self.min_range_m})"
            )
        return self

    def depth_std_m(self, range_m: float) -> float:
        """One pixel's depth error (1σ) at ``range_m`` along the optical axis, in m."""
        return range_m * range_m * self.disparity_std_px / (self.focal_px * self.baseline_m)


class CameraConfig(StrictModel):
    """A forward camera giving RGB and depth (pinhole, rendered by the simulator)."""

    width_px: Annotated[int, Field(gt=0, le=4096)]
    height_px: Annotated[int, Field(gt=0, le=4096)]
    vertical_fov_rad: Annotated[float, Field(gt=0.0, lt=math.pi)]
    rate_hz: Positive
    near_m: Positive = 0.05
    far_m: Positive = 20.0
    mount_xyz_m: Vec3 = (0.0, 0.0, 0.0)
    """Camera position in the chassis frame (x forward, y left, z up), in m."""
    mount_pitch_rad: Finite = 0.0
    """Downward tilt of the optical axis (positive looks down), in rad."""
    depth_noise_std_m: NonNegative = 0.0
    """A flat depth error at every range, in m (an idealised camera; see ``stereo``)."""
    stereo: StereoDepthConfig | None = None
    """Depth error and gaps of a stereo camera from its datasheet (instead of
    ``depth_noise_std_m``)."""
    latency_s: NonNegative = 0.0
    """Time from a frame's capture to its arrival at the controller, in s: a frame
    arrives stamped with its capture time, showing the world as it was then."""

    @model_validator(mode="after")
    def _near_before_far(self) -> CameraConfig:
        if self.far_m <= self.near_m:
            raise ValueError(f"far_m ({self.far_m}) must be greater than near_m ({self.near_m})")
        if self.stereo is not None and self.depth_noise_std_m > 0.0:
            raise ValueError("give either depth_noise_std_m or stereo, not both")
        if self.latency_s * self.rate_hz >= 10.0:
            raise ValueError(
                f"latency_s ({self.latency_s}) is ten frame periods or more at {self.rate_hz} Hz"
            )
        return self


class JointConfig(StrictModel):
    """A servo joint of a tool, position controlled."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")]
    lower_rad: Finite
    upper_rad: Finite
    home_rad: Finite = 0.0
    max_speed_radps: Positive
    max_torque_nm: Positive
    effort_noise_std_nm: NonNegative | None = None
    """Noise of the joint's sensed actuator torque per reading (1σ), in N·m; None (the
    default) when the joint does not sense its effort (a hobby servo)."""

    @model_validator(mode="after")
    def _limits_ordered(self) -> JointConfig:
        if self.upper_rad <= self.lower_rad:
            raise ValueError(
                f"joint {self.name!r}: upper_rad ({self.upper_rad}) must exceed "
                f"lower_rad ({self.lower_rad})"
            )
        if not self.lower_rad <= self.home_rad <= self.upper_rad:
            raise ValueError(
                f"joint {self.name!r}: home_rad ({self.home_rad}) is outside "
                f"[{self.lower_rad}, {self.upper_rad}]"
            )
        return self


class ToolConfig(StrictModel):
    """A tool on the chassis.

    ``scoop`` and ``bucket``: an arm of ``arm_length_m`` pivoting at ``mount_xyz_m`` with an
    open box of ``width_m`` × ``depth_m`` × ``height_m`` at its tip. The first joint lifts the
    arm; a second joint, where present, curls the bucket. ``gripper``: two jaws of
    ``arm_length_m`` driven together by one servo.

    ``clamp``: a carriage on a vertical mast at ``mount_xyz_m`` (its top at the mount when
    lowered) carrying two flat jaw pads ``depth_m`` long and ``height_m`` tall, centred
    ``arm_length_m`` ahead of the mount and ``width_m`` apart when open. Two servos drive
    it through racks and pinions of ``pinion_radius_m``: the first lifts the carriage
    (``pinion_radius_m`` of travel per rad above ``lower_rad``), the second closes both
    jaws (each moves in by that much per rad above ``lower_rad``). A fork-lift clamp of
    the kind that carries a module by squeezing its sides.
    """

    name: Annotated[str, Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")]
    kind: Literal["scoop", "bucket", "gripper", "clamp"]
    mount_xyz_m: Vec3
    mount_yaw_rad: Finite = 0.0
    """Direction the tool faces in the chassis frame: 0 forward, π backward."""
    arm_length_m: Positive
    width_m: Positive
    depth_m: Positive
    height_m: Positive
    mass_kg: Positive
    capacity_m3: NonNegative = 0.0
    """Volume of soil the tool holds when full, in m³ (0 for a gripper)."""
    pinion_radius_m: Positive | None = None
    """A clamp's racks and pinions: carriage and jaw travel per rad of their servos, in
    m/rad (clamps only)."""
    pad_friction: Annotated[float, Field(gt=0.0, le=2.0, allow_inf_nan=False)] | None = None
    """A clamp's jaw-pad friction coefficient on what it grips (clamps only)."""
    joints: Annotated[tuple[JointConfig, ...], Field(min_length=1, max_length=2)]

    @model_validator(mode="after")
    def _joint_count(self) -> ToolConfig:
        if self.kind == "gripper" and len(self.joints) != 1:
            raise ValueError(f"tool {self.name!r}: a gripper has exactly one joint (the jaw servo)")
        clamp = (self.pinion_radius_m, self.pad_friction)
        if self.kind == "clamp":
            if len(self.joints) != 2:
                raise ValueError(
                    f"tool {self.name!r}: a clamp has two joints (the lift, then the jaws)"
                )
            if None in clamp:
                raise ValueError(
                    f"tool {self.name!r}: a clamp needs pinion_radius_m and pad_friction"
                )
        elif clamp != (None, None):
            raise ValueError(
                f"tool {self.name!r}: pinion_radius_m and pad_friction are for clamps only"
            )
        return self

    def travel_m(self, joint: int, angle_rad: float) -> float:
        """A clamp's carriage height above its lowest (joint 0) or one jaw's travel in
        from open (joint 1) at a servo angle, in m."""
        assert self.pinion_radius_m is not None, "clamps only"
        return self.pinion_radius_m * (angle_rad - self.joints[joint].lower_rad)

    def opening_m(self, squeeze_rad: float) -> float:
        """A clamp's gap between its jaw pads at a squeeze angle, in m."""
        return self.width_m - 2.0 * self.travel_m(1, squeeze_rad)

    def squeeze_for_m(self, opening_m: float) -> float:
        """The squeeze angle that sets a clamp's jaws ``opening_m`` apart, in rad."""
        assert self.pinion_radius_m is not None, "clamps only"
        return self.joints[1].lower_rad + 0.5 * (self.width_m - opening_m) / self.pinion_radius_m

    @property
    def pad_thickness_m(self) -> float:
        """A clamp's jaw pads' thickness (and its arms'), in m: 5% of the opening, at
        least 1 cm."""
        return max(0.01, 0.05 * self.width_m)

    @property
    def max_unit_length_m(self) -> float:
        """A clamp's longest unit along its arms: its near face ahead of the mount."""
        return 2.0 * self.arm_length_m

    def holds_kg(self, gravity_mps2: float) -> float:
        """The heaviest unit a clamp lifts and holds by friction, in kg: each jaw pushes
        with its servo's torque over the pinion, the two pads hold 2·μ·F; the lift servo
        must also raise the carriage and jaws (the tool's own mass)."""
        assert self.pinion_radius_m is not None and self.pad_friction is not None
        squeeze_n = self.joints[1].max_torque_nm / self.pinion_radius_m
        grip_kg = 2.0 * self.pad_friction * squeeze_n / gravity_mps2
        lift_kg = self.joints[0].max_torque_nm / self.pinion_radius_m / gravity_mps2 - self.mass_kg
        return max(min(grip_kg, lift_kg), 0.0)


class LimitsConfig(StrictModel):
    """Terrain the rover may attempt, used by the controller and for tip-over detection."""

    max_slope_rad: Annotated[float, Field(gt=0.0, lt=math.pi / 2)]
    max_step_m: Positive
    tip_over_rad: Annotated[float, Field(gt=0.0, le=math.pi)] = 1.0
    """Roll or pitch beyond which the rover counts as tipped over, in rad."""
    max_crater_depth_m: Positive | None = None
    """Deepest depression (crater) the rover may enter, in m; None: judged by slope and
    step alone. Used by the navigation costmap."""


class BatteryConfig(StrictModel):
    nominal_v: Positive
    capacity_wh: Positive


class RoverConfig(StrictModel):
    """A whole rover description, as read from a rover file."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    chassis: ChassisConfig
    wheels: WheelsConfig
    drive: DriveConfig
    encoders: EncoderConfig
    imu: ImuConfig
    camera: CameraConfig | None = None
    scanner: ScannerConfig | None = None
    """The range scanner's datasheet errors; None: an idealised scanner (5 mm noise)."""
    tools: tuple[ToolConfig, ...] = ()
    limits: LimitsConfig
    battery: BatteryConfig

    @model_validator(mode="after")
    def _consistent(self) -> RoverConfig:
        w = self.wheels
        if w.track_m <= w.width_m:
            raise ValueError(
                f"wheels.track_m ({w.track_m}) must exceed wheels.width_m ({w.width_m})"
            )
        if w.wheelbase_m <= 2.0 * w.radius_m:
            raise ValueError(
                f"wheels.wheelbase_m ({w.wheelbase_m}) must exceed the wheel diameter "
                f"({2.0 * w.radius_m} m), or the front and rear wheels overlap"
            )
        top_speed = self.drive.max_wheel_speed_radps * w.radius_m
        if self.drive.max_speed_mps > top_speed:
            raise ValueError(
                f"drive.max_speed_mps ({self.drive.max_speed_mps}) exceeds what the wheels "
                f"can reach ({top_speed:.3f} m/s = max_wheel_speed_radps × radius_m)"
            )
        names = [j.name for t in self.tools for j in t.joints]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"tool joint names must be unique; repeated: {', '.join(dup)}")
        tool_names = [t.name for t in self.tools]
        if len(set(tool_names)) != len(tool_names):
            raise ValueError("tool names must be unique")
        return self

    @property
    def total_mass_kg(self) -> float:
        """Chassis, four wheels and tools, in kg."""
        return self.chassis.mass_kg + 4.0 * self.wheels.mass_kg + sum(t.mass_kg for t in self.tools)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Every tool joint, in file order."""
        return tuple(j.name for t in self.tools for j in t.joints)

    def joint(self, name: str) -> JointConfig:
        for t in self.tools:
            for j in t.joints:
                if j.name == name:
                    return j
        raise KeyError(f"rover {self.name!r} has no tool joint {name!r}")
