"""A real HTTP server on loopback serving generated disk images, for template
download tests (qcow2 made by ``qemu-img`` when installed, else raw bytes)."""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class ImageServer:
    root: Path
    base: str

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def path(self, name: str) -> Path:
        return self.root / name

    def digest(self, name: str, algorithm: str = "md5") -> str:
        return hashlib.new(algorithm, self.path(name).read_bytes()).hexdigest()


def make_images(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    qcow = root / "disk.qcow2"
    if shutil.which("qemu-img"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow), "64M"], check=True)
    else:
        qcow.write_bytes(b"QFI\xfb" + bytes(200_000))
    (root / "disk.raw").write_bytes(bytes(range(256)) * 4096)


@contextmanager
def image_server(root: Path) -> Iterator[ImageServer]:
    make_images(root)
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield ImageServer(root, f"http://127.0.0.1:{httpd.server_port}")
    finally:
        httpd.shutdown()
        httpd.server_close()
