"""Small hand-written records shared by the tests of every target."""

from __future__ import annotations

from typing import Any

PUB = "1bed856811654c1cb661a6ca845ebc77"
P1 = "project1"
P2 = "project2"
P3 = "project3"
EP1 = "2d6c6c9e-6b8e-4f5a-9c3d-1e2f3a4b5c6d"
EP2 = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def rec(n: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": uid(n), "__isregistered": "true"}
    base.update(fields)
    return base


RECORDS: list[dict[str, Any]] = [
    rec(1, name="CentOS 7.3 64bit", __platform="CentOS", __imagetype="gold", visibility="public",
        owner=PUB, status="active", protected=True, min_ram=2048, min_disk=40, size=10,
        created_at="2018-09-06T14:03:27Z", updated_at="2018-09-06T15:17:33Z", __os_type="Linux",
        __os_bit="64", disk_format="zvhd2", container_format="bare", tags=["k=v", "env=prod"],
        enterprise_project_id="0", __support_kvm="true", architecture="x86", virtual_env_type="FusionCompute"),
    rec(2, name="RHEL 8", __platform="Red Hat", __imagetype="gold", visibility="public", owner=PUB,
        status="active", protected="True", min_ram=0, min_disk=100, size=10,
        created_at="2018-09-06T22:03:27+08:00", tags=["k="], __support_xen="TRUE",
        __support_xen_gpu_type="M60_vGPU", architecture="arm", disk_format="qcow2"),
    rec(3, name="RHEL 7", __platform="RedHat", __imagetype="private", visibility="private", owner=P1,
        status="queued", protected=False, min_ram=1024, size=5, created_at="2018-09-06T14:03:27.000001Z",
        updated_at="2019-01-01 00:00:00", tags=["k.v", "legacy.x.y"], enterprise_project_id=EP1,
        __support_s4l=True, disk_format="raw", members=[{"member_id": P2, "status": "pending"}]),
    rec(4, name="shared one", __imagetype="shared", visibility="shared", owner=P1, status="active",
        created_at="2018-09-06T14:03:26.999999Z", tags=["k"], enterprise_project_id=EP2.upper(),
        members=[{"member_id": P2, "status": "accepted"}, {"member_id": P3, "status": "rejected"}],
        custom_prop="blue", min_disk=40),
    rec(5, name="shared one", __imagetype="shared", visibility="shared", owner=P3, status="killed",
        members=[{"member_id": P2, "status": "rejected"}, {"member_id": P1, "status": "pending"}],
        size=None, custom_prop=7),
    rec(6, name="unregistered", __isregistered="false", visibility="public", owner=PUB, status="active",
        created_at="2017-01-01T00:00:00Z", size=99),
    rec(7, name="shared one ", visibility="private", owner=P2, status="saving", created_at="2020-02-29T12:00:00Z",
        size=5, __whole_image="false", __os_version="Ubuntu 22.04"),
    rec(8, visibility="public", owner=PUB, status="active", created_at="2018-09-06T14:03:27Z", size=5,
        name="Shared one", __support_kvm_gpu_type="V100", __system__cmkid="cmk-1"),
]
