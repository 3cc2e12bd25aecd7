"""The OpenAPI document declares every error answer the API can give."""

from __future__ import annotations

from support import Platform

REQUIRED = {"400", "401", "403", "404", "409", "422"}


def test_every_operation_declares_the_problem_responses(sqlite_platform: Platform) -> None:
    spec = sqlite_platform.client.get("/openapi.json").json()
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()]
    assert len(operations) >= 20
    for path, method, op in operations:
        missing = REQUIRED - set(op["responses"])
        assert not missing, f"{method.upper()} {path} does not declare {sorted(missing)}"
        problem = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        assert problem.endswith("/Problem"), f"{method.upper()} {path} 422 is not a Problem"


def test_health_and_home_page_answer(sqlite_platform: Platform) -> None:
    assert sqlite_platform.client.get("/healthz").json() == {"status": "ok", "database": "sqlite"}
    home = sqlite_platform.client.get("/")
    assert home.status_code == 200
    assert "杭州" in home.text
    assert "30 分钟" in home.text  # 14:00 local: the day promise
