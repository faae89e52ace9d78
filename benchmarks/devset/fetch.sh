#!/usr/bin/env bash
# Rebuild the Tag Atlas labelled dev set (real recordings) from Debian packages.
#
#   benchmarks/devset/fetch.sh [TARGET]        (default /work/devset)
#
# Downloads the .deb files with `apt-get download` into TARGET/debs, unpacks
# each with `dpkg -x` into TARGET/<package>, then runs prepare.py, which pulls
# the music out of the nexuiz/ufoai .pk3 archives (TARGET/extracted/) and mixes
# the Frets on Fire stems (TARGET/mixed/).  Idempotent: existing downloads,
# unpacked folders and outputs are reused.  Audio never goes into the repo.
# Needs: apt-get (Debian bookworm sources, `apt-get update` done), dpkg,
# python3 with numpy + soundfile.  About 1.2 GB download, 1.3 GB unpacked.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="${1:-/work/devset}"
mkdir -p "$TARGET/debs"
TARGET="$(cd "$TARGET" && pwd)"

# package=version used to build labels.csv (Debian 12 "bookworm")
PACKAGES=(
  wesnoth-1.16-music=1:1.16.9-1
  fretsonfire-songs-muldjord=2.dfsg-2.1
  fretsonfire-songs-sectoid=1.dfsg-3.1
  nexuiz-music=2.5.2-12
  warzone2100-music=4.3.3-3
  ufoai-music=2.5-2
  singularity-music=007-2
  hyperrogue-music=12.0q-1
  planetblupi-music-ogg=1.14.2-3
  drascula-music=1.0+ds4-2
  asc-music=1.3-6
  colobot-common-sounds=0.2.0-2
  hedgewars-data=1.0.2-6
  lincity-ng-data=2.9~git20150314-5
  extremetuxracer-data=0.8.2-1
  pushover-data=0.0.5+git20180909-4
  xmoto-data=0.6.1+repack-9
)

failed=()
cd "$TARGET/debs"
for spec in "${PACKAGES[@]}"; do
  pkg="${spec%%=*}"
  if ! ls "${pkg}"_*.deb >/dev/null 2>&1; then
    echo "fetch: downloading $spec"
    if ! nice apt-get download "$spec" >/dev/null 2>&1; then
      echo "fetch: $spec not available, trying the current version of $pkg" >&2
      nice apt-get download "$pkg" >/dev/null 2>&1 || { failed+=("$pkg"); continue; }
    fi
  fi
  deb="$(ls "${pkg}"_*.deb | head -n1)"
  if [ ! -d "$TARGET/$pkg" ]; then
    echo "fetch: unpacking $deb"
    nice dpkg -x "$deb" "$TARGET/$pkg.part" && mv "$TARGET/$pkg.part" "$TARGET/$pkg" || failed+=("$pkg")
  fi
done

cd "$TARGET"
nice python3 "$HERE/prepare.py" "$TARGET" || failed+=("prepare.py")

# check every labelled file is there
missing=$(python3 - "$TARGET" "$HERE/labels.csv" <<'PY'
import csv, os, sys
root, labels = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(labels)))
miss = [r["path"] for r in rows if not os.path.exists(os.path.join(root, r["path"]))]
for m in miss:
    print(m)
print(f"fetch: {len(rows) - len(miss)}/{len(rows)} labelled files present", file=sys.stderr)
PY
)
if [ -n "$missing" ]; then
  echo "fetch: missing labelled files:" >&2
  echo "$missing" >&2
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fetch: failed: ${failed[*]}" >&2
  exit 1
fi
[ -z "$missing" ]
