"""The New-project form, free of Qt: its fields, their validation into core objects, and the data preview.

Every numeric field is a :class:`core.model.params.RangeSpec` read from the core's dataclasses (TrainConfig,
DeviceParams, CircuitParams) or from :data:`core.model.data.DOWNSAMPLE`, so defaults, ranges and units are
declared once. Errors are :class:`FieldError` s: the message names the field (its label and unit) and the
allowed range, and ``key`` says which widget to mark.

The data set part (reading user files off the GUI thread, the preview, which read is wanted) is in
:mod:`app.presenters.dataset_preview`; its names are available here too.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Optional

from app.presenters.dataset_preview import (  # noqa: F401 - re-exported: the form's one namespace
    PATH_FIELDS,
    PREVIEW_SAMPLES,
    SOURCES,
    DatasetPreview,
    DataSource,
    DataState,
    FieldError,
    MissingPath,
    data_source,
    make_preview,
    message_of,
    preview_job,
    read_spec,
)
from core.errors import ParameterError, WorkbenchError
from core.model import tiling
from core.model.crossbar import parse_pitch, physical_shape
from core.model.data import DOWNSAMPLE, DatasetSpec
from core.model.devices import DEVICE_MODELS, SCHEMES, CircuitParams, DeviceParams
from core.model.network import PRESETS, NetworkConfig, TrainConfig, parse_hidden, preset_name
from core.model.params import RangeSpec, ranged_fields
from core.model.project import Project

SCHEME_HELP = {  # a hint per scheme; the programming rules are in core.circuit.mapping
    "differential-columns": "a weight is a pair of columns (G+, G-); the idle device sits at HRS",
    "differential-rows": "a weight is a pair of rows driven by +V and -V; the idle device sits at HRS",
    "balanced": "column pairs around mid-window (G+- = g_mid +- u dG/2): stuck on and off hurt alike",
    "reference": "one device per weight against a mid-window reference column (one per array)",
}
CUSTOM = "custom"
SECTIONS = {
    "dataset": "Dataset",
    "network": "Network && training",
    "scheme": "Mapping",
    "device": "Device",
    "circuit": "Circuit",
}
HIDDEN_LABEL = "Hidden sizes"


@dataclass(frozen=True)
class FieldSpec:
    """One numeric field of the form: its key (``train.epochs``), section and core range."""

    key: str
    section: str
    spec: RangeSpec

    @property
    def label(self) -> str:
        return f"{self.spec.label} ({self.spec.unit})" if self.spec.unit else self.spec.label

    @property
    def default_text(self) -> str:
        return format_value(self.spec.default, self.spec.integer)

    @property
    def tooltip(self) -> str:
        parts = [self.spec.help, self.spec.describe(), f"default {self.default_text}"]
        if self.spec.unit == "ohm":
            parts.append("suffixes k, M (or meg), G allowed: 20k, 2M")
        return "; ".join(p for p in parts if p)


def _fields(section: str, prefix: str, cls) -> list[FieldSpec]:
    return [FieldSpec(f"{prefix}.{s.name}", section, s) for s in ranged_fields(cls)]


NUMBER_FIELDS: dict[str, FieldSpec] = {
    f.key: f
    for f in [
        FieldSpec("dataset.downsample", "dataset", DOWNSAMPLE),
        *_fields("network", "train", TrainConfig),
        *_fields("device", "device", DeviceParams),
        *_fields("circuit", "circuit", CircuitParams),
    ]
}


def format_value(value: float, integer: bool = False) -> str:
    """A value as the form shows it: ``150``, ``0.01``, ``1e+06``."""
    return str(int(value)) if integer else f"{float(value):g}"


OTHER_LABELS = {
    "dataset.source": "Data source",
    **PATH_FIELDS,
    "network.preset": "Preset",
    "network.hidden": HIDDEN_LABEL,
    "scheme": "Mapping scheme",
    "device.model": "Device model",
    "layout.tile": "Tile size",
    "layout.unused": "Unused cells",
}


def field_label(key: str) -> str:
    """The label of any form field (what its error messages name)."""
    return NUMBER_FIELDS[key].label if key in NUMBER_FIELDS else OTHER_LABELS.get(key, key)


def _default(cls, name: str):
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def preset_of(hidden) -> str:
    """The preset name whose sizes are ``hidden``, else ``custom``."""
    return preset_name(hidden, CUSTOM)


def default_values() -> dict[str, str]:
    """The form's text for every field, from the core dataclasses' defaults."""
    hidden = NetworkConfig().hidden
    values = {
        "dataset.source": _default(DatasetSpec, "source"),
        **dict.fromkeys(PATH_FIELDS, ""),
        "network.preset": preset_of(hidden),
        "network.hidden": ",".join(map(str, hidden)),
        "scheme": _default(Project, "scheme"),
        PITCH_KEY: "",
        "layout.tile": "",
        "layout.unused": "hrs",
        "device.model": _default(DeviceParams, "model"),
    }
    values.update({k: f.default_text for k, f in NUMBER_FIELDS.items()})
    return values


def values_from_project(project: Project) -> dict[str, str]:
    """The network, training, scheme, device and circuit fields of an existing project (dataset fields excluded)."""
    objs = {"train": project.training, "device": project.device, "circuit": project.circuit}
    values = {
        "network.preset": preset_of(project.network.hidden),
        "network.hidden": ",".join(map(str, project.network.hidden)),
        "scheme": project.scheme,
        PITCH_KEY: pitch_text(project.mapped.pitches_um[0] if project.mapped is not None else None),
        TILE_KEY: tile_text(project.mapped.arrays[0].tile if project.mapped is not None else None),
        UNUSED_KEY: project.mapped.arrays[0].unused_state if project.mapped is not None else "hrs",
        "device.model": project.device.model,
    }
    for key, f in NUMBER_FIELDS.items():
        prefix, name = key.split(".", 1)
        if prefix in objs:
            values[key] = format_value(getattr(objs[prefix], name), f.spec.integer)
    return values


_OHM = re.compile(
    r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*(k|K|M|meg|Meg|MEG|g|G|t|T)?\s*(?:ohms?|Ω)?"
)
_OHM_SUFFIX = {"k": 1e3, "m": 1e6, "meg": 1e6, "g": 1e9, "t": 1e12}


def check_field(key: str, text: str) -> float:
    """The value of numeric field ``key`` from its text; raises FieldError naming the field and range."""
    f = NUMBER_FIELDS[key]
    value: object = str(text).strip()
    if f.spec.unit == "ohm":
        m = _OHM.fullmatch(str(value))
        if m and m.group(2):  # without a suffix the text goes to the check as typed (its message quotes it)
            value = float(m.group(1)) * (_OHM_SUFFIX[m.group(2).lower()] if m.group(2) else 1.0)
    try:
        return f.spec.check(value, f.label)
    except ParameterError as e:
        raise FieldError(key, f.label, message_of(e)) from None


PITCH_KEY = "layout.cell_pitch"
PITCH_LABEL = "Cell pitch (um)"
PITCH_TIP = (
    "x by y in um, e.g. 0.2x0.4 (x along word lines), or one number for square cells; every array. "
    "Lets defects be given in um (circle:r_um=...) and draws cells to scale. Empty: unknown"
)


def pitch_text(pitch_um: Optional[tuple[float, float]]) -> str:
    """The field's text for a pitch: ``0.2x0.4``, ``0.3`` if square, empty if unknown."""
    if pitch_um is None:
        return ""
    x, y = pitch_um
    return f"{x:g}" if x == y else f"{x:g}x{y:g}"


def check_pitch_text(text: str) -> Optional[tuple[float, float]]:
    """The pitch of the cell-pitch field (None if empty); raises FieldError naming the field and range."""
    if not str(text).strip():
        return None
    try:
        return parse_pitch(str(text), PITCH_LABEL)
    except ParameterError as e:
        raise FieldError(PITCH_KEY, PITCH_LABEL, message_of(e)) from None


TILE_KEY = "layout.tile"
UNUSED_KEY = "layout.unused"
TILE_TIP = (
    "split every layer over fixed-size arrays, e.g. 64x64 or 128 (square); the tiles of a layer share each "
    "column's TIA (wired current summing) and their unused cells are real devices. Empty: one array per layer"
)
UNUSED_TIP = "state of a tile's cells no weight uses: hrs (programmed to the HRS) or unformed (10x the HRS)"


def tile_text(tile: Optional[tuple[int, int]]) -> str:
    """The field's text for a tile size: ``64x32``, ``64`` if square, empty if not tiled."""
    if tile is None:
        return ""
    return f"{tile[0]}" if tile[0] == tile[1] else f"{tile[0]}x{tile[1]}"


def check_tile_text(text: str) -> Optional[tuple[int, int]]:
    """The tile size of the tile field (None if empty); raises FieldError naming the field and range."""
    if not str(text).strip():
        return None
    try:
        return tiling.parse_tile(str(text), OTHER_LABELS[TILE_KEY])
    except ParameterError as e:
        raise FieldError(TILE_KEY, OTHER_LABELS[TILE_KEY], message_of(e)) from None


def check_text(key: str, text: str):
    """Validate one text field as the user leaves it (numbers, hidden sizes, cell pitch, tile); raises FieldError."""
    if key == PITCH_KEY:
        return check_pitch_text(text)
    if key == TILE_KEY:
        return check_tile_text(text)
    if key == "device.levels":
        value = check_field(key, text)
        if value == 1:
            raise FieldError(key, field_label(key), "must be 0 (continuous) or >= 2, got 1")
        return value
    if key == "network.hidden":
        try:
            return parse_hidden(str(text).strip())
        except ParameterError as e:
            raise FieldError(key, HIDDEN_LABEL, message_of(e)) from None
    return check_field(key, text)


def mapping_text(values: dict, data_state: DataState) -> str:
    """The chosen scheme in a line and the crossbar arrays it gives this network (empty parts are left out)."""
    scheme = values.get("scheme", "")
    lines = [SCHEME_HELP.get(scheme, "")]
    preset = values.get("network.preset", "")
    try:
        hidden = PRESETS[preset] if preset in PRESETS else parse_hidden(str(values.get("network.hidden", "")))
        pv = data_state.preview
        if pv is not None and pv.source == data_state.wanted and pv.source.kind == values.get("dataset.source"):
            n_in, n_out = pv.n_features, max(pv.n_classes, 2)
        else:
            n_in, n_out = NetworkConfig().n_inputs, NetworkConfig().n_outputs
        sizes = (n_in, *hidden, n_out)
        shapes = [physical_shape(scheme, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    except WorkbenchError:
        return lines[0]
    net = "-".join(map(str, sizes))
    try:
        tile = check_tile_text(values.get(TILE_KEY, ""))
    except FieldError:
        tile = None
    if tile is None:
        parts = [f"{r}x{c}" for r, c in shapes]
    else:
        parts = []
        for r, c in shapes:
            mr, mc = tiling.mosaic_shape((r, c), tile)
            parts.append(f"{r}x{c} on {mr // tile[0]}x{mc // tile[1]} tiles")
    lines.append(f"network {net}: arrays " + ", ".join(parts) + " (rows x columns)")
    return "\n".join(line for line in lines if line)


# ---- the whole form -------------------------------------------------------------------------------------------
@dataclass
class NewProjectRequest:
    """Everything ``create_project_job`` needs: the five configuration objects and the mapping scheme."""

    dataset: DatasetSpec
    network: NetworkConfig
    training: TrainConfig
    device: DeviceParams
    circuit: CircuitParams
    scheme: str
    cell_pitch_um: Optional[tuple[float, float]] = None
    tile: Optional[tuple[int, int]] = None
    unused_state: str = "hrs"


def _section_values(prefix: str, values: dict, errors: list[FieldError]) -> dict:
    out = {}
    for key in NUMBER_FIELDS:
        if key.startswith(prefix + "."):
            try:
                out[key.split(".", 1)[1]] = check_field(key, values.get(key, ""))
            except FieldError as e:
                errors.append(e)
    return out


def _core_error(e: ParameterError) -> FieldError:
    """A core ParameterError (``field`` is an attribute name) as the form field it belongs to."""
    key = next((f"{p}.{e.field}" for p in ("train", "device", "circuit") if f"{p}.{e.field}" in NUMBER_FIELDS), "")
    key = key or ("network.hidden" if e.field in ("hidden", "n_inputs", "n_outputs") else "dataset.source")
    return FieldError(key, field_label(key), message_of(e))


def form_errors(values: dict, data_state: DataState) -> tuple[Optional[NewProjectRequest], list[FieldError]]:
    """Validate every field: (request, []) when all are valid, else (None, every error in form order)."""
    errors: list[FieldError] = []
    source: Optional[DataSource] = None
    try:
        source = data_source(values)
    except FieldError as e:
        errors.append(e)
    preset = values.get("network.preset", "")
    hidden: tuple[int, ...] = ()
    if preset in PRESETS:
        hidden = PRESETS[preset]
    elif preset == CUSTOM:
        try:
            hidden = parse_hidden(str(values.get("network.hidden", "")).strip())
        except ParameterError as e:
            errors.append(FieldError("network.hidden", HIDDEN_LABEL, message_of(e)))
    else:
        errors.append(FieldError("network.preset", "Preset", f"must be one of {', '.join([*PRESETS, CUSTOM])}"))
    train = _section_values("train", values, errors)
    scheme = values.get("scheme", "")
    if scheme not in SCHEMES:
        errors.append(FieldError("scheme", "Mapping scheme", f"must be one of {', '.join(SCHEMES)}; got {scheme!r}"))
    model = values.get("device.model", "")
    if model not in DEVICE_MODELS:
        errors.append(FieldError("device.model", "Device model", f"must be one of {', '.join(DEVICE_MODELS)}"))
    dev = _section_values("device", values, errors)
    r_on, r_off = dev.get("r_on_ohm"), dev.get("r_off_ohm")
    if r_on is not None and r_off is not None and r_off <= r_on:
        errors.append(
            FieldError(
                "device.r_off_ohm",
                field_label("device.r_off_ohm"),
                f"must be larger than the {NUMBER_FIELDS['device.r_on_ohm'].spec.label} ({r_on:g} ohm), got {r_off:g}",
            )
        )
    if dev.get("levels") == 1:
        errors.append(
            FieldError("device.levels", field_label("device.levels"), "must be 0 (continuous) or >= 2, got 1")
        )
    cir = _section_values("circuit", values, errors)
    pitch = None
    try:
        pitch = check_pitch_text(values.get(PITCH_KEY, ""))
    except FieldError as e:
        errors.append(e)
    tile = None
    try:
        tile = check_tile_text(values.get(TILE_KEY, ""))
    except FieldError as e:
        errors.append(e)
    unused = values.get(UNUSED_KEY, "hrs") or "hrs"
    if unused not in tiling.UNUSED_STATES:
        errors.append(
            FieldError(UNUSED_KEY, OTHER_LABELS[UNUSED_KEY], f"must be one of {', '.join(tiling.UNUSED_STATES)}")
        )
    dataset = None
    if source is not None and "seed" in train:
        try:
            dataset = data_state.dataset(source, int(train["seed"]))
        except FieldError as e:
            errors.insert(0, e)
    if errors:
        return None, errors
    assert dataset is not None
    spec, n_in, n_out = dataset
    try:  # the core's own checks (all passed above; anything left still names its field)
        return NewProjectRequest(
            spec,
            NetworkConfig(n_in, hidden, n_out),
            TrainConfig(**train),
            DeviceParams(model=model, **dev),
            CircuitParams(**cir),
            scheme,
            pitch,
            tile,
            unused,
        ), []
    except ParameterError as e:
        return None, [_core_error(e)]
    except WorkbenchError as e:
        return None, [FieldError("dataset.source", "Dataset", str(e))]


def build_request(values: dict, data_state: DataState) -> NewProjectRequest:
    """The :class:`NewProjectRequest` of the form; raises the first :class:`FieldError` (in form order)."""
    request, errors = form_errors(values, data_state)
    if errors:
        raise errors[0]
    assert request is not None
    return request
