"""Google Sheets: tables in from tabs, result tabs out."""
