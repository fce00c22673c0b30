"""One record per person: who they are and what they receive. The lobby keeps the same
record, so admitting a phone caller keeps G.711 and their output preferences."""

from __future__ import annotations

from dataclasses import dataclass

from vmedia.audio.streams import check_receiver_codec
from vmedia.errors import InvalidInputError

CONTENT_MODES = ("separate", "in_mix")  # presentation as a second stream, or in the composite
MAX_NAME_LENGTH = 256  # characters: labels are rendered from it
RESERVED_IDS = frozenset({"#content"})


@dataclass
class Member:
    id: str
    name: str
    role: str = "guest"  # host | guest | speaker | audience (rooms decide)
    audio_codec: str = "opus"  # what is decoded from them and what they receive
    profile: str | None = None  # output profile they receive (None: the room's first)
    content: str = "separate"  # how they receive a presentation
    waiting: bool = False  # in the lobby: receives the holding view only

    @classmethod
    def create(cls, pid, name=None, *, audio_codec: str = "opus", content: str | None = None, **fields) -> Member:
        """Checks every field once, before anything about the person is stored."""
        if not isinstance(pid, str) or not pid or len(pid) > MAX_NAME_LENGTH:
            raise InvalidInputError(f"participant id must be a non-empty string of at most {MAX_NAME_LENGTH} characters, got {pid!r:.80}")
        if pid in RESERVED_IDS:
            raise InvalidInputError(f"participant id {pid!r} is reserved")
        if name is None:
            name = pid
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            raise InvalidInputError(f"display name must be a string of at most {MAX_NAME_LENGTH} characters, got {type(name).__name__} of length {len(str(name))}")
        check_receiver_codec(audio_codec)
        # Phones take one stream: a presentation reaches them inside the composite.
        if content is None:
            content = "in_mix" if audio_codec in ("pcmu", "pcma") else "separate"
        if not isinstance(content, str) or content not in CONTENT_MODES:
            raise InvalidInputError(f"content must be one of {list(CONTENT_MODES)}, got {content!r}")
        return cls(pid, name or pid, audio_codec=audio_codec, content=content, **fields)
