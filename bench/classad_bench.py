"""Evaluations per second of a typical job's Requirements against a typical slot.

Compares skyflock's compiled evaluator (`Expr.compile()`) and tree walker
(`Expr.eval`) with HTCondor's own C++ library through its Python bindings
(`classad2.ExprTree(text).eval(job, slot)`), in the same run, and prints the
ratio. Record the figures in docs/benchmarks.md ("ClassAd evaluation").

    .venv/bin/python bench/classad_bench.py [--seconds 3] [--rounds 6]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from skyflock.classad import ClassAd, parse

REQUIREMENTS = (
    'TARGET.Arch == "X86_64" && TARGET.OpSys == "LINUX" && TARGET.Memory >= MY.RequestMemory'
    " && TARGET.Cpus >= MY.RequestCpus && TARGET.Disk >= MY.RequestDisk"
    " && (TARGET.HasDocker =?= true || MY.ContainerImage =?= undefined)"
)

JOB = """[
  ClusterId = 1234; ProcId = 0; Owner = "alice"; AcctGroup = "group_atlas";
  JobUniverse = 5; JobStatus = 1; JobPrio = 0; NumJobStarts = 0;
  Cmd = "/usr/bin/analysis"; Arguments = "--events 100000 --seed 7";
  RequestCpus = 4; RequestMemory = 8192; RequestDisk = 20971520; RequestGPUs = 0;
  ImageSize = 250000; DiskUsage = 10000; QDate = 1700000000;
  Rank = TARGET.Mips; WantDocker = false
]"""

SLOT = """[
  Name = "slot1@worker042.example.org"; Machine = "worker042.example.org";
  Arch = "X86_64"; OpSys = "LINUX"; OpSysAndVer = "AlmaLinux9";
  Cpus = 32; TotalCpus = 64; Memory = 131072; TotalMemory = 262144;
  Disk = 1048576000; GPUs = 0; Mips = 25000; KFlops = 1500000;
  HasDocker = true; HasSingularity = true; SlotType = "Partitionable";
  State = "Unclaimed"; Activity = "Idle"; LoadAvg = 0.15;
  ClusterName = "local"; Tier = 0; Cloud = "onprem"; Site = "CERN";
  Start = true; Requirements = START
]"""


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of `fn`, timed in batches for at least `seconds` of CPU time.

    CPU time of this process, not wall time: on a shared machine the other
    processes' load then shows much less in the figures (classad2 runs in
    this process too, so both sides are measured the same way).
    """
    batch = 1000
    count = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        count += batch
        now = time.process_time()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per contender")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    args = parser.parse_args()

    job = ClassAd.parse(JOB)
    slot = ClassAd.parse(SLOT)
    expr = parse(REQUIREMENTS)
    compiled = expr.compile()
    assert compiled(job, slot) is True and expr.eval(job, slot) is True

    contenders: dict[str, Callable[[], object]] = {
        "skyflock compiled   ": lambda: compiled(job, slot),
        "skyflock tree walker": lambda: expr.eval(job, slot),
    }
    try:
        import classad2
    except ImportError:
        classad2 = None
        print("classad2 (HTCondor's library) is not installed: no comparison")
    if classad2 is not None:
        c_job = classad2.ClassAd(JOB)
        c_slot = classad2.ClassAd(SLOT)
        c_expr = classad2.ExprTree(REQUIREMENTS)
        assert c_expr.eval(c_job, c_slot) is True
        contenders["classad2 (HTCondor) "] = lambda: c_expr.eval(c_job, c_slot)
    # Interleaved rounds, best of each: on a shared machine the load changes
    # from second to second, and the best round is the least disturbed one.
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            best[name] = max(best[name], rate(fn, args.seconds / args.rounds))
    print(f"expression: {REQUIREMENTS}")
    for name, value in best.items():
        print(f"{name}: {value:12,.0f} evaluations per CPU second ({1e6 / value:.2f} us each)")
    if classad2 is not None:
        ratio = best["skyflock compiled   "] / best["classad2 (HTCondor) "]
        print(f"ratio compiled / classad2: {ratio:.1f}x")


if __name__ == "__main__":
    main()
