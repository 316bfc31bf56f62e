from fastapi.testclient import TestClient

from tests.service.cast import Cast


def test_a_member_looks_itself_up(client: TestClient, cast: Cast):
    reply = client.get(f"/api/v1/members/{cast.addresses['enterprise_a']}", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["roles"] == ["ENTERPRISE"]
