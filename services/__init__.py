"""Long-running processes: the perception service and the control bridge."""
