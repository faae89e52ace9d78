"""Before Qt starts on an X11 desktop: are the system libraries of Qt's "xcb" platform plugin
there? On a fresh Debian/Ubuntu some are not (libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0,
libxkbcommon-x11-0…), and Qt then aborts with 'Could not load the Qt platform plugin "xcb"'
and a core dump. :func:`xcb_problem` names the missing libraries and the exact
``sudo apt-get install`` command instead; ``tagatlas-gui`` prints it and exits with code 2.

The logic is pure: it takes the environment and a loader function (``soname -> bool``), so
tests simulate missing libraries. :func:`system_loader` is the real one (``ctypes.CDLL``).
Set ``TAGATLAS_SKIP_QT_CHECK=1`` to skip the check.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping

#: The shared libraries (sonames) that Qt 6's xcb plugin (libqxcb.so, libQt6XcbQpa, and
#: libQt6Gui under them) loads from the system, and the Debian/Ubuntu package of each.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}

EXIT_MISSING_LIBRARIES = 2


def system_packages() -> list[str]:
    """Every Debian/Ubuntu package of :data:`XCB_LIBRARIES`, each once, in table order."""
    return list(dict.fromkeys(XCB_LIBRARIES.values()))


def install_command(packages: Iterable[str]) -> str:
    return "sudo apt-get install " + " ".join(dict.fromkeys(packages))


def will_use_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will try its xcb plugin first: on Linux/BSD, with ``QT_QPA_PLATFORM`` set to
    xcb, or unset on an X11 display (``DISPLAY`` set and not a Wayland session)."""
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        first = requested.split(";")[0].strip()
        return first.split(":")[0] == "xcb"
    if not env.get("DISPLAY"):
        return False
    wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
    return not wayland


def missing_libraries(loader: Callable[[str], bool],
                      sonames: Iterable[str] = XCB_LIBRARIES) -> list[str]:
    """The sonames that ``loader`` cannot load, in order."""
    return [s for s in dict.fromkeys(sonames) if not loader(s)]


def problem_message(missing: list[str]) -> str:
    """The plain message for missing libraries: which, and the command that installs them."""
    packages = [XCB_LIBRARIES.get(s) for s in missing]
    known = [p for p in packages if p]
    unknown = [s for s, p in zip(missing, packages) if not p]
    lines = [("tagatlas-gui: the desktop app cannot start: Qt's X11 (xcb) platform plugin needs "
              "system libraries that are not installed:"),
             "  " + ", ".join(missing)]
    if known:
        lines += ["Install them with:", "  " + install_command(known)]
    if unknown:
        lines.append("(" + ", ".join(unknown) + ": install the package that provides "
                     + ("it" if len(unknown) == 1 else "them")
                     + "; `apt-file search NAME` finds it)")
    lines.append("Then run tagatlas-gui again. (The command-line tool, tagatlas, needs none of them.)")
    return "\n".join(lines)


def xcb_problem(env: Mapping[str, str], loader: Callable[[str], bool], *,
                also_needed: Iterable[str] = (), platform: str = sys.platform) -> str | None:
    """The message to print when Qt is about to use xcb and some of its libraries cannot be
    loaded (``also_needed``: further sonames, e.g. what ``ldd`` found missing); None when all
    is well or xcb will not be used."""
    if env.get("TAGATLAS_SKIP_QT_CHECK") or not will_use_xcb(env, platform):
        return None
    missing = missing_libraries(loader, [*XCB_LIBRARIES, *also_needed])
    return problem_message(missing) if missing else None


# --- the real system ----------------------------------------------------------------------
def _qt_dirs() -> tuple[str | None, str | None]:
    """(PySide6's Qt/lib, its platforms plugin folder), without importing Qt."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None, None
    base = os.path.join(next(iter(spec.submodule_search_locations)), "Qt")
    return os.path.join(base, "lib"), os.path.join(base, "plugins", "platforms")


def system_loader(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (also in PySide6's own Qt/lib folder,
    where a wheel may bundle some)."""
    import ctypes

    candidates = [soname]
    qt_lib, _ = _qt_dirs()
    if qt_lib:
        candidates.append(os.path.join(qt_lib, soname))
    for name in candidates:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)


def parse_ldd_not_found(ldd_output: str) -> list[str]:
    """The sonames an ``ldd`` listing marks "=> not found", each once, in order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def ldd_missing(plugin: str | None = None, timeout_s: float = 5.0) -> list[str]:
    """Sonames ``ldd`` reports as "not found" for the xcb plugin; [] when that cannot be told."""
    if plugin is None:
        _, platforms = _qt_dirs()
        plugin = os.path.join(platforms, "libqxcb.so") if platforms else None
    ldd = shutil.which("ldd")
    if not plugin or not ldd or not os.path.exists(plugin):
        return []
    try:
        out = subprocess.run([ldd, plugin], capture_output=True, text=True, timeout=timeout_s,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldd_not_found(out)


def check_before_qt(env: Mapping[str, str] | None = None) -> str | None:
    """:func:`xcb_problem` on this machine (None when Qt can start, or xcb is not used)."""
    env = os.environ if env is None else env
    if env.get("TAGATLAS_SKIP_QT_CHECK") or not will_use_xcb(env):
        return None
    return xcb_problem(env, system_loader, also_needed=ldd_missing())
