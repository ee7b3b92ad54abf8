"""Kernels started ahead of the reports that will use them, one fresh kernel per report.

Starting a kernel and importing pandas, matplotlib, seaborn, great_tables and statsmodels
takes about 3 s of CPU, most of a small report's execution. So the first `jobs` kernels start
in the background (with the package's notebook imports loaded, as the report's own first cell
would load them) while the build process validates the data and loads papermill. Each kernel
serves exactly one report and is shut down after it: no state passes from one report to
another. A worker's next kernel starts only when its report is completely done (rendered and
written), so `--jobs N` means at most N reports, and N kernels, in progress at any moment.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

PRELOAD = "import crizotinib_reports.notebook"  # what every report's set-up cell imports
STARTUP_TIMEOUT = 60


class WarmKernels:
    """A queue of started kernels (jupyter_client AsyncKernelManagers) for `total` reports."""

    def __init__(self, total: int, running: int, kernel_name: str, cwd: Path, extra_arguments: list[str]):
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.extra_arguments = extra_arguments
        self._lock = threading.Lock()
        self._to_start = total
        self._pending: list[Future] = []
        self._starter = ThreadPoolExecutor(max_workers=running, thread_name_prefix="kernel-start")
        for _ in range(min(total, running)):
            self._start_one()

    def _start_one(self) -> None:
        self._to_start -= 1
        self._pending.append(self._starter.submit(lambda: asyncio.run(self._start())))

    async def _start(self) -> Any:
        from jupyter_client.manager import AsyncKernelManager

        manager = AsyncKernelManager(kernel_name=self.kernel_name)
        await manager.start_kernel(cwd=str(self.cwd), extra_arguments=self.extra_arguments)
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=STARTUP_TIMEOUT)
            msg_id = client.execute(PRELOAD, silent=True, store_history=False)
            while True:  # the reply says the imports are done (an import error is the report's to show)
                reply = await client.get_shell_msg(timeout=STARTUP_TIMEOUT)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
        except Exception:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
            raise
        client.stop_channels()
        return manager

    def take(self) -> Any:
        """The next started kernel; raises what went wrong if it could not start."""
        with self._lock:
            if not self._pending:  # more reports than planned (a re-plan under the lock): start one now
                self._to_start = max(self._to_start, 1)
                self._start_one()
            future = self._pending.pop(0)
        return future.result()

    def report_done(self) -> None:
        """A worker finished its report: start the kernel for the next one, if any is left."""
        with self._lock:
            if self._to_start > 0:
                self._start_one()

    @staticmethod
    def shut_down(manager: Any) -> None:
        """Stop a kernel after its report (papermill leaves a kernel it did not start running)."""
        try:
            asyncio.run(manager.shutdown_kernel(now=True))
        except Exception:
            pass

    def close(self) -> None:
        """Stop the kernels nobody took (a --fail-fast stop, an error before the build ran)."""
        with self._lock:
            self._to_start = 0
            pending, self._pending = self._pending, []
        for future in pending:
            try:
                self.shut_down(future.result())
            except Exception:
                pass
        self._starter.shutdown(wait=True)
