"""Audio edges: Opus, G.711 and PCM in, 20 ms 48 kHz mono frames out; mixes to Opus/AAC."""

import av
import numpy as np
import pytest

from vmedia import InvalidInputError, StreamError
from vmedia.media import synth
from vmedia.media.time import FRAME_SIZE
from vmedia.codecs.audio import AudioDecoder, AudioEncoder, FrameSlicer


def encode_with_ffmpeg(codec, rate, samples):
    """Packets a real sender would produce (FFmpeg's own encoder)."""
    enc = av.CodecContext.create(codec, "w")
    enc.sample_rate, enc.layout, enc.format = rate, "mono", "s16"
    enc.open()
    step = enc.frame_size or rate // 50
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    packets = []
    for i in range(0, len(pcm) - step + 1, step):
        f = av.AudioFrame.from_ndarray(pcm[None, i : i + step], format="s16", layout="mono")
        f.sample_rate, f.pts = rate, i
        packets += [bytes(p) for p in enc.encode(f)]
    return packets


def tone(rate, seconds=1.0, freq=440.0, amp=0.4):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("codec, ffname, rate", [("pcmu", "pcm_mulaw", 8000), ("pcma", "pcm_alaw", 8000), ("opus", "libopus", 48000), ("pcm", "pcm_s16le", 48000)])
def test_decoders_yield_20ms_frames_at_48k_with_the_right_pitch(codec, ffname, rate):
    dec = AudioDecoder(codec)
    frames = [f for p in encode_with_ffmpeg(ffname, rate, tone(rate)) for f in dec.decode(p)]
    assert len(frames) >= 45 and all(f.shape == (FRAME_SIZE,) and f.dtype == np.float32 for f in frames)
    x = np.concatenate(frames[5:])
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak_hz = np.argmax(spectrum) * 48000 / len(x)
    assert abs(peak_hz - 440) < 5
    assert 0.3 < np.abs(x).max() < 0.5


def test_decoded_frames_of_other_rates_and_layouts_are_resampled():
    dec = AudioDecoder()
    stereo = np.stack([tone(44100), tone(44100)]).astype(np.float32)
    frame = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
    frame.sample_rate = 44100
    out = dec.push_frame(frame)
    assert sum(len(f) for f in out) == pytest.approx(48000, abs=FRAME_SIZE + 64)


def test_garbage_packets_raise_a_stream_error_and_the_decoder_recovers():
    dec = AudioDecoder("opus")
    good = encode_with_ffmpeg("libopus", 48000, tone(48000, 0.5))
    with pytest.raises(StreamError):
        for _ in range(3):
            dec.decode(b"\xff\x00garbage" * 50)
    assert sum(len(dec.decode(p)) for p in good) > 10


def test_frame_slicer_keeps_every_sample_once():
    s = FrameSlicer()
    x = np.arange(5000, dtype=np.float32)
    out = s.push(x[:1234]) + s.push(x[1234:3000]) + s.push(x[3000:])
    np.testing.assert_array_equal(np.concatenate(out), x[: len(out) * FRAME_SIZE])
    assert len(out) == 5000 // FRAME_SIZE


@pytest.mark.parametrize("codec", ["opus", "aac"])
def test_encoder_round_trip_keeps_the_mix(codec):
    enc = AudioEncoder(codec)
    x = synth.frames_of(tone(48000, 1.0, 300, 0.3))
    packets = [p for f in x for p in enc.encode(f)] + enc.flush()
    assert packets and packets[1].pts > packets[0].pts
    dec = av.CodecContext.create("libopus" if codec == "opus" else "aac", "r")
    if codec == "aac":
        dec.extradata = enc.context.extradata
    dec.sample_rate, dec.layout = 48000, "mono"
    y = np.concatenate([f.to_ndarray().reshape(-1) for p in packets for f in dec.decode(p)]).astype(np.float32)
    if y.dtype != np.float32 or np.abs(y).max() > 2:
        y = y / 32768
    assert 0.2 < np.abs(y[4800:-4800]).max() < 0.45  # 0.3 in, give or take codec ringing


def test_bad_codec_names_are_refused():
    with pytest.raises(InvalidInputError, match="unknown audio codec"):
        AudioDecoder("mp3")
    with pytest.raises(InvalidInputError, match="opus' or 'aac"):
        AudioEncoder("flac")


def test_lost_and_undecodable_opus_packets_are_concealed_not_zero_filled():
    from vmedia import Mixer, OutputProfile

    talk = synth.frames_of(synth.speech(2.0, 130, -20, seed=4))
    enc = AudioEncoder("opus")
    packets = [bytes(p) for f in talk for p in enc.encode(f)]
    lost, broken = {30, 55, 56}, {70}
    with Mixer([OutputProfile("t", 64, 36, fps=10)], labels=False) as mixer:
        mixer.add_participant("a")
        mixer.add_participant("b")
        heard = []
        for k, p in enumerate(packets):
            if k not in lost:
                # A broken packet: code 3 announcing zero frames (RFC 6716 3.2.5), which libopus refuses.
                mixer.push_audio("a", bytes([p[0] | 0x03, 0]) if k in broken else p, k * 0.02)
            out = mixer.tick((k + 1) * 0.02)
            heard += out.pcm_for("b")
        stats = mixer.input_stats("a")["audio"]
    assert stats["concealed"] == 4 and stats["errors"] == 1, repr(stats)
    rms = [float(np.sqrt(np.mean(x**2))) for x in heard]
    # b hears a continuous voice where a's packets went missing: concealment carries the
    # voice on (libopus fades it over consecutive losses) instead of a gap faded to silence.
    assert len(heard) == len(packets)
    for k in sorted(lost | broken):
        original = float(np.sqrt(np.mean(talk[k] ** 2)))
        if original > 0.02:
            assert rms[k] > 0.2 * original, (k, rms[k - 2 : k + 2], original)
