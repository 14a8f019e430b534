"""A vendor asking to wait an hour ends the connection at once with exit 4; rows stay pending."""

from __future__ import annotations

from leadsync.connectors.testing.fakeserver import Response


def test_retry_after_an_hour_fails_the_connection_cleanly_without_sleeping(world_factory):
    world = world_factory()
    original = world.app.match
    calls: list[str] = []

    def wait_an_hour(request):
        if "/crm/v3/objects/contacts" in request.path:
            calls.append(request.path)
            return Response(429, body=b'{"status":"error","category":"RATE_LIMITS"}',
                            headers={"Content-Type": "application/json", "Retry-After": "3600"})
        return original(request)

    world.app.match = wait_an_hour
    result = world.run(timeout=60)
    summary = world.summary(result)
    assert result.returncode == 4 == summary["exit_status"]
    assert "vendor asked to wait 60 minutes" in summary["failures"]["crm"]
    # Asked once, not hammered: no request is repeated. The contacts list and the first sync's
    # count of contacts (a search, from an engagement stream's thread) may both be in flight when
    # the first answer fails the connection, so either or both may have been asked.
    assert calls and len(calls) == len(set(calls)), calls
    assert world.token not in result.stdout + result.stderr
