"""The parameter table: the single source of truth about what a query may say.

Every later stage reads this module and nothing else about parameters: the
checker (domains, codes, repeatability), the in-memory and SQL targets (record
fields and columns), the README's parameter reference (``imgfilter params``)
and the hypothesis strategies in the tests.  Adding a parameter is one entry in
``PARAMS`` (plus a ``Field`` if it filters a record field no parameter used
before).
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from types import MappingProxyType

from imgfilter.front import codes


class FieldType(enum.Enum):
    """How a record field is normalized at load time and compared."""

    TEXT = "text"  # compared by code point
    ID = "id"  # an id (UUID), stored and compared in lowercase
    BOOL = "bool"  # JSON true/false or "true"/"false" in any case
    INT = "int"
    TIME = "time"  # ISO 8601; an instant in UTC at microsecond precision


@dataclass(frozen=True, slots=True)
class Field:
    """A typed field of an image record, and its column in the SQL schema."""

    name: str
    type: FieldType
    column: str


class Kind(enum.Enum):
    """How a parameter's value is checked and what node it becomes."""

    ENUM = "enum"  # one of `choices` (exact case); may have `aliases`
    BOOL = "bool"  # true/false in any letter case
    TRUE_ONLY = "true_only"  # only `true`; `false` is an error with a hint
    INT = "int"  # decimal integer in [minimum, maximum]
    TEXT = "text"  # string matching `pattern`, `min_len`..`max_len` chars
    UUID = "uuid"
    EPS = "enterprise_project"  # `0`, a UUID or `all_granted_eps`
    FLAVOR = "flavor"  # resolved against the service's flavor catalog
    TAG = "tag"  # key=value, key= or key
    TIME = "time"  # op:time
    MEMBER = "member_status"  # the caller's membership status
    MARKER = "marker"
    LIMIT = "limit"
    SORT_KEY = "sort_key"
    SORT_DIR = "sort_dir"


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter of ``GET /v2/cloudimages``."""

    name: str
    kind: Kind
    doc: str
    field: Field | None = None  # the record field it filters, if any
    reads: tuple[Field, ...] = ()  # a special parameter's fields (flavor_id: min_ram, min_disk)
    code: str = codes.BAD_VALUE  # IMS error code for a bad value
    choices: tuple[str, ...] = ()
    # a value that also matches other spellings: {"RedHat": ("RedHat", "Red Hat")}
    aliases: Mapping[str, tuple[str, ...]] = dc_field(default_factory=lambda: MappingProxyType({}))
    pattern: str | None = None  # TEXT: the characters allowed (a regex class)
    min_len: int = 1
    max_len: int = 255  # TEXT and FLAVOR: the value; TAG: the key
    value_max_len: int = 0  # TAG: the value
    minimum: int = 0
    maximum: int = 2**31 - 1
    repeatable: bool = False
    source: str = "API page"  # where the parameter is documented

    @property
    def domain(self) -> str:
        """A human-readable description of the accepted values."""
        k = self.kind
        if k in (Kind.ENUM, Kind.SORT_KEY, Kind.SORT_DIR, Kind.MEMBER):
            return "one of " + ", ".join(self.choices)
        if k is Kind.BOOL:
            return "true or false"
        if k is Kind.TRUE_ONLY:
            return "true (omit the parameter otherwise)"
        if k in (Kind.INT, Kind.LIMIT):
            return f"an integer from {self.minimum} to {self.maximum}"
        if k is Kind.TEXT:
            chars = f" of {self.pattern}" if self.pattern else ""
            return f"{self.min_len} to {self.max_len} characters{chars}"
        if k in (Kind.UUID, Kind.MARKER):
            return "a UUID"
        if k is Kind.EPS:
            return "0, a UUID or all_granted_eps"
        if k is Kind.FLAVOR:
            return f"a flavor id ({self.min_len} to {self.max_len} characters of {self.pattern})"
        if k is Kind.TAG:
            return f"key=value, key= or key (key up to {self.max_len} characters, value up to {self.value_max_len})"
        return "op:time, op one of gt, gte, lt, lte, eq, neq"


# ---- record fields ------------------------------------------------------------

def F(name: str, type_: FieldType, column: str | None = None) -> Field:
    return Field(name, type_, column or name.lstrip("_"))

FIELDS_LIST: tuple[Field, ...] = (
    F("id", FieldType.ID),
    F("name", FieldType.TEXT),
    F("status", FieldType.TEXT),
    F("visibility", FieldType.TEXT),
    F("owner", FieldType.TEXT),
    F("protected", FieldType.BOOL),
    F("container_format", FieldType.TEXT),
    F("disk_format", FieldType.TEXT),
    F("min_ram", FieldType.INT),
    F("min_disk", FieldType.INT),
    F("size", FieldType.INT),
    F("created_at", FieldType.TIME),
    F("updated_at", FieldType.TIME),
    F("__isregistered", FieldType.BOOL),
    F("__imagetype", FieldType.TEXT),
    F("__os_bit", FieldType.TEXT),
    F("__platform", FieldType.TEXT),
    F("__os_type", FieldType.TEXT),
    F("__os_version", FieldType.TEXT),
    F("virtual_env_type", FieldType.TEXT),
    F("enterprise_project_id", FieldType.ID),
    F("architecture", FieldType.TEXT),
    F("__whole_image", FieldType.BOOL),
    F("__system__cmkid", FieldType.TEXT, "system_cmkid"),
    F("__support_kvm", FieldType.BOOL),
    F("__support_xen", FieldType.BOOL),
    F("__support_largememory", FieldType.BOOL),
    F("__support_diskintensive", FieldType.BOOL),
    F("__support_highperformance", FieldType.BOOL),
    F("__support_xen_hana", FieldType.BOOL),
    F("__support_kvm_infiniband", FieldType.BOOL),
    F("__support_xen_gpu_type", FieldType.TEXT),
    F("__support_kvm_gpu_type", FieldType.TEXT),
)
FIELDS: Mapping[str, Field] = MappingProxyType({f.name: f for f in FIELDS_LIST})

# ---- response fields ---------------------------------------------

class Wire(enum.Enum):
    """How a field of a response image is written, whatever spelling the record used."""

    STRING = "string"  # a JSON string; a record may hold an integer (its decimal text)
    YES_NO = "yes/no"  # the string "true" or "false"; a record may hold either boolean spelling
    BOOLEAN = "boolean"  # JSON true/false; a record may hold either boolean spelling
    INTEGER = "integer"
    TIME = "time"  # UTC as YYYY-MM-DDTHH:MM:SSZ; a record may hold any ISO 8601 time
    STRINGS = "list of strings"


@dataclass(frozen=True, slots=True)
class ResponseField:
    """A field of the images in IMS's response, with its wire type and where it is documented."""

    name: str
    wire: Wire
    source: str = "API page"  # the API page's response table, the SDK's ImageInfo, or IMS+


def _r(wire: Wire, source: str, *names: str) -> tuple[ResponseField, ...]:
    return tuple(ResponseField(n, wire, source) for n in names)


RESPONSE_FIELDS_LIST: tuple[ResponseField, ...] = (
    # the API page's response table
    *_r(Wire.STRING, "API page", "file", "owner", "id", "self", "schema", "status", "visibility", "name", "checksum",
        "container_format", "max_ram", "__os_bit", "__os_version", "__description", "disk_format",
        "__platform", "__os_type", "virtual_env_type", "__image_source_type", "__imagetype",
        "__originalimagename", "__backup_id", "__productcode", "__image_size", "__data_origin",
        "__support_xen_gpu_type", "enterprise_project_id", "__root_origin", "__sequence_num"),
    *_r(Wire.INTEGER, "API page", "size", "min_ram", "min_disk", "virtual_size"),
    *_r(Wire.BOOLEAN, "API page", "deleted", "protected", "__system_support_market"),
    *_r(Wire.TIME, "API page", "created_at", "updated_at", "deleted_at"),
    *_r(Wire.YES_NO, "API page", "__isregistered", "__support_kvm", "__support_xen", "__support_diskintensive",
        "__support_highperformance", "__lazyloading"),
    ResponseField("tags", Wire.STRINGS),
    # the SDK's huaweicloudsdkims.v2.model.ImageInfo, beyond the page
    *_r(Wire.STRING, "SDK", "__support_kvm_gpu_type", "hw_firmware_type", "__system__cmkid", "__os_feature_list",
        "__account_code", "active_at", "__support_agent_list", "__image_displayname", "os_shutdown_timeout"),
    *_r(Wire.YES_NO, "SDK", "__support_kvm_infiniband", "__support_largememory", "__support_xen_hana",
        "__support_fc_inject", "__support_arm", "__support_amd", "__support_kvm_hi1822_hisriov",
        "__support_kvm_hi1822_hivirtionet", "__is_offshelved", "hw_vif_multiqueue_enabled"),
    # filtered by a parameter, or in the page's response example
    *_r(Wire.STRING, "IMS+", "architecture", "__support_kvm_fpga_type"),
    *_r(Wire.YES_NO, "IMS+", "__whole_image"),
)
RESPONSE_FIELDS: Mapping[str, ResponseField] = MappingProxyType({f.name: f for f in RESPONSE_FIELDS_LIST})
# how a response field that no parameter filters is validated at load
WIRE_TYPES: Mapping[Wire, FieldType] = MappingProxyType({
    Wire.STRING: FieldType.TEXT, Wire.YES_NO: FieldType.BOOL, Wire.BOOLEAN: FieldType.BOOL,
    Wire.INTEGER: FieldType.INT, Wire.TIME: FieldType.TIME,
})
# `__support_<name>` fields not in the table: a flag (either boolean spelling) is written as yes/no,
# anything else (`__support_kvm_fpga_type`-like types) passes through.
SUPPORT_PREFIX = "__support_"
NEVER_IN_RESPONSE = frozenset({"members"})  # other tenants' data


# ---- parameters ---------------------------------------------------------------

IMAGE_TYPES = ("gold", "private", "shared", "market")
PLATFORMS = (
    "Windows", "Ubuntu", "RedHat", "SUSE", "CentOS", "Debian", "OpenSUSE",
    "Oracle Linux", "Fedora", "Other", "CoreOS", "EulerOS",
)
REDHAT = ("RedHat", "Red Hat")  # one platform, two spellings (IMS+)
STATUSES = ("queued", "saving", "deleted", "killed", "active")
DISK_FORMATS = ("vhd", "zvhd", "zvhd2", "raw", "qcow2", "iso")
SORT_KEYS = ("name", "container_format", "disk_format", "status", "id", "size", "created_at")
MEMBER_STATUSES = ("accepted", "rejected", "pending")


class TimeOp(enum.Enum):
    """A time comparison (`op:time`): its word on the wire, its meaning and its spellings.

    The one place the operators are spelled; the grammar's ``OP`` terminal is
    tested to accept exactly these words, and the targets read their symbols here.
    """

    GT = ("gt", operator.gt, ">", ">")
    GTE = ("gte", operator.ge, ">=", ">=")
    LT = ("lt", operator.lt, "<", "<")
    LTE = ("lte", operator.le, "<=", "<=")
    EQ = ("eq", operator.eq, "==", "=")
    NEQ = ("neq", operator.ne, "!=", "<>")

    fn: Callable[[object, object], bool]
    py: str  # the Python operator (memory target)
    sql: str  # the SQL operator (SQL target)

    def __new__(cls, word: str, fn: Callable[[object, object], bool], py: str, sql: str) -> TimeOp:
        obj = object.__new__(cls)
        obj._value_ = word
        obj.fn = fn
        obj.py = py
        obj.sql = sql
        return obj

    @property
    def word(self) -> str:
        return str(self.value)

    @classmethod
    def of(cls, word: str) -> TimeOp:
        """The operator spelled ``word`` (KeyError if none is)."""
        return _TIME_OP_BY_WORD[word]


_TIME_OP_BY_WORD: Mapping[str, TimeOp] = MappingProxyType({op.word: op for op in TimeOp})
TIME_OPS: tuple[str, ...] = tuple(_TIME_OP_BY_WORD)
SUPPORT_FLAGS = (
    "__support_kvm", "__support_xen", "__support_largememory", "__support_diskintensive",
    "__support_highperformance", "__support_xen_hana", "__support_kvm_infiniband",
)
PROJECT_CHARS = "[0-9A-Za-z_-]"
GPU_CHARS = "[0-9A-Za-z_]"
FLAVOR_CHARS = "[0-9A-Za-z._-]"


def _p(name: str, kind: Kind, doc: str, *, field: str | None = None, reads: tuple[str, ...] = (),
       **kw: object) -> Param:
    """A parameter, naming the record field it filters (``field``) or, for a
    special one, the fields it reads (``reads``: flavor_id's minimums)."""
    return Param(name, kind, doc, field=FIELDS[field] if field else None,
                 reads=tuple(FIELDS[f] for f in reads), **kw)  # type: ignore[arg-type]


PARAMS_LIST: tuple[Param, ...] = (
    _p("__isregistered", Kind.BOOL, "Image is registered (usable). Ordinary callers may only ask true.",
       field="__isregistered"),
    _p("__imagetype", Kind.ENUM, "Image type: gold (public), private, shared, market.",
       code=codes.BAD_IMAGE_TYPE, choices=IMAGE_TYPES, field="__imagetype"),
    _p("protected", Kind.BOOL, "Image is protected from deletion.", field="protected"),
    _p("visibility", Kind.ENUM, "Visible to other tenants.", choices=("public", "private", "shared"),
       field="visibility"),
    _p("owner", Kind.TEXT, "Owning project id.", pattern=PROJECT_CHARS, max_len=64, field="owner"),
    _p("id", Kind.UUID, "Image id (any case; compared in lowercase).", field="id"),
    _p("status", Kind.ENUM, "Image status.", choices=STATUSES, field="status"),
    _p("name", Kind.TEXT, "Image name, exact and case-sensitive match.", field="name"),
    _p("container_format", Kind.ENUM, "Container format.", choices=("bare",), field="container_format"),
    _p("disk_format", Kind.ENUM, "Disk format.", choices=DISK_FORMATS, field="disk_format"),
    _p("min_ram", Kind.INT, "Minimum memory in MB.", field="min_ram"),
    _p("min_disk", Kind.INT, "Minimum disk in GB.", minimum=1, maximum=1024, field="min_disk"),
    _p("__os_bit", Kind.ENUM, "Operating system bits.", choices=("32", "64"), field="__os_bit"),
    _p("__platform", Kind.ENUM, "Platform; RedHat and Red Hat name one platform.",
       choices=PLATFORMS, aliases=MappingProxyType({"RedHat": REDHAT, "Red Hat": REDHAT}), field="__platform"),
    _p("__os_type", Kind.ENUM, "Operating system type.", code=codes.BAD_OS_TYPE,
       choices=("Linux", "Windows", "Other"), field="__os_type"),
    _p("__os_version", Kind.TEXT, "Operating system version.", source="IMS+", field="__os_version"),
    _p("virtual_env_type", Kind.ENUM, "Environment the image is for.",
       choices=("FusionCompute", "Ironic", "DataImage", "IsoImage"), field="virtual_env_type"),
    _p("enterprise_project_id", Kind.EPS, "Enterprise project: 0 (default; also matches none), "
       "a UUID, or all_granted_eps.", code=codes.BAD_ENTERPRISE_PROJECT, field="enterprise_project_id"),
    _p("architecture", Kind.ENUM, "CPU architecture.", code=codes.BAD_ARCHITECTURE, choices=("x86", "arm"),
       source="IMS+", field="architecture"),
    _p("__whole_image", Kind.BOOL, "Whole-machine image.", source="IMS+", field="__whole_image"),
    _p("__system__cmkid", Kind.TEXT, "Encryption key id.", source="IMS+", field="__system__cmkid"),
    *(_p(n, Kind.TRUE_ONLY, f"Image supports {n[len('__support_'):]}; only true.", field=n) for n in SUPPORT_FLAGS),
    _p("__support_xen_gpu_type", Kind.TEXT, "GPU type under XEN.", pattern=GPU_CHARS, max_len=64,
       field="__support_xen_gpu_type"),
    _p("__support_kvm_gpu_type", Kind.TEXT, "GPU type under KVM.", pattern=GPU_CHARS, max_len=64,
       field="__support_kvm_gpu_type"),
    _p("flavor_id", Kind.FLAVOR, "Images usable with this flavor (needs a flavor catalog).",
       code=codes.BAD_FLAVOR, pattern=FLAVOR_CHARS, max_len=64, reads=("min_ram", "min_disk")),
    _p("tag", Kind.TAG, "Tag key=value, key= or key; repeatable (AND).", code=codes.BAD_TAG,
       max_len=36, value_max_len=43, repeatable=True),
    _p("member_status", Kind.MEMBER, "The caller's membership status; needs visibility=shared.",
       choices=MEMBER_STATUSES),
    _p("created_at", Kind.TIME, "Creation time, op:time; repeatable (AND).", repeatable=True, field="created_at"),
    _p("updated_at", Kind.TIME, "Update time, op:time; repeatable (AND).", repeatable=True, field="updated_at"),
    _p("marker", Kind.MARKER, "Page after the image with this id."),
    _p("limit", Kind.LIMIT, "Page size; default all."),
    _p("sort_key", Kind.SORT_KEY, "Sort field; default created_at.", choices=SORT_KEYS),
    _p("sort_dir", Kind.SORT_DIR, "Sort direction; default desc.", choices=("asc", "desc")),
)
PARAMS: Mapping[str, Param] = MappingProxyType({p.name: p for p in PARAMS_LIST})

# The open family `__support_<name>` (IMS+): any other lowercase name, value true only.
SUPPORT_FAMILY = Param(
    "__support_<name>", Kind.TRUE_ONLY,
    "Open family of capability flags (e.g. __support_s4l); only true.", source="IMS+",
)
SUPPORT_FAMILY_RE = re.compile(r"__support_[a-z0-9_]+")

# Instants every target can store and compare: MySQL/MariaDB DATETIME's range, in UTC.
TIME_MIN = dt.datetime(1000, 1, 1, tzinfo=dt.UTC)
TIME_MAX = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)

# A UUID in its hyphenated form, any case (ids, markers, enterprise projects).
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

DEFAULT_SORT_KEY = "created_at"
DEFAULT_SORT_DIR = "desc"
ALL_GRANTED_EPS = "all_granted_eps"


def lookup(name: str) -> Param | None:
    """The parameter called ``name``, the open ``__support_*`` family, or None."""
    p = PARAMS.get(name)
    if p is None and SUPPORT_FAMILY_RE.fullmatch(name):
        return SUPPORT_FAMILY
    return p


def reference_markdown() -> str:
    """The README's parameter reference, rendered from the table."""
    rows = ["| parameter | accepts | repeatable | error code | notes |", "|---|---|---|---|---|"]
    for p in (*PARAMS_LIST, SUPPORT_FAMILY):
        doc = p.doc + ("" if p.source == "API page" else f" ({p.source})")
        rows.append(f"| `{p.name}` | {p.domain} | {'yes' if p.repeatable else 'no'} | {p.code} | {doc} |")
    return "\n".join(rows)
