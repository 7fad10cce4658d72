"""The table of rules for one queue statement, in the order their attributes appear.

Each `Rule` names the submit commands it reads (canonical names; aliases are
resolved by the builder) and the function in `commands.py` or
`requirements.py` that turns them into job attributes. The custom `+Attr` /
`MY.Attr` rules and the custom `request_<name>` resources depend on which
names the description has defined, so the table is built per queue statement.
"""

from __future__ import annotations

from collections.abc import Mapping

from skyflock.submit.commands import (
    KNOWN,
    REQUEST_PREFIX,
    SPECIAL_REQUESTS,
    Attrs,
    Inputs,
    Rule,
    accounting_rule,
    arguments_rule,
    environment_rule,
    executable_rule,
    hold_rule,
    iwd_rule,
    limits_rule,
    policy_rule,
    priority_rule,
    rank_rule,
    resources,
    stdio_rule,
    transfer,
    universe_rule,
)
from skyflock.submit.exprs import parse_expr
from skyflock.submit.requirements import requirements


def _custom(key: str, spelled: str) -> Rule:
    attr = spelled[1:] if spelled.startswith("+") else spelled[3:]

    def build(inputs: Inputs) -> Attrs:
        value = inputs.get(key) or ""
        return {attr: parse_expr(value, inputs.where(key), spelled)}

    return Rule(key, (key,), build)


def rules_for(spelled: Mapping[str, str], ctx_owner: str | None) -> list[Rule]:
    """The rules of one queue statement, in the order their attributes appear.

    `spelled` maps the (lower-case) names defined so far to their spelling;
    they decide the custom `+Attr` rules and the custom `request_<name>`
    resources.
    """
    keys = list(spelled)
    custom_requests = tuple(
        k
        for k in keys
        if k.startswith(REQUEST_PREFIX)
        and k not in SPECIAL_REQUESTS
        and k not in KNOWN
        and k not in ("request_cpu", "request_gpu")
        and len(k) - len(REQUEST_PREFIX) >= 2
        and not k[len(REQUEST_PREFIX)].startswith("_")
    )
    custom_attrs = [k for k in keys if k.startswith("+") or k.startswith("my.")]
    forced = any(k in ("+requirements", "my.requirements") for k in keys)
    resource_keys = ("request_cpus", "request_memory", "request_disk", "request_gpus")
    transfer_keys = (
        "transfer_input_files",
        "transfer_output_files",
        "transfer_output_remaps",
        "should_transfer_files",
        "when_to_transfer_output",
    )

    def owner_rule(_: Inputs) -> Attrs:
        return {"Owner": ctx_owner} if ctx_owner is not None else {}

    rules = [
        Rule("owner", (), owner_rule),
        Rule("universe", ("universe", "container_image"), universe_rule),
        Rule("status", (), lambda _: {"JobStatus": 1}),
        Rule(
            "executable",
            ("executable", "transfer_executable", "universe", "container_image"),
            executable_rule,
        ),
        Rule("arguments", ("arguments",), arguments_rule),
        Rule("environment", ("environment", "getenv"), environment_rule),
        Rule("iwd", ("initialdir", "log"), iwd_rule),
        stdio_rule("input", "In"),
        stdio_rule("output", "Out"),
        stdio_rule("error", "Err"),
        Rule(
            "resources", (*resource_keys, *custom_requests), lambda i: resources(i, custom_requests)
        ),
        Rule("transfer", transfer_keys, transfer),
        Rule(
            "requirements",
            (
                "requirements",
                "universe",
                "container_image",
                *resource_keys,
                *custom_requests,
                *transfer_keys,
            ),
            lambda i: requirements(i, custom_requests, forced),
        ),
        Rule("rank", ("rank",), rank_rule),
        Rule("priority", ("priority",), priority_rule),
        Rule(
            "accounting",
            ("accounting_group", "accounting_group_user", "nice_user"),
            accounting_rule,
        ),
        Rule(
            "policy",
            (
                "max_retries",
                "success_exit_code",
                "retry_until",
                "on_exit_remove",
                "on_exit_hold",
                "on_exit_hold_reason",
                "on_exit_hold_subcode",
                "periodic_hold",
                "periodic_hold_reason",
                "periodic_hold_subcode",
                "periodic_release",
                "periodic_remove",
            ),
            policy_rule,
        ),
        Rule(
            "limits",
            (
                "job_max_vacate_time",
                "allowed_execute_duration",
                "allowed_job_duration",
                "batch_name",
                "concurrency_limits",
            ),
            limits_rule,
        ),
        Rule("hold", ("hold",), hold_rule),
    ]
    rules.extend(_custom(k, spelled[k]) for k in custom_attrs)
    return rules
