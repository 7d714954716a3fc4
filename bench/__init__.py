"""The benchmarks: `manage.py bench_*` commands that print numbers, and their harness (bench/harness.py)."""
