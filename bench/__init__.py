"""On-demand benchmarks (`python -m bench.bench_spice`, `python -m bench.bench_nodal`); figures go to docs/benchmarks.md."""
