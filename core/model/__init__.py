"""Model objects of a study: network, data, devices, defects, the mapped crossbars, results and the project.

The bottom of the core (above :mod:`core.errors`): plain dataclasses and numpy arrays, no torch, no h5py, no
circuit physics. Defaults and allowed ranges of every parameter live here, once, in the dataclasses.
"""
