"""WeasyPrint's URL fetcher for the reports, which never touches the network.

A module of its own because it subclasses WeasyPrint's fetcher, and importing WeasyPrint costs about a
second of CPU: render.py imports it only to print a PDF, so the render workers of an HTML-only build never
load WeasyPrint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse

from .render import TEMPLATES_DIR

__all__ = ["OfflineURLFetcher"]


class OfflineURLFetcher(URLFetcher):
    """WeasyPrint URL fetcher that never touches the network.

    Only ``data:`` URLs, and ``file:`` URLs inside ``allowed_dirs`` (by default
    the package's templates folder), are fetched; anything else raises
    ``ValueError``, which WeasyPrint reports as a warning and renders on without
    the resource. Refused URLs are kept in ``refused``.
    """

    def __init__(self, allowed_dirs: list[Path | str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        dirs = [TEMPLATES_DIR] if allowed_dirs is None else allowed_dirs
        self.allowed_dirs = [Path(d).resolve() for d in dirs]
        self.refused: list[str] = []

    def _allowed_file(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):  # file://host/... is a network share
            return False
        path = Path(url2pathname(parts.path)).resolve()
        return any(path.is_relative_to(allowed) for allowed in self.allowed_dirs)

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        """Fetch ``data:`` and allowed ``file:`` URLs; raise for anything else."""
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data" or (scheme == "file" and self._allowed_file(url)):
            return super().fetch(url, headers)
        self.refused.append(url)
        raise ValueError(f"offline rendering: refused to fetch {url[:200]!r}")
