"""List options: maxresults range (1..1000, default 1000), $skiptoken, nextLink, and offset slicing."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchite.api.paging import MAX_RESULTS, ListOptions, list_options, list_response, next_link, slice_items
from batchite.domain.errors import BatchError


def ctx(query: dict[str, str] | None = None, path: str = "/jobs", api_version: str = "2025-06-01") -> Any:
    """The parts of RequestContext the paging helpers read: query (names lower-cased), base_url, url path."""
    return SimpleNamespace(
        query=dict(query or {}),
        api_version=api_version,
        base_url="http://127.0.0.1:8080",
        request=SimpleNamespace(url=SimpleNamespace(path=path)),
    )


def items(n: int) -> list[dict[str, Any]]:
    return [{"id": f"i{k}"} for k in range(n)]


# -- maxresults -----------------------------------------------------------------------------------


def test_defaults() -> None:
    assert list_options(ctx()) == ListOptions(max_results=1000, after=0)
    assert MAX_RESULTS == 1000


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("10", 10), ("999", 999), ("1000", 1000), ("0010", 10)])
def test_maxresults_in_range(raw: str, expected: int) -> None:
    assert list_options(ctx({"maxresults": raw})).max_results == expected


@pytest.mark.parametrize("raw", ["0", "1001", "-1", "100000"])
def test_maxresults_out_of_range(raw: str) -> None:
    with pytest.raises(BatchError) as excinfo:
        list_options(ctx({"maxresults": raw}))
    err = excinfo.value
    assert err.status == 400
    assert err.code == "OutOfRangeQueryParameterValue"
    details = dict(err.values)
    assert details["QueryParameterName"] == "maxresults"
    assert details["QueryParameterValue"] == raw


@pytest.mark.parametrize("raw", ["abc", "1.5", "1e3", "", "ten"])
def test_maxresults_not_an_integer(raw: str) -> None:
    with pytest.raises(BatchError) as excinfo:
        list_options(ctx({"maxresults": raw}))
    err = excinfo.value
    assert err.status == 400
    assert err.code == "InvalidQueryParameterValue"
    assert dict(err.values)["QueryParameterName"] == "maxresults"


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_property_maxresults_range(n: int) -> None:
    if 1 <= n <= 1000:
        assert list_options(ctx({"maxresults": str(n)})).max_results == n
    else:
        with pytest.raises(BatchError) as excinfo:
            list_options(ctx({"maxresults": str(n)}))
        assert excinfo.value.code == "OutOfRangeQueryParameterValue"


# -- $skiptoken -------------------------------------------------------------------------------------


def test_skiptoken_digits() -> None:
    assert list_options(ctx({"$skiptoken": "42"})).after == 42
    assert list_options(ctx({"$skiptoken": ""})).after == 0


@pytest.mark.parametrize("token", ["abc", "-1", "1.0", "12abc", "abc/def"])
def test_skiptoken_invalid(token: str) -> None:
    with pytest.raises(BatchError) as excinfo:
        list_options(ctx({"$skiptoken": token}))
    assert excinfo.value.status == 400
    assert excinfo.value.code == "InvalidQueryParameterValue"
    assert dict(excinfo.value.values)["QueryParameterName"] == "$skiptoken"


# -- slice_items --------------------------------------------------------------------------------------


def test_slice_first_page_and_next() -> None:
    window, nxt = slice_items(items(5), ListOptions(max_results=2, after=0))
    assert [i["id"] for i in window] == ["i0", "i1"]
    assert nxt == 2


def test_slice_middle_and_last_page() -> None:
    window, nxt = slice_items(items(5), ListOptions(max_results=2, after=2))
    assert [i["id"] for i in window] == ["i2", "i3"]
    assert nxt == 4
    window, nxt = slice_items(items(5), ListOptions(max_results=2, after=4))
    assert [i["id"] for i in window] == ["i4"]
    assert nxt is None


def test_slice_exact_fit_has_no_next() -> None:
    window, nxt = slice_items(items(4), ListOptions(max_results=2, after=2))
    assert len(window) == 2
    assert nxt is None
    window, nxt = slice_items(items(1000), ListOptions(max_results=1000, after=0))
    assert len(window) == 1000
    assert nxt is None


def test_slice_empty_and_beyond_end() -> None:
    assert slice_items([], ListOptions(max_results=10, after=0)) == ([], None)
    assert slice_items(items(3), ListOptions(max_results=10, after=50)) == ([], None)


@given(n=st.integers(min_value=0, max_value=300), page=st.integers(min_value=1, max_value=1000))
def test_property_pages_cover_everything_once_in_order(n: int, page: int) -> None:
    data = items(n)
    seen: list[dict[str, Any]] = []
    after = 0
    pages = 0
    while True:
        window, nxt = slice_items(data, ListOptions(max_results=page, after=after))
        assert len(window) <= page
        seen.extend(window)
        pages += 1
        if nxt is None:
            break
        assert window, "a next link must not follow an empty page"
        after = nxt
    assert seen == data
    assert pages == max(1, -(-n // page))


# -- nextLink -----------------------------------------------------------------------------------------


def test_next_link_round_trips_through_list_options() -> None:
    c = ctx(
        {
            "api-version": "2025-06-01",
            "maxresults": "10",
            "$filter": "state eq 'active'",
            "$select": "id,state",
            "timeout": "30",
        }
    )
    link = next_link(c, 10)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8080"
    assert parts.path == "/jobs"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    assert query["api-version"] == "2025-06-01"
    assert query["maxresults"] == "10"
    assert query["$filter"] == "state eq 'active'"
    assert query["$select"] == "id,state"
    assert query["$skiptoken"] == "10"
    # Following it yields the next window.
    follow = ctx({k.lower(): v for k, v in query.items()})
    assert list_options(follow) == ListOptions(max_results=10, after=10)


def test_next_link_percent_encodes_values() -> None:
    link = next_link(ctx({"$filter": "id eq 'a&b=c'"}), 3)
    query = urlsplit(link).query
    assert "&b=c" not in query
    assert dict(parse_qsl(query))["$filter"] == "id eq 'a&b=c'"


def test_list_response_body() -> None:
    c = ctx({"$select": "id"}, path="/pools")
    response = list_response(c, "pools", [{"id": "p1", "state": "active"}], 7)
    body = json.loads(response.body)
    assert body["value"] == [{"id": "p1"}]
    assert body["odata.metadata"] == "http://127.0.0.1:8080/$metadata#pools"
    assert dict(parse_qsl(urlsplit(body["odata.nextLink"]).query))["$skiptoken"] == "7"


def test_list_response_without_more_has_no_next_link() -> None:
    response = list_response(ctx(path="/pools"), "pools", [], None)
    body = json.loads(response.body)
    assert body["value"] == []
    assert "odata.nextLink" not in body
