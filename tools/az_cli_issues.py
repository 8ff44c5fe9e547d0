"""The known bugs of the Azure CLI's `az batch` (azure-cli 2.91.0, which pins azure-batch 15.0.0b1) where Batchite
answers as Azure Batch does, as the static section that ``tools/compat_matrix.py`` appends to docs/compatibility.md.

Typed in by hand; each row names the test in ``tests/cli/test_az_cli_bugs.py`` that asserts the az failure, checks
Batchite's answer with the SDK and tries the workaround, so a newer azure-cli that fixes one fails that test.
"""

from __future__ import annotations

AZ_CLI_VERSION = "2.91.0"
AZ_CLI_ISSUES: tuple[tuple[str, str, str, str], ...] = (
    (
        "az batch task file show",
        "crashes inside az (`'RestRequestsTransportResponse' object has no attribute 'items'`, exit 1): its output "
        "transformer reads the HEAD response as a model",
        "`az batch task file list` (each file's `properties`), or the SDK's `get_task_file_properties`",
        "test_task_file_show_crashes_inside_az",
    ),
    (
        "az batch node file show",
        "the same crash",
        "`az batch node file list --recursive`, or the SDK's `get_node_file_properties`",
        "test_node_file_show_crashes_inside_az",
    ),
    (
        "az batch node scheduling disable --node-disable-scheduling-option X",
        'az sends the option nested, `{"nodeDisableSchedulingOption": {"nodeDisableSchedulingOption": "X"}}`; '
        "the service refuses it (400 `InvalidPropertyValue`, exit 1)",
        "leave the option out (the default, `requeue`: az then sends no body), or the SDK's "
        "`disable_node_scheduling` with `BatchNodeDisableSchedulingOptions`",
        "test_node_scheduling_disable_option_is_sent_nested",
    ),
    (
        "az batch pool resize --if-match ETAG",
        "az sends no `If-Match` header, so the resize applies whatever the pool's ETag (exit 0)",
        "`--if-unmodified-since`, which az does send (412 `ConditionNotMet` when the pool changed), or the SDK's "
        "`begin_resize_pool(..., etag=..., match_condition=MatchConditions.IfNotModified)`",
        "test_pool_resize_if_match_sends_no_header",
    ),
    (
        "az batch ... show --if-none-match ETAG (or --if-modified-since)",
        "the service's 304 Not Modified (no body) is printed as `ERROR: Operation returned an invalid status "
        "'Not Modified'`, exit 1",
        'read exit 1 with that message as "unchanged"; or drop the condition and compare `eTag`',
        "test_a_304_is_shown_as_an_error",
    ),
)
AZ_CLI_TESTS = "tests/cli/test_az_cli_bugs.py"


def render() -> list[str]:
    lines = [
        "",
        f"## Known issues of the Azure CLI (azure-cli {AZ_CLI_VERSION})",
        "",
        "Bugs of `az batch` itself, where Batchite answers as Azure Batch does; each is shown by a test that asserts "
        f"the az failure and checks Batchite's answer with the SDK (`{AZ_CLI_TESTS}`).",
        "",
        "| Command | What happens | Workaround | Test |",
        "|---|---|---|---|",
    ]
    for command, what, workaround, test in AZ_CLI_ISSUES:
        lines.append(f"| `{command}` | {what} | {workaround} | `{AZ_CLI_TESTS}::{test}` |")
    return lines
