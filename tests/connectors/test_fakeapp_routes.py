"""Fake vendor routes match in declaration order (not in alphabetical order of handler names)."""

from __future__ import annotations

from leadsync.connectors.testing import FakeApp, Request, Response, route


def request(method: str, path: str) -> Request:
    return Request(method=method, path=path, query={}, query_lists={}, headers={}, body=b"")


class Catalogue(FakeApp):
    # `z_groups` sorts after `a_property`; declared first, it must still win for ".../groups".
    @route("GET", r"/properties/(?P<obj>\w+)/groups")
    def z_groups(self, request: Request) -> Response:
        return Response(200, json={"handler": "groups"})

    @route("GET", r"/properties/(?P<obj>\w+)/(?P<name>\w+)")
    def a_property(self, request: Request) -> Response:
        return Response(200, json={"handler": "property", "name": request.params["name"]})

    @route("POST", r"/items")
    @route("PUT", r"/items")
    def m_items(self, request: Request) -> Response:
        return Response(200)


class NarrowerCatalogue(Catalogue):
    @route("GET", r"/properties/(?P<obj>\w+)/(?P<name>\w+)")
    def a_property(self, request: Request) -> Response:  # overrides in place
        return Response(200, json={"handler": "narrower"})


def test_the_first_declared_route_wins() -> None:
    app = Catalogue()
    assert [r.handler.__name__ for r in app.routes] == ["z_groups", "a_property", "m_items", "m_items"]
    assert app.match(request("GET", "/properties/contacts/groups")).handler(request("GET", "")).json == {"handler": "groups"}
    found = app.match(request("GET", "/properties/contacts/email"))
    assert found.handler.__name__ == "a_property"


def test_stacked_routes_keep_written_order_and_other_methods_are_405() -> None:
    app = Catalogue()
    assert [(r.method, r.pattern.pattern) for r in app.routes][2:] == [("POST", "/items"), ("PUT", "/items")]
    assert app.match(request("DELETE", "/items")).status == 405
    assert app.match(request("GET", "/nothing")).status == 404


def test_an_override_keeps_its_place_and_its_new_handler() -> None:
    app = NarrowerCatalogue()
    groups = app.match(request("GET", "/properties/contacts/groups"))
    assert groups.handler(request("GET", "")).json == {"handler": "groups"}
    other = app.match(request("GET", "/properties/contacts/email"))
    assert other.handler(request("GET", "")).json == {"handler": "narrower"}
