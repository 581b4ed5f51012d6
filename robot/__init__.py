"""lunarsite.robot: the controller. Pure numpy/scipy/opencv; never imports pybullet or serial.

Rooms, each a subpackage: ``hardware`` (the rover interface, the clock, the skid-steer
mixer, a mock rover), ``executive`` (skills, their composition, the one control loop),
``perception`` (odometry, the EKF, fiducials, mapping, wall fits), ``site`` (the map grid,
zones, survey volumes), ``planning`` (costmap, planner, the dig layout), ``control``
(path following, bucket kinematics, motion skills), ``navigation`` (the navigation stack
and the goal skill) and ``tasks`` (what a rover is sent to do). ``types`` and ``config``
hold the values and the rover file's schema every room shares.
"""
