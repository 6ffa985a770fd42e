"""Pure analytics: pandas DataFrames with canonical columns in, DataFrames out; no I/O."""
