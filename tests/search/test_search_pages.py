"""The search page and the search API: what a member sees, and never more."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from coprod.reflections import operations
from coprod.search.queries import QUERY_MAX
from tests.factories import PASSWORD
from tests.search.world import COMMON, PEOPLE, build_world, codes_in, leave, readable_codes
from tests.spaces.pages import error_of, text_of_page


@pytest.fixture
def world(db):
    return build_world()


def search_page(client, world, q, **args):
    return client.get(f"/c/{world.collab.id}/search", query_string={"q": q, **args})


def expected(name: str) -> set[str]:
    """What `name` finds with "borgerne" here (the Finnish one says something else)."""
    return readable_codes(name) - {"zzsignedorg", "zzreplysigned", "zzelsewhere"}


class Tags(HTMLParser):
    """Every start tag with its attributes, and the links, of a piece of HTML."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    @property
    def links(self) -> list[str]:
        return [attrs["href"] for tag, attrs in self.tags if tag == "a" and "href" in attrs]


def results_html(response) -> str:
    found = re.search(r'<ol class="search-results".*?</ol>', response.get_data(as_text=True),
                      re.S)
    return found.group(0) if found else ""


# -- the page -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [p for p in PEOPLE if p != "otto"])
def test_the_page_shows_exactly_what_the_member_may_read(client, login, world, name):
    login(world.seats[name].user)
    response = search_page(client, world, "borgerne")
    assert response.status_code == 200
    assert codes_in(text_of_page(response)) == expected(name)


def test_results_link_to_the_reflection_the_reply_and_the_message(client, login, world):
    login(world.seats["bo"].user)
    response = search_page(client, world, "borgerne")
    c, items = world.collab.id, world.items
    links = Tags(results_html(response)).links
    assert f"/c/{c}/reflections/{items['zzwhole'].id}" in links
    assert (f"/c/{c}/reflections/{items['zzwhole'].id}#reply-{items['zzreplywhole'].id}"
            in links)
    message = items["zzmsgannbo"]
    assert f"/c/{c}/messages/{message.conversation_id}#message-{message.id}" in links
    page = text_of_page(response)
    assert "Message in “Praktik”" in page and "Reply to a reflection" in page
    assert "Café Æblet" in page and "Bo Berg" in page


def test_the_organization_signs_for_an_author_who_chose_so(client, login, world):
    login(world.seats["bo"].user)
    page = text_of_page(search_page(client, world, "yhteistyö"))
    assert {"zzsignedorg", "zzreplysigned"} <= codes_in(page)
    assert "Jobcenter" in page and "Ann Andersen" not in page


def test_an_empty_search_shows_the_form_with_a_word_of_help(client, login, world):
    login(world.seats["bo"].user)
    for q in ("", "   ", "?!"):
        response = search_page(client, world, q)
        assert response.status_code == 200
        page = text_of_page(response)
        assert "Type a word or two" in page and "zz" not in page
    assert 'id="q"' in client.get(f"/c/{world.collab.id}/search").get_data(as_text=True)


def test_a_search_too_long_is_refused_next_to_the_box(client, login, world):
    login(world.seats["bo"].user)
    response = search_page(client, world, "borgerne " + "x" * QUERY_MAX)
    assert response.status_code == 422
    assert error_of(response, "q") == f"Keep your search under {QUERY_MAX} characters."
    assert "zzwhole" not in text_of_page(response)


@pytest.mark.parametrize("q", ['"borgerne', "NEAR(borgerne", "*", "^", "borgerne -", "OR"])
def test_a_hostile_search_answers_a_page(client, login, bearer, world, q):
    """Results or none, never a 500 (the API refuses a query without a word: 422)."""
    login(world.seats["ann"].user)
    assert search_page(client, world, q).status_code == 200
    answer = api_search(client, world, bearer(world.seats["ann"].user), q=q)
    assert answer.status_code in (200, 422), answer.get_data(as_text=True)


def test_nothing_found_says_so(client, login, world):
    login(world.seats["bo"].user)
    page = text_of_page(search_page(client, world, "zzorgonly"))  # exists, but not for Bo
    assert "Nothing found for “zzorgonly”." in page


def test_another_collaboration_answers_404(client, login, new_client, world):
    login(world.seats["otto"].user)
    assert search_page(client, world, "borgerne").status_code == 404
    bo = new_client()
    bo.post("/login", data={"email": world.seats["bo"].user.email, "password": PASSWORD})
    response = bo.get(f"/c/{world.other.id}/search", query_string={"q": "borgerne"})
    assert response.status_code == 404


def test_all_my_collaborations(client, login, world):
    login(world.seats["otto"].user)
    response = client.get(f"/c/{world.other.id}/search",
                          query_string={"q": "borgerne", "everywhere": "y"})
    assert codes_in(text_of_page(response)) == {"zzelsewhere"}
    assert "Another space" in text_of_page(response)


def test_a_member_who_left_gets_404(client, login, world):
    login(world.seats["lea"].user)
    assert codes_in(text_of_page(search_page(client, world, "borgerne"))) == expected("lea")
    leave(world, "lea")
    assert search_page(client, world, "borgerne").status_code == 404


def test_results_come_in_pages(client, login, world, db):
    ann = world.actors["ann"]
    for i in range(23):
        operations.post_reflection(ann, world.collab, body=f"Overlevering nummer {i}",
                                   kind="works", **COMMON)
    db.session.commit()
    login(world.seats["ann"].user)
    first = search_page(client, world, "overlevering")
    assert "23 results for “overlevering”." in text_of_page(first)
    assert results_html(first).count('class="search-hit"') == 20
    assert "Page 1 of 2" in text_of_page(first)
    second = search_page(client, world, "overlevering", page=2)
    assert results_html(second).count('class="search-hit"') == 3
    assert f"/c/{world.collab.id}/search?page=1&amp;q=overlevering" in second.get_data(
        as_text=True)


def test_what_members_wrote_never_becomes_markup(client, login, world, db):
    operations.post_reflection(
        world.actors["ann"], world.collab, kind="works", **COMMON,
        body='Borgerne <script>alert("x")</script> <img src=x onerror="alert(1)"> '
             '<a href="javascript:alert(2)">klik</a> [her](javascript:alert(3)) '
             "<svg onload=alert(4)>")
    db.session.commit()
    login(world.seats["bo"].user)
    response = search_page(client, world, "borgerne")
    html = results_html(response)
    assert "&lt;script&gt;" in html  # shown as text
    tags = Tags(html).tags
    assert {tag for tag, _ in tags} <= {"ol", "li", "h2", "a", "p", "time", "mark"}
    for tag, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not attrs.get("href", "").lower().startswith("javascript:"), (tag, attrs)


def test_every_space_page_has_a_labelled_search_box(client, login, world):
    login(world.seats["bo"].user)
    html = client.get(f"/c/{world.collab.id}").get_data(as_text=True)
    assert '<label for="subnav-q"' in html and 'id="subnav-q" name="q"' in html
    assert f'action="/c/{world.collab.id}/search"' in html


def test_search_is_a_get_form_that_needs_no_csrf_token(app, client, login, world,
                                                         monkeypatch):
    login(world.seats["bo"].user)  # logging in is not what this test is about
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = search_page(client, world, "borgerne")
    assert response.status_code == 200 and "zzwhole" in text_of_page(response)


def test_the_page_links_to_the_exports(client, login, world):
    login(world.seats["bo"].user)
    links = Tags(search_page(client, world, "borgerne").get_data(as_text=True)).links
    c = world.collab.id
    assert {f"/c/{c}/export.csv", f"/c/{c}/export-replies.csv", f"/c/{c}/export.json"} \
        <= set(links)


# -- the API --------------------------------------------------------------------------------

def api_search(client, world, headers, **args):
    return client.get(f"/api/v1/collaborations/{world.collab.id}/search", headers=headers,
                      query_string=args)


@pytest.mark.parametrize("name", ["ann", "bo", "cy", "coco"])
def test_the_api_finds_exactly_what_the_caller_may_read(client, bearer, world, name):
    response = api_search(client, world, bearer(world.seats[name].user), q="borgerne",
                          page_size=100)
    assert response.status_code == 200
    body = response.get_json()
    assert codes_in(" ".join(item["excerpt"] for item in body["items"])) == expected(name)
    assert body["total"] == len(body["items"]) and body["page"] == 1


def test_the_api_describes_each_hit(client, bearer, world):
    response = api_search(client, world, bearer(world.seats["bo"].user), q="toimii")
    (hit,) = response.get_json()["items"]
    signed = world.items["zzsignedorg"]
    assert hit["kind"] == "reflection" and hit["id"] == signed.id
    assert hit["author"] is None and hit["partner"] == "Jobcenter"
    assert hit["url"] == f"/c/{world.collab.id}/reflections/{signed.id}"
    assert "<mark>toimii</mark>" in hit["excerpt"]
    assert hit["created_at"].endswith("+00:00")


def test_the_api_pages(client, bearer, world):
    headers = bearer(world.seats["ann"].user)
    first = api_search(client, world, headers, q="borgerne", page_size=2).get_json()
    assert first["total"] == len(expected("ann")) and len(first["items"]) == 2
    assert first["total_pages"] == -(-first["total"] // 2)
    seen = set()
    for page in range(1, first["total_pages"] + 1):
        items = api_search(client, world, headers, q="borgerne", page_size=2,
                           page=page).get_json()["items"]
        seen |= {(i["kind"], i["id"]) for i in items}
    assert len(seen) == first["total"]


@pytest.mark.parametrize("args", [{}, {"q": ""}, {"q": "  !! "}, {"q": "x" * (QUERY_MAX + 1)},
                                  {"q": "borgerne", "page_size": 1000}])
def test_the_api_refuses_a_bad_search_with_a_message(client, bearer, world, args):
    response = api_search(client, world, bearer(world.seats["bo"].user), **args)
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] and body["errors"]["query"]


def test_the_api_answers_404_for_another_collaboration_and_after_leaving(client, bearer, world):
    assert api_search(client, world, bearer(world.seats["otto"].user),
                      q="borgerne").status_code == 404
    headers = bearer(world.seats["lea"].user)
    assert api_search(client, world, headers, q="borgerne").status_code == 200
    leave(world, "lea")
    assert api_search(client, world, headers, q="borgerne").status_code == 404
