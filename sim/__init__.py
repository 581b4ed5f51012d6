"""lunarsite.sim: the PyBullet lunar world behind the robot's hardware interface.

world (one client per world, lunar gravity), terrain (procedural and DEM), rover
(SimRover), clock (SimClock), truth (the evaluation channel, for metrics only).
"""
