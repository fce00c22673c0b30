"""Views: what each receiver sees, as few distinct pictures as the rules allow.

A view is a layout on one output profile. Receivers with the same view share one compose
and one encode. The rules, as Pexip shows them:

- gallery: everyone sees everyone (one view); with self_view="exclude" each person sees
  everyone but themselves (one view per person: N composes and N encodes).
- speaker (1+7, 1+21, 2+21, 1+33): the main tiles show the latest speakers (the pinned
  participant first); a person who would be in a main tile sees the next speaker there
  instead, never themselves. So a 1+N room has two views per profile ("speaker" and
  "speaker-1"), 2+21 three, whatever the room's size.
- presentation in mix: while content is shared, receivers that take one stream see the
  content large with the latest speakers beside it (one view).
- lobby: everyone waiting shares one holding picture.

View keys are stable identities ("speaker@720p" stays the view of everyone but the
speaker while speakers change), so an encoder keeps its stream across speaker changes;
a receiver that moves to another view gets a keyframe there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from vmedia import layouts
from vmedia.codecs.video import OutputProfile
from vmedia.errors import InvalidInputError

CONTENT = "#content"  # the presentation's slot in a layout: not a participant
SELF_VIEW_RULES = ("include", "exclude")
LOBBY = "lobby"


class ViewPolicy:
    """The room's layout rule: 'gallery', 'speaker' (with a variant), a custom spec, or
    'presentation' with a participant as the content (the older single-stream form)."""

    def __init__(self, kind: str | Mapping = "gallery", *, variant: str = "1+7", content: str | None = None,
                 self_view: str = "include"):
        if self_view not in SELF_VIEW_RULES:
            raise InvalidInputError(f"self_view must be one of {list(SELF_VIEW_RULES)}, got {self_view!r}")
        self.self_view = self_view
        self.variant = variant
        self.content_participant = content
        if isinstance(kind, Mapping) or (isinstance(kind, str) and kind.lstrip().startswith("{")):
            layouts.custom(kind, ["a"], 64, 36)  # a broken spec is refused now, not at every tick
            self.kind = "custom"
            self._draw: Callable = lambda ids, mains, w, h: layouts.custom(kind, ids, w, h, speaker=mains[0] if mains else None)
            self._mains = 1
        elif kind == "gallery":
            self.kind = "gallery"
            self._draw = lambda ids, mains, w, h: layouts.gallery(ids, w, h)
            self._mains = 0
        elif kind == "speaker":
            if variant not in layouts.SPEAKER_VARIANTS:
                raise InvalidInputError(f"unknown speaker variant {variant!r}; choose one of {sorted(layouts.SPEAKER_VARIANTS)}")
            self.kind = "speaker"
            self._draw = lambda ids, mains, w, h: layouts.speaker(ids, [m for m in mains if m in ids], w, h, variant=variant)
            self._mains = layouts.SPEAKER_VARIANTS[variant][0]
        elif kind == "presentation":
            self.kind = "presentation"
            self._draw = lambda ids, mains, w, h: (
                layouts.presentation([content] + [p for p in ids if p != content], content, w, h)
                if content is not None and content in ids
                else layouts.speaker(ids, [m for m in mains if m in ids][:1], w, h)
            )
            self._mains = 1
        else:
            raise InvalidInputError(f"unknown layout {kind!r}; expected gallery, speaker, presentation or a custom spec")

    def assign(
        self,
        shown: Sequence[str],
        order: Sequence[str],
        receivers: Mapping[str, tuple[OutputProfile, bool, bool]],
        content_active: bool,
    ) -> tuple[dict[str, str], dict[str, tuple[str, OutputProfile, tuple[str, ...], tuple[str, ...]]]]:
        """(receiver -> view key, view key -> (rule, profile, participants, mains)).

        shown: participants in layouts, in join order; order: who deserves a main tile
        first (pinned, then the latest speakers); receivers: id -> (profile, waiting,
        takes presentation in the mix)."""
        base = [p for p in order if p in shown] + [p for p in shown if p not in order]
        view_of: dict[str, str] = {}
        specs: dict[str, tuple] = {}
        ids: tuple[str, ...]
        mains: tuple[str, ...]
        for pid, (profile, waiting, in_mix) in receivers.items():
            if waiting:
                rule, ids, mains = LOBBY, (), ()
            elif content_active and in_mix:
                rule, ids, mains = "presentation", tuple(base), ()
            else:
                rule, ids, mains = self._people_view(pid, shown, base)
            key = f"{rule}@{profile.name}"
            view_of[pid] = key
            specs.setdefault(key, (rule, profile, ids, mains))
        return view_of, specs

    def broadcast(self, shown: Sequence[str], order: Sequence[str], content_active: bool) -> tuple[str, tuple, tuple]:
        """The view an observer outside the room gets (recordings, RTMP): presentation in
        the mix while content is shared, else what the listeners see."""
        base = [p for p in order if p in shown] + [p for p in shown if p not in order]
        if content_active:
            return "presentation", tuple(base), ()
        return self._people_view(None, shown, base)

    def _people_view(self, pid: str | None, shown: Sequence[str], base: list[str]) -> tuple[str, tuple, tuple]:
        if self.self_view == "exclude" and pid in shown:
            others = tuple(p for p in shown if p != pid)
            return f"{self.kind}-minus:{pid}", others, tuple(p for p in base if p != pid)[: self._mains]
        top = base[: self._mains]
        if pid in top:  # would see themselves large: the next speaker takes their place
            rank = top.index(pid) + 1
            return f"{self.kind}-{rank}", tuple(shown), tuple(p for p in base if p != pid)[: self._mains]
        return self.kind, tuple(shown), tuple(top)

    def layout(self, rule: str, profile: OutputProfile, ids: tuple[str, ...], mains: tuple[str, ...]) -> layouts.Layout | None:
        if rule == LOBBY:
            return None
        if rule == "presentation":
            return layouts.presentation((CONTENT, *ids), CONTENT, profile.width, profile.height)
        return self._draw(list(ids), list(mains), profile.width, profile.height)
