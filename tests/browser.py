"""A real headless browser for the picture tests: Debian's chromium (.ci/run installs it).

`screenshot` renders a page to a PNG and reads it back (png_pixels); `dom` is the page's
DOM as the browser built it. Without chromium a test skips, except under CI=true, where
it fails: CI must render the pictures, not skip them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from png_pixels import Image, read_png

# root needs --no-sandbox; no GPU in a container; one pixel per CSS pixel, so that the
# picture's own coordinates are the screenshot's.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--no-first-run")  # fmt: skip


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: the browser tests must run: {reason}")
        pytest.skip(reason)
    return path


def _run(argv: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*argv[:1], *FLAGS, f"--user-data-dir={profile}", *argv[1:]],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stderr[-2000:]}"
    return done


def screenshot(page: Path, out: Path, size: tuple[int, int]) -> Image:
    """The page rendered in a window of `size` (width, height), as pixels."""
    _run(
        [chromium(), f"--screenshot={out}", f"--window-size={size[0]},{size[1]}", page.as_uri()],
        out.parent / f"{out.stem}-profile",
    )
    assert out.is_file(), f"chromium wrote no screenshot of {page}"
    return read_png(out)


def dom(page: Path) -> str:
    """The page's DOM as chromium serialises it after loading it."""
    return _run([chromium(), "--dump-dom", page.as_uri()], page.parent / "dom-profile").stdout


def version() -> str:
    return subprocess.run(
        [chromium(), "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
