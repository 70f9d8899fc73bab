"""/api/v1/docs: the API reference rendered by Swagger UI from files Coprod serves itself,
within the app's Content-Security-Policy, linked from the profile's token section."""

from __future__ import annotations

import re

from coprod.web import CONTENT_SECURITY_POLICY
from tests.factories import UserFactory


def test_the_reference_page_loads_swagger_ui_from_coprod_itself(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S)
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs, _body in scripts]
    assert sources == ["/api/v1/docs/assets/swagger-ui-bundle.js", "/static/api-docs.js"]
    assert all(not body.strip() for _attrs, body in scripts)  # no inline script
    assert 'href="/api/v1/docs/assets/swagger-ui.css"' in response.text
    assert 'data-spec="/api/v1/openapi.json"' in response.text
    assert not re.search(r'(src|href)="(https?:)?//', response.text)  # nothing from elsewhere
    # The worked example: a token in a variable, then curl against this server.
    assert 'curl -H "Authorization: Bearer $TOKEN" http://' in response.text
    assert "/api/v1/me" in response.text


def test_only_swagger_uis_own_files_are_served(client):
    bundle = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "javascript" in bundle.content_type
    assert b"SwaggerUIBundle" in bundle.data
    css = client.get("/api/v1/docs/assets/swagger-ui.css")
    assert css.status_code == 200 and css.content_type.startswith("text/css")
    for name in ("index.template.html", "..%2F__init__.py", "oauth2-redirect.html"):
        assert client.get(f"/api/v1/docs/assets/{name}").status_code == 404


def test_the_profile_links_the_token_section_to_the_reference(db, client, login):
    user = UserFactory()
    db.session.commit()
    assert login(user).status_code == 302

    profile = client.get("/profile").text
    tokens = profile[profile.index('id="tokens-heading"'):]
    assert 'href="/api/v1/docs"' in tokens.split("</section>")[0]
