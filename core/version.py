"""The software version written into project files and results."""

__version__ = "0.1.0"


def library_versions() -> str:
    """``Python 3.11.7; numpy 2.4.6; h5py 3.x (HDF5 1.14.x)`` for About boxes and reports."""
    import platform

    import h5py
    import numpy

    return (
        f"Python {platform.python_version()}; numpy {numpy.__version__}; h5py {h5py.__version__} "
        f"(HDF5 {h5py.version.hdf5_version})"
    )
