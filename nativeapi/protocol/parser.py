"""CloudStack request parameters: lookup, map syntax and typed getters.

``CsParams`` wraps the merged query-string + form parameters of one request.

* Names are case-insensitive for lookup (``ParamUnpackWorker`` lowercases them);
  the original spelling is kept for signature verification.
* A repeated name keeps its **last** value, and a query-string value beats a
  form value of the same name (``ApiServlet.utf8Fixup`` re-puts query values).
* ``name[i].field=value`` builds ``{name: {i: {field: value}}}`` (field case kept).
* Building a ``CsParams`` never raises. ``check_request()`` raises the errors the
  server raises before dispatch (control characters 431, bad map syntax 430);
  typed getters raise 431 with CloudStack's own texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone

from nativeapi.errors_wire import ApiErrorCode, CloudStackError, CsErrorCode, param_error

# Java ApiServer.CONTROL_CHARACTERS: 0x00-0x09, 0x0B-0x0C, 0x0E-0x1F, 0x7F (LF and CR pass).
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_JAVA_INT = re.compile(r"^[+-]?[0-9]+$")
_INT_BOUNDS = {"integer": 31, "long": 63, "short": 15}

StrList = list[str]
MapEntries = list[dict[str, str]]

_MALFORMED_HINT = (
    "; if specifying an object array, please use parameter[index].field=XXX, "
    "e.g. userGroupList[0].group=httpGroup"
)

# --- dates ----------------------------------------------------------------------------

# DateUtil.parseTZDateString: ISO offset/instant, yyyy-MM-dd'T'HH:mm:ssZ (+0000),
# .SSSSSS variants and the legacy yyyy-MM-dd'T'HH:mm:ss'Z'Z (Z followed by +0000).
_TZ_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(?:Z(?=[+-]))?"
    r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)$"
)
_PLAIN_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?$")


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes, seconds = int(digits[0:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes, seconds=seconds))


def parse_tz_date(text: str) -> datetime | None:
    """Parse an ``expires``/TZDATE value the way ``DateUtil.parseTZDateString`` does.

    Returns an aware datetime, or None when no accepted format matches.
    """
    m = _TZ_DATE.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, off = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            micros,
            tzinfo=_offset(off),
        )
    except ValueError:
        return None


def parse_input_date(text: str) -> datetime | None:
    """Parse a DATE parameter: any TZ form, ``yyyy-MM-dd HH:mm:ss`` or ``yyyy-MM-dd``.

    Forms without an offset are taken as UTC. Returns None when nothing matches.
    """
    parsed = parse_tz_date(text)
    if parsed is not None:
        return parsed
    m = _PLAIN_DATE.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g or 0) for g in m.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


# --- map syntax -----------------------------------------------------------------------


class _Malformed(Exception):
    pass


def _split_map_key(key: str) -> tuple[str, int, str] | None:
    """``tags[0].key`` -> ("tags", 0, "key"); None for a plain key; _Malformed if bad.

    Mirrors ParamUnpackWorker: exactly one '[' (not at position 0), exactly one
    ']' after it, a '.' after the ']', and a Java-int index.
    """
    start = key.find("[")
    if start != key.rfind("["):
        raise _Malformed
    if start <= 0:
        return None
    end = key.find("]")
    if end < start or end != key.rfind("]"):
        raise _Malformed
    dot = key.find(".")
    if dot < end:
        raise _Malformed
    index_text = key[start + 1 : end]
    if not _JAVA_INT.match(index_text) or not -(2**31) <= int(index_text) < 2**31:
        raise _Malformed
    return key[:start].lower(), int(index_text), key[dot + 1 :]


# --- the parameter bag ----------------------------------------------------------------


class CsParams:
    """The parameters of one CloudStack API request (see module docstring).

    ``response_key`` (default ``<command lower>response``) only feeds error texts:
    CloudStack names the command as its response name minus "response". The
    dispatcher sets it from the command metadata (``registry.validate``).
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._signing: dict[str, str] = {}
        for name, value in pairs:
            self._signing.pop(name, None)  # re-insert: keep "last wins" order
            self._signing[name] = value
        self._scalars: dict[str, str] = {}
        self._maps: dict[str, dict[int, dict[str, str]]] = {}
        self._malformed: list[str] = []
        for name, value in self._signing.items():
            try:
                parts = _split_map_key(name)
            except _Malformed:
                self._malformed.append(name)
                continue
            if parts is None:
                self._scalars[name.lower()] = value
            else:
                map_name, index, field = parts
                self._maps.setdefault(map_name, {}).setdefault(index, {})[field] = value
        command = self._scalars.get("command") or ""
        self.response_key: str = command.lower() + "response"

    @classmethod
    def from_parts(
        cls, query: Iterable[tuple[str, str]], form: Iterable[tuple[str, str]] = ()
    ) -> CsParams:
        """Merge form body and query string; query values win over form values."""
        return cls([*form, *query])

    # -- request-level facts --

    @property
    def command(self) -> str | None:
        """The ``command`` value as sent (API names are case-sensitive)."""
        return self._scalars.get("command")

    @property
    def fmt(self) -> str:
        """ "json" when ``response=json`` (any case), else "xml" (CloudStack's default)."""
        return "json" if (self._scalars.get("response") or "").lower() == "json" else "xml"

    @property
    def label(self) -> str:
        """Command name as CloudStack prints it in errors: the response key minus "response"."""
        key = self.response_key
        return key[: -len("response")] if key.endswith("response") else key

    def signing_params(self) -> dict[str, str]:
        """Original names -> values, as the signature is computed over (incl. signature)."""
        return dict(self._signing)

    def names(self) -> Iterator[str]:
        """Lowercased names of all scalar and map parameters."""
        yield from self._scalars
        yield from (n for n in self._maps if n not in self._scalars)

    def has(self, name: str) -> bool:
        """True if a scalar or map parameter of that (case-insensitive) name was sent."""
        key = name.lower()
        return key in self._scalars or key in self._maps

    __contains__ = has

    def check_request(self) -> None:
        """Raise what CloudStack raises before dispatch.

        431 if any value holds an ASCII control character other than LF/CR;
        430 MALFORMED_PARAMETER_ERROR for bad ``name[i].field`` syntax.
        """
        for name, value in self._signing.items():
            if _CONTROL.search(value):
                raise param_error(
                    f"Received value {value} for parameter {name} is invalid, "
                    "contains illegal ASCII non-printable characters"
                )
        if self._malformed:
            raise CloudStackError(
                ApiErrorCode.MALFORMED_PARAMETER_ERROR,
                f"Unable to decode parameter {self._malformed[0]}{_MALFORMED_HINT}",
                CsErrorCode.SERVER_API,
            )

    # -- errors with CloudStack's texts --

    def missing(self, name: str) -> CloudStackError:
        return param_error(
            f"Unable to execute API command {self.label} due to missing parameter {name}"
        )

    def invalid(self, name: str, value: str) -> CloudStackError:
        return param_error(
            f"Unable to execute API command {self.label} due to invalid value {value} "
            f"for parameter {name}"
        )

    def entity_not_found(self, name: str, value: str | None = None) -> CloudStackError:
        """The 431 for a UUID that is malformed or matches nothing.

        Terraform/cloudstack-go match this text to detect deleted resources.
        """
        shown = value if value is not None else (self._scalars.get(name.lower()) or "")
        return param_error(
            f"Unable to execute API command {self.label} due to invalid value. "
            f"Invalid parameter {name} value={shown} due to incorrect long value format, "
            "or entity does not exist or due to incorrect parameter annotation "
            "for the field in api cmd class."
        )

    # -- typed getters --

    def get(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        """The raw string value (last one sent), or ``default`` when absent."""
        value = self._scalars.get(name.lower())
        if value is None:
            if required:
                raise self.missing(name)
            return default
        return value

    def require(self, name: str) -> str:
        """The raw string value; 431 "missing parameter" when absent."""
        value = self.get(name, required=True)
        assert value is not None
        return value

    def uuid(self, name: str, *, required: bool = False) -> str | None:
        """A UUID parameter, lowercased. ``"-1"`` is passed through (CloudStack's "all").

        An empty value counts as absent. Anything else that is not a UUID gives
        the 431 "entity does not exist" text.
        """
        value = self.get(name, required=required)
        if value is None or value == "":
            if required:
                raise self.missing(name)
            return None
        return self._check_uuid(name, value)

    def uuid_list(self, name: str, *, required: bool = False) -> StrList:
        """A comma-separated list of UUIDs, each checked like ``uuid()``."""
        return [self._check_uuid(name, token) for token in self.list(name, required=required)]

    def _check_uuid(self, name: str, value: str) -> str:
        if value == "-1":
            return value
        if not _UUID.match(value):
            raise self.entity_not_found(name, value)
        return value.lower()

    def boolean(
        self, name: str, default: bool | None = None, *, required: bool = False
    ) -> bool | None:
        """Java ``Boolean.valueOf``: "true" in any case is True, anything else False."""
        value = self.get(name, required=required)
        if value is None:
            return default
        return value.lower() == "true"

    def integer(
        self, name: str, default: int | None = None, *, required: bool = False
    ) -> int | None:
        """A 32-bit int. A blank value is ignored (``default``), like CloudStack."""
        return self._number(name, "integer", default, required)

    def long(self, name: str, default: int | None = None, *, required: bool = False) -> int | None:
        """A 64-bit int. Unlike ``integer``, a blank value is an error (431)."""
        return self._number(name, "long", default, required)

    def short(self, name: str, default: int | None = None, *, required: bool = False) -> int | None:
        """A 16-bit int; blank is an error (431)."""
        return self._number(name, "short", default, required)

    def _number(self, name: str, kind: str, default: int | None, required: bool) -> int | None:
        value = self.get(name, required=required)
        if value is None:
            return default
        if kind == "integer" and not value.strip():
            return default
        bits = _INT_BOUNDS[kind]
        if not _JAVA_INT.match(value) or not -(2**bits) <= int(value) < 2**bits:
            raise self.invalid(name, value)
        return int(value)

    def list(self, name: str, *, required: bool = False) -> StrList:
        """Comma-separated values; empty items are dropped (Java StringTokenizer).

        Absent -> [].
        """
        value = self.get(name, required=required)
        if value is None:
            return []
        return [token for token in value.split(",") if token]

    def map(self, name: str, *, required: bool = False) -> MapEntries:
        """``name[i].field=v`` entries as dicts ordered by index; absent -> [].

        A plain ``name=v`` where a map is expected is an invalid value (431).
        """
        entries = self._maps.get(name.lower())
        if entries is None:
            plain = self._scalars.get(name.lower())
            if plain is not None:
                raise self.invalid(name, plain)
            if required:
                raise self.missing(name)
            return []
        return [dict(entries[i]) for i in sorted(entries)]

    def date(self, name: str, *, required: bool = False) -> datetime | None:
        """An aware datetime from any accepted input date format; 431 if unparseable."""
        value = self.get(name, required=required)
        if value is None:
            return None
        parsed = parse_input_date(value)
        if parsed is None:
            raise param_error(
                f"Unable to parse date {value} for command {self.label}, "
                "please pass dates in the format mentioned in the api documentation"
            )
        return parsed

    def __repr__(self) -> str:
        shown = {k: ("***" if k in _SECRET_NAMES else v) for k, v in self._scalars.items()}
        return f"CsParams({shown!r}, maps={sorted(self._maps)!r})"


_SECRET_NAMES = frozenset({"password", "signature", "sessionkey", "secretkey", "userdata"})
