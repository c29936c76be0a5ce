"""The draft scenario in the project file: written by Save, restored on open, validated like scenarios (no Qt)."""

from __future__ import annotations

import copy

import h5py
import numpy as np
import pytest

from app.presenters.document import DEFAULT_PROJECT, WorkbenchState
from core import project_io
from core.errors import ProjectFormatError
from core.model.defects import Defect, parse_spec
from core.model.project import Draft, Project, Scenario
from core.session.store import store_result
from project_builders import ODD_NAME, V1_FILE, assert_same


@pytest.fixture(scope="module")
def _example() -> Project:
    return project_io.load(DEFAULT_PROJECT)


@pytest.fixture
def example(_example) -> Project:
    return copy.deepcopy(_example)


def _mask(project: Project, array: int, cells) -> np.ndarray:
    m = np.zeros(project.mapped.shapes[array - 1], dtype=bool)
    for rc in cells:
        m[rc] = True
    return m


def _draft(project: Project) -> Draft:
    rng = np.random.default_rng(3)
    return Draft(
        ODD_NAME,
        [
            parse_spec("circle:array=1,cx=0.4,cy=0.6,r=0.25,stuck=on"),
            Defect("circle", 1, "off", 0.0, {"cx": 0.123456789, "r": 1 / 3}),  # more digits than the spec string
            Defect("mask", 2, "ohm", 123456.789, {}, mask=rng.random(project.mapped.shapes[1]) < 0.1),
            Defect("mask", 3, "on", 0.0, {}, mask=_mask(project, 3, [(0, 0), (5, 7)])),
        ],
        "painted on the bench\nsecond line: ü",
        array=2,
    )


def _save_load(project: Project, path) -> Project:
    project_io.save(project, str(path))
    return project_io.load(str(path))


def test_draft_with_masks_round_trips_exactly(example, tmp_path):
    example.draft = _draft(example)
    loaded = _save_load(example, tmp_path / "p.h5")
    assert type(loaded.draft) is Draft
    assert_same(example.draft, loaded.draft, "draft")
    assert loaded.draft.defects[2].mask.dtype == bool and loaded.draft.defects[2].mask.sum() > 0
    assert_same(example, loaded)  # and nothing else changed
    assert project_io.summary(loaded)["draft"] == {
        "name": ODD_NAME,
        "array": 2,
        "defects": [d.to_spec() for d in example.draft.defects],
    }
    with h5py.File(tmp_path / "p.h5", "r") as f:
        # an additive, optional group: the format version stays 1 (see core.project_io.schema)
        assert f.attrs["format_version"] == 1 and f["draft"].attrs["kind"] == b"draft"


def test_no_draft_and_empty_draft(example, tmp_path):
    loaded = _save_load(example, tmp_path / "none.h5")
    assert loaded.draft is None and project_io.summary(loaded)["draft"] is None
    with h5py.File(tmp_path / "none.h5", "r") as f:
        assert "draft" not in f
    example.draft = Draft("nothing yet", [])
    assert_same(example.draft, _save_load(example, tmp_path / "empty.h5").draft)
    v1 = project_io.load(V1_FILE)  # files written before the draft existed
    assert v1.draft is None and v1.scenarios


def test_state_save_writes_the_draft_and_reopening_shows_it(example, tmp_path):
    st = WorkbenchState(example, None)
    st.add_defect(parse_spec("rows:array=2,start=1,count=2,stuck=off"))
    stroke = _mask(example, 1, [(0, 1), (3, 4), (10, 2)])
    st.paint(1, stroke, erase=False, stuck="ohm", stuck_ohm=5e4)
    st.draft_name, st.view_array = "my painted map", 3
    assert st.dirty and "2 edits" in st.unsaved_summary()
    path = st.save(str(tmp_path / "painted.h5"))
    assert not st.dirty and st.unsaved_summary() == ""

    other = WorkbenchState()
    other.open(path)
    assert not other.dirty and not other.stack.can_undo
    assert other.draft_name == "my painted map" and other.view_array == 3
    assert [d.to_spec() for d in other.draft] == [d.to_spec() for d in st.draft]
    assert np.array_equal(other.draft[1].mask, stroke) and other.draft[1].stuck_ohm == 5e4
    # a saved scenario is not the draft: both survive, independently
    other.save_scenario("kept")
    other.set_draft([], "clear")
    other.save()
    again = project_io.load(path)
    assert again.draft.defects == [] and len(again.scenarios["kept"].defects) == 2


def test_snapshot_is_what_gets_written_and_later_edits_stay_unsaved(example, tmp_path):
    st = WorkbenchState(example, None)
    st.add_defect(parse_spec("circle:array=1,r=0.2,stuck=off"))
    snap = st.snapshot()
    # edits and a stored result arrive while a worker thread would be writing the snapshot
    st.paint(1, _mask(example, 1, [(2, 2)]), erase=False)
    st.save_scenario("during")
    store_result(st.project, copy.deepcopy(st.project.results[0]))
    st.results_added()
    path = str(tmp_path / "snap.h5")
    project_io.save(snap.project, path)
    st.saved(snap, path)
    on_disk = project_io.load(path)
    assert [d.pattern for d in on_disk.draft.defects] == ["circle"] and "during" not in on_disk.scenarios
    assert len(on_disk.results) == len(example.results) - 1
    assert st.dirty and st.path == path
    assert st.unsaved_summary() == "2 edits and 1 new result"
    st.save()
    assert not st.dirty and "during" in project_io.load(path).scenarios


def test_a_failed_save_changes_nothing(example, tmp_path):
    st = WorkbenchState(example, None)
    st.add_defect(parse_spec("circle:array=1,r=0.2,stuck=off"))
    with pytest.raises(project_io.ProjectSaveError):
        st.save(str(tmp_path / "no-such-folder" / "p.h5"))
    assert st.dirty and st.path is None and len(st.draft) == 1


def _edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f["draft"])


def _replace(g, name, data):
    del g[name]
    g.create_dataset(name, data=data)


DAMAGE = [
    ("kind", lambda g: g.attrs.__setitem__("kind", "scenario"), "/draft", "attribute 'kind' must be 'draft'"),
    ("array", lambda g: g.attrs.__setitem__("array", np.int64(9)), "/draft (attribute 'array')", "must be in [0, 4]"),
    ("n_defects", lambda g: g.attrs.__setitem__("n_defects", np.int64(5)), "/draft/defect_05", "is missing"),
    ("no_name", lambda g: g.attrs.__delitem__("name"), "/draft", "attribute 'name' is missing"),
    (
        "mask_shape",
        lambda g: _replace(g["defect_03"], "mask", np.zeros((3, 3), dtype=bool)),
        "/draft/defect_03/mask",
        "fits array 2 in no layout",
    ),
    (
        "mask_dtype",
        lambda g: _replace(g["defect_04"], "mask", np.zeros((65, 16), dtype=np.float64)),
        "/draft/defect_04/mask",
        "must have dtype boolean",
    ),
    (
        "mask_values",
        lambda g: _replace(g["defect_04"], "mask", np.full((9, 16), 7, dtype=np.uint8)),
        "/draft/defect_04/mask",
        "values must be in [0, 1]",
    ),
    (
        "spec",
        lambda g: g["defect_01"].attrs.__setitem__("spec", "circle:array=1,r=0.9,stuck=on"),
        "/draft/defect_01",
        "disagrees with the defect's fields",
    ),
    (
        "pattern",
        lambda g: g["defect_02"].attrs.__setitem__("pattern", "triangle"),
        "/draft/defect_02",
        "pattern: must be one of",
    ),
    ("soft_link", lambda g: g.__setitem__("defect_01", h5py.SoftLink("/scenarios")), "/draft/defect_01", "soft link"),
]


@pytest.mark.parametrize("case, damage, where, message", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damaged_draft_is_refused_naming_the_path(example, tmp_path, case, damage, where, message):
    example.draft = _draft(example)
    path = str(tmp_path / "d.h5")
    project_io.save(example, path)
    if case == "soft_link":
        _edit(path, lambda g: g.__delitem__("defect_01"))
    _edit(path, damage)
    with pytest.raises(ProjectFormatError) as info:
        project_io.load(path)
    text = str(info.value)
    assert text.startswith(where + ": ") or text.startswith(where + " "), text
    assert message in text, text


def test_draft_group_that_is_not_a_group(example, tmp_path):
    path = str(tmp_path / "d.h5")
    project_io.save(example, path)
    with h5py.File(path, "r+") as f:
        f["draft"] = np.arange(3)
    with pytest.raises(ProjectFormatError) as info:
        project_io.load(path)
    assert str(info.value).startswith("/draft: must be a group of kind 'draft'")


def test_scenarios_keep_their_layout(example, tmp_path):
    """The shared writer of scenario-like groups still writes scenarios as before (key, name, n_defects)."""
    example.scenarios["x"] = Scenario("x", [parse_spec("rows:array=2,start=1,count=2,stuck=off")], "d")
    path = tmp_path / "s.h5"
    loaded = _save_load(example, path)
    assert_same(example.scenarios, loaded.scenarios, "scenarios")
    with h5py.File(path, "r") as f:
        g = f["scenarios/x"]
        assert [a for a in g.attrs if a != "digest"] == ["kind", "key", "name", "n_defects"]
        assert g.attrs["n_defects"] == 1
