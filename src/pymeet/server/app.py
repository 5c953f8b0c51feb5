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

from aiohttp import web

from pymeet import __version__
from pymeet.server.blobs import BlobStore
from pymeet.server.config import ServerConfig
from pymeet.server.control import ControlServer
from pymeet.server.relay import MediaRelay, enlarge_buffers
from pymeet.server.service import MeetingService
from pymeet.server.store import Store
from pymeet.server.tls import TlsIdentity, ensure_identity, format_fingerprint, server_context
from pymeet.server.web.app import start_web
from pymeet.server.web.files import FileService
from pymeet.server.web.gateway import WebGateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    control: tuple[str, int]
    media: tuple[str, int]
    web: tuple[str, int]


def prepare_data_dir(path: Path) -> Path:
    """Create the data directory readable by its owner only; an existing one is left as
    it is, with a warning when others can read it."""
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        log.warning("%s can be read by other users; consider chmod 700", path)
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
        self.service: MeetingService | None = None
        self.control: ControlServer | None = None
        self.gateway: WebGateway | None = None
        self.web_runner: web.AppRunner | None = None
        self.media_socket: socket.socket | None = None
        self.relay: MediaRelay | None = None
        self.endpoints: Endpoints | None = None

    async def start(self) -> Endpoints:
        config = self.config
        self.store = await Store.open(self.data_dir)
        self.media_socket = bind_media_socket(config.host, config.udp_port)
        media = self.media_socket.getsockname()[:2]
        service = self.service = MeetingService(
            config, self.store, media[1], BlobStore(self.data_dir)
        )
        await service.load()

        relay = self.relay = MediaRelay(service.media)
        granted = enlarge_buffers(self.media_socket)
        log.info("media socket buffers: receive %d, send %d bytes", *granted)
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: relay, sock=self.media_socket)
        service.relay_stats = relay.stats

        tls = server_context(self.identity)
        control_server = self.control = ControlServer(config, service, tls)
        control_server.media_in = lambda session, packet: relay.tunnel_received(
            session.media, packet
        )
        gateway = self.gateway = WebGateway(config, service, relay)
        service.open_connections = lambda: (
            len(control_server.connections) + len(gateway.connections)
        )
        control = await control_server.start()
        files = FileService(service, service.blobs, int(config.max_file_mb * 1024 * 1024))
        self.web_runner, web_address = await start_web(
            gateway, files, config.host, config.web_port, tls if config.web_tls else None
        )
        service.web_port = web_address[1]
        self.endpoints = Endpoints(control, media, web_address)
        return self.endpoints

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        if self.control is not None:
            await self.control.stop()
        if self.web_runner is not None:
            await self.web_runner.cleanup()
        if self.service is not None:
            self.service.lobby.cancel()
            self.service.memory.cancel()
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
        whost, wport = self.endpoints.web
        scheme = "https" if self.config.web_tls else "http"
        browse_host = "localhost" if whost in ("127.0.0.1", "::1") else whost
        fingerprint = self.identity.fingerprint
        return (
            f"PyMeet server {__version__}\n"
            f"  control   tls://{chost}:{cport}  (TLS 1.3)\n"
            f"  media     udp://{mhost}:{mport}\n"
            f"  browser   {scheme}://{browse_host}:{wport}/\n"
            f"  data      {self.data_dir}\n"
            f"  certificate SHA-256 fingerprint (compare it when a client asks):\n"
            f"    {format_fingerprint(fingerprint)}\n"
            f"PYMEET_READY control={chost}:{cport} media={mhost}:{mport} web={whost}:{wport} "
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
