"""Binding and running: loopback unless asked otherwise (and then only with an API key)."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError, MlxEmbedError

if TYPE_CHECKING:
    from fastapi import FastAPI


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # any other name may resolve to a public address


def check_bind(host: str, api_key: str | None, allow_remote: bool) -> None:
    """Refuse to listen beyond this machine unless it was asked for explicitly and requests need a key."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise InvalidArgumentError(
            f"--host {host} is not a loopback address, so other machines could reach the server. To allow that on "
            "purpose pass --allow-remote and an API key (--api-key or MLX_EMBED_API_KEY); else use 127.0.0.1.")
    if not api_key:
        raise InvalidArgumentError(
            f"--host {host} with --allow-remote needs an API key (--api-key or MLX_EMBED_API_KEY), so that only "
            "clients that know it can use the server.")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one). IPv4 first for names like localhost."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidArgumentError(f"--host {host}: cannot resolve it ({exc}).") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, kind, proto, _, address = infos[0]
    if is_loopback(host) and not ipaddress.ip_address(address[0]).is_loopback:
        raise InvalidArgumentError(f"--host {host} resolves to {address[0]}, which is not a loopback address.")
    # proto must be IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY on accepted sockets only then, and
    # without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise MlxEmbedError(f"Cannot listen on {host}:{port} ({exc.strerror}). Is another server using the port? "
                            "Pick another with --port.") from None
    sock.listen(2048)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _uvicorn_server(app: "FastAPI", log_level: str, access_log: bool):
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="on",
                            timeout_graceful_shutdown=10, server_header=False)
    return uvicorn.Server(config)


def serve(app: "FastAPI", host: str = "127.0.0.1", port: int = 8080, *, allow_remote: bool = False,
          log_level: str = "info", access_log: bool = True) -> None:
    """Run the server in the foreground until interrupted (Ctrl-C / SIGTERM).

    A non-loopback host needs allow_remote=True and an app created with an API key (ServerSettings.api_key).
    """
    settings = app.state.service.settings
    check_bind(host, settings.api_key, allow_remote)
    settings.loopback_hosts_only = is_loopback(host)
    sock = bind_socket(host, port)
    print(f"mlx-embed: serving {app.state.service.name} on {url_of(sock)} (OpenAI base_url {url_of(sock)}/v1)",
          file=sys.stderr, flush=True)
    _uvicorn_server(app, log_level, access_log).run(sockets=[sock])


class BackgroundServer:
    """The server in a thread of this process, on a free loopback port (tests, benchmarks, the app)."""

    def __init__(self, app: "FastAPI", host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"):
        check_bind(host, app.state.service.settings.api_key, allow_remote=False)
        self.app = app
        self.sock = bind_socket(host, port)
        self.url = url_of(self.sock)
        self.server = _uvicorn_server(app, log_level, access_log=False)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="mlx-embed-server", daemon=True)

    def start(self, timeout: float = 30.0) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
