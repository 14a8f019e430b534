"""A tiny fake vendor used to test the fake-server framework itself (also spawned as a process)."""

from __future__ import annotations

from leadsync.connectors.testing.fakeserver import FakeApp, Request, Response, route


class NotesApp(FakeApp):
    """Notes with ids; search is rate limited the Marketo way (HTTP 200, error 606)."""

    rate_limits = {"search": (3, 60.0)}

    def initial_state(self) -> dict:
        return {"notes": {}, "next_id": 1}

    def before_request(self, request: Request) -> Response | None:
        if request.bearer != "good-token":
            return Response(401, json={"message": "bad token"})
        return None

    def rate_limited_response(self, request: Request) -> Response:
        return Response(200, json={"success": False, "errors": [{"code": "606", "message": "Max rate limit"}]})

    @route("POST", r"/notes")
    def create(self, request: Request) -> Response:
        note_id = str(self.state["next_id"])
        self.state["next_id"] += 1
        self.state["notes"][note_id] = {"id": note_id, "text": (request.json or {}).get("text", "")}
        return Response(201, json=self.state["notes"][note_id])

    @route("GET", r"/notes/(?P<note_id>\d+)")
    def read(self, request: Request) -> Response:
        note = self.state["notes"].get(request.params["note_id"])
        return Response(200, json=note) if note else Response(404, json={"message": "not found"})

    @route("GET", r"/notes")
    def list_notes(self, request: Request) -> Response:
        limit = int(request.query.get("limit", "100"))
        return Response(200, json={"results": list(self.state["notes"].values())[:limit]})

    @route("POST", r"/notes/search", endpoint="search", write=False)
    def search(self, request: Request) -> Response:
        text = (request.json or {}).get("text", "")
        hits = [n for n in self.state["notes"].values() if text in n["text"]]
        return Response(200, json={"success": True, "result": hits})


def make_app() -> NotesApp:
    return NotesApp()
