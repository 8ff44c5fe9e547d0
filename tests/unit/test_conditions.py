"""Conditional headers (reference: batch-api.md section 7).

Reads (GET/HEAD): unmet If-Match -> 412, If-None-Match -> 304, If-Modified-Since -> 304, If-Unmodified-Since -> 412.
Writes: every unmet condition -> 412. INM+IMS decided by INM, IM+IUS decided by IM, any other mix -> 400.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchite.api.conditions import CONDITIONAL, check, present
from batchite.domain.errors import BatchError

ETAG = "0x8DC0000000000001"
OTHER = "0x8DC0000000000002"
MODIFIED = datetime(2026, 11, 25, 15, 51, 28, 500_000, tzinfo=UTC)  # sub-second part: dates have 1 s resolution


def http_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


BEFORE = http_date(MODIFIED - timedelta(minutes=1))
SAME_SECOND = http_date(MODIFIED)  # 15:51:28, the resource's own Last-Modified as the service sent it
AFTER = http_date(MODIFIED + timedelta(minutes=1))


def outcome(
    headers: dict[str, str],
    *,
    read: bool,
    etag: str | None = ETAG,
    last_modified: datetime | None = MODIFIED,
    allowed: tuple[str, ...] = CONDITIONAL,
) -> int:
    """200 when the condition holds, else the status of the raised BatchError."""
    try:
        check(headers, etag, last_modified, read=read, allowed=allowed)
    except BatchError as err:
        if err.status in (304, 412):
            assert err.code == "ConditionNotMet"
        return err.status
    return 200


# -- no conditions ---------------------------------------------------------------------------


def test_no_headers_pass() -> None:
    assert outcome({}, read=True) == 200
    assert outcome({}, read=False) == 200
    assert outcome({"accept": "*/*", "content-type": "x"}, read=False) == 200


def test_empty_header_values_count_as_absent() -> None:
    assert present({"if-match": "", "if-none-match": ETAG}) == {"if-none-match": ETAG}
    assert outcome({"if-match": "", "if-none-match": ""}, read=False) == 200


# -- If-Match --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [ETAG, f'"{ETAG}"', f'W/"{ETAG}"', f'"{OTHER}", "{ETAG}"', f"{OTHER},{ETAG}", "*"])
@pytest.mark.parametrize("read", [True, False])
def test_if_match_met(value: str, read: bool) -> None:
    assert outcome({"if-match": value}, read=read) == 200


@pytest.mark.parametrize("value", [OTHER, f'"{OTHER}"', "0x8dc0000000000001x", f'"{OTHER}", "0x1"'])
@pytest.mark.parametrize("read", [True, False])
def test_if_match_unmet_is_412_for_reads_and_writes(value: str, read: bool) -> None:
    assert outcome({"if-match": value}, read=read) == 412


def test_if_match_star_on_absent_entity_is_412() -> None:
    assert outcome({"if-match": "*"}, read=False, etag=None, last_modified=None) == 412
    assert outcome({"if-match": "*"}, read=True, etag=None, last_modified=None) == 412


def test_if_match_with_quoted_stored_etag() -> None:
    assert outcome({"if-match": ETAG}, read=False, etag=f'"{ETAG}"') == 200


# -- If-None-Match ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [ETAG, f'"{ETAG}"', f'W/"{ETAG}"', f'"{OTHER}", "{ETAG}"', "*"])
def test_if_none_match_matching_read_is_304(value: str) -> None:
    assert outcome({"if-none-match": value}, read=True) == 304


@pytest.mark.parametrize("value", [ETAG, f'"{ETAG}"', "*"])
def test_if_none_match_matching_write_is_412(value: str) -> None:
    assert outcome({"if-none-match": value}, read=False) == 412


@pytest.mark.parametrize("read", [True, False])
def test_if_none_match_different_etag_passes(read: bool) -> None:
    assert outcome({"if-none-match": f'"{OTHER}"'}, read=read) == 200


@pytest.mark.parametrize("read", [True, False])
def test_if_none_match_star_on_absent_entity_passes(read: bool) -> None:
    assert outcome({"if-none-match": "*"}, read=read, etag=None, last_modified=None) == 200


# -- If-Modified-Since -----------------------------------------------------------------------


def test_if_modified_since_modified_later_passes() -> None:
    assert outcome({"if-modified-since": BEFORE}, read=True) == 200
    assert outcome({"if-modified-since": BEFORE}, read=False) == 200


@pytest.mark.parametrize("value", [SAME_SECOND, AFTER])
def test_if_modified_since_not_modified_read_is_304(value: str) -> None:
    assert outcome({"if-modified-since": value}, read=True) == 304


@pytest.mark.parametrize("value", [SAME_SECOND, AFTER])
def test_if_modified_since_not_modified_write_is_412(value: str) -> None:
    assert outcome({"if-modified-since": value}, read=False) == 412


def test_if_modified_since_compares_at_one_second_resolution() -> None:
    # Last-Modified is sent as 15:51:28 (the .5 s is not on the wire); echoing it back means "not modified".
    assert outcome({"if-modified-since": "Wed, 25 Nov 2026 15:51:28 GMT"}, read=True) == 304
    assert outcome({"if-modified-since": "Wed, 25 Nov 2026 15:51:27 GMT"}, read=True) == 200


def test_if_modified_since_other_timezone_offset() -> None:
    # 16:51:28 +0100 is 15:51:28 UTC.
    assert outcome({"if-modified-since": "Wed, 25 Nov 2026 16:51:28 +0100"}, read=True) == 304
    assert outcome({"if-modified-since": "Wed, 25 Nov 2026 16:51:27 +0100"}, read=True) == 200


# -- If-Unmodified-Since ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [SAME_SECOND, AFTER])
@pytest.mark.parametrize("read", [True, False])
def test_if_unmodified_since_not_modified_passes(value: str, read: bool) -> None:
    assert outcome({"if-unmodified-since": value}, read=read) == 200


@pytest.mark.parametrize("read", [True, False])
def test_if_unmodified_since_modified_is_412_for_reads_and_writes(read: bool) -> None:
    assert outcome({"if-unmodified-since": BEFORE}, read=read) == 412


# -- HTTP date formats every recipient must accept (RFC 7231 7.1.1.1) ------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 25 Nov 2026 15:51:28 GMT",  # IMF-fixdate
        "Wednesday, 25-Nov-26 15:51:28 GMT",  # obsolete RFC 850
        "Wed Nov 25 15:51:28 2026",  # ANSI C asctime(), no zone: it is GMT
    ],
)
def test_if_modified_since_accepts_all_http_date_formats(value: str) -> None:
    assert outcome({"if-modified-since": value}, read=True) == 304
    assert outcome({"if-unmodified-since": value}, read=True) == 200


def test_if_modified_since_minus_0000_zone_is_utc() -> None:
    # RFC 5322 "-0000" (what email.utils writes for naive datetimes) still means UTC.
    assert outcome({"if-modified-since": "Wed, 25 Nov 2026 15:51:28 -0000"}, read=True) == 304


@pytest.mark.parametrize("name", ["if-modified-since", "if-unmodified-since"])
@pytest.mark.parametrize("value", ["yesterday", "2026-11-25T15:51:28Z", "Wed, 99 Nov 2026 15:51:28 GMT"])
def test_invalid_date_is_400_invalid_header_value(name: str, value: str) -> None:
    with pytest.raises(BatchError) as excinfo:
        check({name: value}, ETAG, MODIFIED, read=True)
    err = excinfo.value
    assert err.status == 400
    assert err.code == "InvalidHeaderValue"
    details = dict(err.values)
    assert details["HeaderName"].lower() == name
    assert details["HeaderValue"] == value


# -- combinations ----------------------------------------------------------------------------


def test_inm_plus_ims_decided_by_inm() -> None:
    # INM does not match -> proceed, even though IMS alone would say "not modified".
    assert outcome({"if-none-match": f'"{OTHER}"', "if-modified-since": AFTER}, read=True) == 200
    # INM matches -> 304 on read, even though IMS alone would say "modified".
    assert outcome({"if-none-match": f'"{ETAG}"', "if-modified-since": BEFORE}, read=True) == 304
    assert outcome({"if-none-match": f'"{ETAG}"', "if-modified-since": BEFORE}, read=False) == 412


def test_im_plus_ius_decided_by_im() -> None:
    # IM matches -> proceed, even though IUS alone would fail.
    assert outcome({"if-match": f'"{ETAG}"', "if-unmodified-since": BEFORE}, read=False) == 200
    # IM does not match -> 412, even though IUS alone would pass.
    assert outcome({"if-match": f'"{OTHER}"', "if-unmodified-since": AFTER}, read=False) == 412
    assert outcome({"if-match": f'"{OTHER}"', "if-unmodified-since": AFTER}, read=True) == 412


@pytest.mark.parametrize(
    "names",
    [
        ("if-match", "if-none-match"),
        ("if-match", "if-modified-since"),
        ("if-none-match", "if-unmodified-since"),
        ("if-modified-since", "if-unmodified-since"),
        ("if-match", "if-none-match", "if-modified-since"),
        ("if-none-match", "if-modified-since", "if-unmodified-since"),
        ("if-match", "if-unmodified-since", "if-modified-since"),
        CONDITIONAL,
    ],
)
@pytest.mark.parametrize("read", [True, False])
def test_other_combinations_are_400(names: tuple[str, ...], read: bool) -> None:
    values = {
        "if-match": f'"{ETAG}"',
        "if-none-match": f'"{OTHER}"',
        "if-modified-since": BEFORE,
        "if-unmodified-since": AFTER,
    }
    headers = {n: values[n] for n in names}
    with pytest.raises(BatchError) as excinfo:
        check(headers, ETAG, MODIFIED, read=read)
    assert excinfo.value.status == 400


def test_invalid_combination_checked_before_anything_else() -> None:
    # Even with a conditions that would be met individually, the mix itself is the error.
    with pytest.raises(BatchError) as excinfo:
        check({"if-match": "*", "if-none-match": f'"{OTHER}"'}, ETAG, MODIFIED, read=True)
    assert excinfo.value.status == 400


# -- allowed subsets (file ops take only the two date headers) --------------------------------


FILE_ALLOWED = ("if-modified-since", "if-unmodified-since")


def test_allowed_subset_ignores_other_headers() -> None:
    headers = {"if-match": f'"{OTHER}"', "if-modified-since": BEFORE}
    assert outcome(headers, read=True, allowed=FILE_ALLOWED) == 200
    assert outcome({"if-modified-since": AFTER}, read=True, allowed=FILE_ALLOWED) == 304
    assert present(headers, FILE_ALLOWED) == {"if-modified-since": BEFORE}


# -- properties ------------------------------------------------------------------------------

_etags = st.integers(min_value=0, max_value=2**60).map(lambda n: f"0x{n:X}")


@given(current=_etags, given_tag=_etags, read=st.booleans(), quoted=st.booleans())
def test_property_if_match_and_if_none_match_are_complementary(
    current: str, given_tag: str, read: bool, quoted: bool
) -> None:
    value = f'"{given_tag}"' if quoted else given_tag
    im = outcome({"if-match": value}, read=read, etag=current)
    inm = outcome({"if-none-match": value}, read=read, etag=current)
    if current == given_tag:
        assert im == 200
        assert inm == (304 if read else 412)
    else:
        assert im == 412
        assert inm == 200


@given(offset=st.integers(min_value=-(10**6), max_value=10**6), read=st.booleans())
def test_property_date_conditions_are_complementary(offset: int, read: bool) -> None:
    date = http_date(MODIFIED.replace(microsecond=0) + timedelta(seconds=offset))
    ims = outcome({"if-modified-since": date}, read=read)
    ius = outcome({"if-unmodified-since": date}, read=read)
    if offset < 0:  # modified after the date
        assert (ims, ius) == (200, 412)
    else:
        assert (ims, ius) == ((304 if read else 412), 200)
