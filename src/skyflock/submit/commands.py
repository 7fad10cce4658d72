"""The submit commands and the job attributes each one sets.

A `Rule` reads a few submit commands (by canonical name; `ALIASES` lists the
other spellings condor_submit accepts) and returns job attributes with
HTCondor's names (`rules.py` lists them in order, `requirements.py` holds the
Requirements rule). The job builder runs every rule once per queue statement
when none of its commands changes from job to job, and per job (with a cache)
otherwise, so the rules are plain functions of their inputs.

Defaults that differ from a stock condor_submit (it reads them from its
configuration) are the module constants below; docs/submit.md lists them.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from skyflock.classad import Expr
from skyflock.submit.arguments import join_v1, join_v2, parse_arguments
from skyflock.submit.environment import format_environment, getenv_selection, parse_environment
from skyflock.submit.errors import SubmitError, SubmitWarning, Where
from skyflock.submit.exprs import integer, parse_expr
from skyflock.submit.units import KIB, MIB, parse_quantity

DEFAULT_REQUEST_CPUS = 1
DEFAULT_REQUEST_MEMORY_MIB = 128
DEFAULT_REQUEST_DISK_KIB = 1024 * 1024
DEFAULT_MAX_RETRIES = 2
NICE_USER_GROUP = "nice-user"
VANILLA = 5

ALIASES: dict[str, tuple[str, ...]] = {
    "universe": ("universe",),
    "executable": ("executable",),
    "transfer_executable": ("transfer_executable",),
    "arguments": ("arguments", "args"),
    "environment": ("environment", "env"),
    "getenv": ("getenv",),
    "initialdir": ("initialdir", "initial_dir", "iwd"),
    "input": ("input", "stdin"),
    "output": ("output", "stdout"),
    "error": ("error", "stderr"),
    "log": ("log",),
    "container_image": ("container_image", "docker_image"),
    "request_cpus": ("request_cpus", "requestcpus"),
    "request_memory": ("request_memory", "requestmemory"),
    "request_disk": ("request_disk", "requestdisk"),
    "request_gpus": ("request_gpus", "requestgpus"),
    "requirements": ("requirements",),
    "rank": ("rank",),
    "priority": ("priority", "prio"),
    "accounting_group": ("accounting_group", "acctgroup"),
    "accounting_group_user": ("accounting_group_user", "acctgroupuser"),
    "nice_user": ("nice_user",),
    "max_retries": ("max_retries",),
    "success_exit_code": ("success_exit_code",),
    "retry_until": ("retry_until",),
    "periodic_hold": ("periodic_hold",),
    "periodic_hold_reason": ("periodic_hold_reason",),
    "periodic_hold_subcode": ("periodic_hold_subcode",),
    "periodic_release": ("periodic_release",),
    "periodic_remove": ("periodic_remove",),
    "on_exit_hold": ("on_exit_hold",),
    "on_exit_hold_reason": ("on_exit_hold_reason",),
    "on_exit_hold_subcode": ("on_exit_hold_subcode",),
    "on_exit_remove": ("on_exit_remove",),
    "job_max_vacate_time": ("job_max_vacate_time",),
    "allowed_execute_duration": ("allowed_execute_duration",),
    "allowed_job_duration": ("allowed_job_duration",),
    "transfer_input_files": ("transfer_input_files",),
    "transfer_output_files": ("transfer_output_files",),
    "transfer_output_remaps": ("transfer_output_remaps",),
    "should_transfer_files": ("should_transfer_files",),
    "when_to_transfer_output": ("when_to_transfer_output",),
    "batch_name": ("batch_name",),
    "concurrency_limits": ("concurrency_limits",),
    "hold": ("hold",),
}

ACCEPTED_IGNORED = frozenset(
    {
        "max_idle",
        "max_materialize",
        "notification",
        "notify_user",
        "stream_output",
        "stream_error",
        "copy_to_spool",
        "submit_event_notes",
        "job_machine_attrs",
    }
)
"""Commands skyflock accepts and ignores (no warning): they steer parts of
HTCondor skyflock does not have (late materialisation, e-mail, streaming)."""

KNOWN: frozenset[str] = frozenset(a for names in ALIASES.values() for a in names) | ACCEPTED_IGNORED

_UNIVERSES = {"vanilla": False, "container": True}
_OTHER_UNIVERSES = {
    "scheduler",
    "local",
    "grid",
    "java",
    "vm",
    "parallel",
    "docker",
    "standard",
    "globus",
    "mpi",
}
_SUBMITTER = re.compile(r"[A-Za-z0-9_.@+-]+")
_TRUE = {"true", "yes", "t", "y", "1"}
_FALSE = {"false", "no", "f", "n", "0"}
_SHOULD = {"YES", "NO", "IF_NEEDED"}
_WHEN = {"ON_EXIT", "ON_EXIT_OR_EVICT", "ON_SUCCESS", "NEVER"}
REQUEST_PREFIX = "request_"
SPECIAL_REQUESTS = {"request_cpus", "request_memory", "request_disk", "request_gpus"}


@dataclass
class Context:
    """What every rule may consult besides the commands."""

    base_dir: str
    environ: Mapping[str, str]
    owner: str | None
    queue_where: Where
    warnings: list[SubmitWarning] = field(default_factory=list)


class Inputs(Protocol):
    ctx: Context

    def get(self, key: str) -> str | None:
        """The expanded value of a command (by canonical name), None when unset."""
        ...

    def where(self, key: str) -> Where:
        """Where the command was set (the queue statement when it was not)."""
        ...


Attrs = dict[str, object]


@dataclass(frozen=True)
class Rule:
    name: str
    keys: tuple[str, ...]
    build: Callable[[Inputs], Attrs]


def _bool(inputs: Inputs, key: str, default: bool) -> bool:
    value = inputs.get(key)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise inputs.where(key).error(f"{key} must be true or false, got {value!r}")


def _expr(inputs: Inputs, key: str) -> Expr | None:
    value = inputs.get(key)
    if value is None:
        return None
    return parse_expr(value, inputs.where(key), key)


# -- the rules ------------------------------------------------------------------


def universe_rule(inputs: Inputs) -> Attrs:
    container = is_container_job(inputs)
    image = inputs.get("container_image")
    if container and not image:
        raise inputs.where("universe").error("universe container needs a container_image")
    attrs: Attrs = {"JobUniverse": VANILLA}
    if image:
        attrs["ContainerImage"] = image
    return attrs


def is_container_job(inputs: Inputs) -> bool:
    value = (inputs.get("universe") or "vanilla").strip().lower()
    if value in _UNIVERSES:
        return _UNIVERSES[value] or bool(inputs.get("container_image"))
    where = inputs.where("universe")
    if value in _OTHER_UNIVERSES:
        raise where.error(
            f"universe {value} is not supported; skyflock runs vanilla jobs "
            "(and container jobs: universe = container with container_image)"
        )
    raise where.error(f"unknown universe '{value}'; expected vanilla or container")


def executable_rule(inputs: Inputs) -> Attrs:
    exe = inputs.get("executable")
    transfer = _bool(inputs, "transfer_executable", True)
    attrs: Attrs = {}
    if not exe:
        if is_container_job(inputs):
            return attrs
        raise inputs.ctx.queue_where.error("no executable is given for this queue statement")
    if transfer and not exe.startswith("/"):
        exe = posixpath.normpath(posixpath.join(inputs.ctx.base_dir, exe))
    attrs["Cmd"] = exe
    if inputs.get("transfer_executable") is not None:
        attrs["TransferExecutable"] = transfer
    return attrs


def arguments_rule(inputs: Inputs) -> Attrs:
    value = inputs.get("arguments")
    if value is None:
        return {}
    try:
        attr, args = parse_arguments(value)
    except ValueError as exc:
        raise inputs.where("arguments").error(f"arguments: {exc}") from None
    return {attr: join_v1(args) if attr == "Args" else join_v2(args)}


def environment_rule(inputs: Inputs) -> Attrs:
    env: dict[str, str] = {}
    attrs: Attrs = {}
    getenv = inputs.get("getenv")
    if getenv is not None:
        try:
            flag, copied = getenv_selection(getenv, inputs.ctx.environ)
        except ValueError as exc:
            raise inputs.where("getenv").error(str(exc)) from None
        env.update(copied)
        if flag is not None:
            attrs["GetEnv"] = flag
    value = inputs.get("environment")
    if value is not None:
        try:
            env.update(parse_environment(value))
        except ValueError as exc:
            raise inputs.where("environment").error(f"environment: {exc}") from None
    if value is not None or env:
        attrs = {"Environment": format_environment(env), **attrs}
    return attrs


def iwd_rule(inputs: Inputs) -> Attrs:
    base = inputs.ctx.base_dir
    initialdir = inputs.get("initialdir")
    iwd = posixpath.normpath(posixpath.join(base, initialdir)) if initialdir else base
    attrs: Attrs = {"Iwd": iwd}
    log = inputs.get("log")
    if log:
        attrs["UserLog"] = posixpath.normpath(posixpath.join(iwd, log))
    return attrs


def stdio_rule(key: str, attr: str) -> Rule:
    def build(inputs: Inputs) -> Attrs:
        value = inputs.get(key)
        return {attr: value if value else "/dev/null"}

    return Rule(key, (key,), build)


def _request(inputs: Inputs, key: str, unit: int | None) -> object | None:
    value = inputs.get(key)
    if value is None or value.strip().lower() == "undefined":
        return None
    if unit is not None:
        amount = parse_quantity(value, unit)
        if amount is not None:
            return amount
    elif re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return parse_expr(value, inputs.where(key), key)


def resources(inputs: Inputs, custom: tuple[str, ...]) -> Attrs:
    """Request* attributes, with skyflock's defaults for the three HTCondor always sets."""
    attrs: Attrs = {}
    cpus = _request(inputs, "request_cpus", None)
    memory = _request(inputs, "request_memory", MIB)
    disk = _request(inputs, "request_disk", KIB)
    gpus = _request(inputs, "request_gpus", None)
    attrs["RequestCpus"] = DEFAULT_REQUEST_CPUS if cpus is None else cpus
    attrs["RequestMemory"] = DEFAULT_REQUEST_MEMORY_MIB if memory is None else memory
    attrs["RequestDisk"] = DEFAULT_REQUEST_DISK_KIB if disk is None else disk
    if gpus is not None:
        attrs["RequestGPUs"] = gpus
    for key in custom:
        value = inputs.get(key)
        if value is None or value.strip().lower() == "undefined":
            continue
        name = "Request" + key[len(REQUEST_PREFIX) :]
        try:
            attrs[name] = parse_expr(value, inputs.where(key), key)
        except SubmitError as exc:
            hint = custom_request_warning(key)
            if hint is None:
                raise
            raise inputs.where(key).error(f"{exc.message} ({hint})") from None
    return attrs


def transfer(inputs: Inputs) -> Attrs:
    attrs: Attrs = {}
    files_in = file_list(inputs.get("transfer_input_files"))
    files_out = inputs.get("transfer_output_files")
    should_text = inputs.get("should_transfer_files")
    should = (should_text or "IF_NEEDED").strip().upper()
    if should not in _SHOULD:
        raise inputs.where("should_transfer_files").error(
            f"should_transfer_files must be YES, NO or IF_NEEDED, got {should_text!r}"
        )
    when_text = inputs.get("when_to_transfer_output")
    when = (when_text or "ON_EXIT").strip().upper()
    if when not in _WHEN:
        raise inputs.where("when_to_transfer_output").error(
            "when_to_transfer_output must be ON_EXIT, ON_EXIT_OR_EVICT or ON_SUCCESS, "
            f"got {when_text!r}"
        )
    if should == "NO" and (files_in or files_out is not None):
        which = "transfer_input_files" if files_in else "transfer_output_files"
        raise inputs.where("should_transfer_files").error(
            f"{which} is given but should_transfer_files = NO"
        )
    if should == "NO" and when_text is None:
        when = "NEVER"
    if (should == "NO") != (when == "NEVER"):
        raise inputs.where("when_to_transfer_output").error(
            f"when_to_transfer_output = {when} contradicts should_transfer_files = {should}"
        )
    if when == "ON_EXIT_OR_EVICT" and should == "IF_NEEDED":
        if should_text is None:
            should = "YES"
        else:
            raise inputs.where("when_to_transfer_output").error(
                "when_to_transfer_output = ON_EXIT_OR_EVICT needs should_transfer_files = YES"
            )
    if files_in:
        attrs["TransferInputFiles"] = ",".join(files_in)
    if files_out is not None:
        attrs["TransferOutputFiles"] = ",".join(file_list(files_out))
    remaps = inputs.get("transfer_output_remaps")
    if remaps is not None:
        attrs["TransferOutputRemaps"] = remaps.strip().strip('"')
    attrs["ShouldTransferFiles"] = should
    if should != "NO":
        attrs["WhenToTransferOutput"] = when
    return attrs


def file_list(value: str | None) -> list[str]:
    if value is None or value.strip() in ("", '""'):
        return []
    return [f.strip() for f in value.split(",") if f.strip()]


def rank_rule(inputs: Inputs) -> Attrs:
    expr = _expr(inputs, "rank")
    return {"Rank": expr if expr is not None else 0.0}


def priority_rule(inputs: Inputs) -> Attrs:
    value = inputs.get("priority")
    if value is None:
        return {"JobPrio": 0}
    return {"JobPrio": integer(value, inputs.where("priority"), "priority")}


def accounting_rule(inputs: Inputs) -> Attrs:
    group = inputs.get("accounting_group") or None
    user = inputs.get("accounting_group_user") or None
    attrs: Attrs = {}
    if _bool(inputs, "nice_user", False):
        if group is None:
            group = NICE_USER_GROUP
            attrs["NiceUser"] = True
            attrs["MaxJobRetirementTime"] = 0
        elif group != NICE_USER_GROUP:
            inputs.ctx.warnings.append(
                inputs.where("nice_user").warning(
                    "nice_user conflicts with accounting_group; nice_user is ignored"
                )
            )
    for key, value in (("accounting_group", group), ("accounting_group_user", user)):
        if value is not None and not _SUBMITTER.fullmatch(value):
            raise inputs.where(key).error(
                f"{key} {value!r} may hold only letters, digits and _ . @ + -"
            )
    if group is None and user is None:
        return attrs
    group_user = user or inputs.ctx.owner
    if group is not None:
        attrs["AcctGroup"] = group
        if group_user is not None:
            attrs["AcctGroupUser"] = group_user
            attrs["AccountingGroup"] = f"{group}.{group_user}"
        else:
            attrs["AccountingGroup"] = group
    else:
        attrs["AcctGroupUser"] = group_user
        attrs["AccountingGroup"] = group_user
    return attrs


def policy_rule(inputs: Inputs) -> Attrs:
    attrs: Attrs = {}
    retries_text = inputs.get("max_retries")
    success_text = inputs.get("success_exit_code")
    until_text = inputs.get("retry_until")
    user_remove = _expr(inputs, "on_exit_remove")
    if retries_text is None and success_text is None and until_text is None:
        attrs["OnExitRemove"] = user_remove if user_remove is not None else True
    else:
        retries = (
            integer(retries_text, inputs.where("max_retries"), "max_retries")
            if retries_text is not None
            else DEFAULT_MAX_RETRIES
        )
        if retries < 0:
            raise inputs.where("max_retries").error("max_retries must not be negative")
        attrs["JobMaxRetries"] = retries
        success = 0
        if success_text is not None:
            success = integer(success_text, inputs.where("success_exit_code"), "success_exit_code")
            attrs["SuccessExitCode"] = success
        parts = ["NumJobCompletions > JobMaxRetries", f"ExitCode == {success}"]
        if until_text is not None:
            if re.fullmatch(r"\s*-?\d+\s*", until_text):
                parts.append(f"ExitCode == {int(until_text)}")
            else:
                expr = parse_expr(until_text, inputs.where("retry_until"), "retry_until")
                parts.append(f"({expr})")
        if user_remove is not None:
            parts.append(f"({user_remove})")
        attrs["OnExitRemove"] = parse_expr(
            " || ".join(parts), inputs.where("max_retries"), "max_retries"
        )
    hold = _expr(inputs, "on_exit_hold")
    attrs["OnExitHold"] = hold if hold is not None else False
    for key, attr in (
        ("on_exit_hold_reason", "OnExitHoldReason"),
        ("on_exit_hold_subcode", "OnExitHoldSubCode"),
    ):
        given = _expr(inputs, key)
        if given is not None:
            attrs[attr] = given
    for key, attr in (
        ("periodic_hold", "PeriodicHold"),
        ("periodic_hold_reason", "PeriodicHoldReason"),
        ("periodic_hold_subcode", "PeriodicHoldSubCode"),
        ("periodic_release", "PeriodicRelease"),
        ("periodic_remove", "PeriodicRemove"),
    ):
        policy = _expr(inputs, key)
        if policy is not None:
            attrs[attr] = policy
        elif attr in ("PeriodicHold", "PeriodicRelease", "PeriodicRemove"):
            attrs[attr] = False
    return attrs


def limits_rule(inputs: Inputs) -> Attrs:
    attrs: Attrs = {}
    for key, attr in (
        ("job_max_vacate_time", "JobMaxVacateTime"),
        ("allowed_execute_duration", "AllowedExecuteDuration"),
        ("allowed_job_duration", "AllowedJobDuration"),
    ):
        expr = _expr(inputs, key)
        if expr is not None:
            attrs[attr] = expr
    name = inputs.get("batch_name")
    if name is not None:
        attrs["JobBatchName"] = name.strip().strip('"')
    limits = inputs.get("concurrency_limits")
    if limits is not None:
        attrs["ConcurrencyLimits"] = ",".join(
            sorted(p.strip().lower() for p in limits.split(",") if p.strip())
        )
    return attrs


def hold_rule(inputs: Inputs) -> Attrs:
    if _bool(inputs, "hold", False):
        return {"JobStatus": 5, "HoldReason": "submitted on hold", "HoldReasonCode": 15}
    return {}


def custom_request_warning(key: str) -> str | None:
    """A hint when `request_<x>` looks like a misspelt standard request."""
    close = difflib.get_close_matches(key, sorted(SPECIAL_REQUESTS), n=1, cutoff=0.8)
    if key in ("request_cpu", "request_gpu"):
        return f"'{key}' is not a submit command; did you mean '{key}s'? (ignored)"
    if close and close[0] != key:
        return (
            f"'{key}' asks for a custom resource Request{key[len(REQUEST_PREFIX) :]}; "
            f"did you mean '{close[0]}'?"
        )
    return None


def unknown_command_warning(key: str) -> str:
    close = difflib.get_close_matches(key, sorted(KNOWN), n=1, cutoff=0.8)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown submit command '{key}' (ignored){hint}"
