"""atheris entry point for the room push-path fuzz target (tests/fuzz/room_targets.py).

    python tests/fuzz/fuzz_room.py room_push [libFuzzer flags] [CORPUS_DIR ...]

libFuzzer writes new inputs into the first corpus directory: give it a scratch one before
the checked-in seeds, e.g.

    mkdir -p /tmp/corpus-room
    python tests/fuzz/fuzz_room.py room_push -max_total_time=600 /tmp/corpus-room tests/fuzz/corpus/room_push

vmedia's Python (the push path: inputs, codecs, engine) is instrumented for coverage; see
docs/reliability.md for a sanitizer build of _core underneath.
"""

import logging
import os
import sys

import atheris
import av  # noqa: F401  (imported before instrumentation: not worth tracing)
import numpy  # noqa: F401

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["room_targets", "hostile_media", "vmedia"]):
    import room_targets  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in room_targets.TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(room_targets.TARGETS)}}} [libFuzzer flags] [corpus dirs]")
    target = room_targets.TARGETS[sys.argv.pop(1)]
    logging.disable(logging.WARNING)  # the attacker's stream errors, once per input: noise here
    room_targets.reference()  # the run without the attacker, once, before fuzzing
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
