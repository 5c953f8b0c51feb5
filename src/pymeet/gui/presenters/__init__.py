"""What each view shows, given events and replies: plain Python objects.

No module here imports tkinter, asyncio or the network; time is a parameter (``now``)
wherever it matters. Views read these objects and draw them; the controller feeds
them with the dicts `MeetingClient` hands out. Each has unit tests in tests/unit/gui.
"""
