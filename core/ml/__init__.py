"""Machine learning with torch: training the software network and creating a trained, mapped project.

Torch stays inside this package and :mod:`core.recovery`; callers get numpy arrays.
"""
