"""The shared round-trip suite (tests/_metadata_util.py), once per format: adding a format is a
writer module in engine/metadata/formats/ and three lines here."""
from tests._metadata_util import RoundTripSuite


class TestMP3(RoundTripSuite):
    kind = "mp3"


class TestFLAC(RoundTripSuite):
    kind = "flac"


class TestOggVorbis(RoundTripSuite):
    kind = "ogg"


class TestOpus(RoundTripSuite):
    kind = "opus"


class TestM4AAAC(RoundTripSuite):
    kind = "m4a"


class TestM4AALAC(RoundTripSuite):
    kind = "alac"


class TestAIFF(RoundTripSuite):
    kind = "aiff"


class TestWAV(RoundTripSuite):
    kind = "wav"
