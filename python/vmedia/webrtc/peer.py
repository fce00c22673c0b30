"""One aiortc RTCPeerConnection attached to one participant of a live room.

    driver = LiveDriver(room).start()
    peer = RoomPeer(driver, RTCPeerConnection(), "pat", "Patient")
    answer = await peer.answer(RTCSessionDescription(sdp=offer_sdp, type="offer"))

Threads: aiortc and every RoomPeer method run on the event loop. The live driver's thread
calls `_feed` (incoming frames due -> room) and `_on_output` (the tick's packets ->
call_soon_threadsafe -> the outgoing tracks). Room membership changes go through
`driver.run()`, between ticks.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription

from vmedia.engine.events import Event, EventKind
from vmedia.engine.output import TickOutput
from vmedia.errors import InvalidInputError, VmediaError
from vmedia.hosting.live import LiveDriver
from vmedia.webrtc import aiortc_internals
from vmedia.webrtc.playout import PlayoutBuffer, SyncGroup
from vmedia.webrtc.tracks import ViewAudioTrack, ViewVideoTrack

log = logging.getLogger("vmedia.webrtc")

AUDIO_CODECS = {"audio/opus": "opus", "audio/pcmu": "pcmu", "audio/pcma": "pcma"}  # SDP name -> vmedia's
WATCH_INTERVAL = 0.25  # seconds between checks of the connect and media deadlines


def h264_preferences() -> list:
    """aiortc's H.264 codecs (Constrained Baseline first) and RTX: vmedia sends and takes
    nothing else. Its encoder emits Constrained Baseline, which every profile the peer may
    pick (42e01f, 42001f, Main, High) decodes."""
    caps = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in caps if c.mimeType.lower() == "video/h264"]
    h264.sort(key=lambda c: str(c.parameters.get("profile-level-id", "")).lower() != "42e01f")
    return h264 + [c for c in caps if c.mimeType.lower() == "video/rtx"]


def audio_preferences() -> list:
    """Opus, then G.711 u-law and A-law: the codecs a vmedia room mixes for."""
    caps = RTCRtpSender.getCapabilities("audio").codecs
    return sorted((c for c in caps if c.mimeType.lower() in AUDIO_CODECS), key=lambda c: list(AUDIO_CODECS).index(c.mimeType.lower()))


def _sdp_codecs(sdp: str, kind: str) -> list[str]:
    """The codec names of the first m-line of `kind` in an SDP, in order ([] if none)."""
    for media in SessionDescription.parse(sdp).media:
        if media.kind == kind and media.port != 0:
            return [c.mimeType.split("/")[1] for c in media.rtp.codecs]
    return []


class RoomPeer:
    """Feeds a peer's tracks into the room on the room's clock and sends it its view.

    `audio_delay`/`video_delay`: playout delay per incoming track (seconds; video defaults
    to the audio delay, which keeps one sender's audio and video in step).
    `role`/`pin`/`rejoin_token`: how it joins (Room.join). `connect_timeout`: leave if the connection is
    not up by then. `media_timeout`: once media has flowed, a peer silent on every track
    for this long has vanished: leave.
    `on_close(peer)` runs once the peer has left and its connection is closed.
    Events (on the driver's subscribers): "peer_closed" (detail: why), "no_media".
    """

    def __init__(self, driver: LiveDriver, pc: RTCPeerConnection, pid: str, name: str | None = None, *,
                 role: str | None = None, pin: str | None = None, rejoin_token: str | None = None, audio_delay: float = 0.040, video_delay: float | None = None,
                 connect_timeout: float = 15.0, media_timeout: float = 10.0,
                 on_close: Callable[[RoomPeer], None] | None = None):
        self.driver = driver
        self.room = driver.engine
        self.pc = pc
        self.pid = pid
        self.name = name or pid
        self.role = role  # None: the room decides (a guest, or what the PIN grants)
        self._pin = pin
        self.rejoin_token = rejoin_token  # shown to get back in after a failover; then the room's, for the answer
        sync = SyncGroup()  # this sender's audio and video wait together
        self.audio = PlayoutBuffer(audio_delay, group=sync)
        self.video = PlayoutBuffer(audio_delay if video_delay is None else video_delay, group=sync)
        self.connect_timeout = connect_timeout
        self.media_timeout = media_timeout
        self._on_close = on_close
        self.audio_codec: str | None = None  # negotiated: "opus", "pcmu", "pcma"; None: no audio
        self.status: str | None = None  # "admitted" / "waiting" once joined
        self.closed = asyncio.Event()
        self.close_reason = ""
        self.video_out = ViewVideoTrack(on_gap=self._request_keyframe)
        self.audio_out = ViewAudioTrack()
        self._loop = asyncio.get_running_loop()
        self._video_receiver: RTCRtpReceiver | None = None
        self._incoming: dict[str, MediaStreamTrack] = {}  # kind -> the peer's track
        self.keyframes_requested = 0  # PLI/FIR from the peer (and send-queue overflows)
        self.plis_sent = 0  # PLIs sent to the peer for vmedia's keyframe_needed
        self.refused = 0  # incoming frames the room refused at push
        self._tasks: set[asyncio.Task] = set()
        self._last_media = math.nan  # media time of the last frame from the peer
        self._joined = False
        self._closing = False
        self._sending_audio = False
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_connection_state)

    # --- negotiation ----------------------------------------------------------------------
    async def answer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Take the peer's offer, join the room, return the answer. A peer that offers no
        H.264 video, or no media at all, gets InvalidInputError (and is closed)."""
        try:
            offered = {kind: _sdp_codecs(offer.sdp, kind) for kind in ("video", "audio")}
        except (ValueError, IndexError, KeyError, AttributeError, TypeError) as e:  # aiortc's parser on garbage
            await self._fail(f"the offer's SDP does not parse ({type(e).__name__}: {str(e)[:100]})")
        if not offered["video"] and not offered["audio"]:
            await self._fail("the offer has no audio or video")
        video_codecs = [c for c in offered["video"] if c.lower() != "rtx"]
        if video_codecs and "h264" not in {c.lower() for c in video_codecs}:
            await self._fail(f"the offer's video is {'/'.join(video_codecs)}; vmedia sends and receives H.264 only")
        # Our transceivers, with our codec preferences, for the kinds offered: aiortc pairs
        # them with the offer's sections instead of making its own.
        video = audio = None
        if offered["video"]:
            video = self.pc.addTransceiver(self.video_out, direction="sendrecv")
            video.setCodecPreferences(h264_preferences())
        if offered["audio"]:
            audio = self.pc.addTransceiver(self.audio_out, direction="sendrecv")
            audio.setCodecPreferences(audio_preferences())
        try:
            await self.pc.setRemoteDescription(offer)
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except (OperationError, InvalidStateError, ValueError) as e:
            await self._fail(f"negotiation failed: {e}")
        answered = _sdp_codecs(self.pc.localDescription.sdp, "audio")
        self.audio_codec = AUDIO_CODECS.get(f"audio/{answered[0].lower()}") if answered else None
        if offered["audio"] and self.audio_codec is None:
            await self._fail(f"the offer's audio is {'/'.join(offered['audio'])}; vmedia takes Opus, PCMU or PCMA")
        self._sending_audio = self.audio_codec is not None
        if video is not None and video.mid is not None:
            aiortc_internals.on_keyframe_request(video.sender, self._request_keyframe)
            self._video_receiver = video.receiver
        try:
            self.status = await self.driver.run(self._join)
        except Exception as e:
            await self._fail(f"could not join: {e}", error=e)
        self._joined = True
        self.driver.add_feed(self._feed)
        self.driver.add_output(self._on_output)
        self.driver.subscribe(self._on_event, self._loop)
        self._spawn(self._watch())
        return self.pc.localDescription

    def _join(self) -> str:
        """Between two ticks: join, and take the rejoin token the client keeps."""
        status = self.room.join(self.pid, self.name, role=self.role, pin=self._pin, audio_codec=self.audio_codec or "opus",
                                rejoin_token=self.rejoin_token)
        self.rejoin_token = self.room.rejoin_token(self.pid)
        return status

    async def _fail(self, reason: str, error: Exception | None = None):
        await self.close(reason)
        if isinstance(error, InvalidInputError | PermissionError):
            raise error
        raise InvalidInputError(f"peer {self.pid!r}: {reason}") from error

    # --- incoming media -------------------------------------------------------------------
    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind in self._incoming:
            log.warning("peer %s: ignoring a second %s track", self.pid, track.kind)
            return
        self._incoming[track.kind] = track
        receiver = next((t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        hold = aiortc_internals.receive_hold(receiver, track.kind) if receiver is not None else 0
        self._spawn(self._pump(track, self.video if track.kind == "video" else self.audio, hold))

    async def _pump(self, track: MediaStreamTrack, buffer: PlayoutBuffer, hold: int) -> None:
        """Frames from aiortc (decoded by its receiver) -> the playout buffer, stamped with
        when they reached this machine: `hold` frame durations before recv() returned."""
        previous = None
        duration = 0.0  # one frame's duration, from the sender's timestamps
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            arrival = self.driver.clock.now()
            self._last_media = arrival
            if frame.pts is None or frame.time_base is None:
                continue
            pts = float(frame.pts * frame.time_base)
            if previous is not None and 0 < pts - previous < 0.5:
                duration = pts - previous if duration == 0 else 0.9 * duration + 0.1 * (pts - previous)
            previous = pts
            buffer.put(frame, pts, arrival - hold * duration)

    def _feed(self, t: float) -> None:
        """Tick thread: hand the room what is due by media time t. A frame the room
        refuses (a picture over its size limit, say) is counted and logged; the rest go on."""
        for push, buffer in ((self.room.push_video, self.video), (self.room.push_audio, self.audio)):
            for when, frame in buffer.due(t):
                try:
                    push(self.pid, frame, when)
                except VmediaError as e:
                    self.refused += 1
                    if self.refused == 1 or self.refused % 100 == 0:
                        log.warning("peer %s: the room refused a frame (%d so far): %s", self.pid, self.refused, e)

    # --- outgoing media -------------------------------------------------------------------
    def _on_output(self, out: TickOutput) -> None:
        """Tick thread: pick this participant's packets, hand them to the loop."""
        if self.pid not in self.room.participants and self.pid not in out.view_of:
            return  # in the lobby (or gone): nothing of the room
        video = out.video_for(self.pid)
        audio = out.audio_for(self.pid) if self._sending_audio else []  # in its codec: Opus or G.711
        if video or audio:
            self._loop.call_soon_threadsafe(self._deliver, video, audio)

    def _deliver(self, video: list, audio: list) -> None:
        if self._closing:
            return
        self.video_out.put(video)
        self.audio_out.put(audio)

    def _request_keyframe(self) -> None:
        """The peer lost pictures (its PLI/FIR, or our queue overflowed): a keyframe of
        its view, asked for between ticks so the loop never waits on the room's lock."""
        if self._joined and not self._closing:
            self.keyframes_requested += 1
            self.driver.call(self.room.request_keyframe, self.pid)

    def _on_event(self, event: Event) -> None:
        if event.kind == EventKind.KEYFRAME_NEEDED and event.participant == self.pid and self._video_receiver is not None:
            self._spawn(self._send_pli())

    async def _send_pli(self) -> None:
        if self._video_receiver is not None and await aiortc_internals.send_pli(self._video_receiver):
            self.plis_sent += 1

    # --- lifetime -------------------------------------------------------------------------
    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self._request_keyframe()  # start the peer's view on a fresh IDR
        elif state in ("failed", "closed"):
            self._spawn(self.close(f"connection {state}"))

    async def _watch(self) -> None:
        """Connect deadline, and the silence that tells a vanished peer."""
        start = self.driver.clock.now()
        warned = False
        while not self._closing:
            await asyncio.sleep(WATCH_INTERVAL)
            now = self.driver.clock.now()
            if self.pc.connectionState != "connected":
                if now - start > self.connect_timeout and self.pc.connectionState in ("new", "connecting"):
                    self._spawn(self.close(f"not connected within {self.connect_timeout:g} s"))
                    return
                continue
            if math.isnan(self._last_media):
                if not warned and now - start > self.media_timeout:
                    warned = True
                    self.driver.emit(Event(EventKind.NO_MEDIA, self.pid, now, f"no audio or video within {self.media_timeout:g} s"))
            elif now - self._last_media > self.media_timeout:
                self._spawn(self.close(f"no media for {self.media_timeout:g} s: the peer vanished"))
                return

    async def close(self, reason: str = "closed") -> None:
        """Leave the room, close the connection, end every task of this peer. Idempotent."""
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        self.close_reason = reason
        self.driver.remove_feed(self._feed)
        self.driver.remove_output(self._on_output)
        self.driver.unsubscribe(self._on_event)
        if self._joined:
            try:
                await self.driver.run(self.room.leave, self.pid)
            except InvalidInputError:
                pass  # already removed by the server
        self.video_out.stop()
        self.audio_out.stop()
        await self.pc.close()
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        log.info("peer %s closed: %s", self.pid, reason)
        self.driver.emit(Event(EventKind.PEER_CLOSED, self.pid, self.driver.clock.now(), reason))
        self.closed.set()
        if self._on_close is not None:
            self._on_close(self)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def stats(self) -> dict:
        """Per-track playout counters and what was sent."""
        return {
            "audio_in": self.audio.stats, "video_in": self.video.stats, "extra_delay": self.audio.group.extra,
            "video_sent": self.video_out.sent, "video_dropped": self.video_out.dropped,
            "audio_sent": self.audio_out.sent, "audio_dropped": self.audio_out.dropped,
            "keyframes_requested": self.keyframes_requested, "plis_sent": self.plis_sent, "refused": self.refused,
        }

