"""`python -m skyflock.manager [--data-dir D] [--config FILE] [--port P] [--host H]`.

The server without the CLI package: the same `serve` the `skyflock server`
command calls. A config mistake prints one message and exits 1.
"""

from __future__ import annotations

import argparse
import sys

from skyflock.core.config import ConfigError
from skyflock.manager.server import serve
from skyflock.manager.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m skyflock.manager")
    parser.add_argument("--data-dir")
    parser.add_argument("--config")
    parser.add_argument("--port", type=int)
    parser.add_argument("--host")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(
            data_dir=args.data_dir, config=args.config, port=args.port, host=args.host
        )
    except ConfigError as exc:
        print(f"skyflock server: {exc}", file=sys.stderr)
        return 1
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
