"""Runner scripts for peer trackers; executed with ``.bench-venv/bin/python``, never imported by percept."""
