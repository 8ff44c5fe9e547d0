"""The building blocks of the generated wire models, and the one codec that reads and writes them.

Hand-written; ``models.py`` and ``enums.py`` beside it are generated from the SDK. msgspec was
chosen over pydantic by measurement on the hot path (a stored task document decoded and encoded
again: msgspec 1.9 us, pydantic v2 24.5 us, the json module 12.1 us).

- ``WireStruct``: the base of every model; wire (camelCase) names, ``None`` fields left out,
  unknown keys ignored.
- ``WireEnum``: a ``StrEnum`` that accepts its values in any letter case and keeps the SDK's.
- ``Duration``: a ``timedelta`` written as Azure writes durations (``PT1H``, ``P7D``, and the
  "unlimited" ``P10675199DT2H48M5.4775807S``), read from any ISO 8601 duration.
- ``Int64String``: an int64 the service writes as a JSON string (statistics counters).
- ``decode``/``convert``/``encode``/``to_builtins``: the codec; ``WireError`` says what was wrong
  and where, by wire name.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import msgspec

from batchite.wire.reasons import plain_reason

T = TypeVar("T")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
"""Every integer of the wire format: the service's integers are at most 64 bits."""


class WireStruct(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """Base of every wire model."""


class WireEnum(enum.StrEnum):
    """An SDK enum: values matched case-insensitively, kept in the SDK's spelling."""

    @classmethod
    def _missing_(cls, value: object) -> WireEnum | None:
        if isinstance(value, str):
            lowered = value.lower()
            for member in cls:
                if member.value.lower() == lowered:
                    return member
        return None


_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)(?:\.(?P<fraction>\d+))?S)?)?$"
)


class Duration(timedelta):
    """A timedelta that reads any ISO 8601 duration and writes the way the Batch service does."""

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse ``PT1H30M``, ``P7D``, ``P1DT2H``, ``PT0.5S``; a year is 365 days, a month 30."""
        match = _DURATION.match(text.strip()) if isinstance(text, str) else None
        if match is None or text.strip() in ("P", "-P") or text.strip().endswith("T"):
            raise ValueError(f"'{text}' is not an ISO 8601 duration (such as PT1H30M).")
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None and k not in ("sign", "fraction")}
        fraction = match.group("fraction") or ""
        micro = int((fraction + "000000")[:6]) if fraction else 0
        days = parts.get("years", 0) * 365 + parts.get("months", 0) * 30 + parts.get("weeks", 0) * 7
        days += parts.get("days", 0)
        try:
            value = timedelta(
                days=days,
                hours=parts.get("hours", 0),
                minutes=parts.get("minutes", 0),
                seconds=parts.get("seconds", 0),
                microseconds=micro,
            )
        except OverflowError as exc:
            raise ValueError(f"'{text}' is too long a duration.") from exc
        if match.group("sign"):
            value = -value
        return cls.of(value)

    @classmethod
    def of(cls, value: timedelta) -> Duration:
        return value if isinstance(value, Duration) else cls(value.days, value.seconds, value.microseconds)

    @property
    def unlimited(self) -> bool:
        """Never ends: the service's "no limit" (.NET TimeSpan.MaxValue, about 29,000 years), or any
        duration so long that no time of this era plus it is a date (over `ENDLESS`, 7,000 years)."""
        return self >= ENDLESS

    def wire(self) -> str:
        if self >= UNLIMITED:
            return UNLIMITED_TEXT
        sign = "-" if self < timedelta(0) else ""
        value = abs(self)
        minutes, seconds = divmod(value.seconds, 60)
        hours, minutes = divmod(minutes, 60)
        date_part = f"{value.days}D" if value.days else ""
        time_part = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        if value.microseconds:
            time_part += f"{seconds}.{value.microseconds:06d}".rstrip("0") + "S"
        elif seconds:
            time_part += f"{seconds}S"
        if not date_part and not time_part:
            return "PT0S"
        return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")

    def __repr__(self) -> str:
        return f"Duration({self.wire()!r})"


UNLIMITED_TEXT = "P10675199DT2H48M5.4775807S"
UNLIMITED = Duration(days=10675199, hours=2, minutes=48, seconds=5, microseconds=477580)
ENDLESS = timedelta(days=7000 * 365)  # the year 9999 is the last date: durations past this never end


class Int64String(int):
    """An int64 that the service writes as a JSON string (``"readIOps": "42"``)."""


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Duration):
        return obj.wire()
    if isinstance(obj, Int64String):
        return str(int(obj))
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_DURATIONS: dict[str, Duration] = {}  # the few duration texts there are, parsed once each


def _duration(text: str) -> Duration:
    found = _DURATIONS.get(text)
    if found is None:
        found = Duration.parse(text)
        if len(_DURATIONS) < 4096:
            _DURATIONS[text] = found
    return found


def _dec_hook(cls: type, obj: Any) -> Any:
    if cls is Duration:
        if isinstance(obj, timedelta):
            return Duration.of(obj)
        if isinstance(obj, str):
            return _duration(obj)
        raise ValueError("The value must be an ISO 8601 duration (such as PT1H30M).")
    if cls is Int64String:
        if isinstance(obj, bool) or not isinstance(obj, int | str):
            raise ValueError("The value must be an integer.")
        try:
            value = int(obj)
        except ValueError:
            raise ValueError("The value must be an integer.") from None
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError("The value must be a 64-bit integer.")
        return Int64String(value)
    raise NotImplementedError(f"cannot decode {cls}")


def _request_dec_hook(cls: type, obj: Any) -> Any:
    """As _dec_hook, for what clients send: no Batch duration may be negative."""
    value = _dec_hook(cls, obj)
    if cls is Duration and value < timedelta(0):
        raise ValueError("A duration cannot be negative.")
    return value


_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)
_DECODERS: dict[tuple[Any, bool], msgspec.json.Decoder[Any]] = {}


class WireError(ValueError):
    """A body that does not fit its model: `path` is the wire path (``constraints.maxTaskRetryCount``),
    `steps` the same with list positions (``("resourceFiles", 2, "httpUrl")``), `missing` says
    whether a required property was absent, `malformed` that the text is not JSON, `reason` what
    was wrong, in the service's words."""

    def __init__(
        self,
        path: str,
        reason: str,
        missing: bool = False,
        malformed: bool = False,
        steps: tuple[str | int, ...] = (),
    ) -> None:
        super().__init__(f"{reason} - at {path or 'body'}")
        self.path = path
        self.reason = reason
        self.missing = missing
        self.malformed = malformed
        self.steps = steps


_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
TOO_DEEP = "The body is nested too deeply."
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _wire_error(exc: msgspec.ValidationError | msgspec.DecodeError) -> WireError:
    match = _AT.match(str(exc))
    reason, path = (match.group("reason"), match.group("path") or "") if match else (str(exc), "")
    steps: list[str | int] = [int(i) if i else n for n, i in _STEP.findall(path)]
    missing = _MISSING.match(reason)
    if missing:
        steps.append(missing.group("name"))
    malformed = not isinstance(exc, msgspec.ValidationError)  # a ValidationError is a DecodeError too
    parts = [s for s in steps if isinstance(s, str)]
    return WireError(".".join(parts), plain_reason(reason), missing is not None, malformed, tuple(steps))


def decode(cls: type[T], data: bytes | str, *, strict: bool = True) -> T:
    """JSON text to a model. `strict=False` (request bodies) accepts numbers written as strings,
    refuses negative durations, and brings the times a client sends to UTC (a time without a zone
    is UTC)."""
    decoder = _DECODERS.get((cls, strict))
    if decoder is None:
        hook = _dec_hook if strict else _request_dec_hook
        decoder = _DECODERS[(cls, strict)] = msgspec.json.Decoder(cls, strict=strict, dec_hook=hook)
    try:
        value = decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _wire_error(exc) from None
    except RecursionError:  # arrays or objects nested past the interpreter's depth, known or not
        raise WireError("", TOO_DEEP, malformed=True) from None
    if not strict:
        to_utc_times(value)
    return value


def convert(cls: type[T], obj: Any, *, strict: bool = False) -> T:
    """Python objects (parsed JSON) to a model, as `decode` does for text."""
    try:
        value = msgspec.convert(obj, cls, strict=strict, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise _wire_error(exc) from None
    except RecursionError:
        raise WireError("", TOO_DEEP, malformed=True) from None
    to_utc_times(value)
    return value


_TIME_FIELDS: dict[type, tuple[str, ...]] = {}  # per model: its fields that can hold a time, at any depth


def _time_fields(cls: type) -> tuple[str, ...]:
    found = _TIME_FIELDS.get(cls)
    if found is None:
        _TIME_FIELDS[cls] = ()  # a model that contains itself is looked at once
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        found = tuple(f.name for f in info.fields if _may_hold_time(f.type))
        _TIME_FIELDS[cls] = found
    return found


def _may_hold_time(t: msgspec.inspect.Type) -> bool:
    if isinstance(t, msgspec.inspect.DateTimeType):
        return True
    if isinstance(t, msgspec.inspect.UnionType):
        return any(_may_hold_time(x) for x in t.types)
    if isinstance(t, msgspec.inspect.ListType | msgspec.inspect.SetType):
        return _may_hold_time(t.item_type)
    if isinstance(t, msgspec.inspect.DictType):
        return _may_hold_time(t.value_type)
    if isinstance(t, msgspec.inspect.StructType):
        return bool(_time_fields(t.cls))
    return False


def to_utc_times(value: Any, steps: tuple[str | int, ...] = ()) -> None:
    """Bring every time in a model (and the models it holds) to UTC, in place. A time that has no
    UTC form (`0001-01-01T00:00:00+01:00` is in year 0) is a WireError naming its property."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            to_utc_times(item, (*steps, index))
        return
    if not isinstance(value, msgspec.Struct):
        return
    for name in _time_fields(type(value)):
        item = getattr(value, name)
        wire_name = _wire_name(type(value), name)
        if isinstance(item, datetime):
            try:
                setattr(value, name, item.replace(tzinfo=UTC) if item.tzinfo is None else item.astimezone(UTC))
            except OverflowError:
                at = (*steps, wire_name)
                path = ".".join(s for s in at if isinstance(s, str))
                raise WireError(path, "The time is out of the range of dates once in UTC.", steps=at) from None
        elif item is not None:
            to_utc_times(item if not isinstance(item, dict) else list(item.values()), (*steps, wire_name))


def _wire_name(cls: type, attribute: str) -> str:
    """The camelCase wire name of a model's attribute."""
    info = msgspec.structs.fields(cls)
    return next((f.encode_name for f in info if f.name == attribute), attribute)


def encode(obj: Any) -> bytes:
    """A model (or builtins holding models) as wire JSON."""
    return _ENCODER.encode(obj)


def to_builtins(obj: Any) -> Any:
    """A model as dicts, lists and strings keyed by wire names (for $select and templates)."""
    return msgspec.to_builtins(obj, enc_hook=_enc_hook)


S = TypeVar("S", bound=msgspec.Struct)


def build(cls: type[S], source: msgspec.Struct | None, **values: Any) -> S:
    """A `cls` from the fields `source` shares with it (same SDK attribute names), then `values`.

    How a create request becomes an entity: BatchPoolCreateOptions -> BatchPool, BatchJobSpecification
    -> BatchJob, BatchJobManagerTask -> BatchTask. Fields are shared, not copied (see `clone`).
    """
    names = cls.__struct_fields__
    shared = {}
    if source is not None:
        shared = {
            name: getattr(source, name)
            for name in source.__struct_fields__
            if name in names and name not in values and getattr(source, name) is not None
        }
    return cls(**shared, **values)


def clone(obj: S) -> S:
    """A deep copy of a model."""
    return msgspec.json.decode(_ENCODER.encode(obj), type=type(obj), dec_hook=_dec_hook)


def set_fields(target: msgspec.Struct, changes: msgspec.Struct) -> None:
    """Copy every field `changes` sets (not None) onto `target`, which has them by the same name."""
    for name in changes.__struct_fields__:
        value = getattr(changes, name)
        if value is not None and name in target.__struct_fields__:
            setattr(target, name, value)
