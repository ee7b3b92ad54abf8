"""Loaded by every Python process of a test build (PYTHONPATH): refuse and record any socket
connection that is not to this machine. Kernels talk to the build over loopback; nothing else may."""

import ipaddress
import os
import socket

_LOG = os.environ.get("CRIZOTINIB_NETWORK_LOG")
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _allowed(address) -> bool:
    if not isinstance(address, tuple):  # unix sockets
        return True
    host = address[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _guard(original):
    def connect(self, address):
        if not _allowed(address):
            if _LOG:
                with open(_LOG, "a") as log:
                    log.write(f"{os.getpid()} {address!r}\n")
            raise OSError(f"network blocked by the test: {address!r}")
        return original(self, address)

    return connect


if _LOG:
    socket.socket.connect = _guard(_connect)
    socket.socket.connect_ex = _guard(_connect_ex)
