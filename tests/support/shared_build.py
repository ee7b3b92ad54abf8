"""The shared build as a program of its own (tests/conftest.py starts it in the background): the real CLI with the
defaults into OUTPUT at the fixed recorded time, its exit status and output written to RECORD in one rename, so
whichever pytest worker needs it reads a whole record or waits for one.

    python shared_build.py OUTPUT RECORD SOURCE_DATE_EPOCH TIMEOUT
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main(output: str, record: str, epoch: str, timeout: str) -> None:
    command = [sys.executable, "-m", "crizotinib_reports.cli", "build", "--output-dir", output]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=float(timeout),
                                env={**os.environ, "SOURCE_DATE_EPOCH": epoch})
        outcome = [result.returncode, result.stdout, result.stderr]
    except subprocess.TimeoutExpired:
        outcome = [-1, "", f"the shared build took more than {timeout} s"]
    except OSError as exc:  # the record is written whatever happens: the tests wait for it
        outcome = [-1, "", f"the shared build could not start: {exc}"]
    with open(record + ".partial", "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)
    os.replace(record + ".partial", record)


if __name__ == "__main__":
    main(*sys.argv[1:])
