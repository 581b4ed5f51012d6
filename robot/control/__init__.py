"""Turning an estimate and a goal into commands: pure pursuit through waypoints
(:mod:`.waypoints`) and along planned paths (:mod:`.pathfollow`), bucket kinematics
(:mod:`.bucket`), and the motion skills of scripted work (:mod:`.motions`)."""
