"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[int, list]]:
    """(port, envelopes received). aiosmtpd 1.4 cannot start on port 0, so a free port is taken first."""
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield controller.port, handler.messages
    finally:
        controller.stop()
