"""Tag vocabularies: output order, categories and display names.

A bundle stores, for each output, its raw tag, a category (``genre``, ``mood``,
``instrument``, ``era``, or ``other``) and a display name that reads well in a player.
Near-duplicates share a display name ("female vocalist"/"female vocalists" -> "Female Vocals")
so that writers merge them.
"""
from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("genre", "mood", "instrument", "vocals", "era", "other")

#: MSD last.fm top-50, in the models' output order (Choi et al. 2016; DESIGN.md).
MSD50_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)

_MSD_GENRES = {
    "rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock", "jazz",
    "metal", "classic rock", "soul", "indie rock", "electronica", "folk", "punk", "blues",
    "hard rock", "acoustic", "experimental", "hip-hop", "country", "funk", "electro",
    "heavy metal", "progressive rock", "rnb", "indie pop", "house",
}
_MSD_MOODS = {
    "beautiful", "chillout", "mellow", "chill", "oldies", "ambient", "party", "easy listening",
    "sexy", "catchy", "sad", "happy",
}
_MSD_INSTRUMENTS = {"female vocalists", "male vocalists", "instrumental", "female vocalist", "guitar"}
_MSD_ERAS = {"00s", "80s", "90s", "70s", "60s"}

#: Display names that title-casing would get wrong, and merges of near-duplicates.
_DISPLAY = {
    "hip-hop": "Hip-Hop", "rnb": "R&B", "female vocalists": "Female Vocals",
    "female vocalist": "Female Vocals", "male vocalists": "Male Vocals",
    "male vocalist": "Male Vocals", "chill": "Chillout", "chillout": "Chillout",
    "00s": "2000s", "90s": "1990s", "80s": "1980s", "70s": "1970s", "60s": "1960s",
    "electronica": "Electronica", "easy listening": "Easy Listening",
    "progressive rock": "Progressive Rock", "house": "House", "edm": "EDM", "dj": "DJ",
}


@dataclass(frozen=True)
class TagInfo:
    name: str        # the raw tag, as the model was trained on it
    category: str    # one of CATEGORIES
    display: str     # what a player should show


def display_name(tag: str) -> str:
    key = tag.strip().lower()
    if key in _DISPLAY:
        return _DISPLAY[key]
    return " ".join(w[:1].upper() + w[1:] for w in key.replace("_", " ").split())


def msd_category(tag: str) -> str:
    key = tag.lower()
    for cat, members in (("genre", _MSD_GENRES), ("mood", _MSD_MOODS),
                         ("instrument", _MSD_INSTRUMENTS), ("era", _MSD_ERAS)):
        if key in members:
            return cat
    return "other"


def msd50_tag_infos() -> list[TagInfo]:
    return [TagInfo(t, msd_category(t), display_name(t)) for t in MSD50_TAGS]


def tag_infos_from_json(items: list[dict]) -> list[TagInfo]:
    infos = []
    for item in items:
        cat = item.get("category", "other")
        if cat not in CATEGORIES:
            raise ValueError(f"tag {item.get('name')!r}: unknown category {cat!r}")
        infos.append(TagInfo(item["name"], cat, item.get("display") or display_name(item["name"])))
    return infos


#: MagnaTagATune top-50, in the output order of the musicnn MTT models (musicnn 0.1.0
#: ``configuration.MTT_LABELS``).
MTT50_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)

_MTT_GENRES = {
    "classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop", "classic",
    "new age", "dance", "country", "metal", "choral",
}
_MTT_MOODS = {"slow", "fast", "loud", "quiet", "soft", "weird"}
_MTT_INSTRUMENTS = {
    "guitar", "strings", "drums", "piano", "beat", "violin", "vocal", "synth", "female", "male",
    "singing", "vocals", "no vocals", "harpsichord", "flute", "woman", "male vocal", "no vocal",
    "sitar", "man", "choir", "voice", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "female voice",
}

#: MagnaTagATune's many spellings of the same thing share a display name, so writers merge them.
_MTT_DISPLAY = {
    "classic": "Classical", "classical": "Classical",
    "vocal": "Vocals", "vocals": "Vocals", "voice": "Vocals", "singing": "Vocals",
    "female": "Female Vocals", "woman": "Female Vocals", "female vocal": "Female Vocals",
    "female voice": "Female Vocals",
    "male": "Male Vocals", "man": "Male Vocals", "male vocal": "Male Vocals", "male voice": "Male Vocals",
    "no vocals": "Instrumental", "no vocal": "Instrumental", "no voice": "Instrumental",
    "beat": "Beat", "beats": "Beat", "synth": "Synth", "new age": "New Age",
}


def mtt_category(tag: str) -> str:
    key = tag.lower()
    for cat, members in (("genre", _MTT_GENRES), ("mood", _MTT_MOODS), ("instrument", _MTT_INSTRUMENTS)):
        if key in members:
            return cat
    return "other"


def mtt50_tag_infos() -> list[TagInfo]:
    return [TagInfo(t, mtt_category(t), _MTT_DISPLAY.get(t, display_name(t))) for t in MTT50_TAGS]
