"""lunarsite.robot: the controller. Pure numpy/scipy; never imports pybullet or serial.

Rover configuration (config), value types (types), the hardware interface (hardware),
a mock rover (mock), dead reckoning (estimation), path following (control) and the
executive (executive).
"""
