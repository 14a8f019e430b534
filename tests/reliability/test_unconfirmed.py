"""Writes the vendor did not confirm stay pending, and the run says so: exit 6, never a silent 0."""

from __future__ import annotations

from leadsync.connectors.testing.fakeserver import Response


def _break(world, suffix: str, response: Response) -> None:
    original = world.app.match

    def broken(request):
        if request.path.endswith(suffix):
            return response
        return original(request)

    world.app.match = broken
    world._restore = lambda: setattr(world.app, "match", original)


def test_a_truncated_answer_to_a_batch_write_exits_6_and_the_next_run_confirms(world_factory):
    world = world_factory()
    _break(world, "/contacts/batch/update",
           Response(200, body=b'{"status": "COMPLETE", "results": [{"id": "1', headers={"Content-Type": "application/json"}))
    result = world.run()
    summary = world.summary(result)
    assert result.returncode == 6 == summary["exit_status"], result.stderr[-2000:]
    assert summary["retry_later"] == summary["scores_planned"] > 0
    assert summary["scores_pushed"] == 0
    assert "could not be confirmed" in result.stderr

    world._restore()
    again = world.summary(world.run())
    assert again["exit_status"] == 0
    assert again["scores_pushed"] == summary["scores_planned"]


def test_a_200_with_an_error_body_is_not_success(world_factory):
    world = world_factory()
    _break(world, "/contacts/batch/update",
           Response(200, body=b'{"status": "error", "message": "internal error"}',
                    headers={"Content-Type": "application/json"}))
    result = world.run()
    summary = world.summary(result)
    assert result.returncode == 6, result.stderr[-2000:]
    assert summary["scores_pushed"] == 0
