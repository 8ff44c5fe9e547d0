"""The Azure Batch data-plane wire format.

``batchite.wire.models`` and ``batchite.wire.enums`` are generated from the azure-batch SDK by
``tools/gen_wire_models.py``; this module adds the two conversions the rest of batchite uses.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from batchite.wire.models import WireModel

__all__ = ["WireModel", "from_wire", "to_wire"]

ModelT = TypeVar("ModelT", bound=BaseModel)

# ``by_name=False`` (pydantic >= 2.11) makes from_wire accept wire (camelCase) keys only, as the
# service does; older pydantic falls back to populate_by_name, which also accepts snake_case keys.
_ALIAS_ONLY = tuple(int(part) for part in pydantic.VERSION.split(".")[:2]) >= (2, 11)


def to_wire(model: BaseModel) -> dict[str, Any]:
    """JSON-ready dict keyed by wire names, with unset/None fields left out.

    Datetimes come out as RFC 3339 in UTC with ``Z``, timedeltas as ISO 8601 durations
    (``PT1H``, ``P1DT2H``), int64-as-string fields as strings, enums in canonical spelling.
    """
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def from_wire(cls: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """Validate a wire-format (camelCase) JSON object into ``cls``.

    Raises ``pydantic.ValidationError``; error ``loc`` entries use wire names.
    """
    if _ALIAS_ONLY:
        return cls.model_validate(data, by_alias=True, by_name=False)
    return cls.model_validate(data)
