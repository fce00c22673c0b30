"""The `vmedia` command. Each subcommand is one module of this package with
`add_parser(subparsers)` and `run(args) -> int`; adding one is a line in SUBCOMMANDS.

Exit codes (docs/outputs.md): 0 done; 1 the output could not be written; 2 bad usage or
input (a bad option value, a missing or unreadable input, an output that would overwrite
an input); 3 an internal error (a bug: run with -v for the traceback); 130 interrupted
by Ctrl-C, with the output finished and playable.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vmedia.cli.common import EXIT_BUG, EXIT_INTERRUPTED, EXIT_OUTPUT, EXIT_USAGE, CliError
from vmedia.errors import InvalidInputError, SinkError, VmediaError

SUBCOMMANDS = ("demo", "compose", "serve")

log = logging.getLogger("vmedia.cli")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vmedia")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmedia", description="vmedia: the media engine of a video-conferencing MCU")
    parser.add_argument("--version", action="version", version=f"vmedia {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"vmedia.cli.{name}")
        p = module.add_parser(sub)
        p.add_argument("-v", "--verbose", action="count", default=0, help="log what happens (-vv: debug)")
        p.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors exit 2 with argparse's one line
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.verbose:  # a failed recording ends the command with its own one-line error
        logging.getLogger("vmedia.sinks").setLevel(logging.CRITICAL)
    try:
        return args.func(args)
    except SinkError as e:
        return _fail(e, EXIT_OUTPUT)
    except (CliError, InvalidInputError, VmediaError) as e:
        return _fail(e, getattr(e, "exit_code", EXIT_USAGE))
    except KeyboardInterrupt:  # outside the media loops, which finish their file themselves
        print("vmedia: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - one line for the user, the traceback with -v
        log.info("internal error", exc_info=True)
        return _fail(f"internal error: {type(e).__name__}: {e} (run with -v for the traceback)", EXIT_BUG)


def _fail(message, code: int) -> int:
    print(f"vmedia: {message}".splitlines()[0], file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
