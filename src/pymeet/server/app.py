"""The server process: data directory, TLS identity, store, control and media
listeners, started together and stopped gracefully."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from pymeet import __version__
from pymeet.server.config import ServerConfig
from pymeet.server.control import ControlServer
from pymeet.server.relay import MediaRelay, enlarge_buffers
from pymeet.server.service import MeetingService
from pymeet.server.store import Store
from pymeet.server.tls import TlsIdentity, ensure_identity, format_fingerprint, server_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    control: tuple[str, int]
    media: tuple[str, int]


def prepare_data_dir(path: Path) -> Path:
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def bind_media_socket(host: str, port: int) -> socket.socket:
    """The UDP media socket (§4), bound before anyone learns its port from a login."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


class MeetingServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.data_dir = prepare_data_dir(config.data_dir)
        self.identity: TlsIdentity = ensure_identity(self.data_dir)
        self.store: Store | None = None
        self.control: ControlServer | None = None
        self.media_socket: socket.socket | None = None
        self.relay: MediaRelay | None = None
        self.endpoints: Endpoints | None = None

    async def start(self) -> Endpoints:
        self.store = await Store.open(self.data_dir)
        self.media_socket = bind_media_socket(self.config.host, self.config.udp_port)
        media = self.media_socket.getsockname()[:2]
        service = MeetingService(self.config, self.store, media[1])
        await service.load()
        self.relay = MediaRelay(service.media)
        granted = enlarge_buffers(self.media_socket)
        log.info("media socket buffers: receive %d, send %d bytes", *granted)
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self.relay, sock=self.media_socket)
        service.relay_stats = self.relay.stats
        self.control = ControlServer(self.config, service, server_context(self.identity))
        relay = self.relay
        self.control.media_in = lambda session, packet: relay.tunnel_received(session.media, packet)
        control = await self.control.start()
        self.endpoints = Endpoints(control, media)
        return self.endpoints

    async def stop(self) -> None:
        if self.control is not None:
            await self.control.stop()
            self.control.service.lobby.cancel()
        if self.relay is not None and self.relay.transport is not None:
            log.info("relay: %s", self.relay.stats())
            self.relay.transport.close()
        if self.store is not None:
            await self.store.close()
        log.info("server stopped")

    def announce(self) -> str:
        """The start-up text: a summary for people, then the one machine-readable line."""
        assert self.endpoints is not None
        (chost, cport), (mhost, mport) = self.endpoints.control, self.endpoints.media
        fingerprint = self.identity.fingerprint
        return (
            f"PyMeet server {__version__}\n"
            f"  control   tls://{chost}:{cport}  (TLS 1.3)\n"
            f"  media     udp://{mhost}:{mport}\n"
            f"  data      {self.data_dir}\n"
            f"  certificate SHA-256 fingerprint (compare it when a client asks):\n"
            f"    {format_fingerprint(fingerprint)}\n"
            f"PYMEET_READY control={chost}:{cport} media={mhost}:{mport} "
            f"fingerprint={fingerprint}"
        )


async def serve(config: ServerConfig) -> int:
    """Run until SIGINT or SIGTERM; returns the exit status."""
    server = MeetingServer(config)
    await server.start()
    print(server.announce(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down (pid %d)", os.getpid())
    await server.stop()
    return 0
