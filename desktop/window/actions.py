"""The main window's actions (as Picard's ``actions.py``): every command of the window as a
:class:`QAction` with its icon, shortcut and tooltip, the rule for when each is enabled, and the
keyboard-shortcut list of the help window.

:func:`create_actions` makes them as ``win.act_*`` attributes (the window's own ``addAction``
makes their shortcuts work everywhere in it); :mod:`desktop.window.layout` puts them in the
toolbar and the table's context menu.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence


def make_action(win, text: str, icon: str | None, shortcut: str | None, slot, tip: str = "") -> QAction:
    """One action of ``win``: ``slot`` on trigger; the tooltip names the shortcut.

    The action is added to ``win``, so its shortcut works everywhere in the window.

    Parameters
    ----------
    win : QWidget
        The main window that owns the action.
    text : str
        The action's label ("&&" for a literal "&").
    icon : str or None
        The theme icon's name (:func:`desktop.theme.set_icon`); None: no icon.
    shortcut : str or None
        A key sequence such as "Ctrl+O"; None: none.
    slot : callable
        Called when the action is triggered.
    tip : str, default ""
        The tooltip's text; empty: ``text`` without its ellipsis.

    Returns
    -------
    QAction
        The new action.
    """
    from desktop import theme

    act = QAction(text, win)
    if icon:
        theme.set_icon(act, icon)
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
    label = tip or text.replace("…", "")
    act.setToolTip(f"{label} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
                   if shortcut else label)
    act.triggered.connect(slot)
    win.addAction(act)
    return act


def create_actions(win) -> None:
    """The window's actions, as ``win.act_add_folder``, ``win.act_rescan`` … (slots are the
    window's methods)."""
    a = make_action
    win.act_add_folder = a(win, "Add folder…", "folder-add", "Ctrl+O", win.add_folder,
                           "Add a music folder and scan it")
    win.act_import = a(win, "Import analyses…", "folder-add", "Ctrl+I", win.import_analyses,
                       "Bring in the results of 'tagatlas batch' (made on another machine or a "
                       "cluster) without analysing again")
    win.act_rescan = a(win, "Rescan", "rescan", "Ctrl+R", win.rescan,
                       "Look for new and changed files and analyse them")
    win.act_review = a(win, "Review && write…", "write", "Ctrl+W", win.open_review,
                       "Review the predicted tags of the selection and write them")
    win.act_undo = a(win, "Undo last write", "undo", "Ctrl+Z", win.undo_last_write,
                     "Put back the tags the last write replaced")
    win.act_map = a(win, "Map", "map", "Ctrl+M", win.toggle_map,
                    "Show the library as a map of similar-sounding tracks")
    win.act_search = a(win, "Search the library", None, "Ctrl+F", win.focus_search)
    win.act_play = a(win, "Play preview", "play", None, win.play_selected)
    win.act_settings = a(win, "Settings", "settings", "Ctrl+,", win.open_settings)
    win.act_problems = a(win, "Show the problems", None, "Ctrl+3", win.show_problems)
    win.act_library = a(win, "Show the library", None, "Ctrl+1", win.show_library)
    win.act_cancel = a(win, "Cancel", "cancel", None, win.cancel_work)
    win.act_playlist = a(win, "Make playlist", "playlist", "Ctrl+P", win.make_playlist,
                         "A playlist of tracks that sound like the selection")
    win.act_export = a(win, "Export M3U8…", "export", "Ctrl+E", win.export_m3u8,
                       "Save the selected tracks as an M3U8 playlist")
    win.act_quit = a(win, "Quit", None, "Ctrl+Q", win.close)
    win.act_help = a(win, "Keyboard shortcuts", None, "F1", win.show_shortcuts)


def update_actions(win) -> None:
    """Enable what the selection and the running work allow."""
    ids = win.selected_ids()
    has_sel = bool(ids)
    model = win.library_model
    analysed = any(model.scores_of(i) is not None for i in ids[:200])
    idle = win.scan_task is None and win.import_task is None
    win.act_review.setEnabled(has_sel and analysed and idle)
    win.act_play.setEnabled(has_sel and win.player is not None)
    win.act_export.setEnabled(has_sel)
    win.act_playlist.setEnabled(has_sel and analysed)
    win.act_rescan.setEnabled(idle and bool(win.settings.folders))
    win.act_add_folder.setEnabled(idle)
    win.act_import.setEnabled(idle)
    win.act_cancel.setEnabled(not idle)
    win.act_undo.setEnabled(win.can_undo and idle and win.undo_task is None)


def shortcut_rows(win) -> list[tuple[str, str]]:
    """(keys, what they do) for the help window."""
    native = QKeySequence.SequenceFormat.NativeText
    rows = [(a.shortcut().toString(native), a.text().replace("&&", "&").replace("…", ""))
            for a in (win.act_add_folder, win.act_rescan, win.act_search, win.act_review,
                      win.act_undo, win.act_map, win.act_playlist, win.act_export,
                      win.act_library, win.act_problems, win.act_settings, win.act_help,
                      win.act_quit)]
    rows.insert(5, ("Space", "Play or pause a preview of the selected track"))
    rows.append(("Double-click", "Review the tags of a track"))
    rows.append(("Wheel, drag, arrows, +/−, 0", "Zoom and move the map; Shift+drag or Ctrl+drag selects"))
    return rows
