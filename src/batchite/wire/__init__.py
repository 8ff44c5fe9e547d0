"""The Azure Batch data-plane wire format.

``batchite.wire.models`` and ``batchite.wire.enums`` are generated from the azure-batch SDK by
``tools/gen_wire_models.py``; ``batchite.wire.types`` holds their building blocks and the codec.
"""

from batchite.wire.types import (
    UNLIMITED,
    Duration,
    WireEnum,
    WireError,
    WireStruct,
    convert,
    decode,
    encode,
    to_builtins,
)

__all__ = [
    "UNLIMITED",
    "Duration",
    "WireEnum",
    "WireError",
    "WireStruct",
    "convert",
    "decode",
    "encode",
    "to_builtins",
]
