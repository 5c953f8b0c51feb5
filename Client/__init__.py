"""The original spec's quick start: ``python -m Client.meeting_gui_client``."""
