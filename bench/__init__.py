"""On-demand benchmarks (``python -m bench.bench_spice`` ...); figures go to docs/benchmarks.md."""
