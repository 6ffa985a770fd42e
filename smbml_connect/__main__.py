"""``python -m smbml_connect`` is the same as the ``smbml`` command."""

from smbml_connect.cli import main

main()
