"""Webhook receivers as strict as the vendors': Slack incoming webhooks, Teams workflows, a generic one.

Slack answers 200 with the text body ``ok``, 400 ``invalid_payload`` without ``text``/``blocks``
and 404 ``no_service`` for an unknown hook; a Teams workflow trigger answers 202 Accepted and takes
only Adaptive Card attachments. ``down`` makes every hook answer 503.
"""

from __future__ import annotations

from leadsync.connectors.testing.fakeapp import FakeApp, Request, Response, route

HOOK = "T0001/B0001/sEcReTwEbHoOkPaTh0123456789"


class HooksApp(FakeApp):
    def initial_state(self) -> dict:
        return {"slack": [], "teams": [], "webhook": [], "down": False}

    def before_request(self, request: Request) -> Response | None:
        if self.state["down"]:
            return Response(503, body="service unavailable")
        return None

    @route("POST", r"/services/(?P<hook>.+)")
    def slack(self, request: Request) -> Response:
        if request.params["hook"] != HOOK:
            return Response(404, body="no_service")
        body = request.json
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Response(400, body="invalid_payload")
        self.state["slack"].append(body)
        return Response(200, body="ok")

    @route("POST", r"/workflows/(?P<hook>.+)")
    def teams(self, request: Request) -> Response:
        body = request.json
        attachments = (body or {}).get("attachments") or []
        if not attachments or any(a.get("contentType") != "application/vnd.microsoft.card.adaptive"
                                  for a in attachments):
            return Response(400, json={"error": {"code": "InvalidRequestContent"}})
        self.state["teams"].append(body)
        return Response(202, body="")

    @route("POST", r"/generic")
    def generic(self, request: Request) -> Response:
        self.state["webhook"].append({"headers": request.headers, "body": request.json})
        return Response(200, json={"ok": True})

    def slack_keys(self) -> list[str]:
        """The leadsync key of every Slack message received (from its context block)."""
        keys = []
        for body in self.state["slack"]:
            context = [b for b in body["blocks"] if b["type"] == "context"][0]
            keys.append(context["elements"][0]["text"].split(" · ", 1)[1])
        return keys
