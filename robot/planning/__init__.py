"""Deciding where to go and what to do: the costmap (:mod:`.costmap`), a grid planner for
a skid-steer body (:mod:`.planner`) and the dig-and-dump layout of lanes and strips
(:mod:`.dig_dump`)."""
