"""Table-driven tests of the manager's pure parts: settings, ad -> LaunchSpec, job policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyflock.classad import ClassAd
from skyflock.core.config import ConfigError
from skyflock.manager import policy
from skyflock.manager.dispatch import DispatchError, launch_spec
from skyflock.manager.settings import DEFAULT_PORT, load_settings, settings_from_mapping


def expr_ad(text: str) -> ClassAd:
    return ClassAd.parse(text)


# -- settings -------------------------------------------------------------------------------


def test_settings_defaults(tmp_path: Path) -> None:
    s = settings_from_mapping({}, data_dir=tmp_path, env={})
    assert s.port == DEFAULT_PORT == 8642
    assert s.host == "127.0.0.1"
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'skyflock.db'}"
    assert s.negotiator.interval == 5.0
    assert s.periodic_interval == 60.0
    assert s.local.enabled and s.local.cpus is None


def test_settings_environment_database_url(tmp_path: Path) -> None:
    url = "postgresql+psycopg://u@h/db"
    s = settings_from_mapping({}, data_dir=tmp_path, env={"SKYFLOCK_DATABASE_URL": url})
    assert s.database_url == url


def test_settings_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text(
        "[server]\nport = 9000\nperiodic_interval = 5\n"
        "[negotiator]\ninterval = 1\n"
        "[groups.atlas]\nquota = 2\n"
        "[clusters.local]\ncpus = 3\nmemory = 2048\ntier = 1\n"
    )
    s = load_settings(config=path, data_dir=tmp_path / "d", env={})
    assert (s.port, s.periodic_interval, s.negotiator.interval) == (9000, 5.0, 1.0)
    assert s.negotiator.group("atlas") is not None
    assert (s.local.cpus, s.local.memory_mib, s.local.tier) == (3, 2048, 1)
    assert load_settings(config=path, port=9100, env={}).port == 9100


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"server": {"port": "x"}}, "server.port: expected an integer"),
        ({"server": {"prot": 1}}, "server.prot: unknown key"),
        ({"negotiator": {"interval": "soon"}}, "negotiator.interval"),
        ({"negotiator": {"intervall": 3}}, "negotiator.intervall: unknown key"),
        ({"clusters": {"local": {"cpus": 0}}}, "clusters.local.cpus: must be at least 1"),
        ({"clusters": {"gke": {}}}, "clusters.gke"),
        ({"sever": {}}, "sever: unknown table"),
        ({"server": {"exit_records": "yes"}}, "server.exit_records: expected true or false"),
    ],
)
def test_settings_errors_name_the_key(doc: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        settings_from_mapping(doc, source="cfg.toml", data_dir=tmp_path, env={})


def test_settings_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_settings(config=path, env={})


# -- dispatch -------------------------------------------------------------------------------


def test_launch_spec_from_a_job_ad(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    ad = expr_ad(
        f'[Cmd = "run.sh"; Arguments = "a \'b c\' d"; Iwd = "{tmp_path}"; In = "in.txt"; '
        'Out = "/abs/out"; Err = "/dev/null"; Environment = "A=1 B=\'two words\'"; '
        "RequestCpus = 2; RequestMemory = 300; RequestDisk = 1024; "
        "AllowedExecuteDuration = 60; AllowedJobDuration = 90; JobMaxVacateTime = 3]"
    )
    spec = launch_spec(ad, "7.1", memory_limit_mib=384)
    assert spec.argv == (f"{tmp_path}/run.sh", "a", "b c", "d")
    assert spec.cwd == str(tmp_path)
    assert spec.stdin_path == f"{tmp_path}/in.txt"
    assert spec.stdout_path == "/abs/out"
    assert spec.stderr_path is None
    assert spec.env["A"] == "1" and spec.env["B"] == "two words"
    assert spec.env["SKYFLOCK_JOB_ID"] == "7.1" and "PATH" in spec.env
    assert spec.memory_limit_mib == 384
    assert spec.walltime_s == 60
    assert spec.vacate_grace_s == 3
    assert (spec.request_cpus, spec.request_memory_mib, spec.request_disk_kib) == (2, 300, 1024)


@pytest.mark.parametrize(
    ("ad_text", "argv"),
    [
        ('[Cmd = "/bin/echo"; Args = "x y"; Iwd = "/"]', ("/bin/echo", "x", "y")),
        ('[Cmd = "sleep"; Iwd = "/nonexistent-dir"]', ("sleep",)),
        ('[Cmd = "bin/tool"; Iwd = "/opt"]', ("/opt/bin/tool",)),
    ],
)
def test_argv_rules(ad_text: str, argv: tuple[str, ...]) -> None:
    assert launch_spec(expr_ad(ad_text), "1.0").argv == argv


def test_job_without_cmd_cannot_be_dispatched() -> None:
    with pytest.raises(DispatchError, match="Cmd"):
        launch_spec(expr_ad('[Iwd = "/"]'), "1.0")


# -- policy ---------------------------------------------------------------------------------

EXIT_CASES = [
    # (ad, exit code, signal, reason, expected kind, code or None)
    ("[]", 0, None, None, "complete", None),
    ("[]", 2, None, None, "complete", None),
    ("[]", None, None, "memory", "hold", 34),
    ("[AllowedExecuteDuration = 5]", None, 15, "walltime", "hold", 47),
    ("[AllowedJobDuration = 5]", None, 15, "walltime", "hold", 46),
    ("[OnExitHold = ExitCode == 2]", 2, None, None, "hold", 3),
    ("[OnExitHold = ExitCode == 2]", 0, None, None, "complete", None),
    ("[OnExitRemove = ExitCode == 0]", 1, None, None, "requeue", None),
    ("[JobMaxRetries = 2; NumJobCompletions = 1]", 1, None, None, "requeue", None),
    ("[JobMaxRetries = 2; NumJobCompletions = 3]", 1, None, None, "complete", None),
    ("[JobMaxRetries = 2; NumJobCompletions = 1]", 0, None, None, "complete", None),
    (
        "[JobMaxRetries = 2; JobSuccessExitCode = 7; NumJobCompletions = 1]",
        7,
        None,
        None,
        "complete",
        None,
    ),
    ("[JobMaxRetries = 2; NumJobCompletions = 1]", None, 9, None, "requeue", None),
    ('[OnExitHold = "yes"]', 0, None, None, "hold", 5),
]


@pytest.mark.parametrize(("text", "code", "sig", "reason", "kind", "hold_code"), EXIT_CASES)
def test_exit_outcome(
    text: str,
    code: int | None,
    sig: int | None,
    reason: str | None,
    kind: str,
    hold_code: int | None,
) -> None:
    ad = expr_ad(text)
    if code is not None:
        ad["ExitCode"] = code
    outcome = policy.exit_outcome(ad, exit_code=code, signal=sig, reason=reason)
    assert outcome.kind == kind
    if hold_code is not None:
        assert isinstance(outcome, policy.Hold) and outcome.code == hold_code


PERIODIC_CASES = [
    ("[PeriodicHold = CurrentTime > 10; CurrentTime = 20]", 2, "hold"),
    ("[PeriodicHold = CurrentTime > 10; CurrentTime = 5]", 2, None),
    ("[PeriodicHold = true]", 5, None),
    ("[PeriodicRelease = true]", 5, "release"),
    ("[PeriodicRelease = true]", 1, None),
    ("[PeriodicRemove = true; PeriodicHold = true]", 1, "remove"),
    ("[PeriodicHold = undefined]", 1, None),
]


@pytest.mark.parametrize(("text", "status", "kind"), PERIODIC_CASES)
def test_periodic_action(text: str, status: int, kind: str | None) -> None:
    action = policy.periodic_action(expr_ad(text), status)
    assert (action.kind if action is not None else None) == kind


def test_periodic_hold_reason_and_subcode() -> None:
    ad = expr_ad('[PeriodicHold = true; PeriodicHoldReason = "too long"; PeriodicHoldSubCode = 4]')
    action = policy.periodic_action(ad, 2)
    assert action == policy.Hold(3, "too long", 4)


def test_importing_the_settings_loads_neither_the_database_nor_the_loop() -> None:
    """The CLI reads DEFAULT_HOST/PORT/DATA_DIR from the settings module; that import
    must stay light (the package's names load lazily)."""
    import subprocess
    import sys

    heavy = ("sqlalchemy", "alembic", "skyflock.store", "skyflock.manager.loop", "uvicorn")
    code = (
        "import sys, skyflock.manager.settings as s; "
        f"print([m for m in {heavy!r} if m in sys.modules], s.DEFAULT_PORT)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "8642"]
    import skyflock.manager as package

    assert package.Manager.__name__ == "Manager"
    assert "Manager" in dir(package)


def test_local_slot_ad_satisfies_the_default_requirements_of_a_plain_submit(
    tmp_path: Path,
) -> None:
    """`skyflock submit --dry-run --json` of a plain file: the job's Requirements
    (condor_submit's defaults: Arch, OpSys, Disk, Memory, FileSystemDomain or
    HasFileTransfer) are met by the local slot ad; a container job is not."""
    import json
    import subprocess
    import sys

    from skyflock.backends.local_capacity import machine_slot
    from skyflock.classad import ClassAd, symmetric_match
    from skyflock.manager.snapshot import ClusterView, slot_ad

    plain = tmp_path / "plain.sub"
    plain.write_text("executable = /bin/true\nqueue\n")
    out = subprocess.run(
        [sys.executable, "-m", "skyflock.cli.main", "submit", str(plain), "--dry-run", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert len(json.loads(out.stdout)) == 1
    # the list's one element, as HTCondor JSON text (its "\/Expr(...)\/" values kept)
    job = ClassAd.parse(out.stdout.strip()[1:-1])
    assert "TARGET.Arch" in str(job.lookup("Requirements"))
    offer = machine_slot(str(tmp_path), cpus=2, memory_mib=4096)
    slot = slot_ad(ClusterView("local", "local"), offer, (0, 0, 0, 0))
    assert slot.eval("HasContainer") is False
    assert symmetric_match(job, slot)
    from skyflock.classad import parse

    job["Requirements"] = parse("TARGET.HasContainer")  # a container job
    assert not symmetric_match(job, slot)
