"""lunarsite.launch: the composition root: CLI, scenario and rover files, runs, reports."""
