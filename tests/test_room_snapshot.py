"""A room's control state survives a restart: snapshot, JSON, restore, and the members who
come back are let straight in as they were; nobody else is."""

import copy
import json
import os
import re
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manual_clock import ManualClock
from media_helpers import ColourSender
from vmedia import InvalidInputError, PermissionDenied, Room
from vmedia.media import synth
from vmedia.rooms.pins import PinLimits, PinRefused, ScryptCost

CHEAP = ScryptCost(n=2**10)  # production uses the default; the rules are the same
# Long PINs: four digits could turn up by chance in a hex digest or a timestamp.
HOST_PIN, GUEST_PIN = "4711471147", "0805120805"



def restored(snap, **kw):
    """Restore from the snapshot as it comes back from storage: through JSON."""
    return Room.restore(json.loads(json.dumps(snap)), compose_threads=1, **kw)


def tokens_of(room):
    """Each member's rejoin token, as its client keeps it from the answer to its offer."""
    return {pid: room.rejoin_token(pid) for pid in room.participants}


def without_times(snap):
    """The snapshot less what changes with the clock."""
    s = copy.deepcopy(snap)
    del s["taken_at"]
    if s["pins"]:
        for k in ("room_locked_for_s", "room_failures_ago_s", "callers_locked_for_s"):
            del s["pins"][k]
    return s


def consultation(clock=None, audit=None):
    """A locked sensitive room with PINs: a host, a muted phone caller, a guest, one waiting."""
    room = Room("sensitive", name="Poliklinikk 3", host_pin=HOST_PIN, guest_pin=GUEST_PIN, pin_cost=CHEAP,
                pin_clock=clock or ManualClock(), audit=audit, compose_threads=1)
    room.join("doc", "Dr. Berg", pin=HOST_PIN)
    room.join("phone", "Phone caller", pin=GUEST_PIN, audio_codec="pcmu")
    room.join("pat", "Patient", pin=GUEST_PIN)
    room.admit("doc", "phone")
    room.admit("doc", "pat")
    room.join("late", "Late guest", pin=GUEST_PIN)  # still in the lobby at the failover
    room.mute("doc", "phone")
    room.set_gain("doc", "pat", 1.5)
    room.pin("doc", "pat")
    room.lock("doc")
    return room


def talk(room, talkers, seconds, start=0.0):
    """Everyone in `talkers` speaks throughout; returns the tick outputs."""
    frames = {pid: synth.frames_of(synth.speech(seconds + 0.1, 100 + 30 * i, -20, seed=i))
              for i, pid in enumerate(talkers)}
    outs = []
    for k in range(int(round(seconds / 0.02))):
        t = start + k * 0.02
        for pid, f in frames.items():
            room.push_audio(pid, f[k], t)
        outs.append(room.tick(t + 0.02, video=False))
    return outs


def mixed_in(outs):
    return {m for o in outs for mix in o.mixes for m in mix.minus}


def test_a_snapshot_is_json_and_round_trips():
    room = consultation()
    snap = room.snapshot()
    assert json.loads(json.dumps(snap)) == snap  # plain JSON types only: nothing is lost on the way
    assert snap["version"] == 1 and snap["locked"] and snap["spotlight"] == "pat" and snap["lobby"] == ["late"]
    back = restored(snap)
    assert back.expected == ["doc", "phone", "pat"] and back.participants == [] and back.locked
    assert without_times(back.snapshot()) == {**without_times(snap), "lobby": []}  # the lobby is not carried
    direct = Room.restore(snap, compose_threads=1)  # as Ray hands it over: pickled, not through JSON
    assert without_times(direct.snapshot()) == without_times(back.snapshot())
    room.close(), back.close(), direct.close()


@st.composite
def rosters(draw):
    kind = draw(st.sampled_from(["administrative", "personal", "sensitive", "auditorium"]))
    n = draw(st.integers(1, 6))
    people = [dict(role=draw(st.sampled_from(["host", "guest"])), codec=draw(st.sampled_from(["opus", "pcmu", "pcma"])),
                   muted=draw(st.booleans()), gain=draw(st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0])),
                   stage=draw(st.booleans()), waits=draw(st.booleans())) for _ in range(n)]
    return kind, people, draw(st.booleans()), draw(st.booleans()), draw(st.integers(0, n))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rosters())
def test_random_rooms_round_trip_and_everyone_gets_back_as_they_were(roster):
    kind, people, lock, mute_all, spotlight = roster
    room = Room(kind, compose_threads=1)
    room.join("h", "Host", role="host")
    ids = ["h"]
    for i, p in enumerate(people):
        pid = f"p{i}"
        if room.join(pid, f"Person {i}", role=p["role"], audio_codec=p["codec"]) == "waiting" and not p["waits"]:
            room.admit("h", pid)
        if pid in room.participants:
            ids.append(pid)
            if kind == "auditorium" and p["stage"] != (p["role"] == "host"):  # a host may step off stage too
                room.set_stage("h", pid, p["stage"])
            if p["muted"]:
                room.mute(pid, pid)
            room.set_gain("h", pid, p["gain"])
    if mute_all:
        room.mute_all("h")
    if lock:
        room.lock("h")
    if spotlight < len(ids):
        room.pin("h", ids[spotlight])
    tokens = tokens_of(room)
    snap = room.snapshot()
    back = restored(snap)
    assert without_times(back.snapshot()) == {**without_times(snap), "lobby": []}
    for pid in reversed(ids):  # in another order than they came
        assert back.join(pid, rejoin_token=tokens[pid]) == "admitted"
    assert back.expected == [] and back.lobby == {}
    again = without_times(back.snapshot())
    before = without_times(snap)
    assert sorted(again.pop("members"), key=str) == sorted(before.pop("members"), key=str)
    assert again.pop("lobby") == [] and before.pop("lobby") == list(room.lobby)  # the lobby must knock again
    assert again == before
    for pid in ids:  # the state is in the mixer too, not only in the bookkeeping
        assert back.mixer.is_visible(pid) == room.mixer.is_visible(pid)
        assert back.member(pid).audio_codec == room.member(pid).audio_codec
    assert back.mixer.pinned == room.mixer.pinned
    room.close(), back.close()


def test_pins_survive_a_restore_as_hashes_only():
    room = consultation()
    snap = room.snapshot()
    text = json.dumps(snap)
    assert HOST_PIN not in text and GUEST_PIN not in text
    back = restored(snap)
    with pytest.raises(PinRefused) as e:
        back.join("intruder", pin="1234567890")
    assert e.value.reason == "wrong_pin"
    assert back.join("cohost", "Dr. Lund", pin=HOST_PIN) == "admitted"  # a host may join a locked room
    assert back.role_of("cohost") == "host"
    assert HOST_PIN not in json.dumps(back.snapshot())
    room.close(), back.close()


def test_an_expected_member_gets_back_into_a_locked_pin_room_as_it_was():
    records = []
    room = consultation()
    tokens = tokens_of(room)
    back = restored(room.snapshot(), audit=records.append)
    # The server re-offers for each client as RoomPeer does: a role, a codec, its token, no PIN.
    assert back.join("doc", "Dr. Berg", role="guest", rejoin_token=tokens["doc"]) == "admitted"
    assert back.join("phone", "Phone caller", role="guest", rejoin_token=tokens["phone"]) == "admitted"  # G.711 kept
    assert back.join("pat", "Patient", role="guest", audio_codec="opus", rejoin_token=tokens["pat"]) == "admitted"
    assert back.role_of("doc") == "host" and back.role_of("phone") == back.role_of("pat") == "guest"
    assert back.is_muted("phone") and not back.is_muted("pat") and back.mixer.pinned == "pat"
    assert back.member("phone").audio_codec == "pcmu" and back.member("phone").content == "in_mix"
    outs = talk(back, ["phone", "pat", "doc"], 1.0)
    assert mixed_in(outs) >= {"pat", "doc"} and "phone" not in mixed_in(outs)  # still muted: nobody hears the phone
    phone_packets = [p for o in outs for p in o.audio_for("phone")]
    assert len(phone_packets) == 50 and {len(bytes(p)) for p in phone_packets} == {160}  # 20 ms of 8 kHz G.711
    assert back.participants == ["doc", "phone", "pat"]
    rejoined = [r for r in records if r.action == "join" and "rejoined after failover" in r.detail]
    assert [r.target for r in rejoined] == ["doc", "phone", "pat"]
    assert "as host" in rejoined[0].detail
    room.close(), back.close()


def test_strangers_and_the_lobby_go_the_normal_way_after_a_restore():
    records = []
    room = consultation()
    tokens = tokens_of(room)
    back = restored(room.snapshot(), audit=records.append)
    assert "late" in room.lobby and "late" not in back.expected
    with pytest.raises(PinRefused, match="needs a PIN"):
        back.join("stranger")
    with pytest.raises(PermissionDenied, match="locked"):
        back.join("late", "Late guest", pin=GUEST_PIN)  # waiting is not admitted: the room is locked
    back.join("doc", rejoin_token=tokens["doc"])
    back.lock("doc", False)
    assert back.join("late", "Late guest", pin=GUEST_PIN) == "waiting"  # knocks again
    assert back.join("stranger", pin=GUEST_PIN) == "waiting"
    lost = [r for r in records if r.action == "leave" and r.target == "late"]
    assert len(lost) == 1 and "knock again" in lost[0].detail
    room.close(), back.close()


def test_the_restore_is_audited_and_announced():
    records, events = [], []
    room = consultation()
    back = restored(room.snapshot(), audit=records.append, on_event=events.append)
    first = records[0]
    assert (first.action, first.outcome, first.actor) == ("restored", "ok", None)
    assert "version 1" in first.detail and "3 members expected back within 120 s" in first.detail
    assert [e.kind for e in events] == ["restored"]
    room.close(), back.close()


def test_the_rejoin_window_closes():
    clock, records = ManualClock(), []
    room = consultation()
    tokens = tokens_of(room)
    back = restored(room.snapshot(), pin_clock=clock, rejoin_window=30, audit=records.append)
    clock.t += 29
    assert back.join("doc", rejoin_token=tokens["doc"]) == "admitted"
    back.lock("doc", False)
    clock.t += 1
    back.tick(0.02)  # ticking is enough to close it
    assert back.expected == []
    expired = [e.participant for e in back.events if e.kind == "rejoin_expired"]
    assert expired == ["phone", "pat"]
    assert [r.target for r in records if r.action == "leave" and "did not rejoin" in r.detail] == ["phone", "pat"]
    assert back.join("pat", "Patient", pin=GUEST_PIN) == "waiting"  # a new guest now, in the lobby
    assert "pat" not in [m["id"] for m in back.snapshot()["members"]]
    room.close(), back.close()


def test_who_hung_up_within_the_window_is_let_back_by_a_restore():
    # A failing process drops its callers' connections before it dies: they "leave" just
    # before the last snapshot, and must still get back into the locked room that comes back.
    clock = ManualClock()
    room = consultation(clock)
    tokens = tokens_of(room)
    room.leave("pat")
    clock.t += 100
    room.leave("phone")
    clock.t += 30  # pat hung up 130 s ago (past the 120 s window), the phone 30 s ago
    members = {m["id"]: m for m in room.snapshot()["members"]}
    assert sorted(members) == ["doc", "phone"] and members["phone"]["muted"]
    back = restored(room.snapshot())
    assert back.join("phone", rejoin_token=tokens["phone"]) == "admitted" and back.is_muted("phone")
    with pytest.raises(PermissionDenied):
        back.join("pat", pin=GUEST_PIN)  # locked: a guest past the window stays out
    # Hung up and came back before any failover: counted once, as present.
    again = consultation()
    again.leave("pat")
    again.lock("doc", False)
    again.join("pat", "Patient", pin=GUEST_PIN)
    assert [m["id"] for m in again.snapshot()["members"]].count("pat") == 0  # in the lobby now, not a member
    # Removed by a host: not let back.
    removed = consultation()
    removed.remove("doc", "pat")
    assert "pat" not in [m["id"] for m in removed.snapshot()["members"]]
    for r in (room, back, again, removed):
        r.close()


def test_only_the_holder_of_a_rejoin_token_takes_its_seat_back():
    records = []
    room = consultation()
    tokens = tokens_of(room)
    assert len(set(tokens.values())) == 3 and all(len(t) >= 32 for t in tokens.values())
    snap = room.snapshot()
    assert not any(t in json.dumps(snap) for t in tokens.values())  # only their hashes are stored
    back = restored(snap, audit=records.append)
    # Someone who knows the doctor's id (and the guest PIN) but not its token: refused, the
    # seat kept for the doctor, each attempt audited.
    for wrong in (None, "", tokens["pat"], tokens["doc"][:-1] + "x", "x" * 10_000):
        with pytest.raises(PermissionDenied, match="rejoin token"):
            back.join("doc", "Dr. Berg", pin=GUEST_PIN, rejoin_token=wrong)
    assert "doc" in back.expected and back.participants == []
    assert sum(r.action == "join" and r.outcome == "denied" and r.target == "doc" for r in records) == 5
    assert back.join("doc", rejoin_token=tokens["doc"]) == "admitted" and back.role_of("doc") == "host"
    assert back.rejoin_token("doc") == tokens["doc"]  # the same secret is good for the next failover
    again = restored(back.snapshot())
    assert again.join("doc", rejoin_token=tokens["doc"]) == "admitted"
    with pytest.raises(InvalidInputError, match="not in the room"):
        back.rejoin_token("nobody")
    # The token also proves who sends a control request (a server's clients name themselves).
    back.authenticate("doc", tokens["doc"], "lock")
    for who, wrong in (("doc", tokens["pat"]), ("doc", None), ("nobody", tokens["doc"]), (None, "x")):
        with pytest.raises(PermissionDenied, match="does not hold"):
            back.authenticate(who, wrong, "lock")
    assert [r.outcome for r in records if r.action == "authenticate"] == ["denied"] * 4
    room.close(), back.close(), again.close()


def test_a_dropped_call_gets_back_into_a_locked_room_with_its_token_within_the_window():
    clock, records = ManualClock(), []
    room = Room("sensitive", host_pin=HOST_PIN, guest_pin=GUEST_PIN, pin_cost=CHEAP, pin_clock=clock,
                audit=records.append, compose_threads=1)
    room.join("doc", "Dr. Berg", pin=HOST_PIN)
    room.join("pat", "Patient", pin=GUEST_PIN)
    room.admit("doc", "pat")
    room.mute("doc", "pat")
    room.lock("doc")
    token = room.rejoin_token("pat")
    room.leave("pat")  # the patient's Wi-Fi blinks
    clock.t += 30
    with pytest.raises(PermissionDenied, match="locked"):
        room.join("pat", "Patient", pin=GUEST_PIN, rejoin_token="forged")  # a wrong token: the normal way
    assert room.join("pat", "Patient", rejoin_token=token) == "admitted"  # no PIN, no lobby, still locked
    assert room.is_muted("pat") and room.role_of("pat") == "guest"
    assert "rejoined after a dropped call" in records[-1].detail
    room.leave("pat")
    clock.t += 121  # past the window: the token no longer opens the door
    with pytest.raises(PermissionDenied, match="locked"):
        room.join("pat", "Patient", pin=GUEST_PIN, rejoin_token=token)
    room.close()


def test_a_host_can_keep_an_expected_member_out_and_move_the_spotlight():
    room = consultation()
    tokens = tokens_of(room)
    back = restored(room.snapshot())
    back.join("doc", rejoin_token=tokens["doc"])
    back.remove("doc", "phone")
    assert back.expected == ["pat"]
    with pytest.raises(PermissionDenied, match="locked"):
        back.join("phone", pin=GUEST_PIN)
    back.pin("doc", None)  # the host's newer choice stands when the old spotlight comes back
    back.join("pat", rejoin_token=tokens["pat"])
    assert back.mixer.pinned is None
    room.close(), back.close()


def test_a_room_wide_pin_lockout_survives_a_restart():
    clock = ManualClock()
    room = Room("administrative", host_pin=HOST_PIN, pin_cost=CHEAP, pin_clock=clock, compose_threads=1,
                pin_limits=PinLimits(room_attempts=3, lockout_s=60))
    for i in range(3):
        with pytest.raises(PinRefused):
            room.join(f"guess{i}", pin="1111111111")
    clock.t += 10
    back = restored(room.snapshot(), pin_clock=clock)
    with pytest.raises(PinRefused) as e:
        back.join("doc", pin=HOST_PIN)  # not even the right PIN is checked while locked
    assert e.value.reason == "locked_out" and e.value.retry_after_s == pytest.approx(50)
    clock.t += 50
    assert back.join("doc", pin=HOST_PIN) == "admitted"
    room.close(), back.close()


def test_what_a_restart_ends_is_reported(tmp_path):
    records = []
    room = Room("administrative", compose_threads=1)
    room.join("h", role="host")
    room.start_recording("h", tmp_path / "r.mp4")
    room.start_presentation("h")
    snap = room.snapshot()
    assert snap["interrupted"] == ["recording", "presentation"] and str(tmp_path) not in json.dumps(snap)
    back = restored(snap, audit=records.append)
    assert {e.kind for e in back.events} == {"restored", "recording_failed", "presentation_stopped"}
    stop = [r for r in records if r.action == "recording_stop"]
    assert stop[0].outcome == "failed" and "failover" in stop[0].detail
    assert back.indicators == []  # no REC badge on a room that is not recording
    room.close(), back.close()


def test_the_audit_file_follows_the_snapshot(tmp_path):
    path = tmp_path / "audit.jsonl"
    room = Room("personal", audit=path, compose_threads=1)
    room.join("h", role="host")
    token = room.rejoin_token("h")
    snap = room.snapshot()
    assert snap["audit"] == str(path)
    room.close()
    back = restored(snap)
    back.join("h", rejoin_token=token)
    back.close()
    actions = [json.loads(line)["action"] for line in path.read_text().splitlines()]
    assert actions == ["join", "restored", "join"]


def test_a_restored_room_ticks_and_shows_who_came_back():
    room = Room("personal", layout="gallery", compose_threads=1)
    room.join("a", role="host")
    room.join("b")
    tokens = tokens_of(room)
    back = restored(room.snapshot())
    back.join("a", rejoin_token=tokens["a"])
    back.join("b", rejoin_token=tokens["b"])
    cams = {"a": ColourSender((200, 128, 128)), "b": ColourSender((60, 128, 128))}
    outs = []
    for i in range(8):
        t = i / 15
        for pid, cam in cams.items():
            for p in cam.video_packets():
                back.push_video(pid, p, t)
        outs.append(back.tick(t))
    assert sum(len(o.video_for("a")) for o in outs) >= 7 and sum(len(o.audio_for("b")) for o in outs) >= 20
    picture = outs[-1].composites["720p"].y
    for slot in back.mixer.layout().slots:
        r = slot.rect
        want = 200 if slot.participant == "a" else 60
        assert int(np.median(picture[r.y + r.h // 4 : r.y + 3 * r.h // 4, r.x + r.w // 4 : r.x + 3 * r.w // 4])) \
            == pytest.approx(want, abs=6)
    room.close(), back.close()


def _base():
    room = consultation()
    snap = json.loads(json.dumps(room.snapshot()))
    room.close()
    return snap


def _set(path, value):
    def change(s):
        *where, last = path
        for k in where:
            s = s[k]
        if value is KeyError:
            del s[last]
        else:
            s[last] = value
    return change


MALFORMED = [
    ("not a dict", lambda s: ["a", "list"], "snapshot must be an object"),
    ("a newer version", _set(["version"], 2), "snapshot.version"),
    ("version as text", _set(["version"], "1"), "snapshot.version must be int"),
    ("no members", _set(["members"], KeyError), "snapshot.members is missing"),
    ("members not a list", _set(["members"], {"doc": {}}), "snapshot.members must be list"),
    ("an unknown field", _set(["extra"], 1), "snapshot: unknown fields ['extra']"),
    ("a member that is not an object", _set(["members", 0], "doc"), "snapshot.members[0] must be an object"),
    ("a role that does not exist", _set(["members", 1, "role"], "boss"), "snapshot.members[1].role"),
    ("an audience in a room without a stage", _set(["members", 1, "role"], "audience"), "snapshot.members[1].role"),
    ("a name too long", _set(["members", 0, "name"], "x" * 300), "snapshot.members[0]: display name"),
    ("an unknown codec", _set(["members", 0, "audio_codec"], "mp3"), "snapshot.members[0]: unknown audio codec"),
    ("muted as text", _set(["members", 0, "muted"], "yes"), "snapshot.members[0].muted must be bool"),
    ("a gain too loud", _set(["members", 0, "gain"], 9.0), "snapshot.members[0].gain"),
    ("a gain that is NaN", _set(["members", 0, "gain"], float("nan")), "snapshot.members[0].gain"),
    ("an unknown profile", _set(["members", 0, "profile"], "4k"), "snapshot.members[0].profile"),
    ("off stage without a stage", _set(["members", 1, "on_stage"], False), "snapshot.members[1].on_stage"),
    ("an audit log that cannot be opened", _set(["audit"], "/" + "a" * 300), "snapshot.audit: cannot open audit log"),
    ("a rejoin hash that is not hex", _set(["members", 0, "rejoin_hash"], "z" * 64), "snapshot.members[0].rejoin_hash"),
    ("a rejoin hash too short", _set(["members", 0, "rejoin_hash"], "ab" * 8), "snapshot.members[0].rejoin_hash"),
    ("the same id twice", lambda s: s["members"].append(dict(s["members"][0])), "snapshot.members[3].id"),
    ("more members than the room holds",
     lambda s: s["members"].extend(dict(s["members"][1], id=f"g{i}") for i in range(30)), "snapshot.members: 33 members"),
    ("a policy that does not validate", _set(["policy", "max_participants"], 0), "snapshot.policy"),
    ("a policy with an unknown key", _set(["policy", "vip"], True), "snapshot.policy"),
    ("an unknown layout", _set(["layout", "layout"], "mosaic"), "snapshot.layout"),
    ("1080p where the type has none", lambda s: s.update(hd1080=True, policy=dict(s["policy"], allow_1080p=False)),
     "snapshot.hd1080"),
    ("a spotlight on nobody", _set(["spotlight"], "ghost"), "snapshot.spotlight"),
    ("a lobby guest who is also a member", _set(["lobby"], ["doc"]), "snapshot.lobby"),
    ("a lobby id that is not text", _set(["lobby"], [7]), "snapshot.lobby[0]"),
    ("a digest that is not hex", _set(["pins", "hashes", 0, "digest"], "zz"), "snapshot.pins.hashes[0].digest"),
    ("a short digest", _set(["pins", "hashes", 0, "digest"], "00" * 8), "snapshot.pins.hashes[0].digest"),
    ("a guest PIN without a host PIN", lambda s: s["pins"]["hashes"].pop(0) and None, "snapshot.pins.hashes"),
    ("a scrypt cost that asks for gigabytes", _set(["pins", "scrypt", "n"], 2**30), "snapshot.pins.scrypt"),
    ("a scrypt cost that is not a power of two", _set(["pins", "scrypt", "n"], 3000), "snapshot.pins.scrypt"),
    ("limits with an unknown key", _set(["pins", "limits", "tries"], 3), "snapshot.pins.limits"),
    ("limits that do not validate", _set(["pins", "limits", "lockout_s"], -1), "snapshot.pins.limits"),
    ("a lockout longer than the limits allow", _set(["pins", "room_locked_for_s"], 1e9), "snapshot.pins.room_locked_for_s"),
    ("too many remembered wrong PINs", _set(["pins", "room_failures_ago_s"], [1.0] * 21), "snapshot.pins.room_failures_ago_s"),
    ("a caller lockout that is not a number", _set(["pins", "callers_locked_for_s"], {"x": "long"}),
     "snapshot.pins.callers_locked_for_s"),
    ("a time that is not finite", _set(["taken_at"], float("inf")), "snapshot.taken_at"),
    ("an audit path that is not text", _set(["audit"], 5), "snapshot.audit must be str or null"),
    ("something unknown interrupted", _set(["interrupted"], ["coffee"]), "snapshot.interrupted"),
]


@pytest.mark.parametrize("change, field", [(c, f) for _, c, f in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_a_malformed_snapshot_is_refused_naming_the_field(change, field):
    snap = _base()
    snap = change(snap) or snap
    with pytest.raises(InvalidInputError, match=re.escape(field)):
        Room.restore(snap, compose_threads=1)


def test_restore_takes_hosting_options_only():
    snap = _base()
    with pytest.raises(InvalidInputError, match="come from the snapshot"):
        Room.restore(snap, host_pin="1234")
    with pytest.raises(InvalidInputError, match="rejoin_window"):
        Room.restore(snap, rejoin_window=-1)


def _paths(o, p=()):
    yield p
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _paths(v, p + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _paths(v, p + (i,))


_BASE = _base()
_ODD = [None, True, 0, -1, 2**70, 1.5, float("nan"), float("inf"), "", "host", "a" * 300, [], ["doc"], {}, {"a": 1},
        "00" * 32, KeyError]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([p for p in _paths(_BASE) if p]), st.sampled_from(_ODD)), min_size=1, max_size=3))
def test_a_damaged_snapshot_is_refused_or_restored_never_crashes(damage):
    snap = copy.deepcopy(_BASE)
    for path, value in damage:
        try:
            _set(list(path), value)(snap)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed or replaced the parent
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:  # a damaged "audit" may name a file: write it there
        os.chdir(scratch)
        try:
            Room.restore(snap, compose_threads=1).close()
        except InvalidInputError as e:
            assert str(e).startswith("snapshot")
        finally:
            os.chdir(here)
