"""The one media-side error: a device or file that cannot be used.

::

    PyMeetError                     (pymeet.protocol.errors)
    └── ClientError                 (pymeet.client.errors)
        └── MediaUnavailable        a camera, microphone, speaker or media file is unusable

The message is written for the person at the keyboard ("no audio input device: ...");
it never contains a key or a password.
"""

from __future__ import annotations

from pymeet.client.errors import ClientError

__all__ = ["MediaUnavailable"]


class MediaUnavailable(ClientError):
    """A media device or file cannot be used; ``device`` says which kind.

    ``device`` is one of ``"camera"``, ``"screen"``, ``"microphone"``, ``"speaker"`` or
    ``"file"``.
    """

    def __init__(self, device: str, message: str) -> None:
        super().__init__(message)
        self.device = device
