"""The certificate feature, retired by Azure on 2024-02-29: a pool (or a job's or job schedule's auto
pool) naming certificates is answered `400 CertificateRetired`, as the real service answers since
then (the Certificate operations themselves are in `routes/certificates.py`)."""

from __future__ import annotations

import msgspec

from batchite.domain.errors import BatchError
from batchite.wire.bodies import JobReplaceBody
from batchite.wire.models import (
    BatchJobCreateOptions,
    BatchJobScheduleCreateOptions,
    BatchJobScheduleUpdateOptions,
    BatchJobUpdateOptions,
    BatchPoolCreateOptions,
    BatchPoolReplaceOptions,
    BatchPoolUpdateOptions,
)

RETIRED_MESSAGE = "The 'Azure Batch Certificates' feature was retired on 02/29/2024."
RETIRED_REASON = (
    "The operation is blocked because the 'Azure Batch Certificates' feature was retired on 02/29/2024. "
    "For Certificate APIs, they are no longer supported. For Pool, Job, and Job Schedule APIs, the target "
    "resource should no longer contain certificate references, please either remove the certificate "
    "references or delete the resource."
)


def certificate_retired() -> BatchError:
    return BatchError(400, "CertificateRetired", RETIRED_MESSAGE, [("Reason", RETIRED_REASON)])


# -- certificate references in bodies (the SDK's models no longer have them) ---------------------


class _Pool(msgspec.Struct):
    certificate_references: list[msgspec.Raw] | None = msgspec.field(default=None, name="certificateReferences")


class _AutoPool(msgspec.Struct):
    pool: _Pool | None = None


class _PoolInfo(msgspec.Struct):
    auto_pool: _AutoPool | None = msgspec.field(default=None, name="autoPoolSpecification")


class _Job(msgspec.Struct):
    pool_info: _PoolInfo | None = msgspec.field(default=None, name="poolInfo")


class _Schedule(msgspec.Struct):
    job: _Job | None = msgspec.field(default=None, name="jobSpecification")


def _pool_of(body: _Pool | _Job | _Schedule) -> _Pool | None:
    if isinstance(body, _Schedule):
        if body.job is None:
            return None
        body = body.job
    if isinstance(body, _Job):
        auto = body.pool_info.auto_pool if body.pool_info is not None else None
        return auto.pool if auto is not None else None
    return body


_SHAPES: dict[type, type[_Pool | _Job | _Schedule]] = {
    BatchPoolCreateOptions: _Pool,
    BatchPoolUpdateOptions: _Pool,
    BatchPoolReplaceOptions: _Pool,
    BatchJobCreateOptions: _Job,
    BatchJobUpdateOptions: _Job,
    JobReplaceBody: _Job,
    BatchJobScheduleCreateOptions: _Schedule,
    BatchJobScheduleUpdateOptions: _Schedule,
}


def refuse_certificate_references(cls: type, data: bytes) -> None:
    """After a body of `cls` was decoded: a non-empty `certificateReferences` of the pool, of a job's
    auto pool or of a job schedule's is CertificateRetired. An empty list is accepted (the old pool
    updateproperties body required one)."""
    shape = _SHAPES.get(cls)
    if shape is None or b"certificateReferences" not in data:
        return
    try:
        body = msgspec.json.decode(data, type=shape)
    except msgspec.DecodeError:
        return  # not of the shape the old api-versions gave it: ignored as any unknown field
    pool = _pool_of(body)
    if pool is not None and pool.certificate_references:
        raise certificate_retired()
