"""A rover in the lunar world, built from its configuration, behind the hardware interface.

The body is a PyBullet multibody built by :mod:`.rover_body`: a chassis box, four wheels
on revolute joints (driven per side, as a two-channel motor board drives a skid-steer
chassis), and the tools of the rover file on servo joints. :class:`SimRover` implements
:class:`lunarsite.robot.hardware.RoverInterface` and reports only what the real board
reports: encoder counts, IMU rates and specific force, servo positions, battery voltage.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np
import pybullet as pb

from lunarsite.robot.config import RoverConfig
from lunarsite.robot.hardware import Clock, RoverInterface
from lunarsite.robot.hardware.skid_steer import mix_skid_steer
from lunarsite.robot.types import STOP, CameraFrame, Pose2, RoverCommand, SensedState

from .body import ServoJoint
from .clamp import GraspLatch
from .imu_errors import ImuErrors
from .rover_body import build_rover_body
from .rover_camera import RoverCamera
from .rover_tools import ToolLink

if TYPE_CHECKING:
    from .world import LunarWorld

__all__ = ["SimRover"]

log = logging.getLogger(__name__)

SETTLE_S = 1.0
"""Simulated time a new rover is left to settle on the ground during configure, in s."""
MOTOR_EFFICIENCY = 0.7
"""Battery energy per unit of mechanical work delivered (brushed DC motor with gearbox)."""


class SimRover(RoverInterface):
    """A simulated rover. Build it with :meth:`LunarWorld.add_rover`."""

    def __init__(
        self, world: LunarWorld, config: RoverConfig, start: Pose2, *, rng: np.random.Generator
    ) -> None:
        super().__init__(joint_names=config.joint_names)
        self.world = world
        self.config = config
        self._rng = rng
        self._command = RoverCommand()
        built = build_rover_body(world, config, start)
        self.body = built.body
        self._servos: dict[str, ServoJoint] = built.servos
        self.tool_links: dict[str, ToolLink] = built.tool_links
        """Scoops and buckets by tool name (the soil model reads their cutting edges)."""
        self._struts = built.struts
        self._clamps = built.clamps
        """Clamps: the tool, its carriage link, its two pad links."""
        self._left_wheels = built.left_wheels
        self._right_wheels = built.right_wheels
        self.strut_preloads_n = built.strut_preloads_n
        """Spring preload of each strut at rest, in N (front-left, front-right, rear-left,
        rear-right; empty without a suspension)."""
        self._hold_stop()
        self._wheels = self._left_wheels + self._right_wheels
        # Every motor that draws on the battery: the wheels and the tools' servos.
        self._motors = self._wheels + [j for sv in self._servos.values() for j, _ in sv.joints]
        self.imu_errors = ImuErrors(config.imu, rng)
        self._last_velocity = np.zeros(3)
        self._last_read_s: float | None = None
        self.energy_used_j = 0.0
        self._imu_held: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
        self._active_since_s: float | None = None
        self.camera = (
            None
            if config.camera is None
            else RoverCamera(
                world, config.camera, self.chassis_frame, rng, lambda: self.sensor_stopped("camera")
            )
        )
        """The camera (:class:`~.rover_camera.RoverCamera`), or None."""
        world.add_step_hook(self._account_energy)
        self._rate_sum = [0.0, 0.0, 0.0]
        """Site-frame angular velocity summed over the physics steps since the last
        reading, in rad/s."""
        self._rate_steps = 0
        world.add_step_hook(self._integrate_gyro)
        self.grasps = [
            GraspLatch.of_clamp(
                world.client, self.body, tool, carriage, pads,
                lambda: [u.body for u in world.units.values()],
            )
            for tool, carriage, pads in self._clamps
        ]  # fmt: skip
        """Each clamp's grasp (:class:`~.clamp.GraspLatch`): which unit it holds."""
        if self.grasps:
            world.add_step_hook(self._update_grasps)
        # Tool joints that sense their effort: (servo name, joint, sign, noise 1σ N·m),
        # their torque summed every physics step and averaged at each read.
        self._effort_joints = [
            (j.name, self._servos[j.name].joints[0][0], self._servos[j.name].joints[0][1], noise)
            for t in config.tools
            for j in t.joints
            if (noise := j.effort_noise_std_nm) is not None and j.name in self._servos
        ]
        self._effort_sum_nm = np.zeros(len(self._effort_joints))
        # Its own stream (spawned, so the other sensors' draws are what they were).
        self._effort_rng = rng.spawn(1)[0]
        self._effort_steps = 0
        if self._effort_joints:
            world.add_step_hook(self._sense_efforts)

    @property
    def wheel_links(self) -> tuple[int, ...]:
        """PyBullet link indices of the four wheels (left pair first)."""
        return tuple(self._left_wheels + self._right_wheels)

    def chassis_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """Position of the chassis centre (m) and its rotation matrix, in the world.

        PyBullet reports the base's centre of mass; the rover frame is the geometric
        centre of the chassis, ``chassis.com_offset_xyz_m`` away from it.
        """
        c = self.world.client
        pos, orn = c.getBasePositionAndOrientation(self.body)
        rot = np.asarray(c.getMatrixFromQuaternion(orn), dtype=np.float64).reshape(3, 3)
        centre = np.asarray(pos, dtype=np.float64) - rot @ np.asarray(
            self.config.chassis.com_offset_xyz_m, dtype=np.float64
        )
        return centre, rot

    # --------------------------------------------------------------- lifecycle
    @property
    def clock(self) -> Clock:
        return self.world.clock

    def _on_configure(self) -> None:
        self._hold_stop()
        self.world.step(round(SETTLE_S * self.world.config.physics_hz))

    def _on_activate(self) -> None:
        if self._active_since_s is None:
            self._active_since_s = self.world.sim_time_s
        self._command = RoverCommand()
        self._apply()

    def _on_deactivate(self) -> None:
        self._hold_stop()

    def _hold_stop(self) -> None:
        self._command = RoverCommand(drive=STOP, tool_targets_rad=self._command.tool_targets_rad)
        self._apply()

    # ------------------------------------------------------------------- cycle
    def _on_write(self, command: RoverCommand) -> None:
        merged = dict(self._command.tool_targets_rad)
        merged.update(command.tool_targets_rad)
        self._command = RoverCommand(drive=command.drive, tool_targets_rad=merged)
        self._apply()

    def _apply(self) -> None:
        cfg = self.config
        torque = cfg.drive.max_wheel_torque_nm
        self.drive_wheel_motors(mix_skid_steer(self._command.drive, cfg), (torque, torque))
        targets = self._command.tool_targets_rad
        self.drive_servos(
            {name: targets.get(name, cfg.joint(name).home_rad) for name in self._servos}
        )

    def _on_read(self) -> SensedState:
        c = self.world.client
        cfg = self.config
        now = self.world.sim_time_s
        rng = self._rng

        def side_ticks(joints: list[int]) -> int:
            angle = sum(c.getJointState(self.body, j)[0] for j in joints) / len(joints)
            ticks = math.floor(angle * cfg.encoders.ticks_per_rev / (2.0 * math.pi))
            if cfg.encoders.noise_std_ticks > 0.0:
                ticks += round(float(rng.normal(0.0, cfg.encoders.noise_std_ticks)))
            return int(ticks)

        _, orn = c.getBasePositionAndOrientation(self.body)
        lin, ang = c.getBaseVelocity(self.body)
        rot = np.asarray(c.getMatrixFromQuaternion(orn), dtype=np.float64).reshape(3, 3)
        velocity = np.asarray(lin, dtype=np.float64)
        read_dt = 0.0 if self._last_read_s is None else now - self._last_read_s
        accel_world = (velocity - self._last_velocity) / read_dt if read_dt > 0.0 else np.zeros(3)
        self._last_velocity = velocity
        self._last_read_s = now
        specific_force = accel_world + np.array([0.0, 0.0, self.world.config.gravity_mps2])
        # The gyro reads the mean body rate over the interval since the last reading (an
        # IMU's decimation filter or delta-angle output), as the accelerometer reads the
        # mean specific force; the instantaneous rate would lead a turn's start.
        # (Summed in the site frame and turned into the body's at the reading: a turn of
        # a few centiradians in between moves the axes by a second-order amount.)
        mean = np.asarray(self._rate_sum) / self._rate_steps if self._rate_steps else ang
        rate = rot.T @ np.asarray(mean, dtype=np.float64)
        self._rate_sum = [0.0, 0.0, 0.0]
        self._rate_steps = 0
        gyro, accel = self.imu_errors.read(rate, rot.T @ specific_force, read_dt)
        imu = (
            (float(gyro[0]), float(gyro[1]), float(gyro[2])),
            (float(accel[0]), float(accel[1]), float(accel[2])),
        )
        if self._imu_held is None or not self.sensor_stopped("imu"):
            self._imu_held = imu  # a stopped IMU repeats its last reading
        tools = {
            name: servo.angle_rad(c.getJointState(self.body, servo.joints[0][0])[0])
            for name, servo in self._servos.items()
        }
        used = self.energy_used_j / 3600.0 / cfg.battery.capacity_wh
        battery_v = cfg.battery.nominal_v * (1.0 - 0.15 * min(1.0, used))
        return SensedState(
            tool_efforts_nm=self._read_efforts(),
            stamp_s=now,
            left_ticks=side_ticks(self._left_wheels),
            right_ticks=side_ticks(self._right_wheels),
            gyro_radps=self._imu_held[0],
            accel_mps2=self._imu_held[1],
            tool_positions_rad=tools,
            battery_v=battery_v,
        )

    # ------------------------------------------------- firmware in the loop
    def wheel_angles_rad(self) -> tuple[float, float]:
        """Mean wheel joint angle per side (left, right), in rad: what its encoders turn."""
        c = self.world.client
        return (
            sum(c.getJointState(self.body, j)[0] for j in self._left_wheels)
            / len(self._left_wheels),
            sum(c.getJointState(self.body, j)[0] for j in self._right_wheels)
            / len(self._right_wheels),
        )

    def drive_wheel_motors(
        self, speeds_radps: tuple[float, float], torques_nm: tuple[float, float]
    ) -> None:
        """Drive each side's motors toward a speed with at most a torque (firmware in the
        loop: the firmware's outputs, not the mixer, drive the wheels)."""
        c = self.world.client
        for joints, speed, torque in zip(
            (self._left_wheels, self._right_wheels), speeds_radps, torques_nm, strict=True
        ):
            for j in joints:
                c.setJointMotorControl2(
                    self.body, j, pb.VELOCITY_CONTROL, targetVelocity=speed, force=torque
                )

    def drive_servos(self, targets_rad: dict[str, float]) -> None:
        """Move the named tool servos toward their targets (rad), clamped to their range."""
        c = self.world.client
        for name, target in targets_rad.items():
            servo = self._servos.get(name)
            if servo is None:
                continue
            t = min(max(target, servo.lower_rad), servo.upper_rad)
            for joint, scale in servo.joints:
                c.setJointMotorControl2(
                    self.body,
                    joint,
                    pb.POSITION_CONTROL,
                    targetPosition=servo.joint_position(scale, t),
                    force=servo.force(scale),
                    maxVelocity=servo.speed(scale),
                )

    # ------------------------------------------------------------------ camera
    def _on_read_camera(self) -> CameraFrame:
        if self.camera is None:
            return super()._on_read_camera()
        return self.camera.read()

    def sensor_stopped(self, sensor: str) -> bool:
        """Whether the scenario's fault rehearsal has stopped ``sensor`` by now
        (:attr:`~.config.SimConfig.sensor_stops_s`, counted from the first activation)."""
        stop_s = self.world.config.sensor_stops_s.get(sensor)  # type: ignore[call-overload]
        since_s = self._active_since_s
        return (
            stop_s is not None and since_s is not None and self.world.sim_time_s >= since_s + stop_s
        )

    # ------------------------------------------------------------------ effort
    def _sense_efforts(self) -> None:
        """Add one physics step of the effort-sensing joints' motor torque."""
        states = self.world.client.getJointStates(
            self.body, [j for _, j, _, _ in self._effort_joints]
        )
        self._effort_sum_nm += [
            sign * float(st[3])
            for st, (_, _, sign, _) in zip(states, self._effort_joints, strict=True)
        ]
        self._effort_steps += 1

    def _read_efforts(self) -> dict[str, float]:
        """Each effort-sensing joint's torque averaged since the last read, plus its
        sensor's noise, in N·m (a drive's current sense, filtered over the control period)."""
        if not self._effort_joints:
            return {}
        if self._effort_steps == 0:
            self._sense_efforts()
        mean = self._effort_sum_nm / self._effort_steps
        out = {
            name: float(m) + (float(self._effort_rng.normal(0.0, noise)) if noise > 0.0 else 0.0)
            for (name, _, _, noise), m in zip(self._effort_joints, mean, strict=True)
        }
        self._effort_sum_nm[:] = 0.0
        self._effort_steps = 0
        return out

    # ------------------------------------------------------------------ energy
    def _update_grasps(self) -> None:
        for grasp in self.grasps:
            grasp.update()

    def _integrate_gyro(self) -> None:
        """Add one physics step's angular velocity for the next gyro reading (one PyBullet
        call, no numpy: it runs every step)."""
        wx, wy, wz = self.world.client.getBaseVelocity(self.body)[1]
        total = self._rate_sum
        total[0] += wx
        total[1] += wy
        total[2] += wz
        self._rate_steps += 1

    def _account_energy(self) -> None:
        """Add one physics step of motor work, wheels and tool servos (runs every step:
        one PyBullet call). Only work a motor delivers counts (nothing is regenerated),
        and a servo holding still draws nothing here (its holding current is not
        modelled)."""
        states = self.world.client.getJointStates(self.body, self._motors)
        power = sum(max(0.0, vel * torque) for _, vel, _, torque in states)
        self.energy_used_j += power * self.world.physics_dt_s / MOTOR_EFFICIENCY
