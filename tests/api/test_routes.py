"""Each route of the API against a real Manager (SQLite in a temp dir, real processes).

Success paths, then the error answers a person sees: 400 with file:line for a
malformed submit file (queue unchanged), 404 for unknown ids, 409 for an
illegal transition, 413 for an oversized body, 422 naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import MAX_BODY, TestClient, wait_for

pytestmark = pytest.mark.timeout(60)


def submit(
    client: TestClient, tmp_path: Path, text: str, filename: str = "t.sub"
) -> dict[str, Any]:
    r = client.post(
        "/api/jobs",
        json={"submit": text, "filename": filename, "base_dir": str(tmp_path), "owner": "alice"},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def queue_ids(client: TestClient) -> list[str]:
    ads = client.get("/api/jobs").json()["ads"]
    return sorted(f"{a['ClusterId']}.{a['ProcId']}" for a in ads)


def finished(client: TestClient, job_id: str) -> dict[str, Any] | None:
    r = client.get(f"/api/jobs/{job_id}")
    assert r.status_code == 200, r.text
    body = r.json()
    return body["ad"] if body["where"] == "history" else None


def status(client: TestClient, job_id: str) -> int:
    return int(client.get(f"/api/jobs/{job_id}").json()["ad"]["JobStatus"])


HELD = "executable = /bin/echo\narguments = held\nhold = true\nqueue 3\n"
SLEEPER = "executable = /bin/sleep\narguments = 30\nqueue\n"


def test_healthz_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/jobs" in spec["paths"] and "/api/jobs/{job_id}/logs" in spec["paths"]
    assert client.get("/docs").status_code == 200


def _answer_schema(spec: dict[str, Any], path: str, method: str, code: str) -> dict[str, Any]:
    content = spec["paths"][path][method]["responses"][code]["content"]["application/json"]
    ref = content["schema"].get("$ref") or content["schema"]["items"]["$ref"]
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]  # type: ignore[no-any-return]


def test_openapi_describes_the_answers_and_the_errors(client: TestClient) -> None:
    """The answers are the manager's result classes, described field by field, and
    every route documents the JSON error answer."""
    spec = client.get("/openapi.json").json()
    prio = _answer_schema(spec, "/api/userprio", "get", "200")
    assert "lower is served first" in prio["properties"]["effective_priority"]["description"]
    submitted = _answer_schema(spec, "/api/jobs", "post", "201")
    assert {"cluster_id", "procs", "count", "warnings"} <= set(submitted["properties"])
    action = _answer_schema(spec, "/api/jobs/release", "post", "200")
    refused = action["properties"]["refused"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][refused]["properties"]) == {"id", "reason"}
    for path, method in (("/api/jobs/release", "post"), ("/api/jobs/{job_id}", "get")):
        responses = spec["paths"][path][method]["responses"]
        assert {"400", "404", "409", "413", "422"} <= set(responses)
        error = _answer_schema(spec, path, method, "409")
        assert list(error["properties"]) == ["error"]


def test_submit_text_runs_to_history_with_events_and_logs(
    client: TestClient, tmp_path: Path
) -> None:
    answer = submit(
        client, tmp_path, 'executable = /bin/echo\narguments = "hello there"\nqueue 2\n'
    )
    assert answer["count"] == 2 and answer["procs"] == [
        f"{answer['cluster_id']}.0",
        f"{answer['cluster_id']}.1",
    ]
    job = answer["procs"][0]
    ad = wait_for(lambda: finished(client, job))
    assert ad["JobStatus"] == 4 and ad["ExitCode"] == 0 and ad["Owner"] == "alice"
    kinds = [e["kind"] for e in client.get(f"/api/jobs/{job}/events").json()]
    assert kinds[0] == "submitted" and kinds[-1] == "completed"
    assert client.get(f"/api/jobs/{job}/logs").text == "hello there\n"
    assert "completed" in client.get(f"/api/jobs/{job}/logs", params={"stream": "events"}).text
    history = client.get(
        "/api/history", params={"constraint": f"ClusterId == {answer['cluster_id']}"}
    ).json()
    assert history["count"] == 2


def test_submit_json_ads(client: TestClient, tmp_path: Path) -> None:
    r = client.post(
        "/api/jobs",
        json={
            "ads": [
                {"Cmd": "/bin/true", "Iwd": str(tmp_path), "RequestCpus": 1, "RequestMemory": 16}
            ],
            "owner": "bob",
        },
    )
    assert r.status_code == 201, r.text
    job = r.json()["procs"][0]
    ad = wait_for(lambda: finished(client, job))
    assert ad["Owner"] == "bob" and ad["ExitCode"] == 0


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (
            {"submit": "executable = /bin/true\nqueue foo bar\n", "filename": "bad.sub"},
            400,
            "bad.sub:2:",
        ),
        (
            {
                "submit": "executable = /bin/true\nrequirements = (Memory >\nqueue\n",
                "filename": "r.sub",
            },
            400,
            "r.sub:2",
        ),
        ({"ads": [{"Arguments": "x"}]}, 400, "Cmd"),
        ({"filename": "x.sub"}, 422, "exactly one of"),
        ({"submit": "queue", "ads": []}, 422, "exactly one of"),
    ],
)
def test_bad_submits_are_refused_and_the_queue_is_unchanged(
    client: TestClient, tmp_path: Path, body: dict[str, Any], status: int, needle: str
) -> None:
    submit(client, tmp_path, HELD)
    before = queue_ids(client)
    r = client.post("/api/jobs", json={**body, "base_dir": str(tmp_path)})
    assert r.status_code == status
    assert needle in r.json()["error"]
    assert queue_ids(client) == before


def test_query_constraint_projection_and_limit(client: TestClient, tmp_path: Path) -> None:
    first = submit(client, tmp_path, HELD)
    submit(client, tmp_path, "executable = /bin/echo\nhold = true\nrequest_memory = 300\nqueue\n")
    r = client.get("/api/jobs", params={"constraint": "RequestMemory >= 300"})
    assert r.json()["count"] == 1
    r = client.get(
        "/api/jobs",
        params={
            "constraint": f"ClusterId == {first['cluster_id']}",
            "projection": "ProcId,JobStatus",
        },
    )
    ads = r.json()["ads"]
    assert [a["ProcId"] for a in ads] == [0, 1, 2]
    assert all(set(a) == {"ProcId", "JobStatus"} for a in ads)
    assert client.get("/api/jobs", params={"limit": 2}).json()["count"] == 2
    assert (
        client.get(
            "/api/jobs", params=[("ids", first["procs"][1]), ("ids", first["procs"][2])]
        ).json()["count"]
        == 2
    )
    bad = client.get("/api/jobs", params={"constraint": "JobStatus =="})
    assert bad.status_code == 400 and bad.json()["error"].startswith("constraint:")
    assert client.get("/api/jobs", params={"ids": "12"}).status_code == 400


def test_hold_release_qedit_remove(client: TestClient, tmp_path: Path) -> None:
    answer = submit(client, tmp_path, HELD)
    a, b, c = answer["procs"]
    r = client.post(
        "/api/jobs/qedit", json={"ids": [a, b], "attribute": "Foo", "expression": "40 + 2"}
    )
    assert r.status_code == 200 and sorted(r.json()["changed"]) == [a, b]
    foo = client.get("/api/jobs", params={"constraint": "Foo == 42"}).json()["count"]
    assert foo == 2
    bad = client.post("/api/jobs/qedit", json={"ids": [a], "attribute": "Foo", "expression": "1 +"})
    assert bad.status_code == 400
    r = client.post(
        "/api/jobs/remove",
        json={
            "constraint": f"ProcId == 2 && ClusterId == {answer['cluster_id']}",
            "reason": "not needed",
        },
    )
    assert r.json()["changed"] == [c]
    assert c not in queue_ids(client)
    r = client.post("/api/jobs/release", json={"ids": [a]})
    assert r.json()["changed"] == [a]
    wait_for(lambda: finished(client, a))
    # b is still held; holding it again is an illegal transition
    r = client.post("/api/jobs/hold", json={"ids": [b]})
    assert r.status_code == 409, r.text
    assert "error" in r.json()


def test_release_of_a_running_job_is_409_and_the_job_keeps_running(
    client: TestClient, tmp_path: Path
) -> None:
    (job,) = submit(client, tmp_path, SLEEPER)["procs"]
    wait_for(lambda: status(client, job) == 2)
    r = client.post("/api/jobs/release", json={"ids": [job]})
    assert r.status_code == 409
    assert job in r.json()["error"]
    assert status(client, job) == 2
    r = client.post("/api/jobs/remove", json={"ids": [job]})
    assert r.json()["changed"] == [job]
    ad = wait_for(lambda: finished(client, job))
    assert ad["JobStatus"] == 3


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/jobs/99.0", None),
        ("GET", "/api/jobs/99.0/events", None),
        ("GET", "/api/jobs/99.0/logs", None),
        ("GET", "/api/jobs/99.0/analyze", None),
        ("POST", "/api/jobs/remove", {"ids": ["99.0"]}),
        ("POST", "/api/jobs/hold", {"ids": ["99.0"]}),
        ("POST", "/api/jobs/release", {"ids": ["99.0"]}),
        ("POST", "/api/jobs/qedit", {"ids": ["99.0"], "attribute": "A", "expression": "1"}),
    ],
)
def test_unknown_ids_are_404(client: TestClient, method: str, path: str, body: Any) -> None:
    r = client.request(method, path, json=body)
    assert r.status_code == 404, r.text
    assert "99.0" in r.json()["error"]


def _everything(client: TestClient) -> list[str]:
    """Queue and history, whole ads as text: what a refused request must leave as it was."""
    ads = client.get("/api/jobs", params={"form": "old"}).json()["ads"]
    ads += client.get("/api/history", params={"form": "old"}).json()["ads"]
    return sorted(ads)


def test_refused_actions_leave_queue_and_history_as_they_were(
    client: TestClient, tmp_path: Path
) -> None:
    held, *_ = submit(client, tmp_path, HELD)["procs"]
    (done,) = submit(client, tmp_path, "executable = /bin/true\nqueue\n")["procs"]
    wait_for(lambda: finished(client, done))
    before = _everything(client)
    for path, body, code, message in (
        ("remove", {"ids": ["99.0"]}, 404, "no job 99.0 in the queue or the history"),
        ("remove", {"ids": [done]}, 409, f"job {done} is Completed (in history); "),
        ("hold", {"ids": [held]}, 409, f"job {held} is Held; only Idle or Running"),
        ("hold", {"ids": [done, "99.0"]}, 409, f"job {done} is Completed (in history); "),
        ("release", {"ids": [done]}, 409, f"job {done} is Completed (in history); "),
        ("qedit", {"ids": [done], "attribute": "A", "expression": "1"}, 409, f"job {done} is "),
        ("remove", {"constraint": "JobStatus =="}, 400, "constraint: line 1, column 13: "),
        ("hold", {"ids": [held], "constraint": "(("}, 400, "constraint: line 1, column 3: "),
        ("release", {"constraint": "true", "ids": ["1"]}, 400, "job id '1': expected CLUSTER.PROC"),
        ("qedit", {"ids": [held], "attribute": "A", "expression": "1 +"}, 400, "A: line 1"),
        ("qedit", {"ids": [held], "attribute": "JobStatus", "expression": "2"}, 400, "JobStatus"),
        ("remove", {"ids": "1.0"}, 422, "ids: "),
    ):
        r = client.post(f"/api/jobs/{path}", json=body)
        assert r.status_code == code, (path, body, r.text)
        assert r.json()["error"].startswith(message), (path, body, r.text)
    assert _everything(client) == before


def test_malformed_ids_and_paths(client: TestClient) -> None:
    r = client.get("/api/jobs/abc")
    assert r.status_code == 400 and "CLUSTER.PROC" in r.json()["error"]
    r = client.post("/api/jobs/remove", json={})
    assert r.status_code == 400 and "constraint" in r.json()["error"]
    r = client.get("/api/nothing")
    assert r.status_code == 404 and "/docs" in r.json()["error"]
    r = client.post("/api/jobs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"].startswith("the request body is not JSON: ")
    r = client.delete("/api/jobs/1.0")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert r.json()["error"] == (
        "DELETE is not allowed on /api/jobs/1.0: use GET (the API is listed at /docs)"
    )


@pytest.mark.parametrize("name", ["Foo Bar", "1abc", "A-B", "'Quoted'"])
def test_qedit_refuses_what_is_not_an_attribute_name(
    client: TestClient, tmp_path: Path, name: str
) -> None:
    (job, *_) = submit(client, tmp_path, HELD)["procs"]
    before = client.get(f"/api/jobs/{job}", params={"form": "old"}).json()["ad"]
    r = client.post("/api/jobs/qedit", json={"ids": [job], "attribute": name, "expression": "1"})
    assert r.status_code == 422
    assert r.json()["error"] == (
        f"attribute: {name!r} is not an attribute name: letters, digits and _, "
        "not starting with a digit"
    )
    assert client.get(f"/api/jobs/{job}", params={"form": "old"}).json()["ad"] == before


def test_body_over_the_limit_is_413_and_nothing_is_queued(client: TestClient) -> None:
    before = queue_ids(client)
    text = "executable = /bin/true\n" + "# padding\n" * (MAX_BODY // 10) + "queue\n"
    r = client.post("/api/jobs", json={"submit": text})
    assert r.status_code == 413
    assert "too large" in r.json()["error"]

    def chunks() -> Any:
        for _ in range(MAX_BODY // 1000 + 2):
            yield b" " * 1000

    r = client.post("/api/jobs", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert queue_ids(client) == before


def test_userprio_get_and_set(client: TestClient, tmp_path: Path) -> None:
    text = "executable = /bin/sleep\narguments = 1\naccounting_group = atlas\nqueue\n"
    (job,) = submit(client, tmp_path, text)["procs"]
    wait_for(lambda: finished(client, job))
    rows = {r["submitter"]: r for r in client.get("/api/userprio").json()}
    assert rows["atlas.alice"]["accumulated_usage"] > 0.5
    r = client.post("/api/userprio/atlas.alice", json={"factor": 10, "ceiling": 1})
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["priority_factor"] == 10 and row["ceiling"] == 1
    again = {r["submitter"]: r for r in client.get("/api/userprio").json()}["atlas.alice"]
    assert again["priority_factor"] == 10
    assert client.post("/api/userprio/atlas.alice", json={}).status_code == 422
    bad = client.post("/api/userprio/atlas.alice", json={"factor": 0})
    assert bad.status_code == 422 and bad.json()["error"].startswith("factor:")


def test_analyze_explains_the_big_memory_job(client: TestClient, tmp_path: Path) -> None:
    (job,) = submit(client, tmp_path, "executable = /bin/true\nrequest_memory = 4T\nqueue\n")[
        "procs"
    ]

    def considered() -> str | None:
        text = str(client.get(f"/api/jobs/{job}/analyze").json()["text"])
        return None if "not been considered" in text else text

    text = wait_for(considered)
    assert job in text
    assert "emory" in text
    assert client.get(f"/api/jobs/{job}/analyze").json()["status"] == 1


def test_pool_stats_and_config(client: TestClient) -> None:
    slots = client.get("/api/slots").json()
    assert slots["count"] == 1 and slots["ads"][0]["ClusterName"] == "local"
    assert slots["ads"][0]["TotalCpus"] == 2
    (local,) = client.get("/api/clusters").json()
    assert local["name"] == "local" and local["cores_total"] == 2 and local["healthy"]
    stats = client.get("/api/stats").json()
    assert set(stats["jobs_by_status"]) == {"1", "2", "3", "4", "5"}
    assert stats["clusters"][0]["cores_total"] == 2
    config = client.get("/api/config").json()
    assert config["negotiator"]["interval"] == 0.2
    assert config["clusters"]["local"]["cpus"] == 2


def test_metrics_has_every_family(client: TestClient, tmp_path: Path) -> None:
    submit(client, tmp_path, HELD)
    text = client.get("/metrics").text
    for family in (
        "skyflock_jobs",
        "skyflock_jobs_by_status",
        "skyflock_submitter_usage_core_seconds",
        "skyflock_submitter_effective_priority",
        "skyflock_negotiation_cycle_seconds",
        "skyflock_negotiation_last_matches",
        "skyflock_negotiation_cycles_total",
        "skyflock_negotiation_matches_total",
        "skyflock_cluster_slots",
        "skyflock_cluster_cores",
        "skyflock_cluster_cores_used",
    ):
        assert f"# TYPE {family} " in text, family
    assert 'skyflock_jobs{status="held",submitter="alice"} 3.0' in text
    assert 'skyflock_cluster_cores{cluster="local"} 2.0' in text
    assert "skyflock_negotiation_cycles_total " in text
    # each per-submitter gauge carries its userprio field
    assert client.post("/api/userprio/alice", json={"factor": 7}).status_code == 200
    (row,) = [r for r in client.get("/api/userprio").json() if r["submitter"] == "alice"]
    text = client.get("/metrics").text
    for family, field in (
        ("usage_core_seconds", "accumulated_usage"),
        ("effective_priority", "effective_priority"),
        ("real_priority", "real_priority"),
        ("priority_factor", "priority_factor"),
    ):
        line = f'skyflock_submitter_{family}{{group="<none>",submitter="alice"}} '
        (value,) = [x.removeprefix(line) for x in text.splitlines() if x.startswith(line)]
        assert float(value) == pytest.approx(row[field]), family
    assert row["priority_factor"] == 7


def test_logs_follow_streams_until_the_job_ends(client: TestClient, tmp_path: Path) -> None:
    (job,) = submit(
        client,
        tmp_path,
        "executable = /bin/sh\narguments = \"-c 'echo one; sleep 0.5; echo two'\"\nqueue\n",
    )["procs"]
    data: list[str] = []
    ended = False
    with client.stream("GET", f"/api/jobs/{job}/logs", params={"follow": "true"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        event = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "message":
                data.append(line[6:])
            elif line.startswith("data:") and event == "end":
                ended = True
    assert data == ["one", "two"]
    assert ended
    assert json.dumps(data)


def test_logs_follow_ends_when_the_job_is_held(client: TestClient, tmp_path: Path) -> None:
    (job,) = submit(
        client,
        tmp_path,
        "executable = /bin/sh\narguments = \"-c 'echo one; sleep 60'\"\n"
        'periodic_hold = JobStatus == 2\nperiodic_hold_reason = "stop\\nnow"\nqueue\n',
    )["procs"]
    events: list[tuple[str, str]] = []
    with client.stream("GET", f"/api/jobs/{job}/logs", params={"follow": "true"}) as r:
        event = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                events.append((event, line[6:]))
                event = "message"
    assert events == [("message", "one"), ("held", "stop now")]
    assert status(client, job) == 5


def test_expressions_survive_the_wire_in_every_form(client: TestClient, tmp_path: Path) -> None:
    from skyflock.classad import ClassAd

    ad = '[Cmd = "/bin/true"; Iwd = "{}"; Requirements = false; Double = RequestCpus * 2; RequestCpus = 1]'
    r = client.post("/api/jobs", json={"ads": [ad.format(tmp_path)], "owner": "carol"})
    assert r.status_code == 201, r.text
    job = r.json()["procs"][0]
    raw = client.get("/api/jobs", params={"ids": job}).text
    assert '"Double": "\\/Expr(RequestCpus * 2)\\/"' in raw
    for form in ("new", "old"):
        (text,) = client.get("/api/jobs", params={"ids": job, "form": form}).json()["ads"]
        back = ClassAd.parse(text)
        assert back.eval("Double") == 2 and back.eval("Owner") == "carol"
    one = client.get(f"/api/jobs/{job}", params={"form": "new"}).json()
    assert one["where"] == "queue" and ClassAd.parse(one["ad"]).eval("Double") == 2


class _BrokenManager:
    """Just enough of a manager for the app to start; its config read is a bug."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def config(self) -> dict[str, object]:
        raise RuntimeError("boom")


def test_a_bug_is_a_json_500_naming_the_request() -> None:
    from skyflock.api.app import create_app

    app = create_app(_BrokenManager())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as broken:
        r = broken.get("/api/config")
    assert r.status_code == 500
    assert r.json() == {
        "error": "the server failed on GET /api/config: RuntimeError: boom "
        "(a bug; the server's log has the details)"
    }
