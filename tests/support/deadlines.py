"""A call that may hang (a FIFO, a pipe no one writes to) given a deadline, so a test fails instead of hanging."""

from __future__ import annotations

import threading
from typing import Any, Callable


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """call()'s result or exception, failing the test if it has not returned after `seconds`."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 (handed back to the test)
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)  # a hung call must not keep pytest from exiting
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
