"""Circuit physics: mapping weights to conductances, the neuron stage, and the fidelities that evaluate it.

:mod:`~core.circuit.mapping` (weights -> conductances), :mod:`~core.circuit.neuron` (TIA, stage 2, ReLU,
rails: one model for every fidelity), :mod:`~core.circuit.behavioral` (closed form),
:mod:`~core.circuit.nodal` (sparse nodal solve with wire resistance), :mod:`~core.circuit.spice` (the whole
circuit in ngspice), :mod:`~core.circuit.fidelity` (one entry point over all of them).
"""
