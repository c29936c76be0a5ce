"""The main window's menus and their shortcuts."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence


def action(window, menu, text: str, slot, *shortcuts) -> QAction:
    """A menu action calling ``slot()`` with every shortcut given (standard keys expanded, duplicates dropped)."""
    act = QAction(text, window)
    keys: list[QKeySequence] = []
    for s in shortcuts:
        for k in QKeySequence.keyBindings(s) if isinstance(s, QKeySequence.StandardKey) else [QKeySequence(s)]:
            if k not in keys:
                keys.append(k)
    act.setShortcuts(keys)
    act.triggered.connect(lambda _checked=False: slot())
    menu.addAction(act)
    return act


def build_menus(w) -> None:
    """The File, Edit, Run, View and Help menus of the main window ``w``; the actions become attributes of ``w``."""
    K = QKeySequence.StandardKey
    m = w.file_menu = w.menuBar().addMenu("&File")
    w.new_action = action(w, m, "&New project…", w.new_project, K.New)
    w.open_action = action(w, m, "&Open…", w.open_dialog, K.Open)
    w.recent_menu = m.addMenu("Open &Recent")
    w.recent_menu.aboutToShow.connect(w._fill_recent_menu)
    w.save_action = action(w, m, "&Save", w.save, K.Save)
    w.save_as_action = action(w, m, "Save &As…", w.save_as_dialog, K.SaveAs)
    w.close_action = action(w, m, "&Close", w.close_project, "Ctrl+W", K.Close)
    m.addSeparator()
    w.import_map_action = action(w, m, "&Import measured map…", w.import_measured_map)
    w.export_netlist_action = action(w, m, "Export &netlist (ngspice)…", w.export_netlist)
    m.addSeparator()
    w.quit_action = action(w, m, "&Quit", w.close, "Ctrl+Q", K.Quit)
    w.file_actions = [
        w.new_action,
        w.open_action,
        w.save_action,
        w.save_as_action,
        w.close_action,
    ]
    e = w.edit_menu = w.menuBar().addMenu("&Edit")
    w.undo_action = action(w, e, "&Undo", w.state.stack.undo, K.Undo)
    w.redo_action = action(w, e, "&Redo", w.state.stack.redo, "Ctrl+Y", "Ctrl+Shift+Z", K.Redo)
    r = w.run_menu = w.menuBar().addMenu("&Run")
    w.study_action = action(w, r, "Run &study…", w.run_study)
    v = w.menuBar().addMenu("&View")
    v.addAction(w.editor_dock.toggleViewAction())
    h = w.help_menu = w.menuBar().addMenu("&Help")
    w.about_action = action(w, h, "&About ReRAM Fault Workbench", w.about)
