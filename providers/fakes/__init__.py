"""Local fake provider servers (development, tests, benchmarks): real HTTP on 127.0.0.1, documented shapes."""
