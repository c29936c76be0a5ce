"""Accuracy recovery for a defective crossbar network: three remedies behind one job interface.

``correction`` (:mod:`core.recovery.correction`)
    a small MLP trained on the defective circuit's output-layer voltages with calibration labels.
``retrain`` (:mod:`core.recovery.retrain`)
    fault-aware fine-tuning of the healthy devices (stuck ones fixed) on the training split.
``remap`` (:mod:`core.recovery.remap`)
    a function-preserving permutation of hidden neurons that puts harmless weights on stuck devices.

Every method is a core job (a generator yielding :class:`core.jobs.Progress`) returning a
:class:`core.model.project.RecoveryResult`. No method ever reads test labels except to report the final accuracy.
The dispatcher is :func:`core.recovery.recover.recover_job`; shared helpers are in :mod:`core.recovery.common`.
A job returns its result; :func:`core.session.store.store_result` puts it into a project.
"""
