"""`segwarehouse keygen`: a new secret key for the published pseudonyms."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_keygen(commands: argparse._SubParsersAction) -> None:
    from segwarehouse.settings import PSEUDONYM_KEY_ENV

    command = commands.add_parser(
        "keygen",
        help="write a new secret key for the published pseudonyms (HMAC)",
        description="Write 32 random bytes as hex to PATH (mode 0600; an existing file is "
        f"never overwritten). Point {PSEUDONYM_KEY_ENV} at it. Keep it outside the repository "
        "and backed up: a new key changes every published pseudonym (docs/privacy.md).",
        epilog="Example:\n  segwarehouse keygen ~/.config/segwarehouse/pseudonym.key\n"
        f"  export {PSEUDONYM_KEY_ENV}=~/.config/segwarehouse/pseudonym.key",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("path", type=Path, help="the key file to create")
    command.set_defaults(handler=_keygen)


def _keygen(args: argparse.Namespace) -> int:
    from segwarehouse.settings import PSEUDONYM_KEY_ENV, write_pseudonym_key

    path = args.path.expanduser().resolve()
    try:
        write_pseudonym_key(path)
    except FileExistsError:
        print(f"segwarehouse keygen: {path} exists; not overwritten", file=sys.stderr)
        return 2
    print(f"wrote a new pseudonym key to {path}; now: export {PSEUDONYM_KEY_ENV}={path}")
    return 0
