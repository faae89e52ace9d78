#!/usr/bin/env python3
"""Write labels.csv from inventory.csv plus the hand-written evidence below.

Nothing here comes from a Tag Atlas tagger.  Genres come from Debian package
descriptions, package docs/credits, embedded tags (GENRE/TITLE/ALBUM), track
titles and the known style of the game or composer.  Moods come from titles /
game context and, as weak support only, from two signal descriptors computed by
inventory.py (RMS loudness over a 90 s excerpt and mean librosa onset
strength):
  calm acceptable      if rms_db <= -20.4 and onset_mean <= 1.02
                       (both in the lowest quartile of the whole pool)
  energetic acceptable if rms_db >= -15.0 and onset_mean >= 1.27
                       (loudest quartile and above-median onset strength)
Tempo from beat_track is recorded in inventory.csv but not used (octave errors).

usage: make_labels.py  (run from anywhere; reads/writes next to this file)
"""
import csv
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MIN_S = 20.0
CAP = 30

# package -> (primary, acceptable genres, confidence, evidence, base moods, cap)
PKG = {
    "wesnoth-1.16-music": (
        "orchestral", "orchestral;soundtrack;classical", "high",
        "Battle for Wesnoth OST; embedded GENRE=Romantic Classical, ALBUM=The Battle for Wesnoth OST; "
        "known orchestral fantasy score", "", CAP),
    "fretsonfire-songs-muldjord": (
        "metal", "metal;rock;hard_rock", "high",
        "readme.txt: composed by El Senator of the danish metal band Muldjord; stems song+guitar mixed",
        "energetic", CAP),
    "fretsonfire-songs-sectoid": (
        "metal", "metal;rock;hard_rock", "medium",
        "Frets on Fire guitar-game song 'Composed and performed by Sectoid' (song.ini); guitar-centred "
        "rock/metal by the game's nature and titles (e.g. 'Metal madness'); stems song+guitar mixed",
        "energetic", CAP),
    "nexuiz-music": (
        "electronic", "electronic;soundtrack", "medium",
        "Nexuiz deathmatch FPS soundtrack (music.pk3, sound/cdtracks); artists elysis (Gerd Raudenbusch), "
        "blkrbt, Parapraxis (GENRE=Electronic on digital-pursuit); electronic sub-genre not labelled",
        "", CAP),
    "ufoai-music": (
        "soundtrack", "soundtrack", "low",
        "UFO: Alien Invasion game music from several composers (pk3 music/); style per track not documented",
        "", 25),
    "warzone2100-music": (
        "electronic", "electronic;ambient;soundtrack", "medium",
        "apt description: 'abstract, atmospheric and post-apocalyptic beats'; album.json titles/authors "
        "(Martin Severn 1999 OST, LupusMechanicus Legacy/Aftermath)", "", CAP),
    "singularity-music": (
        "electronic", "electronic;soundtrack", "medium",
        "Endgame: Singularity music by Max McCracken (Maxstack); doc README: made with the trackers Psycle "
        "and Renoise (sources in the game)", "", CAP),
    "hyperrogue-music": (
        "soundtrack", "soundtrack", "low",
        "HyperRogue in-game land themes (NeonCorridor, Will Savino, domina; GENRE=Game on some); style not documented",
        "", CAP),
    "planetblupi-music-ogg": (
        "soundtrack", "soundtrack", "low",
        "Planet Blupi (family strategy/adventure game) music; 10-28 min files; style not documented",
        "", CAP),
    "drascula-music": (
        "soundtrack", "soundtrack", "low",
        "Drascula: The Vampire Strikes Back (1996 humorous adventure) music pack; no per-track info",
        "", 22),
    "asc-music": (
        "soundtrack", "soundtrack", "low",
        "Advanced Strategic Command music pack composed by Michael Kievernagel (apt description); style not documented",
        "", CAP),
    "colobot-common-sounds": (
        "soundtrack", "soundtrack", "low",
        "Colobot game music: Daniel Roux 'CoLoBoT - Original Soundtrack' (GENRE=Soundtrack) and Emxx52 "
        "'Colobot: Gold Edition'; style per track not documented", "", CAP),
    "hedgewars-data": (
        "soundtrack", "soundtrack", "low",
        "Hedgewars (comic artillery game) theme music, Data/Music/<Theme>.ogg; style per track not documented",
        "", CAP),
    "lincity-ng-data": (
        "soundtrack", "soundtrack", "low",
        "LinCity-NG game music; credits: Sound and Music by Paulo Augusto, Robert van Herk, Pronobozo",
        "", CAP),
    "extremetuxracer-data": (
        "soundtrack", "soundtrack", "low",
        "Extreme Tux Racer game music; style not documented", "", CAP),
    "pushover-data": (
        "soundtrack", "soundtrack", "low",
        "Pushover puzzle game level-theme music (copyright: music composition Roberto Lorenz); file names are "
        "level themes (aztec, greek, japanese...), not genres", "", CAP),
    "xmoto-data": (
        "soundtrack", "soundtrack", "low",
        "X-Moto music, embedded GENRE=Soundtrack (Jens Erler, Cubulo); style not documented", "", CAP),
}

# files never used
SKIP = {
    "extracted/nexuiz-music/thunder.ogg": "no tags, very low onset/centroid; probably a thunder ambience, not music",
    "extracted/ufoai-music/dynamictest-battle-41-74sec.ogg": "test excerpt of another track",
    "extracted/ufoai-music/dynamictest-normal-08-35sec.ogg": "test excerpt of another track",
    "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/frantic-old.ogg": "older version of frantic.ogg",
    "warzone2100-music/usr/share/games/warzone2100/music/albums/aftermath_soundtrack/menu_enhanced.opus":
        "remake of menu.opus",
    "warzone2100-music/usr/share/games/warzone2100/music/albums/aftermath_soundtrack/track3_enhanced.opus":
        "remake of track3.opus",
}

# basename -> dict(genres=(primary, acceptable) | None, moods="a;b", conf=..., note=...)
TRACK = {
    # Wesnoth: moods from titles
    "sad.ogg": dict(moods="sad;emotional", note="title 'Sad'"),
    "love_theme.ogg": dict(moods="emotional;beautiful", note="title 'Love Theme'"),
    "battle.ogg": dict(moods="energetic", note="title 'Battle Music'"),
    "battle-epic.ogg": dict(moods="energetic", note="title 'Battle Epic'"),
    "frantic.ogg": dict(moods="energetic", note="title 'Frantic'"),
    "casualties_of_war.ogg": dict(moods="sad;emotional", note="title 'Casualties of War'"),
    "the_king_is_dead.ogg": dict(moods="sad;emotional", note="title 'The King is Dead'"),
    "silvan_sanctuary.ogg": dict(moods="calm;beautiful", note="title 'Silvan Sanctuary'"),
    "traveling_minstrels.ogg": dict(genres=("orchestral", "orchestral;soundtrack;classical;folk"),
                                    note="title 'Traveling Minstrels': medieval folk-dance style piece; "
                                         "folk acceptable (medium)"),
    # UFO:AI: Vanethian's pieces are orchestral/cinematic
    "van_geoscape.ogg": dict(genres=("soundtrack", "soundtrack;orchestral;classical"), conf="medium",
                             note="Manuel 'Vanethian' Marino, GENRE=Soundtrack; cinematic orchestral composer"),
    "van_mission.ogg": dict(genres=("soundtrack", "soundtrack;orchestral;classical"), conf="medium",
                            note="Manuel 'Vanethian' Marino, GENRE=Soundtrack; cinematic orchestral composer"),
    "van_mission2.ogg": dict(genres=("soundtrack", "soundtrack;orchestral;classical"), conf="medium",
                             note="Manuel 'Vanethian' Marino, GENRE=Soundtrack; cinematic orchestral composer"),
    "van_mission3.ogg": dict(genres=("soundtrack", "soundtrack;orchestral;classical"), conf="low",
                             note="Vanethian per copyright file; cinematic orchestral composer"),
    "van_mission4.ogg": dict(genres=("soundtrack", "soundtrack;orchestral;classical"), conf="low",
                             note="Vanethian per copyright file; cinematic orchestral composer"),
    "van_theme.ogg": dict(genres=("soundtrack", "soundtrack;orchestral;classical"), conf="medium",
                          note="Manuel 'Vanethian' Marino, GENRE=Soundtrack; cinematic orchestral composer"),
    "Crystan-IntroSad.ogg": dict(moods="sad", note="file name 'IntroSad'"),
    "Crystan-LooseGame.ogg": dict(moods="sad", note="file name 'LooseGame' (lose game)"),
    "Crystan-WinGame.ogg": dict(moods="happy", note="file name 'WinGame'"),
    "AlexFightmare.ogg": dict(moods="energetic", note="title 'fightmare'"),
    "MarineFireFight.ogg": dict(moods="energetic", note="title 'FireFight'"),
    # Singularity: lose/ and win/ folders
    "Chimes They Fade.ogg": dict(moods="sad", note="played on losing (music/lose/)"),
    "March Thee to Dis.ogg": dict(moods="sad", note="played on losing (music/lose/)"),
    "Apex Aleph.ogg": dict(moods="happy", note="played on winning (music/win/); weak"),
    # Colobot
    "music013.ogg": dict(genres=("jazz", "jazz;soundtrack"), conf="medium",
                         note="TITLE 'Jazz Buzzing EasterEgg' (Daniel Roux)"),
    "music010.ogg": dict(moods="sad", note="title 'You Lose...'"),
    "music012.ogg": dict(moods="happy", note="title 'You Win!'"),
    "music007.ogg": dict(moods="sad;emotional", note="title 'Centaury - The Lost Hope'"),
    # LinCity-NG
    "02 - Robert van Herk - City Blues.ogg": dict(genres=("blues", "blues;soundtrack"), conf="low",
                                                  note="TITLE 'City blues' (Robert van Herk); genre only from title"),
    "03 - Robert van Herk - Architectural Contemplations.ogg": dict(
        moods="calm", note="title 'Architectural Contemplations'; rendered from a MIDI file (tag LOCATION=*.mid)"),
    "01 - pronobozo - lincity.ogg": dict(genres=("electronic", "electronic;soundtrack"), conf="low",
                                         note="pronobozo is known as an electronic musician"),
    # Frets on Fire / Sectoid
    "feelings.flac": dict(genres=("rock", "rock;metal;hard_rock"), conf="low",
                          no_base_moods=True,
                          note="title 'Feelings' may be a ballad rather than metal; rock as primary, low; "
                               "package mood 'energetic' not applied"),
    # Extreme Tux Racer
    "calmrace-ks.ogg": dict(moods="calm", note="file name 'calmrace'"),
    "spunkyrace-ks.ogg": dict(moods="energetic", note="file name 'spunkyrace'"),
    "credits1-cp.ogg": dict(moods="emotional", note="TITLE 'Credits Ballad'"),
    # Hedgewars
    "oriental.ogg": dict(genres=("soundtrack", "soundtrack;world"), conf="low",
                         note="theme 'oriental'; world only from theme name"),
    "Nature.ogg": dict(moods="calm", note="TITLE 'Hedgewars Nature' (Tiyuri)"),
    # X-Moto
    "speeditup.ogg": dict(moods="energetic", note="file name 'speeditup'"),
}


def even_pick(rows, n):
    if len(rows) <= n:
        return rows
    idx = np.unique(np.round(np.linspace(0, len(rows) - 1, n)).astype(int))
    return [rows[i] for i in idx]


def main():
    inv = list(csv.DictReader(open(os.path.join(HERE, "inventory.csv"))))
    out, skipped = [], []
    for pkg, (prim, acc, conf, ev, base_moods, cap) in PKG.items():
        rows = [r for r in inv if r["package"] == pkg]
        keep = []
        for r in rows:
            if r["path"] in SKIP:
                skipped.append((r["path"], SKIP[r["path"]]))
            elif float(r["duration_s"]) < MIN_S:
                skipped.append((r["path"], f"shorter than {MIN_S:.0f} s ({r['duration_s']} s)"))
            else:
                keep.append(r)
        keep.sort(key=lambda r: r["path"])
        picked = even_pick(keep, cap)
        for r in keep:
            if r not in picked:
                skipped.append((r["path"], f"over the {cap}-track cap for {pkg} (even pick)"))
        for r in picked:
            base = os.path.basename(r["path"])
            t = TRACK.get(base, {})
            p, a = t.get("genres", (prim, acc))
            c = t.get("conf", conf)
            bm = "" if t.get("no_base_moods") else base_moods
            moods = [m for m in (bm.split(";") + t.get("moods", "").split(";")) if m]
            notes = [ev]
            if t.get("note"):
                notes.append(t["note"])
            if r.get("title"):
                notes.append(f"TITLE={r['title'][:60]}")
            rms, ons = float(r["rms_db"]), float(r["onset_mean"])
            sig = []
            if rms <= -20.4 and ons <= 1.02 and "energetic" not in moods:
                moods.append("calm")
                sig.append("calm")
            if rms >= -15.0 and ons >= 1.27 and "calm" not in moods:
                moods.append("energetic")
                sig.append("energetic")
            moods = list(dict.fromkeys(moods))
            notes.append(f"signal rms={rms} dBFS onset={ons}" + (f" -> {'/'.join(sig)} (weak)" if sig else ""))
            if not moods:
                notes.append("no mood id supported by evidence")
            out.append({
                "path": r["path"], "package": pkg, "primary_genre": p,
                "acceptable_genres": a, "acceptable_moods": ";".join(moods),
                "confidence": c, "evidence": "; ".join(notes),
            })
    with open(os.path.join(HERE, "labels.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0].keys()))
        w.writeheader()
        w.writerows(out)
    with open(os.path.join(HERE, "skipped.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "reason"])
        w.writerows(sorted(skipped))
    print(len(out), "labelled,", len(skipped), "skipped")


if __name__ == "__main__":
    main()
