"""Defect sweeps: the grid (:mod:`~core.sweeps.spec`), chunks of defect maps (:mod:`~core.sweeps.chunks`),
the result table (:mod:`~core.sweeps.table`), local and Dask back ends (:mod:`~core.sweeps.local`,
:mod:`~core.sweeps.dask_backend`) and the sweep job itself (:mod:`~core.sweeps.job`).
"""
