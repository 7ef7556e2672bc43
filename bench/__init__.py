"""On-demand measurements: the benchmark of the scoring step and the detection-quality replays."""
