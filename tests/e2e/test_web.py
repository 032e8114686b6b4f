"""The dashboard's files over HTTP (the page itself is tested in Chromium: tests/browser): served
from the binary, without a token even when tokens are on (they hold no data; every API route
still needs one), with a strict Content-Security-Policy, ETags and 304s."""
import requests


def test_page_and_assets(make_server, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("web-token-0123456789abcdef:ann\n")
    tokens.chmod(0o600)
    s = make_server("--gpus", "sim:24GiB", "--token-file", str(tokens))
    page = s.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/assets/app.js">' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    for name, ctype in (("app.js", "text/javascript; charset=utf-8"),
                        ("style.css", "text/css; charset=utf-8")):
        r = s.get(f"/assets/{name}")
        assert r.status_code == 200 and r.headers["Content-Type"] == ctype and r.text
        again = s.get(f"/assets/{name}", headers={"If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304 and again.text == ""
    assert s.get("/assets/nothing.js").status_code == 404
    assert requests.post(f"{s.url}/", timeout=10).status_code == 401  # only GET is public
    assert s.get("/v1/gpus").status_code == 401, "the API still needs the token"
