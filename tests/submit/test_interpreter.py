"""Running whole descriptions: the line reader, includes (relative paths,
cycles), conditionals, clusters, warnings, and the speed of a big queue."""

from __future__ import annotations

import time

import pytest

from skyflock.submit import MemoryFiles, SubmitError, parse_submit, parse_submit_with_warnings
from skyflock.submit.reader import read_statements


def test_reader_statements_and_positions() -> None:
    text = "# comment\n\nA = 1\n  +B = 2\nMY.C = \\\n  3\nqueue 2 x in (\n a\n# skipped\n b\n)\nqueue\n"
    statements = read_statements(text, "f.sub")
    assert [(s.kind, s.key, s.value, s.where.line) for s in statements] == [
        ("set", "A", "1", 3),
        ("set", "+B", "2", 4),
        ("set", "MY.C", "3", 5),
        ("queue", "", "2 x in (", 7),
        ("queue", "", "", 12),
    ]
    assert statements[3].block == ((8, " a"), (10, " b"))


def test_include_paths_are_relative_to_the_including_file() -> None:
    files = MemoryFiles(
        {
            "/s/conf/a.inc": "include : sub/b.inc\nrequest_cpus = 2\n",
            "/s/conf/sub/b.inc": "request_memory = 3G\n",
        }
    )
    (ad,) = parse_submit(
        "executable = /bin/true\ninclude : conf/a.inc\nqueue\n", base_dir="/s", files=files
    )
    assert ad.eval("RequestCpus") == 2
    assert ad.eval("RequestMemory") == 3072


def test_include_path_may_use_macros() -> None:
    files = MemoryFiles({"/s/site/x.inc": "request_cpus = 3\n"})
    (ad,) = parse_submit(
        "site = x\nexecutable = /bin/true\ninclude : site/$(site).inc\nqueue\n",
        base_dir="/s",
        files=files,
    )
    assert ad.eval("RequestCpus") == 3


def test_include_cycle_names_the_chain() -> None:
    files = MemoryFiles({"/s/a.inc": "include : b.inc\n", "/s/b.inc": "include : a.inc\n"})
    with pytest.raises(SubmitError) as info:
        parse_submit("include : a.inc\nqueue\n", base_dir="/s", filename="top.sub", files=files)
    assert str(info.value) == "b.inc:1: include cycle: a.inc -> b.inc -> a.inc"


def test_errors_inside_an_include_name_the_included_file() -> None:
    files = MemoryFiles({"/s/bad.inc": "\n\nuniverse = grid\n"})
    with pytest.raises(SubmitError) as info:
        parse_submit(
            "executable = /bin/true\ninclude : bad.inc\nqueue\n", base_dir="/s", files=files
        )
    assert str(info.value).startswith("bad.inc:3: universe grid is not supported")


def test_conditionals_nest() -> None:
    text = (
        "executable = /bin/true\nA = 1\n"
        "if defined A\n if false\n  request_cpus = 9\n else\n  request_cpus = 2\n endif\n"
        "else\n request_cpus = 7\nendif\nqueue\n"
    )
    (ad,) = parse_submit(text)
    assert ad.eval("RequestCpus") == 2


def test_warning_statement_and_unknown_commands() -> None:
    result = parse_submit_with_warnings(
        "executable = /bin/true\nwarning : careful\nfrobnicate = 1\nqueue\n", filename="w.sub"
    )
    assert [str(w) for w in result.warnings] == [
        "w.sub:2: careful",
        "w.sub:3: unknown submit command 'frobnicate' (ignored)",
    ]


def test_first_cluster_id_and_procs_continue_across_queues() -> None:
    ads = parse_submit("executable = a\nqueue 2\nqueue 1\nexecutable = b\nqueue\n", cluster_id=40)
    assert [(ad.eval("ClusterId"), ad.eval("ProcId")) for ad in ads] == [
        (40, 0),
        (40, 1),
        (40, 2),
        (41, 0),
    ]


def test_per_job_values_do_not_leak_between_jobs() -> None:
    ads = parse_submit(
        "executable = /bin/echo\nrequest_memory = $(m)\narguments = $(m) $(Process)\nqueue m in (1G, 2G, 1G)\n"
    )
    assert [ad.eval("RequestMemory") for ad in ads] == [1024, 2048, 1024]
    assert [ad.eval("Args") for ad in ads] == ["1G 0", "2G 1", "1G 2"]
    assert ads[0].lookup("Requirements") is ads[2].lookup("Requirements")


def test_a_hundred_thousand_jobs_are_quick() -> None:
    text = "executable = /bin/echo\narguments = $(Process)\noutput = out.$(Cluster).$(Process)\nqueue 100000\n"
    started = time.process_time()
    ads = parse_submit(text, base_dir="/s")
    elapsed = time.process_time() - started
    assert len(ads) == 100_000
    assert ads[-1].eval("ProcId") == 99_999
    assert ads[-1].eval("Out") == "out.1.99999"
    # about 1 s of CPU on a quiet 2-core machine; generous for a busy one
    assert elapsed < 10.0, f"queue 100000 took {elapsed:.2f} s"
