"""The whole published study as one job: clean accuracy, stuck-on vs stuck-off, sensitivity, recovery, report."""
