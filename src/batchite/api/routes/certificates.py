"""The Certificate operations of api-versions up to 2024-07-01.20.0 (Certificate_Add, _List, _Get,
_Delete, _CancelDeletion): Azure retired the feature on 2024-02-29 and answers each of them
`400 CertificateRetired` since then; so does Batchite, whatever the api-version."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api.certificates import certificate_retired
from batchite.api.request import RequestContext
from batchite.api.routing import Router

router = Router()

_ONE = "/certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})"


async def _retired(_ctx: RequestContext) -> Response:
    raise certificate_retired()


# Registered outside the Batch operation list (batch_api=False): they are not among the operations
# of the current api-versions, so the compatibility matrix does not count them.
router.operation("Certificate_Add", "POST", "/certificates", batch_api=False)(_retired)
router.operation("Certificate_List", "GET", "/certificates", batch_api=False)(_retired)
router.operation("Certificate_Get", "GET", _ONE, batch_api=False)(_retired)
router.operation("Certificate_Delete", "DELETE", _ONE, batch_api=False)(_retired)
router.operation("Certificate_CancelDeletion", "POST", _ONE + "/canceldelete", batch_api=False)(_retired)
