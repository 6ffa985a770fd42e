"""Pure analytics, grouped by family (leads, customers, forecast, pricing, experiments, shared): DataFrames in, DataFrames out; no I/O."""
