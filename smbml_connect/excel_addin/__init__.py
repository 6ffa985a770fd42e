"""Excel surfaces (xlwings UDFs and the Office.js add-in), thin over smbml_connect.functions.

Only the BSD part of xlwings may ever be imported here: never xlwings.pro or
xlwings.server, and never a licence key.
"""
