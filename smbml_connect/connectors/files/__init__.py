"""CSV files and .xlsx workbooks as a source."""
