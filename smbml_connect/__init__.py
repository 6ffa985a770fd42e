"""smbml_connect: predictions for small businesses, inside the tools they already use."""

from smbml_connect.errors import SmbmlError

__all__ = ["SmbmlError", "__version__"]
__version__ = "0.1.0"
