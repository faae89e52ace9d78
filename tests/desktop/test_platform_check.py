"""tagatlas-gui on a fresh Linux desktop (issue 12, item 8): before Qt's xcb plugin aborts for
want of system libraries, the app names the missing ones and the apt-get command, exit 2.
Missing libraries are simulated with a loader function."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from desktop import platform_check as pc

X11 = {"DISPLAY": ":0"}
FRESH_UBUNTU_MISSING = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0",
                        "libxkbcommon-x11.so.0"}


def loader_without(missing):
    seen = []

    def load(soname):
        seen.append(soname)
        return soname not in missing
    load.seen = seen
    return load


def test_names_the_missing_libraries_and_the_install_command():
    load = loader_without(FRESH_UBUNTU_MISSING)
    msg = pc.xcb_problem(X11, load, platform="linux")
    assert msg is not None
    for soname in FRESH_UBUNTU_MISSING:
        assert soname in msg
    (command,) = [ln.strip() for ln in msg.splitlines() if "apt-get" in ln]
    assert command == ("sudo apt-get install libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 "
                       "libxcb-keysyms1")
    assert "xcb" in msg and "Traceback" not in msg
    assert set(load.seen) >= set(pc.XCB_LIBRARIES)        # every library was tried


def test_one_package_for_two_libraries_is_named_once():
    msg = pc.xcb_problem(X11, loader_without({"libglib-2.0.so.0", "libgthread-2.0.so.0"}),
                         platform="linux")
    assert msg.count("libglib2.0-0") == 1 and "libgthread-2.0.so.0" in msg


def test_libraries_only_ldd_knows_are_named_too():
    msg = pc.xcb_problem(X11, loader_without({"libfoo.so.3"}), also_needed=["libfoo.so.3"],
                         platform="linux")
    assert "libfoo.so.3" in msg and "apt-file search" in msg and "apt-get" not in msg


def test_nothing_missing_or_no_xcb_means_no_message():
    everything = loader_without(set())
    assert pc.xcb_problem(X11, everything, platform="linux") is None
    nothing = loader_without(set(pc.XCB_LIBRARIES))
    for env in ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"},
                {"QT_QPA_PLATFORM": "wayland"},
                {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},
                {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"},
                {},                                               # no display at all
                {"DISPLAY": ":0", "TAGATLAS_SKIP_QT_CHECK": "1"}):
        assert pc.xcb_problem(env, nothing, platform="linux") is None, env
    assert pc.xcb_problem(X11, nothing, platform="darwin") is None
    assert pc.xcb_problem(X11, nothing, platform="win32") is None


@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ":0"}, True),
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "xcb:nograb", "DISPLAY": ":1"}, True),
    ({"QT_QPA_PLATFORM": "xcb;wayland"}, True),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, False),
    ({"QT_QPA_PLATFORM": "offscreen"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, False),
    ({}, False),
])
def test_when_qt_uses_xcb(env, expected):
    assert pc.will_use_xcb(env, "linux") is expected


def test_ldd_output_parsing():
    out = ("\tlinux-vdso.so.1 (0x00007ffd)\n"
           "\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f16)\n"
           "\tlibxcb-icccm.so.4 => not found\n"
           "\tlibxcb-keysyms.so.1 => not found\n"
           "\tlibxcb-icccm.so.4 => not found\n")
    assert pc.parse_ldd_not_found(out) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert pc.parse_ldd_not_found("") == []
    assert pc.ldd_missing("/no/such/plugin.so") == []


def test_the_real_loader():
    assert pc.system_loader("libc.so.6")
    assert not pc.system_loader("libtagatlas-does-not-exist.so.9")


def test_gui_exits_2_with_the_message_before_qt(monkeypatch, capsys):
    from desktop import app

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    monkeypatch.delenv("TAGATLAS_SKIP_QT_CHECK", raising=False)
    monkeypatch.setenv("DISPLAY", ":42")
    monkeypatch.setattr(pc, "system_loader", loader_without(FRESH_UBUNTU_MISSING))
    monkeypatch.setattr(pc, "ldd_missing", list)

    def no_qt(*_a, **_k):
        raise AssertionError("Qt must not start")
    monkeypatch.setattr(app, "make_app", no_qt)
    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4" in err and "sudo apt-get install" in err


def test_readme_quick_start_lists_the_packages():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", quick, re.DOTALL)
    commands = [ln for b in blocks for ln in b.splitlines() if ln.strip()]
    apt = [c for c in commands if c.startswith("sudo apt-get install")]
    assert apt == [pc.install_command(pc.system_packages())]
    assert len(commands) == 3                              # apt + install/run + install/test
