"""The workbench panels; each takes (state, jobs) and refreshes itself from state change topics."""
