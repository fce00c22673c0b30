"""atheris entry point for the core's fuzz targets (tests/fuzz/core_targets.py).

    python tests/fuzz/fuzz_core.py TARGET [libFuzzer flags] [CORPUS_DIR ...]

TARGET is compose, scale_plane or audio. libFuzzer writes new inputs into the first
corpus directory: give it a scratch one before the checked-in seeds, e.g.

    mkdir -p /tmp/corpus-compose
    python tests/fuzz/fuzz_core.py compose -max_total_time=600 /tmp/corpus-compose tests/fuzz/corpus/compose

See docs/reliability.md for sanitizer and coverage builds of _core.
"""

import os
import sys

import atheris
import numpy  # noqa: F401  (imported before instrumentation: not worth tracing)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vmedia import _core  # noqa: E402,F401

with atheris.instrument_imports(include=["core_targets"]):
    import core_targets  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in core_targets.TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(core_targets.TARGETS)}}} [libFuzzer flags] [corpus dirs]")
    target = core_targets.TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
