"""The Qt desktop front end of the ReRAM Fault Workbench (``python -m app``); all science lives in ``core``."""
