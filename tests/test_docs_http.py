"""docs/http-api.md is true: its walkthrough runs against the application with the demo
data and tokens `make run` gives, and every route of the application is listed."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from core.plugins import PluginHost
from core.services import CivicLedger

DOC = Path(__file__).resolve().parent.parent / "docs" / "http-api.md"


def test_the_walkthrough_names_a_community_over_http(capsys):
    ledger = CivicLedger("memory://", plugins=PluginHost.discover())
    demo, _ = ledger.plugins.demos()["tianjin-dongli-2020"]
    demo.build(ledger, lambda _: None)
    tokens = {role.value: value for role, value in ledger.issue_demo_tokens("tests")["demo-tianjin"].items()}
    client = TestClient(create_app(ledger), raise_server_exceptions=True)
    (block,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    code = block.replace('http = httpx.Client(base_url="http://127.0.0.1:8000")', "http = client")
    code = re.sub(r"token = \{.*?\n\}\n", "token = tokens\n", code, flags=re.S)
    original_post = client.post

    def post(*args, **kwargs):  # every step must succeed
        answer = original_post(*args, **kwargs)
        assert answer.status_code in (200, 201), (args, answer.text)
        return answer

    client.post = post
    exec(compile(code, str(DOC), "exec"), {"client": client, "tokens": tokens, "__name__": "walkthrough"})
    assert capsys.readouterr().out.strip() == "True"
    ledger.close()


def test_every_route_is_listed_in_the_reference():
    text = DOC.read_text(encoding="utf-8")
    app = create_app(CivicLedger("memory://", plugins=PluginHost()))
    missing = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method in ("HEAD", "OPTIONS") or route.path in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
                continue
            if f"`{method} {route.path}`" not in text:
                missing.append(f"{method} {route.path}")
    assert missing == []
