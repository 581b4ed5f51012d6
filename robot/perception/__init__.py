"""What the rover makes of its sensors: dead reckoning from wheels and gyro
(:mod:`.estimation`), the gyro's bias at standstill (:mod:`.gyro_bias`), the EKF over
odometry and fiducial fixes (:mod:`.localization`), ArUco fiducials (:mod:`.fiducials`),
range scans and depth into the robot's own height map (:mod:`.mapping`), and a position
fix on the walls of a rectangular arena (:mod:`.walls`)."""
