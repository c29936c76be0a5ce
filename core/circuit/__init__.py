"""Circuit physics: mapping weights to conductances, the neuron stage, and the fidelities that evaluate it.

:mod:`~core.circuit.mapping` (weights -> conductances), :mod:`~core.circuit.neuron` (TIA, stage 2, ReLU,
rails: one model for every fidelity), :mod:`~core.circuit.opamp` and :mod:`~core.circuit.nodal_neurons` (the
same stage with non-ideal op-amps, closed form and as the nodal solver's termination),
:mod:`~core.circuit.behavioral` (closed form),
:mod:`~core.circuit.nodal` (sparse nodal solve with wire resistance), :mod:`~core.circuit.spice` (the whole
circuit in ngspice), :mod:`~core.circuit.fidelity` (one entry point over all of them).
"""
