"""The Requirements expression: the user's, plus the clauses condor_submit adds.

condor_submit (its `SetRequirements`) appends, in this order and unless the
user's expression already refers to the machine attribute in question:
Arch and OpSys (or `TARGET.HasContainer` for container jobs), Disk, Memory and
Cpus against the requests, a clause per other `Request<Tag>` (GPUs, custom
resources), and the file-transfer clause. docs/submit.md spells out each rule;
this module follows them to the letter except where that page says otherwise.
Neighbours: `commands.py` supplies the requests and transfer settings it
inspects; `rules.py` puts it in the table.
"""

from __future__ import annotations

import re

from skyflock.classad import ClassAd, Expr
from skyflock.submit.commands import Attrs, Inputs, file_list, is_container_job, resources, transfer
from skyflock.submit.exprs import constant, parse_expr

DEFAULT_ARCH = "X86_64"
DEFAULT_OPSYS = "LINUX"

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_OPSYS_REFS = {
    "opsys",
    "opsysandver",
    "opsyslongname",
    "opsysshortname",
    "opsysname",
    "opsyslegacy",
}


def requirements(inputs: Inputs, custom: tuple[str, ...], forced: bool) -> Attrs:
    """Requirements: the user's expression and the clauses condor_submit adds."""
    if forced:
        return {}
    user = inputs.get("requirements")
    clauses: list[str] = []
    refs: set[str] = set()
    if user is not None and user.strip():
        parse_expr(user, inputs.where("requirements"), "requirements")
        clauses.append(f"({user.strip()})")
        refs = {
            r.lower()
            for r in parse_expr(user, inputs.where("requirements"), "requirements").external_refs(
                ClassAd({"RequestMemory": 0})
            )
        }
    if is_container_job(inputs):
        clauses.append("TARGET.HasContainer")
    else:
        if "arch" not in refs:
            clauses.append(f'(TARGET.Arch == "{DEFAULT_ARCH}")')
        if not refs & _OPSYS_REFS:
            clauses.append(f'(TARGET.OpSys == "{DEFAULT_OPSYS}")')
    res = resources(inputs, custom)
    if _positive_or_expr(res.get("RequestDisk"), 0):
        clauses.append("(TARGET.Disk >= RequestDisk)")
    if _positive_or_expr(res.get("RequestMemory"), 1):
        clauses.append("(TARGET.Memory >= RequestMemory)")
    if "cpus" not in refs and _positive_or_expr(res.get("RequestCpus"), 1):
        clauses.append("(TARGET.Cpus >= RequestCpus)")
    tags = sorted(
        (
            name
            for name in res
            if name.lower() not in ("requestcpus", "requestmemory", "requestdisk")
        ),
        key=str.lower,
    )
    for name in tags:
        tag = name[len("Request") :]
        if len(tag) < 2 or tag.startswith("_") or tag.lower() in refs:
            continue
        value = res[name]
        if isinstance(value, Expr):
            folded = constant_of(value)
            if isinstance(folded, str):
                if folded:
                    clauses.append(f"regexp({name}, TARGET.{tag})")
                continue
            if folded is not None and not _positive_or_expr(folded, 0):
                continue
        elif not _positive_or_expr(value, 0):
            continue
        clauses.append(f"(TARGET.{tag} >= {name})")
    clauses.extend(_transfer_clauses(inputs, refs))
    return {
        "Requirements": parse_expr(
            " && ".join(clauses), inputs.where("requirements"), "requirements"
        )
    }


def constant_of(expr: Expr) -> object:
    try:
        return constant(str(expr))
    except ValueError:
        return None


def _positive_or_expr(value: object, floor: float) -> bool:
    if value is None:
        return False
    if isinstance(value, Expr):
        folded = constant_of(value)
        if isinstance(folded, (int, float)) and not isinstance(folded, bool):
            return folded > floor
        return True
    return isinstance(value, (int, float)) and value > floor


def _transfer_clauses(inputs: Inputs, refs: set[str]) -> list[str]:
    settings = transfer(inputs)
    should = settings["ShouldTransferFiles"]
    domain = "(TARGET.FileSystemDomain == MY.FileSystemDomain)"
    if should == "NO":
        return [] if "filesystemdomain" in refs else [domain]
    if "hasfiletransfer" in refs or "hasjobtransferplugins" in refs:
        return []
    methods = sorted(
        {
            m.group(1).lower()
            for f in file_list(str(settings.get("TransferInputFiles", "")))
            if (m := _URL.match(f))
        }
    )
    check = "TARGET.HasFileTransfer"
    if "hasfiletransferpluginmethods" not in refs:
        for method in methods:
            check += f' && stringListIMember("{method}",TARGET.HasFileTransferPluginMethods)'
    if should == "IF_NEEDED" and "filesystemdomain" not in refs:
        return [f"({domain} || ({check}))"]
    return [f"({check})"]
