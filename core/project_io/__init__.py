"""The HDF5 project file: :func:`save` (atomic), :func:`load` (validated, never executes anything), :func:`summary`.

:mod:`~core.project_io.schema` holds the format version, limits and checks, :mod:`~core.project_io.reader`
reads a validated file into a :class:`~core.model.project.Project`, :mod:`~core.project_io.writer` writes
one, :mod:`~core.project_io.loader` opens and migrates, :mod:`~core.project_io.integrity` digests every group,
:mod:`~core.project_io.lock` keeps writers apart. Front ends open files with :func:`open_project` (probed in a
child process first, see :mod:`~core.project_io.probe`); :func:`load` reads in the calling process.
"""

from core.errors import ProjectFormatError, ProjectSaveError
from core.project_io.loader import Loaded, load, read
from core.project_io.lock import ProjectLockedError, project_lock
from core.project_io.probe import FileStamp, Opened, open_project
from core.project_io.schema import FORMAT_NAME, FORMAT_VERSION
from core.project_io.summary import summary
from core.project_io.writer import save

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FileStamp",
    "Loaded",
    "Opened",
    "ProjectFormatError",
    "ProjectLockedError",
    "ProjectSaveError",
    "load",
    "open_project",
    "project_lock",
    "read",
    "save",
    "summary",
]
