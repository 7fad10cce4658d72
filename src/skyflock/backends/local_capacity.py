"""What this machine offers the embedded `local` cluster: cores, memory, disk, platform.

`LocalBackend.capacity()` (in `backends/local.py`) returns the one partitionable
slot measured here. Reading the machine is I/O, so it lives in the backend
layer; the result is a plain `SlotOffer` from `backends/base.py`.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
from collections.abc import Mapping

import psutil

from skyflock.backends.base import SlotOffer

_ARCH_NAMES = {
    "x86_64": "X86_64",
    "amd64": "X86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "ppc64le": "ppc64le",
    "i686": "INTEL",
    "i386": "INTEL",
}
"""`platform.machine()` spelled as HTCondor's `Arch` attribute."""


def htcondor_arch(machine: str) -> str:
    """HTCondor's `Arch` for a `platform.machine()` value (unknown ones pass through)."""
    return _ARCH_NAMES.get(machine.lower(), machine)


def usable_cpus() -> int:
    """Cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def machine_slot(
    data_dir: str,
    *,
    name: str = "slot1",
    cpus: int | None = None,
    memory_mib: int | None = None,
    reserved_memory_mib: int = 0,
    disk_kib: int | None = None,
    gpus: int = 0,
    labels: Mapping[str, str] | None = None,
) -> SlotOffer:
    """The partitionable slot of this machine; any explicit figure overrides the measured one.

    Memory is the machine's total less `reserved_memory_mib` (left to the manager
    and the system); disk is the free space of the file system holding `data_dir`.
    """
    if cpus is None:
        cpus = usable_cpus()
    if memory_mib is None:
        memory_mib = psutil.virtual_memory().total // (1024 * 1024)
    memory_mib = max(0, memory_mib - reserved_memory_mib)
    if disk_kib is None:
        disk_kib = shutil.disk_usage(data_dir).free // 1024
    hostname = socket.gethostname()
    return SlotOffer(
        name=f"{name}@{hostname}",
        cpus=cpus,
        memory_mib=int(memory_mib),
        disk_kib=int(disk_kib),
        gpus=gpus,
        arch=htcondor_arch(platform.machine()),
        opsys=platform.system().upper(),
        machine=hostname,
        labels=dict(labels or {}),
    )
