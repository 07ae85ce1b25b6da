"""One app per user and settings file: starting mlx-embed again shows the running one's window.

The app stays running after its window closes (quick search, indexing), so "start it again" is how a
user without a tray icon gets the window back: the second start finds the first through a local socket
(QLocalServer: a Unix socket, a named pipe on Windows), asks it to show its window, and exits.
"""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Callable

from PySide6.QtNetwork import QLocalServer, QLocalSocket

SHOW = b"show\n"


def instance_name(settings_file: str) -> str:
    """The socket's name: per user and per settings file (tests and `--settings` runs stay apart)."""
    digest = hashlib.sha1(f"{getpass.getuser()}\0{settings_file}".encode()).hexdigest()[:12]
    return f"mlx-embed-{digest}"


def hand_over(name: str, timeout_ms: int = 1000) -> bool:
    """If an instance listens on `name`, ask it to show its window; True if it answered."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(timeout_ms):
        return False
    sock.write(SHOW)
    sock.flush()                      # usually writes it all at once (then there is nothing to wait for)
    if sock.bytesToWrite():
        sock.waitForBytesWritten(timeout_ms)
    ok = sock.bytesToWrite() == 0
    sock.disconnectFromServer()
    return ok


def listen(name: str, show: Callable[[], None], parent=None) -> QLocalServer | None:
    """Serve `name`: each connection that sends SHOW calls `show`. None if the socket cannot be made."""
    server = QLocalServer(parent)
    server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
    if not server.listen(name):
        QLocalServer.removeServer(name)       # a socket left by a crash (hand_over found nobody there)
        if not server.listen(name):
            return None

    def accept() -> None:
        while server.hasPendingConnections():
            sock = server.nextPendingConnection()

            def read(s=sock) -> None:
                if SHOW in bytes(s.readAll().data()):
                    show()
                s.disconnectFromServer()

            sock.readyRead.connect(read)
            sock.disconnected.connect(sock.deleteLater)

    server.newConnection.connect(accept)
    return server
