"""Headless Chromium for report tests: render a page and read what its scripts left in the DOM.

Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it). Flags as the
machines here need them: no sandbox as root, no background networking on a closed network.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=10000")


def chromium() -> str:
    """The Chromium executable; skips the test with the reason where there is none."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("needs headless Chromium (Debian: apt-get install chromium; .ci/run installs it)")
    return exe


def dump_dom(page: Path) -> str:
    """The DOM of ``page`` after its load event, as Chromium serialises it."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                               Path(page).resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def images_loaded(dom: str) -> tuple[int, int]:
    """``(loaded, total)`` images as the report's script counted them in ``data-images``."""
    m = re.search(r'<body[^>]*data-images="(\d+)/(\d+)"', dom)
    assert m, "the page's load script did not run (no data-images on <body>)"
    return int(m.group(1)), int(m.group(2))


def plot_keys(dom: str) -> list:
    """The ``data-plot`` keys of the images on the page, in order."""
    return re.findall(r'<img[^>]*data-plot="([^"]+)"', dom)
