"""Tasks: what a rover is sent to do, made of skills. Driving through waypoints on dead
reckoning (:mod:`.waypoints`), visiting goals by navigation (:mod:`.navigate`), digging
and dumping (:mod:`.dig_and_dump`), and scripted steps for a lab rover (:mod:`.steps`)."""
