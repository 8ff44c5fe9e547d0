"""User account passwords never come back, and a resize timeout under 5 minutes is refused, as on
Azure; through azure-batch 15.1.0."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError

from tests.e2e.helpers import Raw
from tests.sdk import job_options, pool_options

USERS = [
    m.UserAccount(
        name="alice",
        password="N0t-for-your-eyes",
        elevation_level="admin",
        linux_user_configuration=m.LinuxUserConfiguration(uid=1234, gid=1234, ssh_private_key="PRIVATE-KEY-TEXT"),
    )
]


def test_passwords_and_ssh_keys_are_never_returned(client: Any, uid: Any, endpoint: str) -> None:
    pool_id, job_id = uid("secret"), uid("secretjob")
    client.create_pool(pool_options(pool_id, dedicated=0, user_accounts=USERS))
    auto = m.BatchAutoPoolSpecification(
        pool_lifetime_option="job", pool=m.BatchPoolSpecification(vm_size="standard_d2s_v3", user_accounts=USERS)
    )
    auto.pool.virtual_machine_configuration = pool_options("x").virtual_machine_configuration
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(auto_pool_specification=auto)))
    try:
        (account,) = client.get_pool(pool_id).user_accounts
        assert account.name == "alice" and account.elevation_level == "admin"
        assert account.password is None
        assert account.linux_user_configuration.uid == 1234
        assert account.linux_user_configuration.ssh_private_key is None
        listed = [p for p in client.list_pools() if p.id == pool_id]
        assert listed[0].user_accounts[0].password is None
        selected = client.get_pool(pool_id, select=["id", "userAccounts"])
        assert selected.user_accounts[0].password is None
        job = client.get_job(job_id)
        assert job.pool_info.auto_pool_specification.pool.user_accounts[0].password is None
    finally:
        client.begin_delete_job(job_id, polling_interval=0.1).result()
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_a_resize_timeout_under_five_minutes_is_refused(client: Any, uid: Any) -> None:
    pool_id = uid("rtimeout")
    with pytest.raises(HttpResponseError) as info:
        client.create_pool(pool_options(pool_id, dedicated=0, resize_timeout=dt.timedelta(minutes=4)))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"
    assert {d.code: d.message for d in info.value.error.details}["PropertyName"] == "resizeTimeout"

    client.create_pool(pool_options(pool_id, dedicated=0, resize_timeout=dt.timedelta(minutes=5)))
    try:
        with pytest.raises(HttpResponseError) as info:
            client.begin_resize_pool(
                pool_id,
                m.BatchPoolResizeOptions(target_dedicated_nodes=1, resize_timeout=dt.timedelta(seconds=30)),
                polling_interval=0.1,
            ).result()
        assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"
        assert client.get_pool(pool_id).target_dedicated_nodes == 0  # nothing changed
    finally:
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_a_job_on_the_pool_is_unaffected(client: Any, uid: Any) -> None:
    pool_id, job_id = uid("plain"), uid("plainjob")
    client.create_pool(pool_options(pool_id, dedicated=0, user_accounts=USERS))
    client.create_job(job_options(job_id, pool_id))
    try:
        assert client.get_job(job_id).pool_info.pool_id == pool_id
    finally:
        client.begin_delete_job(job_id, polling_interval=0.1).result()
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_a_negative_duration_is_refused_and_nothing_is_created(client: Any, uid: Any, endpoint: str) -> None:
    pool_id, job_id = uid("negpool"), uid("negjob")
    client.create_pool(pool_options(pool_id, dedicated=0))
    client.create_job(job_options(job_id, pool_id))
    try:
        constraints = m.BatchTaskConstraints(retention_time=dt.timedelta(hours=-1))
        with pytest.raises(HttpResponseError) as info:
            client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="true", constraints=constraints))
        assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"
        details = {d.code: d.message for d in info.value.error.details}
        assert details["PropertyName"].endswith("retentionTime"), details
        assert list(client.list_tasks(job_id)) == []
        job = m.BatchJobCreateOptions(
            id=uid("negjob2"),
            pool_info=m.BatchPoolInfo(pool_id=pool_id),
            constraints=m.BatchJobConstraints(max_wall_clock_time=dt.timedelta(seconds=-5)),
        )
        with pytest.raises(HttpResponseError) as info:
            client.create_job(job)
        assert {d.code: d.message for d in info.value.error.details}["PropertyName"].endswith("maxWallClockTime")
        # Written as a negative ISO 8601 duration by hand (the SDK writes "-P1DT23H00M00S").
        raw = Raw(endpoint)
        try:
            body = {"id": "t2", "commandLine": "true", "constraints": {"retentionTime": "-PT1H"}}
            response = raw.request("POST", f"/jobs/{job_id}/tasks", body=body)
        finally:
            raw.close()
        assert response.status_code == 400, response.text
        values = {v["key"]: v["value"] for v in response.json()["values"]}
        assert (values["PropertyName"], values["PropertyValue"]) == ("constraints.retentionTime", "-PT1H")
        assert list(client.list_tasks(job_id)) == []
        # In a task collection too (a route of its own).
        raw = Raw(endpoint)
        try:
            response = raw.request("POST", f"/jobs/{job_id}/addtaskcollection", body={"value": [body]})
        finally:
            raw.close()
        assert response.status_code == 400 and response.json()["code"] == "InvalidPropertyValue", response.text
        assert list(client.list_tasks(job_id)) == []
    finally:
        client.begin_delete_job(job_id, polling_interval=0.1).result()
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(endpoint: str) -> None:
    raw = Raw(endpoint)
    try:
        response = raw.request("POST", "/pools", body=b'{"id": "' + b"x" * (2 << 20) + b'"}')
        assert response.status_code == 413 and response.json()["code"] == "RequestBodyTooLarge"
    finally:
        raw.close()
