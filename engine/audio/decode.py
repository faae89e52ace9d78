"""The one place that decodes audio files.

``load_audio(path, sr, start_s=..., duration_s=...)`` returns float32 mono at ``sr`` Hz,
reading only the requested section (a two-hour file is never decoded whole for a 30-second
excerpt). libsndfile (via soundfile) reads WAV, FLAC, Ogg Vorbis, Opus, AIFF and MP3 with
exact seeking; FFmpeg (via PyAV) reads M4A/MP4 (AAC, ALAC) and anything libsndfile refuses.
Every failure is a typed :class:`~engine.errors.AudioError` with the path and a plain reason.

A file is only called truncated when a second decoder agrees: libsndfile estimates the length
of an MP3 without a Xing/Info header from the file size, tags included, so a large cover makes
it promise seconds that are not there. Such a short read is checked with FFmpeg, and the probe
of an MP3 takes FFmpeg's length (counted packet by packet when the two disagree).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import (AudioError, CorruptAudioError, EmptyFileError, TooShortAudioError,
                      UnreadableFileError, UnsupportedFormatError, unreadable_from_oserror,
                      without_paths)
from .resample import resample

SUPPORTED_EXTENSIONS = frozenset({
    ".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".wave", ".aif", ".aiff", ".aifc",
    ".m4a", ".m4b", ".mp4", ".aac", ".alac",
})
_FFMPEG_FIRST = frozenset({".m4a", ".m4b", ".mp4", ".aac", ".alac"})

#: Read at most this many native frames at once, so memory stays bounded for long sections.
_BLOCK_FRAMES = 1 << 20


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    format: str          # e.g. "MP3", "FLAC", "mp4/aac"
    samplerate: int      # Hz, native
    channels: int
    duration_s: float
    backend: str         # "soundfile" | "ffmpeg"


def is_supported(path: str | os.PathLike) -> bool:
    return Path(os.fsdecode(path)).suffix.lower() in SUPPORTED_EXTENSIONS


# --- classification of failures -------------------------------------------------------------
_MAGIC = [
    (b"ID3", "MP3"), (b"fLaC", "FLAC"), (b"OggS", "Ogg"), (b"RIFF", "WAV"), (b"FORM", "AIFF"),
]


def _sniff(path: Path) -> str | None:
    """Name of the audio container the first bytes look like, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "MP4"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        return "MP3"
    return None


def _looks_like_text(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            chunk = f.read(4096)
    except OSError:
        return False
    if not chunk:
        return False
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return sum(c < 9 or 13 < c < 32 for c in chunk) == 0


def _undecodable(path: Path, detail: str) -> AudioError:
    kind = _sniff(path)
    if kind is not None:
        return CorruptAudioError(path, f"the file looks like {kind} audio but its data is damaged "
                                       f"or truncated ({detail})")
    if _looks_like_text(path):
        return UnsupportedFormatError(path, "this is a text file, not audio")
    return UnsupportedFormatError(path, "this is not an audio format Tag Atlas can read "
                                        "(the data is not recognised)")


def check_readable(path: str | os.PathLike) -> Path:
    """Raise a typed error if ``path`` is missing, a folder, empty or unreadable."""
    p = Path(os.fsdecode(path))
    try:
        st = os.stat(p)
    except OSError as exc:
        raise unreadable_from_oserror(p, exc, action="opened") from None
    if not os.path.isfile(p):
        raise UnreadableFileError(p, "this is not a regular file")
    if st.st_size == 0:
        raise EmptyFileError(p, "the file is empty (0 bytes)")
    try:
        with open(p, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise unreadable_from_oserror(p, exc) from None
    return p


def _needs_file_object(p: Path) -> bool:
    """Libraries encode names as UTF-8; a name that is not valid UTF-8 is passed as an open file."""
    try:
        str(p).encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


class _Opened:
    """``with _Opened(p) as src``: ``src`` is the path, or an open binary file for odd names."""

    def __init__(self, p: Path) -> None:
        self.p, self.f = p, None

    def __enter__(self):
        if _needs_file_object(self.p):
            self.f = open(self.p, "rb")
            return self.f
        return str(self.p)

    def __exit__(self, *exc) -> None:
        if self.f is not None:
            self.f.close()


# --- libsndfile backend ----------------------------------------------------------------------
def _sf_info(p: Path) -> AudioInfo:
    import soundfile as sf

    with _Opened(p) as src, sf.SoundFile(src) as f:
        info = AudioInfo(p, f.format, int(f.samplerate), int(f.channels),
                         f.frames / f.samplerate if f.samplerate else 0.0, "soundfile")
    if info.format == "MP3":
        real = _mp3_duration(p, info.duration_s)
        if real is not None:
            info = AudioInfo(p, info.format, info.samplerate, info.channels, real, info.backend)
    return info


#: Two lengths closer than this (seconds) are the same length.
_LENGTH_TOLERANCE_S = 0.5


def _mp3_duration(p: Path, sf_duration: float) -> float | None:
    """The length of an MP3 when libsndfile's differs from FFmpeg's, else None.

    libsndfile's length of an MP3 without a Xing/Info header is file size / bit rate, tags and
    cover art included. FFmpeg skips the tags; when the two disagree, the length is counted
    from the packets (demuxed, not decoded: milliseconds).
    """
    try:
        with _av_open(p) as c:
            st = c.streams.audio[0]
            header = _av_duration(c, st)
            if header > 0 and abs(header - sf_duration) <= _LENGTH_TOLERANCE_S:
                return None
            ticks = sum(pkt.duration or 0 for pkt in c.demux(st) if pkt.size)
            counted = float(ticks * st.time_base) if st.time_base is not None else 0.0
    except Exception:  # noqa: BLE001 -- FFmpeg cannot say: keep libsndfile's length
        return None
    return counted if counted > 0 else None


def _sf_read(p: Path, start_s: float, duration_s: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    with _Opened(p) as src, sf.SoundFile(src) as f:
        sr = int(f.samplerate)
        total = int(f.frames)
        start = min(max(0, int(round(start_s * sr))), total)
        want = total - start if duration_s is None else min(total - start, int(round(duration_s * sr)))
        if start:
            f.seek(start)
        parts: list[np.ndarray] = []
        got = 0
        while got < want:
            block = f.read(min(_BLOCK_FRAMES, want - got), dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            parts.append(block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0].copy())
            got += block.shape[0]
    y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if _ends_early(want, got, sr):
        raise _ShortRead(p, y, sr, total / sr, (start + got) / sr)
    return y, sr


def _ends_early(want: int, got: int, sr: int) -> bool:
    """More than 1 s and more than 10% of the requested samples did not come."""
    return want > 0 and got < 0.9 * want and want - got > sr


class _ShortRead(CorruptAudioError):
    """libsndfile's audio ended before its header said: truncated, unless FFmpeg disagrees."""

    def __init__(self, path: Path, y: np.ndarray, sr: int, promised_s: float, ends_s: float) -> None:
        super().__init__(path, f"the file is truncated: its header promises {promised_s:.1f} s but "
                               f"the audio data ends at {ends_s:.1f} s")
        self.y, self.sr, self.promised_s, self.ends_s = y, sr, promised_s, ends_s

    def __reduce__(self):  # crosses process boundaries as the plain error it stands for
        return (CorruptAudioError, (self.path, self.reason))


def _second_opinion(p: Path, short: _ShortRead, start_s: float,
                    duration_s: float | None) -> tuple[np.ndarray, int]:
    """Decode the section libsndfile found short with FFmpeg. The file is refused as truncated
    only when FFmpeg's audio also ends before FFmpeg's own length; otherwise the longer of the
    two decodes is the audio (libsndfile's when they agree, as for every other file)."""
    try:
        with _av_open(p) as c:
            promised = _av_duration(c, c.streams.audio[0])
        y2, sr2 = _av_read(p, start_s, duration_s)
    except Exception:  # noqa: BLE001 -- FFmpeg cannot read it either: the verdict stands
        raise CorruptAudioError(p, short.reason) from None
    if y2.size > short.y.size / short.sr * sr2 + sr2:   # FFmpeg found more than 1 s more
        return y2, sr2
    if promised <= 0:  # FFmpeg promises nothing, so nothing is missing
        return short.y, short.sr
    end = promised if duration_s is None else min(promised, start_s + duration_s)
    want = round(max(0.0, end - start_s) * sr2)
    if _ends_early(want, y2.size, sr2):
        raise CorruptAudioError(p, short.reason)
    return short.y, short.sr


# --- FFmpeg backend ------------------------------------------------------------------------
def _av_open(p: Path):
    import av

    src = open(p, "rb") if _needs_file_object(p) else os.fsdecode(p)
    container = av.open(src, metadata_errors="ignore")
    if not container.streams.audio:
        container.close()
        raise UnsupportedFormatError(p, "the file contains no audio stream")
    return container


def _av_duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def _av_info(p: Path) -> AudioInfo:
    with _av_open(p) as c:
        st = c.streams.audio[0]
        ctx = st.codec_context
        return AudioInfo(p, f"{c.format.name.split(',')[0]}/{ctx.name}", int(ctx.sample_rate),
                         int(ctx.channels), _av_duration(c, st), "ffmpeg")


def _av_read(p: Path, start_s: float, duration_s: float | None) -> tuple[np.ndarray, int]:
    import av

    with _av_open(p) as c:
        st = c.streams.audio[0]
        sr = int(st.codec_context.sample_rate)
        to_float = av.AudioResampler(format="fltp")
        if start_s > 0 and st.time_base is not None:
            c.seek(int(start_s / st.time_base), stream=st, backward=True)
        first = int(round(start_s * sr))
        want = None if duration_s is None else int(round(duration_s * sr))
        parts: list[np.ndarray] = []
        got = 0
        pos = None  # sample index of the next decoded sample
        for frame in c.decode(st):
            if pos is None or frame.pts is not None:
                pos = int(round(float(frame.pts * frame.time_base) * sr)) if frame.pts is not None else 0
            for conv in to_float.resample(frame):
                arr = conv.to_ndarray()
                mono = arr.mean(axis=0, dtype=np.float32) if arr.shape[0] > 1 else arr[0].astype(np.float32)
                skip = max(0, first - pos)
                pos += mono.shape[0]
                if skip >= mono.shape[0]:
                    continue
                mono = mono[skip:]
                if want is not None:
                    mono = mono[: want - got]
                parts.append(mono)
                got += mono.shape[0]
            if want is not None and got >= want:
                break
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), sr


# --- public entry points ----------------------------------------------------------------------
def _backends(p: Path):
    if p.suffix.lower() in _FFMPEG_FIRST:
        return (("ffmpeg", _av_info, _av_read), ("soundfile", _sf_info, _sf_read))
    return (("soundfile", _sf_info, _sf_read), ("ffmpeg", _av_info, _av_read))


def _with_backends(p: Path, op: str, *args):
    """Run ``op`` ('info' or 'read') with the first backend that can open the file."""
    errors: list[str] = []
    # FFmpeg guesses formats from content and will "decode" noise out of random bytes, so it is
    # only asked when the file is an MP4-family file or looks like an audio container.
    use_ffmpeg = p.suffix.lower() in _FFMPEG_FIRST or _sniff(p) is not None
    for name, info_fn, read_fn in _backends(p):
        if name == "ffmpeg" and not use_ffmpeg:
            continue
        try:
            fn = info_fn if op == "info" else read_fn
            return fn(p, *args)
        except _ShortRead as short:
            if not use_ffmpeg or name == "ffmpeg":
                raise CorruptAudioError(p, short.reason) from None
            return _second_opinion(p, short, *args)
        except AudioError:
            raise
        except MemoryError:
            raise AudioError(p, "not enough memory to decode this section of the file") from None
        except (PermissionError, FileNotFoundError) as exc:
            raise unreadable_from_oserror(p, exc) from None
        except Exception as exc:  # noqa: BLE001 - decoder libraries raise many types; classify below
            errors.append(decoder_detail(name, exc, p))
    raise _undecodable(p, "; ".join(errors)[:300])


_LIBRARY_NAMES = {"soundfile": "libsndfile", "ffmpeg": "FFmpeg"}
#: Decoder messages that say something other than what happened, or say it in jargon.
_PLAIN_DETAILS = (
    # libsndfile's generic "could not open" (the file exists and is regular: checked before)
    (re.compile(r"does not exist or is not a regular file|Format not recognised", re.I), "format not recognised"),
    (re.compile(r"Invalid data found when processing input", re.I), "invalid data"),
    (re.compile(r"End of file", re.I), "the data ends too early"),
    (re.compile(r"unimplemented|not supported|Patch welcome", re.I), "an unsupported variant of the format"),
)


def decoder_detail(backend: str, exc: BaseException, path: Path) -> str:
    """A short note on why one decoding library gave up: the library's name and, for messages
    it is known to give, a plain phrase; otherwise its own words without the file name and
    error numbers."""
    library = _LIBRARY_NAMES.get(backend, backend)
    text = str(exc)
    for pattern, plain in _PLAIN_DETAILS:
        if pattern.search(text):
            return f"{library}: {plain}"
    text = re.sub(r"\[Errno -?\d+\]\s*", "", without_paths(text, path))
    text = re.sub(r"^Error opening\s*:?\s*", "", text).strip(" :;.'\"")
    return f"{library}: {text[:120] or type(exc).__name__}"


def probe(path: str | os.PathLike) -> AudioInfo:
    """Format, native sample rate, channels and duration, without decoding the audio."""
    p = check_readable(path)
    info = _with_backends(p, "info")
    if info.samplerate <= 0:
        raise CorruptAudioError(p, "the file has no valid sample rate")
    return info


def load_audio(path: str | os.PathLike, sr: int, *, start_s: float = 0.0,
               duration_s: float | None = None, resampler: str = "soxr_hq",
               min_duration_s: float = 0.0) -> np.ndarray:
    """Decode ``path`` to float32 mono at ``sr`` Hz.

    Only ``[start_s, start_s + duration_s)`` is read (the whole file when ``duration_s`` is
    None). Mono is the mean of the channels.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    sr : int
        The sample rate to return, in Hz (the audio is resampled from its native rate).
    start_s : float, default 0.0
        Where to start reading, in seconds from the beginning of the file.
    duration_s : float, optional
        How many seconds to read from ``start_s``; None: to the end of the file.
    resampler : str, default "soxr_hq"
        The resampling filter: "soxr_hq" or "kaiser_best" (see :mod:`engine.audio.resample`).
    min_duration_s : float, default 0.0
        The least audio, in seconds, that must come back.

    Returns
    -------
    np.ndarray
        float32 [n_samples] mono samples at ``sr`` Hz.

    Raises
    ------
    TooShortAudioError
        When fewer than ``min_duration_s`` seconds (or no samples at all) come back.
    CorruptAudioError
        When the decoded audio holds non-finite samples, or the decoder says the data is broken.
    AudioError
        When the file is missing, empty, unreadable or cannot be decoded (the subclasses of
        :class:`~engine.errors.AudioError` say which).
    ParameterError
        For an unknown ``resampler``.
    """
    p = check_readable(path)
    y, native_sr = _with_backends(p, "read", float(start_s), duration_s)
    if y.size == 0 or y.size < min_duration_s * native_sr:
        got = y.size / native_sr if native_sr else 0.0
        raise TooShortAudioError(p, "the file contains no audio" if y.size == 0 else
                                 f"only {got:.2f} s of audio; at least {min_duration_s:.2f} s is needed")
    if not np.all(np.isfinite(y)):
        raise CorruptAudioError(p, "the decoded audio contains invalid (non-finite) samples")
    return resample(y, native_sr, sr, resampler)
