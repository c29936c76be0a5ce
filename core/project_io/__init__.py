"""The HDF5 project file: :func:`save` (atomic), :func:`load` (validated, never executes anything), :func:`summary`.

:mod:`~core.project_io.schema` holds the format version, limits and checks, :mod:`~core.project_io.reader`
reads a validated file into a :class:`~core.model.project.Project`, :mod:`~core.project_io.writer` writes
one, :mod:`~core.project_io.loader` opens and migrates.
"""

from core.errors import ProjectFormatError, ProjectSaveError
from core.project_io.loader import load
from core.project_io.schema import FORMAT_NAME, FORMAT_VERSION
from core.project_io.summary import summary
from core.project_io.writer import save

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ProjectFormatError", "ProjectSaveError", "load", "save", "summary"]
