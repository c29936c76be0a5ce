"""Creating a project: load its data, train its network and map the weights to crossbars, as one job."""

from __future__ import annotations

from typing import Optional

from core.circuit.mapping import map_project
from core.jobs import Progress
from core.ml.estimate import check_training_size, estimate_training
from core.ml.training import train_job
from core.model import tiling
from core.model.crossbar import check_pitch
from core.model.data import DatasetSpec
from core.model.devices import CircuitParams, DeviceParams
from core.model.floorplan import auto_floorplan, place
from core.model.network import NetworkConfig, TrainConfig
from core.model.project import Project


def create_project_job(
    dataset: DatasetSpec,
    network: NetworkConfig,
    training: TrainConfig,
    device: Optional[DeviceParams] = None,
    circuit: Optional[CircuitParams] = None,
    scheme: str = "differential-columns",
    cell_pitch_um: Optional[tuple[float, float]] = None,
    allow_large: bool = False,
    tile: Optional[tuple[int, int]] = None,
    unused_state: str = "hrs",
    tile_gap_um: float = tiling.DEFAULT_TILE_GAP_UM,
):
    """Job: build a project, train its network (progress per epoch) and map it to crossbars.

    The network's input and output sizes follow the dataset (features, classes). ``cell_pitch_um`` (x, y in um),
    if given, is every array's cell pitch (physical defect geometry, :mod:`core.model.defects`); the arrays are
    then laid out on a die (:func:`core.model.floorplan.auto_floorplan`). A network whose estimated cost
    (:func:`core.ml.estimate.estimate_training`) is above the limits raises ParameterError before training
    unless ``allow_large``. ``tile`` (rows, cols) splits every layer over fixed-size tiles
    (:func:`core.model.tiling.tile_network`, unused cells at ``unused_state``, tiles ``tile_gap_um`` apart on the
    die). Returns the
    :class:`~core.model.project.Project`.
    """
    pitch = None if cell_pitch_um is None else check_pitch(cell_pitch_um, "cell_pitch_um")
    if tile is not None:
        tile = tiling.check_tile(tile)
    tiling.check_unused_state(unused_state)
    tile_gap_um = tiling.check_gap(tile_gap_um)
    proj = Project(
        dataset=dataset,
        network=network,
        training=training,
        device=device or DeviceParams(),
        circuit=circuit or CircuitParams(),
        scheme=scheme,
    )
    ds = proj.load_dataset()
    if ds.n_features != network.n_inputs or ds.n_classes > network.n_outputs:
        proj.network = network = NetworkConfig(ds.n_features, network.hidden, max(ds.n_classes, 2))
    # before training: a network of hours and gigabytes is refused with its estimate unless allow_large
    cost = estimate_training(network.layer_sizes, len(ds.y_train), len(ds.y_test), training.epochs)
    check_training_size(cost, allow_large)
    proj.weights = yield from train_job(ds, network, training)
    yield Progress(training.epochs, training.epochs, "mapping weights to crossbars")
    map_project(proj)
    if tile is not None:
        proj.mapped = tiling.tile_network(proj.require_mapped(), tile, unused_state, tile_gap_um)
    mapped = proj.require_mapped()
    for a in mapped.arrays:
        a.pitch_um = pitch
    if pitch is not None:  # a pitch gives the arrays a size on silicon: lay them out on a die
        place(mapped, auto_floorplan(mapped))
    return proj
