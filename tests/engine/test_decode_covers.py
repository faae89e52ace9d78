"""Embedded cover art never makes a valid file look truncated (issue 12, item 3).

libsndfile estimates the length of an MP3 without a Xing/Info header from the file size, the
ID3 tag included, so a 63 KB cover made real MP3s "promise" 5 s that were not there. Every
format is tried with covers from 60 KB up to 50 MB (FLAC's PICTURE block holds at most 16 MB);
the cover images are random bytes in a real PNG or JPEG container, made in milliseconds.
Truly truncated files are still refused.
"""
from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.decode import load_audio, probe
from engine.audio.excerpts import decode_for_spec
from engine.errors import CorruptAudioError
from engine.features import SEED_SPEC
from tests.audio_fixtures import music_like, write_audio

SR = 44100
SECONDS = 12.0
KB, MB = 1000, 1000 * 1000
FLAC_MAX_PICTURE = (1 << 24) - 1 - 64 * KB  # a metadata block's length is a 24-bit number


# --- cover images ---------------------------------------------------------------------------
def png_cover(size: int, seed: int = 0) -> bytes:
    """A valid 1x1 PNG, padded to about ``size`` bytes with a private ancillary chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\x00\x80\x40\x20"))
    pad = max(0, size - 8 - len(ihdr) - len(idat) - 12 - 12)
    filler = chunk(b"raNd", np.random.default_rng(seed).bytes(pad))
    return b"\x89PNG\r\n\x1a\n" + ihdr + filler + idat + chunk(b"IEND", b"")


def jpeg_cover(size: int, seed: int = 0) -> bytes:
    """JPEG markers around random bytes: what a tag reader sees of a photo."""
    jfif = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + jfif + np.random.default_rng(seed).bytes(max(0, size - 22)) + b"\xff\xd9"


# --- audio with covers ----------------------------------------------------------------------
def cbr_mp3_without_xing(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    """A constant-bit-rate MP3 without a Xing/Info frame, as many encoders and rippers write:
    its length can only be estimated from the file size."""
    import av

    with av.open(str(path), "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"}) as out:
        st = out.add_stream("libmp3lame", rate=sr)
        st.layout = "mono"
        st.bit_rate = 128000
        frame = av.AudioFrame.from_ndarray(y[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = sr
        for pkt in st.encode(frame):
            out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    return path


def add_id3_cover(path: Path, image: bytes, version: int, mime: str = "image/png") -> None:
    from mutagen.id3 import APIC, ID3, TIT2

    tags = ID3()
    tags.add(TIT2(encoding=3, text="With a cover"))
    tags.add(APIC(encoding=3, mime=mime, type=3, desc="Front", data=image))
    tags.save(path, v2_version=version)


def _flac_picture(image: bytes, mime: str):
    from mutagen.flac import Picture

    pic = Picture()
    pic.type, pic.mime, pic.desc, pic.width, pic.height, pic.depth = 3, mime, "Front", 1, 1, 24
    pic.data = image
    return pic


def add_flac_cover(path: Path, image: bytes, mime: str = "image/png") -> None:
    from mutagen.flac import FLAC

    f = FLAC(path)
    f.add_picture(_flac_picture(image, mime))
    f.save()


def add_ogg_cover(path: Path, image: bytes, mime: str = "image/png") -> None:
    """Replace the Vorbis comment packet by one holding a METADATA_BLOCK_PICTURE, paged here:
    mutagen's own paging copies the packet once per page, minutes for a 50 MB cover."""
    from mutagen.ogg import OggPage

    with open(path, "rb") as f:
        pages = []
        while True:
            try:
                pages.append(OggPage(f))
            except EOFError:
                break
    n_header = 1
    while len(OggPage.to_packets(pages[:n_header])) < 3 or not pages[n_header - 1].complete:
        n_header += 1
    ident, _, setup = OggPage.to_packets(pages[:n_header])[:3]
    field = b"METADATA_BLOCK_PICTURE=" + base64.b64encode(_flac_picture(image, mime).write())
    vendor = b"Tag Atlas tests"
    comment = (b"\x03vorbis" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 1)
               + struct.pack("<I", len(field)) + field + b"\x01")
    out = OggPage.from_packets([ident], 0)
    step = 255 * 254  # at most 254 full lacing values, leaving room for the packet's end
    for k in range(0, len(comment), step):
        page = OggPage()
        page.packets = [comment[k:k + step]]
        page.continued, page.complete = k > 0, k + step >= len(comment)
        out.append(page)
    out += OggPage.from_packets([setup], 0)
    out += pages[n_header:]
    for seq, page in enumerate(out):
        page.sequence, page.serial = seq, pages[0].serial
        page.first = seq == 0
        if seq < len(out) - len(pages) + n_header:
            page.position = 0
    with open(path, "wb") as f:
        for page in out:
            f.write(page.write())


def add_mp4_cover(path: Path, image: bytes, png: bool = True) -> None:
    from mutagen.mp4 import MP4, MP4Cover

    f = MP4(path)
    f["covr"] = [MP4Cover(image, MP4Cover.FORMAT_PNG if png else MP4Cover.FORMAT_JPEG)]
    f.save()


def make(kind: str, folder: Path, name: str) -> Path:
    y = music_like(SECONDS, SR, seed=7)
    if kind == "mp3-cbr":
        return cbr_mp3_without_xing(folder / f"{name}.mp3", y)
    ext = {"mp3-xing": "mp3", "flac": "flac", "m4a": "m4a", "ogg": "ogg"}[kind]
    return write_audio(folder / f"{name}.{ext}", y, SR)


def with_cover(kind: str, folder: Path, size: int, *, jpeg: bool = False, id3: int = 4) -> tuple[Path, Path]:
    """(the file without a cover, the same file with one)."""
    bare = make(kind, folder, f"{kind}-bare")
    covered = folder / f"{kind}-{size}-{'jpg' if jpeg else 'png'}-v{id3}{bare.suffix}"
    covered.write_bytes(bare.read_bytes())
    image = jpeg_cover(size) if jpeg else png_cover(size)
    mime = "image/jpeg" if jpeg else "image/png"
    if kind.startswith("mp3"):
        add_id3_cover(covered, image, id3, mime)
    elif kind == "flac":
        add_flac_cover(covered, image, mime)
    elif kind == "ogg":
        add_ogg_cover(covered, image, mime)
    else:
        add_mp4_cover(covered, image, png=not jpeg)
    assert covered.stat().st_size > size
    assert read_cover(covered) == image  # a real cover, as tag readers see it
    return bare, covered


def read_cover(path: Path) -> bytes:
    import mutagen
    from mutagen.flac import Picture

    f = mutagen.File(path)
    if path.suffix == ".mp3":
        return f.tags.getall("APIC")[0].data
    if path.suffix == ".flac":
        return f.pictures[0].data
    if path.suffix == ".ogg":
        return Picture(base64.b64decode(f["METADATA_BLOCK_PICTURE"][0])).data
    return bytes(f["covr"][0])


def assert_decodes_like_the_bare_file(bare: Path, covered: Path) -> None:
    info_bare, info = probe(bare), probe(covered)
    assert abs(info.duration_s - info_bare.duration_s) < 0.05, (info, info_bare)
    assert abs(info.duration_s - SECONDS) < 0.2
    y_bare, y = load_audio(bare, 16000), load_audio(covered, 16000)
    assert abs(y.size / 16000 - SECONDS) < 0.2
    np.testing.assert_array_equal(y, y_bare)          # the cover changes nothing in the audio
    section = load_audio(covered, 16000, start_s=SECONDS - 3.0, duration_s=2.5)
    assert section.size == 2.5 * 16000
    track = decode_for_spec(covered, SEED_SPEC)
    assert track.segments and abs(track.duration_s - SECONDS) < 0.2


# --- the case from the issue ----------------------------------------------------------------
@pytest.mark.parametrize("id3", [3, 4])
def test_mp3_with_a_63_kb_cover_is_not_called_truncated(tmp_path, id3):
    bare, covered = with_cover("mp3-cbr", tmp_path, 63 * KB, id3=id3)
    # The bug's cause, still there underneath: libsndfile counts the tag as audio ...
    assert sf.info(str(covered)).duration > SECONDS + 3.0
    # ... but Tag Atlas reads the real length and the whole audio.
    assert_decodes_like_the_bare_file(bare, covered)


@pytest.mark.parametrize("kind", ["mp3-cbr", "mp3-xing", "flac", "ogg", "m4a"])
@pytest.mark.parametrize("size", [60 * KB, 1 * MB])
def test_every_format_with_a_cover_decodes_fully(tmp_path, kind, size):
    bare, covered = with_cover(kind, tmp_path, size)
    assert_decodes_like_the_bare_file(bare, covered)


@pytest.mark.parametrize("kind,id3", [("mp3-cbr", 3), ("mp3-xing", 4), ("flac", 4), ("m4a", 4)])
def test_jpeg_covers_too(tmp_path, kind, id3):
    bare, covered = with_cover(kind, tmp_path, 300 * KB, jpeg=True, id3=id3)
    assert_decodes_like_the_bare_file(bare, covered)


@pytest.mark.slow
@pytest.mark.parametrize("kind,id3", [("mp3-cbr", 3), ("mp3-cbr", 4), ("mp3-xing", 4), ("flac", 4),
                                      ("ogg", 4), ("m4a", 4)])
def test_huge_covers_up_to_50_mb(tmp_path, kind, id3):
    size = FLAC_MAX_PICTURE if kind == "flac" else 50 * MB
    bare, covered = with_cover(kind, tmp_path, size, id3=id3)
    assert_decodes_like_the_bare_file(bare, covered)


def test_a_20_mb_cover_on_a_plain_mp3(tmp_path):
    """The default suite's big case: the cover is 60 times the audio."""
    bare, covered = with_cover("mp3-cbr", tmp_path, 20 * MB, id3=3)
    assert_decodes_like_the_bare_file(bare, covered)


# --- truly truncated files are still refused ------------------------------------------------
@pytest.mark.parametrize("kind", ["mp3-xing", "flac"])
def test_a_truncated_file_with_a_cover_is_still_refused(tmp_path, kind):
    _, covered = with_cover(kind, tmp_path, 60 * KB)
    data = covered.read_bytes()
    cut = tmp_path / f"cut{covered.suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptAudioError, match="truncated") as info:
        decode_for_spec(cut, SEED_SPEC)
    assert info.value.path == cut
    with pytest.raises(CorruptAudioError, match="truncated"):
        load_audio(cut, 16000)


def test_the_truncation_message_gives_both_lengths(tmp_path):
    full = write_audio(tmp_path / "full.mp3", music_like(20.0, seed=2))
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    with pytest.raises(CorruptAudioError) as info:
        load_audio(cut, 16000)
    assert info.value.reason.startswith("the file is truncated: its header promises 20.0 s "
                                        "but the audio data ends at ")


def test_the_refusal_is_picklable_as_a_plain_error(tmp_path):
    """Decode workers send errors back to the parent process."""
    import pickle

    full = write_audio(tmp_path / "full.mp3", music_like(20.0, seed=2))
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    with pytest.raises(CorruptAudioError) as info:
        load_audio(cut, 16000)
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is CorruptAudioError and back.reason == info.value.reason
