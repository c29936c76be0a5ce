"""Set-up by point and click: the New-project dialog, its data preview, and training it through the queue.

Real components only: real files in tmp_path, real training in the window's job queue, real Qt (offscreen).
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog

from app.dialogs.new_project import NewProjectDialog, ask_new_project
from core.model.crossbar import physical_shape
from core.model.devices import CircuitParams, DeviceParams
from core.model.network import TrainConfig

SHOTS = os.environ.get("SCREENSHOT_DIR")


def write_npz(path, n=300, features=16, counts=(120, 100, 80)):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(counts)), counts)[:n]
    np.savez(path, X=rng.random((len(y), features)) + y[:, None], y=y)


def write_idx(path, arr) -> None:
    """An IDX file as core.model.data.read_idx reads it: 0, 0, dtype code, ndim, big-endian dims, payload."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(raw)


def dialog(qtbot, window) -> NewProjectDialog:
    dlg = NewProjectDialog(window.state, window)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: not dlg.reading(), timeout=20_000)  # the bundled digits' preview
    return dlg


def fill(dlg: NewProjectDialog, **values) -> None:
    """Type into fields as a user would (keys as in app.presenters.new_project, '.' written as '__')."""
    for key, text in values.items():
        key = key.replace("__", ".")
        w = dlg.widgets[key]
        if hasattr(w, "setCurrentText"):
            w.setCurrentText(text)
        else:
            w.setText(text)
            w.editingFinished.emit()


def train_through_queue(qtbot, window, request):
    ids = []
    with qtbot.waitSignal(
        window.jobs.job_finished, timeout=120_000, check_params_cb=lambda info: bool(ids) and info.id == ids[0]
    ) as blocker:
        ids.append(window.training.start_training(request))
        assert ids[0] is not None
    return blocker.args[0]


def n_points(curve) -> int:
    x = curve.getData()[0]
    return 0 if x is None else len(x)


def arrays(scheme, sizes):
    return [physical_shape(scheme, a, b) for a, b in zip(sizes[:-1], sizes[1:])]


def test_dialog_trains_a_non_default_scheme_and_device(window, qtbot):
    dlg = dialog(qtbot, window)
    assert dlg.sample_items and dlg.class_counts() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    fill(
        dlg,
        scheme="differential-rows",
        device__r_on_ohm="20k",
        device__r_off_ohm="2M",
        device__levels="16",
        train__epochs="3",
        network__preset="custom",
        network__hidden="6,5,4",
        train__seed="2",
    )
    assert "130x6" in dlg.scheme_help.text()  # the arrays of this scheme, before training
    assert not window.jobs.jobs()  # nothing starts before Train
    request = dlg.train()
    assert dlg.result() == QDialog.DialogCode.Accepted and request is dlg.request
    info = train_through_queue(qtbot, window, request)
    assert info.state == "done"
    p = window.state.project
    assert p is info.result and p.scheme == "differential-rows"
    assert p.device == DeviceParams(r_on_ohm=20e3, r_off_ohm=2e6, levels=16)  # the rest: the defaults
    assert p.circuit == CircuitParams() and p.training == TrainConfig(epochs=3, seed=2) and p.dataset.seed == 2
    assert p.network.layer_sizes == (64, 6, 5, 4, 10)
    assert p.mapped.shapes == arrays("differential-rows", (64, 6, 5, 4, 10)) == [(130, 6), (14, 5), (12, 4), (10, 10)]
    assert p.mapped.device.levels == 16 and len(np.unique(p.mapped.arrays[0].g_siemens)) <= 16
    tr = window.training
    x, y = tr.loss_curve.getData()
    assert np.array_equal(x, [1, 2, 3]) and np.allclose(y, p.weights.history["loss"])
    assert "differential-rows" in tr.summary.text() and "LRS 20 kohm, HRS 2 Mohm, 16 levels" in tr.summary.text()


def test_a_bad_field_names_itself_and_its_range_and_trains_nothing(window, qtbot):
    dlg = dialog(qtbot, window)
    fill(dlg, train__epochs="0")
    assert dlg.message.is_error and dlg.message.text() == "Epochs: must be in [1, 100000], got '0'"
    assert "train.epochs" in dlg.bad and "[1, 100000]" in dlg.widgets["train.epochs"].toolTip()
    fill(dlg, device__r_off_ohm="5k")  # below the LRS of 10 kohm
    assert dlg.train() is None and dlg.isVisible() and dlg.result() != QDialog.DialogCode.Accepted
    text = dlg.message.text()
    assert text.startswith("Epochs: must be in [1, 100000]")
    assert "HRS (stuck-off) resistance (ohm): must be larger than the LRS (stuck-on) resistance (10000 ohm)" in text
    assert dlg.bad == {"train.epochs", "device.r_off_ohm"} and dlg.widgets["train.epochs"].hasFocus()
    fill(dlg, train__learning_rate="abc")
    assert dlg.message.text() == "Learning rate: must be a number in (0, 10], got 'abc'"
    assert not window.jobs.jobs() and dlg.request is None
    fill(dlg, train__epochs="2", device__r_off_ohm="1M", train__learning_rate="0.01")
    assert not dlg.bad and not dlg.message.is_error  # fixed fields lose their marks as they are left
    assert dlg.train() is not None


def test_npz_file_previews_4x4_images_class_counts_and_trains_16_inputs(window, qtbot, tmp_path):
    path = tmp_path / "user.npz"
    write_npz(path, n=300, features=16, counts=(120, 100, 80))
    dlg = dialog(qtbot, window)
    dlg.source_radios["npz"].setChecked(True)
    assert not dlg.sample_items and "choose a file" in dlg.data_status.text()
    fill(dlg, dataset__npz=str(path))
    # read off the GUI thread: the call returned before the file was read
    assert dlg.reading() and "reading user.npz" in dlg.data_status.text()
    qtbot.waitUntil(lambda: not dlg.reading(), timeout=20_000)
    assert [item.image.shape for item in dlg.sample_items] == [(4, 4)] * 10
    assert dlg.sample_labels[:3] == [0, 1, 2] and dlg.class_counts() == [120, 100, 80]
    assert "300 samples, 16 features (4x4 images), 3 classes" in dlg.data_status.text()
    assert "network 16-8-8-8-3" in dlg.scheme_help.text()
    fill(dlg, train__epochs="3", network__preset="custom", network__hidden="4,4,4")
    info = train_through_queue(qtbot, window, dlg.train())
    p = window.state.project
    assert info.state == "done" and p is info.result
    assert p.network.layer_sizes == (16, 4, 4, 4, 3) and p.dataset.source == "npz" and p.dataset.X.shape == (300, 16)
    assert p.mapped.shapes == arrays(p.scheme, (16, 4, 4, 4, 3)) and p.mapped.shapes[0][0] == 17


def test_idx_files_preview_the_downsampled_size(window, qtbot, tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "img.idx.gz", rng.integers(0, 256, (60, 8, 8)))
    write_idx(tmp_path / "lab.idx", np.arange(60) % 3)
    dlg = dialog(qtbot, window)
    dlg.source_radios["idx"].setChecked(True)
    assert dlg.widgets["dataset.downsample"].isEnabled() and not dlg.widgets["dataset.npz"].isEnabled()
    fill(dlg, dataset__idx_images=str(tmp_path / "img.idx.gz"), dataset__downsample="2")
    assert "IDX labels file: choose a file" in dlg.data_status.text()
    fill(dlg, dataset__idx_labels=str(tmp_path / "lab.idx"))
    qtbot.waitUntil(lambda: not dlg.reading(), timeout=20_000)
    assert {item.image.shape for item in dlg.sample_items} == {(4, 4)} and dlg.class_counts() == [20, 20, 20]
    assert "16 features (4x4 images)" in dlg.data_status.text()
    fill(dlg, dataset__downsample="3")  # 8 is not divisible by 3: the read fails, the factor is marked
    qtbot.waitUntil(lambda: not dlg.reading(), timeout=20_000)
    assert dlg.data_status.is_error and "not divisible by 3" in dlg.data_status.text()
    assert "dataset.downsample" in dlg.bad and not dlg.sample_items and dlg.train() is None
    fill(dlg, dataset__downsample="1")
    qtbot.waitUntil(lambda: not dlg.reading(), timeout=20_000)
    assert {item.image.shape for item in dlg.sample_items} == {(8, 8)} and not dlg.bad
    assert dlg.train().network.n_inputs == 64


def test_cancel_in_the_training_panel_says_cancelled_not_error(window, qtbot):
    tr, st = window.training, window.state
    old = st.project
    dlg = dialog(qtbot, window)
    fill(dlg, train__epochs="20000", network__preset="custom", network__hidden="4,4,4")
    job = tr.start_training(dlg.train())
    assert not tr.cancel_button.isHidden() and not tr.new_button.isEnabled()
    # live curves: the partial history of the running job is drawn epoch by epoch
    qtbot.waitUntil(lambda: n_points(tr.loss_curve) >= 2, timeout=30_000)
    info = window.jobs.queue.get(job)
    assert info.state == "running" and tr.cancel_button.isEnabled() and tr.progress.isVisibleTo(tr)
    assert "training … epoch" in tr.message.text()
    with qtbot.waitSignal(window.jobs.job_finished, timeout=30_000, check_params_cb=lambda i: i.id == job) as b:
        tr.cancel_button.click()
        assert "cancelling" in tr.message.text() and not tr.cancel_button.isEnabled()
    assert b.args[0].state == "cancelled"
    assert not tr.message.is_error and tr.message.text().startswith("Training cancelled after ")
    assert tr.message.text().endswith("epochs; the open project is unchanged.")
    assert st.project is old and not tr.training_active() and tr.new_button.isEnabled()
    assert not tr.cancel_button.isEnabled() and not tr.open_trained_button.isVisibleTo(tr)
    assert window.queue_panel.row_state(job) == "cancelled"
    assert n_points(tr.loss_curve) >= 2 and "cancelled training" in tr.summary.text()
    assert "error" not in window.statusBar().currentMessage().lower()


def test_ask_new_project_is_modal_returns_the_request_or_none(window, qtbot):
    def press(button: str, **values):
        dlg = QApplication.activeModalWidget()
        assert isinstance(dlg, NewProjectDialog)
        fill(dlg, **values)
        getattr(dlg, button).click()

    QTimer.singleShot(0, lambda: press("train_button", train__epochs="7", circuit__r_wire_ohm="1.5"))
    request = ask_new_project(window, window.state)
    assert request.training.epochs == 7 and request.circuit.r_wire_ohm == 1.5
    QTimer.singleShot(0, lambda: press("cancel_button", train__epochs="9"))
    assert ask_new_project(window, window.state) is None
    assert not window.jobs.jobs()  # the dialog never trains by itself


def test_dialog_copies_the_open_project_and_fits_1024x768(window, qtbot):
    dlg = dialog(qtbot, window)
    fill(dlg, device__levels="8", scheme="differential-rows")
    dlg.copy_button.click()  # the example: paper preset, 150 epochs, default device, differential-columns
    p = window.state.project
    values = dlg.values()
    assert values["device.levels"] == str(p.device.levels) and values["scheme"] == p.scheme
    assert values["train.epochs"] == str(p.training.epochs)
    dlg.resize(1000, 690)  # 1024 x 768 less a title bar and a panel
    qtbot.wait(50)
    content = dlg.scroll.widget()
    # every section is visible without scrolling at 1024 x 768
    assert content.minimumSizeHint().width() <= dlg.scroll.viewport().width()
    assert content.minimumSizeHint().height() <= dlg.scroll.viewport().height()
    if SHOTS:
        dlg.resize(1024, 768)
        qtbot.wait(50)
        dlg.grab().save(os.path.join(SHOTS, "new_project_dialog.png"))


def test_the_panels_new_project_button_asks_then_trains_in_the_queue(window, qtbot):
    tr = window.training

    def press_train():
        dlg = QApplication.activeModalWidget()
        qtbot.waitUntil(lambda: not dlg.reading(), timeout=20_000)
        fill(dlg, train__epochs="2", network__preset="custom", network__hidden="3,3,3", device__levels="8")
        dlg.train_button.click()

    QTimer.singleShot(0, press_train)
    ids = []
    with qtbot.waitSignal(
        window.jobs.job_finished, timeout=60_000, check_params_cb=lambda info: bool(ids) and info.id == ids[0]
    ) as blocker:
        ids.append(tr.new_button.click() or tr.job_id)
        assert ids[0] is not None and window.jobs.queue.get(ids[0]).name.startswith("train 64-3-3-3-10")
    assert blocker.args[0].state == "done"
    p = window.state.project
    assert p is blocker.args[0].result and p.device.levels == 8 and p.network.hidden == (3, 3, 3)
    assert tr.message.text() == "Training finished; the new project is open (unsaved)." and not tr.message.is_error
