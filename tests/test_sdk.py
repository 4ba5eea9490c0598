"""Responses and errors read by the official Huawei Cloud IMS Python SDK
(``huaweicloudsdkims``, a test dependency).

A small HTTP server answers ``GET /v2/cloudimages`` with
``imgfilter.run(...).to_response()`` (or ``QueryError.to_ims()`` with
``QueryError.status``); the SDK's own client sends the requests and
deserializes the answers into ``ListImagesResponse`` and
``ClientRequestException``.  The caller's project is the ``X-Project-Id``
header the SDK sends.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkims.v2 import ImsClient, ListImagesRequest, ListImagesResponse
from hypothesis import given
from hypothesis import strategies as st

import imgfilter
from imgfilter import Context, QueryError, db
from imgfilter.io.catalog import PROJECTS, bundled
from imgfilter.io.records import Catalog, Image
from imgfilter.result import Page

from .catalogs import catalogs

TRUSTED = "trusted"  # as X-Project-Id: no scope (the CLI's default)
ADMIN = "admin"
UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# the SDK's ImageInfo attribute for each yes/no field of the parameter table
YES_NO = {"isregistered": "__isregistered", "support_kvm": "__support_kvm", "support_xen": "__support_xen",
          "support_largememory": "__support_largememory", "support_diskintensive": "__support_diskintensive",
          "support_highperformance": "__support_highperformance", "support_xen_hana": "__support_xen_hana",
          "support_kvm_infiniband": "__support_kvm_infiniband"}


class Service:
    """What the server answers from: a catalog in memory or an SQLite copy of it."""

    def __init__(self) -> None:
        self.catalog = Catalog([])
        self.conn: sqlite3.Connection | None = None
        self.endpoint = ""

    def use(self, catalog: Catalog, engine: str) -> None:
        self.catalog = catalog
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if engine == "sqlite":
            self.conn = sqlite3.connect(":memory:", check_same_thread=False)
            db.load_catalog(self.conn, catalog)

    def answer(self, query: str, project: str | None) -> tuple[int, dict[str, Any]]:
        context = None if project in (None, TRUSTED) else Context(is_admin=True) if project == ADMIN \
            else Context(project)
        try:
            page = (imgfilter.run(query, self.catalog, context) if self.conn is None
                    else db.run(self.conn, query, context))
        except QueryError as e:
            return e.status, e.to_ims()
        return 200, page.to_response()


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    svc = Service()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            assert url.path == "/v2/cloudimages", url.path
            status, body = svc.answer(url.query, self.headers.get("X-Project-Id"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    svc.endpoint = f"http://127.0.0.1:{server.server_port}"
    try:
        yield svc
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def client(service: Service, project: str) -> Any:
    return (ImsClient.new_builder()
            .with_credentials(BasicCredentials("ak", "sk", project))
            .with_endpoints([service.endpoint])
            .build())


def walk(ims: Any, limit: int, **filters: Any) -> tuple[list[Any], int]:
    """Every image, page by page, following ``page_info.next_marker``."""
    images: list[Any] = []
    marker, pages = None, 0
    while True:
        resp = ims.list_images(ListImagesRequest(limit=limit, marker=marker, **filters))
        assert isinstance(resp, ListImagesResponse) and resp.status_code == 200
        body = json.loads(resp.raw_content)
        assert all("members" not in img for img in body["images"])
        images += resp.images or []
        pages += 1
        marker = resp.page_info.next_marker
        if marker is None:
            return images, pages
        assert marker == images[-1].id
        assert pages <= 1_000, "the page walk did not end"  # a cycle fails, not fills the memory


def assert_typed(info: Any, img: Image) -> None:
    """One SDK ``ImageInfo`` holds the image's values with the SDK's types."""
    v = img.values
    assert info.id == img.id
    for attr, name in YES_NO.items():
        want = None if v[name] is None else ("true" if v[name] else "false")
        assert getattr(info, attr) == want, (attr, getattr(info, attr), v[name])
    assert info.protected is v["protected"]
    assert info.imagetype == v["__imagetype"] and info.os_bit == v["__os_bit"] and info.name == v["name"]
    for attr in ("min_ram", "min_disk", "size"):
        assert getattr(info, attr) == v[attr] and type(getattr(info, attr)) in (int, type(None))
    for attr in ("created_at", "updated_at"):
        at = v[attr]
        assert getattr(info, attr) == (None if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert info.tags == img.wire.get("tags")
    arm = img.wire.get("__support_arm")
    assert info.support_arm == arm and arm in (None, "true", "false")
    assert info.enterprise_project_id == v["enterprise_project_id"]


@pytest.mark.parametrize("engine", ["memory", "sqlite"])
@pytest.mark.parametrize("project", [TRUSTED, ADMIN, PROJECTS[2]])
def test_bundled_catalog_through_the_sdk(service: Service, engine: str, project: str) -> None:
    cat = bundled()
    service.use(cat, engine)
    ims = client(service, project)
    images, pages = walk(ims, 150, sort_key="name")
    context = {TRUSTED: None, ADMIN: Context(is_admin=True)}.get(project, Context(project))
    assert [i.id for i in images] == imgfilter.run("sort_key=name", cat, context).ids
    assert pages > 3
    for info in images:
        assert_typed(info, cat.by_id[info.id])
    gold = ims.list_images(ListImagesRequest(imagetype="gold", sort_key="name", limit=1))
    (first,) = gold.images
    assert first.imagetype == "gold" and first.isregistered == "true" and first.protected is True
    assert UTC_Z.fullmatch(first.created_at) and isinstance(first.min_disk, int)
    assert gold.page_info.next_marker == first.id


def test_architecture_and_flags_through_the_sdk(service: Service) -> None:
    cat = bundled()
    service.use(cat, "memory")
    ims = client(service, TRUSTED)
    arm, _ = walk(ims, 500, architecture="arm")
    assert {i.id for i in arm} == set(imgfilter.run("architecture=arm", cat).ids)
    assert any(i.support_arm == "true" for i in arm)
    kvm, _ = walk(ims, 500, support_kvm="true")
    assert kvm and all(i.support_kvm == "true" for i in kvm)


@pytest.mark.parametrize(("request_fields", "project", "code", "status"), [
    ({"status": "activ"}, TRUSTED, "IMG.0001", 400),
    ({"imagetype": "golden"}, TRUSTED, "IMG.0024", 400),
    ({"os_type": "linux"}, TRUSTED, "IMG.0122", 400),
    ({"architecture": "amd64"}, TRUSTED, "IMG.0212", 400),
    ({"enterprise_project_id": "nope"}, TRUSTED, "IMG.0155", 400),
    ({"tag": "a.b"}, TRUSTED, "IMG.0115", 400),
    ({"flavor_id": "s6.large.2"}, TRUSTED, "IMG.0192", 400),
    ({"marker": "00000000-0000-4000-8000-000000000000"}, TRUSTED, "IMG.0027", None),
    ({"isregistered": "false"}, PROJECTS[0], "IMG.0026", 403),
    ({"member_status": "accepted"}, TRUSTED, "IMG.0001", 400),
])
def test_errors_through_the_sdk(service: Service, request_fields: dict[str, Any], project: str, code: str,
                                status: int | None) -> None:
    service.use(bundled(), "memory")
    with pytest.raises(ClientRequestException) as info:
        client(service, project).list_images(ListImagesRequest(**request_fields))
    e = info.value
    expected_status, body = service.answer(
        "&".join(f"{ListImagesRequest.attribute_map[k]}={v}" for k, v in request_fields.items()), project)
    assert (e.status_code, e.error_code, e.error_msg) == (expected_status, code, body["error"]["message"])
    assert status is None or e.status_code == status


@given(records=catalogs(), limit=st.integers(1, 5), data=st.data())
def test_generated_records_through_the_sdk(service: Service, records: list[dict[str, Any]], limit: int,
                                           data: st.DataObject) -> None:
    cat = Catalog.from_records(records)
    engine = data.draw(st.sampled_from(["memory", "sqlite"]))
    service.use(cat, engine)
    images, _ = walk(client(service, TRUSTED), limit, sort_key="id", sort_dir="asc")
    assert [i.id for i in images] == sorted(cat.by_id)
    for info in images:
        assert_typed(info, cat.by_id[info.id])


def test_a_page_is_what_the_service_sent(service: Service) -> None:
    """The body the SDK read is ``to_response()``, byte for byte in JSON."""
    cat = bundled()
    service.use(cat, "memory")
    resp = client(service, TRUSTED).list_images(ListImagesRequest(sort_key="name", limit=3))
    page: Page = imgfilter.run("limit=3&sort_key=name", cat)
    assert json.loads(resp.raw_content) == page.to_response()
