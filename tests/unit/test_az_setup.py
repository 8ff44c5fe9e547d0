"""`batchite az-setup`'s az command lines, cloud config and CA bundle, without running az."""

from __future__ import annotations

import json
from pathlib import Path

from batchite.cli.az_setup import (
    BATCH_RESOURCE,
    MANAGEMENT_RESOURCE,
    AzTarget,
    cloud_config,
    setup_commands,
    trust_bundle,
    undo_commands,
)
from batchite.mgmt.tokens import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_TENANT_ID, audience_of

TARGET = AzTarget(mgmt_endpoint="https://127.0.0.1:8443/")


def test_the_cloud_config_names_the_management_plane_and_azures_resource_ids() -> None:
    config = cloud_config(TARGET)
    assert config["endpoints"] == {
        "resourceManager": "https://127.0.0.1:8443/",
        "management": MANAGEMENT_RESOURCE,
        "activeDirectory": "https://127.0.0.1:8443",
        "activeDirectoryResourceId": MANAGEMENT_RESOURCE,
        "batchResourceId": BATCH_RESOURCE,
    }
    assert config["suffixes"] == {"storageEndpoint": "core.windows.net"}


def test_setup_registers_then_selects_then_turns_discovery_off_then_signs_in() -> None:
    first = setup_commands(TARGET, registered=False)
    assert [c[:2] for c in first] == [
        ["cloud", "register"],
        ["cloud", "set"],
        ["config", "set"],
        ["login", "--service-principal"],
    ]
    register = first[0]
    assert "--skip-endpoint-discovery" in register
    assert json.loads(register[register.index("--cloud-config") + 1]) == cloud_config(TARGET)
    assert "core.instance_discovery=false" in first[2]
    login = first[3]
    assert login[login.index("--username") + 1] == DEV_CLIENT_ID
    assert login[login.index("--password") + 1] == DEV_CLIENT_SECRET
    assert login[login.index("--tenant") + 1] == DEV_TENANT_ID
    assert setup_commands(TARGET, registered=True)[0][:2] == ["cloud", "update"]


def test_undo_leaves_the_cloud_before_unregistering_it() -> None:
    assert undo_commands("Mine") == [
        ["cloud", "set", "--name", "AzureCloud"],
        ["cloud", "unregister", "--name", "Mine"],
        ["config", "unset", "core.instance_discovery", "--only-show-errors"],
    ]


def test_the_bundle_is_the_ca_then_what_was_trusted_before(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----CA-----\n")
    before = tmp_path / "system.pem"
    before.write_text("-----SYSTEM-----\n")
    bundle = trust_bundle(ca, str(before))
    assert bundle == tmp_path / "az-ca-bundle.pem"
    assert bundle.read_text() == "-----CA-----\n\n-----SYSTEM-----\n"
    assert trust_bundle(ca, str(ca)).read_text() == "-----CA-----\n"  # never the CA twice


def test_the_azure_cli_scope_gives_the_resource_id_as_audience() -> None:
    assert audience_of("https://management.core.windows.net//.default") == "https://management.core.windows.net/"
    assert audience_of("https://batch.core.windows.net//.default") == "https://batch.core.windows.net/"
    assert audience_of("https://management.azure.com/.default") == "https://management.azure.com/"
