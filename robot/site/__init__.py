"""What the robot believes about the site: the grid its maps are laid on (:mod:`.grid`),
zones of work and keep-out (:mod:`.zones`), and volumes between two surveys
(:mod:`.survey`)."""
