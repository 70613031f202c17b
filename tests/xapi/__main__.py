"""``python -m tests.xapi --port N --user U --password P``: serve a seeded XAPI double."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from tests.xapi import XapiDouble


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.xapi", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--user", default="root")
    parser.add_argument("--password", default="xenroot")
    parser.add_argument("--memory-gib", type=int, default=64)
    parser.add_argument("--cpus", type=int, default=8)
    args = parser.parse_args(argv)
    double = XapiDouble(user=args.user, password=args.password, port=args.port,
                        cpus=args.cpus, memory=args.memory_gib * 1024**3)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"XAPI double listening on {double.url}", flush=True)
    try:
        double.server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        double.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
