"""The ``spice`` fidelity: netlists built with PySpice's ``Circuit`` API, run by ngspice child processes.

:mod:`~core.circuit.spice.netlist` builds the circuit text, :mod:`~core.circuit.spice.runner` runs ``ngspice -b``
and reads its binary raw files, :mod:`~core.circuit.spice.simulate` is the public entry (jobs for whole networks
and single crossbars).
"""
