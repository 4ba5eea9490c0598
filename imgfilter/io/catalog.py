"""The bundled sample catalog: about 2,000 realistic images, generated
deterministically from a fixed seed (``python -m imgfilter.io.catalog`` prints it).

It is the default data of ``imgfilter query``.  It holds public ``gold`` images
of every platform and OS version, private and shared images of several
projects with memberships in every status, several enterprise projects and the
default one, tags in both forms, every ``__support_*`` flag, every status and
format, timestamps over years, ties in every sort key, some missing optional
fields, ARM and x86 images recorded with ``architecture`` and as IMS records
them (``__support_arm``, or nothing), and the two images of the API page's
response example.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import sqlite3
import sys
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from imgfilter.db.dialects import get as get_dialect
from imgfilter.db.schema import DEFAULT_SCHEMA, create_statements
from imgfilter.front import params as P
from imgfilter.io.load import catalog_rows, load_catalog
from imgfilter.io.records import Catalog, parse_time

SEED = 20181028
SIZE = 2000
PUBLIC_OWNER = "1bed856811654c1cb661a6ca845ebc77"
PROJECTS = [
    "0605767ea3ba4e2e8b3a1d8c6f3c9b61", "1f2e3d4c5b6a47988776655443322110",
    "a3c1e5f7b9d24681357902468ace1357", "b0b0b0b0c1c1c1c1d2d2d2d2e3e3e3e3",
    "c7f3a9e1d5b44b2c8e6f0a1b2c3d4e5f",
]
ENTERPRISE_PROJECTS = [
    "2d6c6c9e-6b8e-4f5a-9c3d-1e2f3a4b5c6d", "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "f0e1d2c3-b4a5-4968-8776-655443322110",
]
OS_VERSIONS: dict[str, list[tuple[str, str]]] = {
    "Windows": [("Windows Server 2012 R2 Standard 64bit", "64"), ("Windows Server 2016 Datacenter 64bit", "64"),
                ("Windows Server 2019 Datacenter 64bit", "64"), ("Windows Server 2022 Datacenter 64bit", "64")],
    "Ubuntu": [("Ubuntu 16.04 server 64bit", "64"), ("Ubuntu 18.04 server 64bit", "64"),
               ("Ubuntu 20.04 server 64bit", "64"), ("Ubuntu 22.04 server 64bit", "64"),
               ("Ubuntu 24.04 server 64bit", "64")],
    "RedHat": [("Red Hat Enterprise Linux 7.6 64bit", "64"), ("Red Hat Enterprise Linux 8.4 64bit", "64")],
    "SUSE": [("SUSE Linux Enterprise Server 12 SP5 64bit", "64"), ("SUSE Linux Enterprise Server 15 SP4 64bit", "64")],
    "CentOS": [("CentOS 6.10 32bit", "32"), ("CentOS 6.10 64bit", "64"), ("CentOS 7.3 64bit", "64"),
               ("CentOS 7.9 64bit", "64"), ("CentOS 8.2 64bit", "64")],
    "Debian": [("Debian 9.0.0 64bit", "64"), ("Debian 10.0.0 64bit", "64"), ("Debian 11.1.0 64bit", "64")],
    "OpenSUSE": [("OpenSUSE 15.0 64bit", "64"), ("OpenSUSE 15.3 64bit", "64")],
    "Oracle Linux": [("Oracle Linux 7.4 64bit", "64"), ("Oracle Linux 8.6 64bit", "64")],
    "Fedora": [("Fedora 30 64bit", "64"), ("Fedora 36 64bit", "64")],
    "Other": [("Other Linux(64 bit)", "64"), ("Other Linux(32 bit)", "32")],
    "CoreOS": [("CoreOS 1298.7.0 64bit", "64")],
    "EulerOS": [("EulerOS 2.2 64bit", "64"), ("EulerOS 2.5 64bit", "64"), ("EulerOS 2.9 64bit", "64")],
}
TAG_KEYS = ["env", "team", "app", "环境", "cost-center", "owner_tag"]
TAG_VALUES = ["prod", "test", "dev", "生产", "web.v2", "", "42"]

# The two images of the API page's response example, verbatim.
API_EXAMPLE: list[dict[str, Any]] = [
    {"schema": "/v2/schemas/image", "min_disk": 100, "created_at": "2018-09-06T14:03:27Z",
     "__image_source_type": "uds", "container_format": "bare",
     "file": "/v2/images/bc6bed6e-ba3a-4447-afcc-449174a3eb52/file", "updated_at": "2018-09-06T15:17:33Z",
     "protected": True, "checksum": "d41d8cd98f00b204e9800998ecf8427e", "__support_kvm_fpga_type": "VU9P",
     "id": "bc6bed6e-ba3a-4447-afcc-449174a3eb52", "__isregistered": "true", "min_ram": 2048,
     "__lazyloading": "true", "owner": PUBLIC_OWNER, "__os_type": "Linux", "__imagetype": "gold",
     "visibility": "public", "virtual_env_type": "FusionCompute", "tags": [], "__platform": "CentOS",
     "size": 0, "__os_bit": "64", "__os_version": "CentOS 7.3 64bit", "name": "CentOS 7.3 64bit vivado",
     "self": "/v2/images/bc6bed6e-ba3a-4447-afcc-449174a3eb52", "disk_format": "zvhd2",
     "virtual_size": None, "status": "active"},
    {"schema": "/v2/schemas/image", "min_disk": 100, "created_at": "2018-09-06T14:03:05Z",
     "__image_source_type": "uds", "container_format": "bare",
     "file": "/v2/images/0328c25e-c840-4496-81ac-c4e01b214b1f/file", "updated_at": "2018-09-25T14:27:40Z",
     "protected": True, "checksum": "d41d8cd98f00b204e9800998ecf8427e", "__support_kvm_fpga_type": "VU9P_COMMON",
     "id": "0328c25e-c840-4496-81ac-c4e01b214b1f", "__isregistered": "true", "min_ram": 2048,
     "__lazyloading": "true", "owner": PUBLIC_OWNER, "__os_type": "Linux", "__imagetype": "gold",
     "visibility": "public", "virtual_env_type": "FusionCompute", "tags": [], "__platform": "CentOS",
     "size": 0, "__os_bit": "64", "__os_version": "CentOS 7.3 64bit", "name": "CentOS 7.3 64bit with sdx",
     "self": "/v2/images/0328c25e-c840-4496-81ac-c4e01b214b1f", "disk_format": "zvhd2",
     "virtual_size": None, "status": "active"},
]


def _time(rnd: random.Random) -> str:
    start = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
    t = start + dt.timedelta(seconds=rnd.randrange(0, 10 * 365 * 86400))
    t = t.replace(second=0) if rnd.random() < 0.3 else t  # minute-aligned: ties
    form = rnd.random()
    if form < 0.8:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form < 0.9:  # the same instant written with an offset
        return t.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _os_type(platform: str) -> str:
    return {"Windows": "Windows", "Other": "Other"}.get(platform, "Linux")


def _base(rnd: random.Random, platform: str, version: str, bits: str) -> dict[str, Any]:
    image_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    created = _time(rnd)
    return {
        "schema": "/v2/schemas/image", "id": image_id, "self": f"/v2/images/{image_id}",
        "file": f"/v2/images/{image_id}/file", "container_format": "bare",
        "disk_format": rnd.choice(["zvhd2", "zvhd2", "zvhd", "vhd", "raw", "qcow2", "iso"]),
        "status": rnd.choices(P.STATUSES, weights=[3, 2, 2, 1, 40])[0],
        "created_at": created, "updated_at": created if rnd.random() < 0.5 else _time(rnd),
        "min_ram": rnd.choice([0, 0, 1024, 2048, 4096]), "min_disk": rnd.choice([40, 40, 50, 100]),
        "size": rnd.choice([0, 0, 2147483648, 10737418240, 42949672960]),
        "__os_type": _os_type(platform),
        "__platform": "Red Hat" if platform == "RedHat" and rnd.random() < 0.3 else platform,
        "__os_version": version, "__os_bit": bits,
        "virtual_env_type": "FusionCompute", "__isregistered": "true", "tags": [],
        "architecture": "arm" if "EulerOS" in version and rnd.random() < 0.5 else "x86",
    }


def _as_ims_records_it(img: dict[str, Any]) -> None:
    """IMS's own responses carry no ``architecture``: ARM images say
    ``__support_arm: "true"``, others nothing.  A third of the images are
    recorded so (chosen by id, which leaves the random sequence as it was)."""
    if int(img["id"][:8], 16) % 3:
        return
    if img.pop("architecture", None) == "arm":
        img["__support_arm"] = ("true", "true", "TRUE", True)[int(img["id"][9:13], 16) % 4]
    elif int(img["id"][9:13], 16) % 5 == 0:
        img["__support_arm"] = "false"


def _decorate(rnd: random.Random, img: dict[str, Any]) -> None:
    """Flags, tags, enterprise projects and missing fields, spread at random."""
    for flag in P.SUPPORT_FLAGS:
        if rnd.random() < 0.15:
            img[flag] = rnd.choice(["true", "True", True])
    if rnd.random() < 0.05:
        img["__support_xen_gpu_type"] = rnd.choice(["M60_vGPU", "P100"])
    if rnd.random() < 0.05:
        img["__support_kvm_gpu_type"] = rnd.choice(["V100", "T4"])
    if rnd.random() < 0.05:
        img["__support_s4l"] = "true"
    if rnd.random() < 0.05:
        img["__whole_image"] = rnd.choice([True, "false"])
    if rnd.random() < 0.3:
        tags = set()
        for _ in range(rnd.randint(1, 3)):
            k, v = rnd.choice(TAG_KEYS), rnd.choice(TAG_VALUES)
            form = rnd.random()
            tags.add(f"{k}.{v}" if form < 0.2 and v and "." not in v else (k if form < 0.3 else f"{k}={v}"))
        img["tags"] = sorted(tags)
    for name in ("size", "min_ram", "__os_version", "architecture"):
        if rnd.random() < 0.03:
            img.pop(name, None)
    if rnd.random() < 0.01:
        img["size"] = None
    if rnd.random() < 0.01:
        img["name"] = None


def generate(n: int = SIZE, seed: int = SEED) -> list[dict[str, Any]]:
    """The sample records; the same ``(n, seed)`` always gives the same list."""
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = [json.loads(json.dumps(r)) for r in API_EXAMPLE]
    platforms = list(OS_VERSIONS)
    while len(out) < n:
        platform = rnd.choice(platforms)
        version, bits = rnd.choice(OS_VERSIONS[platform])
        img = _base(rnd, platform, version, bits)
        if len(out) > 2 and rnd.random() < 0.1:  # built in the same batch: a tie on created_at
            twin = out[-1]["created_at"]
            img["created_at"] = twin if rnd.random() < 0.5 else (
                parse_time(twin).astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat())
        kind = rnd.random()
        if kind < 0.35:  # public images
            img.update(__imagetype="gold", visibility="public", owner=PUBLIC_OWNER, protected=True,
                       name=version, enterprise_project_id="0")
            if rnd.random() < 0.1:
                img["__imagetype"] = "market"
                img["name"] = f"{version} marketplace"
        else:  # private images of a project, some shared
            owner = rnd.choice(PROJECTS)
            img.update(__imagetype="private", visibility="private", owner=owner,
                       protected=rnd.random() < 0.1, name=rnd.choice([f"{version} custom", "web-server",
                                                                        "db-backup", "Web-Server", "web-server ",
                                                                        f"img-{rnd.randint(1, 40)}"]))
            eps = rnd.random()
            if eps < 0.4:
                img["enterprise_project_id"] = rnd.choice(ENTERPRISE_PROJECTS)
            elif eps < 0.7:
                img["enterprise_project_id"] = "0"
            if rnd.random() < 0.3:
                img["__imagetype"] = "shared"
                img["visibility"] = "shared"
                others = [p for p in PROJECTS if p != owner]
                img["members"] = [{"member_id": p, "status": rnd.choice(P.MEMBER_STATUSES)}
                                  for p in rnd.sample(others, rnd.randint(1, 3))]
            if rnd.random() < 0.05:
                img["virtual_env_type"] = rnd.choice(["Ironic", "DataImage", "IsoImage"])
        if rnd.random() < 0.04:
            img["__isregistered"] = rnd.choice(["false", False])
        _decorate(rnd, img)
        _as_ims_records_it(img)
        out.append(img)
    return out


@lru_cache(maxsize=1)
def bundled() -> Catalog:
    """The sample catalog, validated (built once per process)."""
    return Catalog.from_records(generate())


def main() -> None:
    json.dump({"images": generate()}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


# ---- the bundled catalog as SQLite ----------------------------------------------------

def bundled_sqlite_path() -> Path:
    """The bundled catalog as an SQLite file in the user's cache, built on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imgfilter"
    # named by content, the rows as stored and the schema: a changed generator,
    # validation, wire form or schema never reuses a stale file
    d = get_dialect("sqlite")
    catalog = bundled()
    digest = hashlib.sha256("\n".join(create_statements(d)).encode())
    for table, row in catalog_rows(d, catalog.images, DEFAULT_SCHEMA):
        digest.update(repr((table, row)).encode())
    path = cache / f"catalog-{digest.hexdigest()[:16]}.sqlite3"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            load_catalog(conn, catalog)
        finally:
            conn.close()
        os.replace(tmp, path)  # atomic: a concurrent first use sees a whole file or none
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


if __name__ == "__main__":
    main()
