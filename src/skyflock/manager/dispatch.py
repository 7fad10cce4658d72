"""Job ad -> `LaunchSpec`: what the backend must run for one matched job.

HTCondor's job attributes say how to start the job: `Cmd` (the executable),
`Arguments` (V2 raw quoting) or `Args` (old syntax), `Environment` (V2) or
`Env` (old `A=1;B=2`), `Iwd` (the initial directory), `In`/`Out`/`Err` (paths
relative to `Iwd`; `/dev/null` or absent means none), `RequestCpus`...,
`AllowedExecuteDuration`/`AllowedJobDuration` (walltime) and `JobMaxVacateTime`
(grace between SIGTERM and SIGKILL). The memory limit is the dynamic slot's
memory: `RequestMemory` rounded up to the negotiator's memory quantum.

The job's environment is exactly its `Environment` plus a default `PATH` when
it sets none and `SKYFLOCK_JOB_ID`/`_CONDOR_JOB_IWD`; nothing of the server's
own environment leaks in (`getenv` is applied at submit time).

Neighbours: the loop calls `launch_spec` for every match and after a restart
(`recovery` rebuilds the specs of adopted jobs); `backends.base` defines the
spec; `submit.arguments`/`submit.environment` own the quoting rules.
"""

from __future__ import annotations

import os
from typing import Final

from skyflock.backends.base import LaunchSpec
from skyflock.classad import UNDEFINED, ClassAd
from skyflock.submit.arguments import split_args, split_arguments
from skyflock.submit.environment import split_environment

DEFAULT_PATH: Final = "/usr/local/bin:/usr/bin:/bin"
DEFAULT_VACATE_GRACE: Final = 10.0
"""HTCondor's default JobMaxVacateTime (MACHINE_MAX_VACATE_TIME), seconds."""


class DispatchError(ValueError):
    """The job ad cannot be turned into a launch (no Cmd, bad quoting)."""


def _string(ad: ClassAd, name: str) -> str | None:
    value = ad.eval(name)
    if isinstance(value, str):
        return value
    return None


def _number(ad: ClassAd, name: str) -> float | None:
    value = ad.eval(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(ad: ClassAd, name: str, default: int) -> int:
    value = _number(ad, name)
    if value is None:
        return default
    return max(0, int(-(-value // 1)))


def _path(value: str | None, iwd: str) -> str | None:
    if value is None or value == "" or value == "/dev/null":
        return None
    return value if os.path.isabs(value) else os.path.join(iwd, value)


def argv_of(ad: ClassAd, iwd: str) -> tuple[str, ...]:
    cmd = _string(ad, "Cmd")
    if not cmd:
        raise DispatchError("the job has no executable (Cmd)")
    if not os.path.isabs(cmd):
        local = os.path.join(iwd, cmd)
        if "/" in cmd or os.path.exists(local):
            cmd = local
        # else: a bare name is looked up in the job's PATH by the backend
    try:
        arguments = _string(ad, "Arguments")
        if arguments is not None:
            args = split_arguments(arguments)
        else:
            old = _string(ad, "Args")
            args = split_args(old) if old else []
    except ValueError as exc:
        raise DispatchError(f"Arguments: {exc}") from None
    return (cmd, *args)


def environment_of(ad: ClassAd, job_id: str, iwd: str) -> dict[str, str]:
    env: dict[str, str] = {}
    new = _string(ad, "Environment")
    if new is not None:
        try:
            env.update(split_environment(new))
        except ValueError as exc:
            raise DispatchError(f"Environment: {exc}") from None
    else:
        old = _string(ad, "Env")
        if old:
            for entry in old.split(";"):
                if entry.strip():
                    name, _, value = entry.partition("=")
                    env[name.strip()] = value
    env.setdefault("PATH", DEFAULT_PATH)
    env["SKYFLOCK_JOB_ID"] = job_id
    env.setdefault("_CONDOR_JOB_IWD", iwd)
    return env


def walltime_of(ad: ClassAd) -> float | None:
    """The tighter of `AllowedExecuteDuration` and `AllowedJobDuration` (seconds)."""
    limits = [
        v
        for v in (_number(ad, "AllowedExecuteDuration"), _number(ad, "AllowedJobDuration"))
        if v is not None and v > 0
    ]
    return min(limits) if limits else None


def launch_spec(
    ad: ClassAd,
    job_id: str,
    *,
    memory_limit_mib: int | None = None,
    default_iwd: str = "/",
    run: int = 0,
) -> LaunchSpec:
    """The launch of `job_id` described by its ad; `memory_limit_mib` is the claim's memory,
    `run` which run of the job it is (`LaunchSpec.run`)."""
    iwd = _string(ad, "Iwd") or default_iwd
    request_memory = _int(ad, "RequestMemory", 0)
    if memory_limit_mib is None and request_memory > 0:
        memory_limit_mib = request_memory
    grace = _number(ad, "JobMaxVacateTime")
    image = ad.eval("ContainerImage")
    return LaunchSpec(
        job_id=job_id,
        argv=argv_of(ad, iwd),
        cwd=iwd,
        env=environment_of(ad, job_id, iwd),
        stdin_path=_path(_string(ad, "In"), iwd),
        stdout_path=_path(_string(ad, "Out"), iwd),
        stderr_path=_path(_string(ad, "Err"), iwd),
        memory_limit_mib=memory_limit_mib or None,
        walltime_s=walltime_of(ad),
        vacate_grace_s=DEFAULT_VACATE_GRACE if grace is None else max(0.0, grace),
        request_cpus=_int(ad, "RequestCpus", 1),
        request_memory_mib=request_memory,
        request_disk_kib=_int(ad, "RequestDisk", 0),
        request_gpus=_int(ad, "RequestGPUs", 0),
        container_image=image if isinstance(image, str) and image else None,
        run=run,
    )


def vacate_grace(ad: ClassAd) -> float:
    grace = ad.eval("JobMaxVacateTime")
    if grace is UNDEFINED or isinstance(grace, bool) or not isinstance(grace, int | float):
        return DEFAULT_VACATE_GRACE
    return max(0.0, float(grace))
