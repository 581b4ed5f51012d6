"""A rover in the lunar world, built from its configuration, behind the hardware interface.

The body is a PyBullet multibody: a chassis box, four wheels on revolute joints (driven
per side, as a two-channel motor board drives a skid-steer chassis), and the tools of the
rover file on servo joints. :class:`SimRover` implements
:class:`lunarsite.robot.hardware.RoverInterface` and reports only what the real board
reports: encoder counts, IMU rates and specific force, servo positions, battery voltage.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from lunarsite.robot.config import RoverConfig, ToolConfig
from lunarsite.robot.hardware import Clock, RoverInterface
from lunarsite.robot.hardware.skid_steer import mix_skid_steer
from lunarsite.robot.types import STOP, CameraFrame, Pose2, RoverCommand, SensedState

from .body import BodyBuilder, ServoJoint
from .clamp import GraspLatch, add_clamp, set_pad_friction
from .imu_errors import ImuErrors
from .rover_camera import RoverCamera

if TYPE_CHECKING:
    from .world import LunarWorld

__all__ = ["SimRover", "ToolLink"]

log = logging.getLogger(__name__)

CHASSIS_RGBA = (0.85, 0.78, 0.35, 1.0)
WHEEL_RGBA = (0.15, 0.15, 0.15, 1.0)
TOOL_RGBA = (0.7, 0.7, 0.75, 1.0)
SETTLE_S = 1.0
"""Simulated time a new rover is left to settle on the ground during configure, in s."""
MOTOR_EFFICIENCY = 0.7
"""Battery energy per unit of mechanical work delivered (brushed DC motor with gearbox)."""


SUSPENSION_STRUT_MASS_KG = 0.3
"""Mass of a suspension strut (hub and arm), taken from the wheel's mass, in kg."""


@dataclass(frozen=True, slots=True)
class ToolLink:
    """Where a scoop or bucket is in the multibody, for the soil model.

    ``link`` carries the open box; ``edge_local_m`` holds the two ends of its cutting edge
    (the front of the floor) and ``forward_local`` the direction its opening faces, both in
    that link's frame (PyBullet's link frame, ``getLinkState(...)[4:6]``).
    """

    name: str
    kind: str
    link: int
    edge_local_m: tuple[tuple[float, float, float], tuple[float, float, float]]
    forward_local: tuple[float, float, float]
    link_mass_kg: float
    capacity_m3: float


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
        self._servos: dict[str, ServoJoint] = {}
        self.tool_links: dict[str, ToolLink] = {}
        """Scoops and buckets by tool name (the soil model reads their cutting edges)."""
        self._struts: list[int] = []
        self._clamps: list[tuple[ToolConfig, int, tuple[int, int]]] = []
        """Clamps: the tool, its carriage link, its two pad links."""
        self._left_wheels: list[int] = []
        self._right_wheels: list[int] = []
        self.body = self._build(start)
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

    # ---------------------------------------------------------------- building
    def _build(self, start: Pose2) -> int:
        cfg = self.config
        c = self.world.client
        ch, wh = cfg.chassis, cfg.wheels
        b = BodyBuilder(c)
        chassis = b.boxes(
            [((ch.length_m / 2, ch.width_m / 2, ch.height_m / 2), (0.0, 0.0, 0.0))], CHASSIS_RGBA
        )
        wheel_col = c.createCollisionShape(
            pb.GEOM_CYLINDER,
            radius=wh.radius_m,
            height=wh.width_m,
            collisionFrameOrientation=pb.getQuaternionFromEuler([math.pi / 2, 0.0, 0.0]),
        )
        wheel_vis = c.createVisualShape(
            pb.GEOM_CYLINDER,
            radius=wh.radius_m,
            length=wh.width_m,
            rgbaColor=list(WHEEL_RGBA),
            visualFrameOrientation=pb.getQuaternionFromEuler([math.pi / 2, 0.0, 0.0]),
        )
        for sx in (1.0, -1.0):
            for sy in (1.0, -1.0):
                hub = (sx * wh.wheelbase_m / 2, sy * wh.track_m / 2, -ch.axle_drop_m)
                parent, wheel_mass_kg = 0, wh.mass_kg
                if wh.suspension_stiffness_npm is not None:
                    # The strut's mass comes out of the wheel's, so the rover weighs
                    # what its file says.
                    wheel_mass_kg = max(wh.mass_kg - SUSPENSION_STRUT_MASS_KG, 0.5 * wh.mass_kg)
                    strut = b.add(
                        mass=wh.mass_kg - wheel_mass_kg,
                        shapes=(-1, -1),
                        parent=0,
                        position=hub,
                        joint=pb.JOINT_PRISMATIC,
                        axis=(0.0, 0.0, 1.0),
                    )
                    self._struts.append(strut)
                    parent, hub = strut + 1, (0.0, 0.0, 0.0)  # parents count the base as 0
                idx = b.add(
                    mass=wheel_mass_kg,
                    shapes=(wheel_col, wheel_vis),
                    parent=parent,
                    position=hub,
                    joint=pb.JOINT_REVOLUTE,
                    axis=(0.0, 1.0, 0.0),
                )
                (self._left_wheels if sy > 0 else self._right_wheels).append(idx)
        for tool in cfg.tools:
            self._add_tool(b, tool)

        ground = self._ground_under_footprint(start)
        z0 = ground + ch.axle_drop_m + wh.radius_m + 0.01
        body = int(
            c.createMultiBody(
                baseMass=ch.mass_kg,
                baseCollisionShapeIndex=chassis[0],
                baseVisualShapeIndex=chassis[1],
                basePosition=[start.x_m, start.y_m, z0],
                baseOrientation=pb.getQuaternionFromEuler([0.0, 0.0, start.yaw_rad]),
                baseInertialFramePosition=list(ch.com_offset_xyz_m),
                linkMasses=b.masses,
                linkCollisionShapeIndices=b.cols,
                linkVisualShapeIndices=b.viss,
                linkPositions=b.pos,
                linkOrientations=b.orn,
                linkInertialFramePositions=b.inertial_pos,
                linkInertialFrameOrientations=[[0.0, 0.0, 0.0, 1.0]] * len(b.masses),
                linkParentIndices=b.parents,
                linkJointTypes=b.types,
                linkJointAxis=b.axes,
            )
        )
        # Vacuum: no air drag. PyBullet damps every body by default (linear 0.04).
        for link in range(-1, len(b.masses)):
            c.changeDynamics(body, link, linearDamping=0.0, angularDamping=0.0)
        for w in self._left_wheels + self._right_wheels:
            c.changeDynamics(
                body,
                w,
                lateralFriction=wh.friction,
                rollingFriction=0.0,
                spinningFriction=0.0,
                # The link frame turns about the axle (link y) as the wheel rolls, so
                # scaling y scales the sideways friction whatever the wheel's angle.
                anisotropicFriction=[1.0, wh.lateral_friction_ratio, 1.0],
            )
            c.setJointMotorControl2(body, w, pb.VELOCITY_CONTROL, targetVelocity=0.0, force=0.0)
        for tool, _, pads in self._clamps:
            set_pad_friction(c, body, tool, pads)
        self.body = body
        for servo in self._servos.values():
            home = cfg.joint(servo.name).home_rad
            for joint, scale in servo.joints:
                c.resetJointState(body, joint, servo.joint_position(scale, home))
        if self._struts:
            self._add_suspension()
        self._hold_stop()
        return body

    def _add_suspension(self) -> None:
        """Spring-damper struts: free prismatic joints pushed by F = -(F₀ + k·q + c·q̇).

        q is the wheel's rise against the chassis (the joint axis is the chassis z), so the
        strut pushes the wheel down and the chassis up by F₀ at q = 0. PyBullet has no joint
        springs; the force is applied after every physics step for the next one. The
        travel limits stop a strut at ±``suspension_travel_m``. Each strut's preload F₀ is
        its share of the sprung weight with the tools at home (the statics of a level body
        on four equal springs), so the chassis rides level at its design height
        (``axle_drop_m``) at rest instead of pitching towards a heavy boom.
        """
        wh = self.config.wheels
        assert wh.suspension_stiffness_npm is not None
        c, body = self.world.client, self.body
        k, damping = wh.suspension_stiffness_npm, wh.suspension_damping_nspm
        struts = list(self._struts)
        for strut in struts:
            c.setJointMotorControl2(body, strut, pb.VELOCITY_CONTROL, force=0.0)
            c.changeDynamics(
                body,
                strut,
                jointLowerLimit=-wh.suspension_travel_m,
                jointUpperLimit=wh.suspension_travel_m,
                linearDamping=0.0,
                angularDamping=0.0,
            )
        preloads = self._strut_preloads_n()
        self.strut_preloads_n = tuple(preloads)
        """Spring preload of each strut at rest, in N (front-left, front-right, rear-left,
        rear-right)."""

        def push() -> None:
            states = c.getJointStates(body, struts)
            forces = [
                -(f0 + k * s[0] + damping * s[1]) for f0, s in zip(preloads, states, strict=True)
            ]
            c.setJointMotorControlArray(body, struts, pb.TORQUE_CONTROL, forces=forces)

        push()
        self.world.add_step_hook(push)

    def _strut_preloads_n(self) -> list[float]:
        """Each strut's share of the weight above the struts, from the body's pose now.

        Forces F on four equal springs under a level body carry the weight W and its
        moments: ΣF = W, ΣF·x = W·x_cm, ΣF·y = W·y_cm (chassis frame). The level
        (plane-compatible) solution of these three equations in four unknowns is the
        minimum-norm one, since the fourth mode, a twist, is orthogonal to every plane.
        """
        c, body = self.world.client, self.body
        unsprung = set(self._struts) | set(self._left_wheels) | set(self._right_wheels)
        base_pos, base_orn = c.getBasePositionAndOrientation(body)
        rot = np.asarray(c.getMatrixFromQuaternion(base_orn), dtype=np.float64).reshape(3, 3)
        origin = np.asarray(base_pos, dtype=np.float64)

        def local(p: Any) -> NDArray[np.float64]:
            return rot.T @ (np.asarray(p, dtype=np.float64) - origin)

        mass = float(c.getDynamicsInfo(body, -1)[0])
        moment = mass * local(base_pos)
        for link in range(c.getNumJoints(body)):
            if link in unsprung:
                continue
            m = float(c.getDynamicsInfo(body, link)[0])
            mass += m
            moment += m * local(c.getLinkState(body, link, computeForwardKinematics=1)[0])
        com = moment / mass
        hubs = np.array(
            [local(c.getLinkState(body, s, computeForwardKinematics=1)[4]) for s in self._struts]
        )
        a = np.vstack([np.ones(len(hubs)), hubs[:, 0], hubs[:, 1]])
        weight = mass * self.world.config.gravity_mps2
        forces = np.linalg.lstsq(a, weight * np.array([1.0, com[0], com[1]]), rcond=None)[0]
        return [max(0.0, float(f)) for f in forces]

    def _add_tool(self, b: BodyBuilder, tool: ToolConfig) -> None:
        mx, my, mz = tool.mount_xyz_m
        yaw = tool.mount_yaw_rad
        L, w, d, h = tool.arm_length_m, tool.width_m, tool.depth_m, tool.height_m
        bar = max(0.01, 0.12 * w)
        if tool.kind == "clamp":
            servos, pads = add_clamp(b, tool, TOOL_RGBA)
            self._servos.update((sv.name, sv) for sv in servos)
            self._clamps.append((tool, servos[0].joints[0][0], (pads[0], pads[1])))
            return
        if tool.kind == "gripper":
            jaw = tool.joints[0]
            finger = b.boxes([((L / 2, bar / 2, h / 2), (L / 2, 0.0, 0.0))], TOOL_RGBA)
            joints = []
            for side in (1.0, -1.0):
                off_x, off_y = -math.sin(yaw) * side * w / 2, math.cos(yaw) * side * w / 2
                idx = b.add(
                    mass=tool.mass_kg / 2,
                    shapes=finger,
                    parent=0,
                    position=(mx + off_x, my + off_y, mz),
                    yaw=yaw,
                    joint=pb.JOINT_REVOLUTE,
                    axis=(0.0, 0.0, 1.0),
                    com=(L / 2, 0.0, 0.0),
                )
                joints.append((idx, side))
            self._servos[jaw.name] = ServoJoint(
                jaw.name,
                tuple(joints),
                jaw.lower_rad,
                jaw.upper_rad,
                jaw.max_speed_radps,
                jaw.max_torque_nm,
            )
            return
        # Scoop or bucket: an open box (floor, back wall, two sides) at the end of an arm.
        t = max(0.004, 0.05 * d)
        box = [
            ((d / 2, w / 2, t / 2), (d / 2, 0.0, -h / 2 + t / 2)),  # floor, cutting edge at +x
            ((t / 2, w / 2, h / 2), (t / 2, 0.0, 0.0)),  # back wall
            ((d / 2, t / 2, h / 2), (d / 2, w / 2 - t / 2, 0.0)),  # sides
            ((d / 2, t / 2, h / 2), (d / 2, -w / 2 + t / 2, 0.0)),
        ]
        lift = tool.joints[0]
        arm_mass = tool.mass_kg * (0.6 if len(tool.joints) == 2 else 1.0)
        if len(tool.joints) == 1:
            # A scoop fixed at the end of its arm: one link carries both.
            parts = [((L / 2, bar / 2, bar / 2), (L / 2, 0.0, 0.0))]
            parts += [(he, (cx + L, cy, cz)) for he, (cx, cy, cz) in box]
            arm = b.add(
                mass=arm_mass,
                shapes=b.boxes(parts, TOOL_RGBA),
                parent=0,
                position=(mx, my, mz),
                yaw=yaw,
                joint=pb.JOINT_REVOLUTE,
                axis=(0.0, -1.0, 0.0),
                com=(L + d / 2, 0.0, -h / 4),
            )
            self._servos[lift.name] = ServoJoint(
                lift.name,
                ((arm, 1.0),),
                lift.lower_rad,
                lift.upper_rad,
                lift.max_speed_radps,
                lift.max_torque_nm,
            )
            self._add_tool_link(tool, arm, L + d, arm_mass)
            return
        curl = tool.joints[1]
        arm = b.add(
            mass=arm_mass,
            shapes=b.boxes([((L / 2, bar / 2, bar / 2), (L / 2, 0.0, 0.0))], TOOL_RGBA),
            parent=0,
            position=(mx, my, mz),
            yaw=yaw,
            joint=pb.JOINT_REVOLUTE,
            axis=(0.0, -1.0, 0.0),
            com=(L / 2, 0.0, 0.0),
        )
        bucket = b.add(
            mass=tool.mass_kg - arm_mass,
            shapes=b.boxes(box, TOOL_RGBA),
            parent=arm + 1,
            position=(L, 0.0, 0.0),
            joint=pb.JOINT_REVOLUTE,
            axis=(0.0, -1.0, 0.0),
            com=(d / 2, 0.0, -h / 4),
        )
        self._add_tool_link(tool, bucket, d, tool.mass_kg - arm_mass)
        for joint_cfg, idx in ((lift, arm), (curl, bucket)):
            self._servos[joint_cfg.name] = ServoJoint(
                joint_cfg.name,
                ((idx, 1.0),),
                joint_cfg.lower_rad,
                joint_cfg.upper_rad,
                joint_cfg.max_speed_radps,
                joint_cfg.max_torque_nm,
            )

    def _add_tool_link(self, tool: ToolConfig, link: int, edge_x_m: float, mass_kg: float) -> None:
        """Record a scoop or bucket's cutting edge: the front of its floor, ``edge_x_m``
        ahead of the link origin, ``height_m / 2`` below it."""
        z = -tool.height_m / 2
        half = tool.width_m / 2
        self.tool_links[tool.name] = ToolLink(
            name=tool.name,
            kind=tool.kind,
            link=link,
            edge_local_m=((edge_x_m, half, z), (edge_x_m, -half, z)),
            forward_local=(1.0, 0.0, 0.0),
            link_mass_kg=mass_kg,
            capacity_m3=tool.capacity_m3,
        )

    @property
    def wheel_links(self) -> tuple[int, ...]:
        """PyBullet link indices of the four wheels (left pair first)."""
        return tuple(self._left_wheels + self._right_wheels)

    def _ground_under_footprint(self, start: Pose2) -> float:
        t = self.world.terrain
        wh = self.config.wheels
        cy, sy = math.cos(start.yaw_rad), math.sin(start.yaw_rad)
        heights = []
        for fx in (wh.wheelbase_m / 2, -wh.wheelbase_m / 2):
            for fy in (wh.track_m / 2, -wh.track_m / 2):
                x = start.x_m + cy * fx - sy * fy
                y = start.y_m + sy * fx + cy * fy
                heights.append(
                    t.height_at(x, y) if t.contains(x, y) else t.height_at(start.x_m, start.y_m)
                )
        return max(heights)

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
