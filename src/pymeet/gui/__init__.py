"""The PyMeet desktop client: Tkinter views over plain-object presenters.

Layout of the package (DESIGN.md, "Layers")::

    app.py          `pymeet gui`: flags, settings, then `GuiApp` on the main thread
    controller.py   `GuiApp`: the Tk root, the views, and the glue between them
    bridge.py       the only door between threads: `NetworkThread` runs asyncio in the
                    background, `UiQueue` carries work to Tk, drained by ``root.after``
    session.py      coroutines that run on the network thread (connect, join, media)
    media_setup.py  which camera, microphone and speaker a session uses
    settings.py     the small JSON settings file (last server and username, choices)
    presenters/     what each view shows, given events: plain objects, tested headless
    views/          Tk widgets only: they draw presenters and report user actions

Threading promise: Tk is touched only on the main thread. `MeetingClient` and
`MediaEngine` live on an asyncio loop in one background thread; everything they
report reaches Tk through `UiQueue` (events, replies) or a latest-value mailbox
(video frames, audio levels), both drained by ``root.after`` in capped batches.
"""
