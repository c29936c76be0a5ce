"""What a front end's session needs around the core jobs: a job queue, an undo stack, and storing results.

:mod:`~core.session.job_queue` runs jobs on worker threads; :mod:`~core.session.undo` holds undoable edits;
:mod:`~core.session.store` is the one way a result enters a project. Used by the CLI and the GUI alike.
"""
