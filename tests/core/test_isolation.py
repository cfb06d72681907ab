"""Broken plugins are isolated: exits, hangs, KeyboardInterrupt, impostors and bad values.

The plugins are really installed (``hostile_plugins/``); the CLI cases run the console script.
Hanging plugins are only loaded where a test asks for them (allow-lists): each leaves a
sleeping daemon thread behind; the CPU-bound one only ever runs in a child process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import cultura
from cultura.core.errors import CulturaError, PluginError, RegistrationError, UnknownCultureError
from cultura.core.plugins import DEFAULT_TIMEOUT, PluginManager, PluginWarning
from cultura.core.types import CultureInfo, Normalizer, Provenance


def _manager(**kwargs: object) -> PluginManager:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return PluginManager(**kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- exits and interrupts
def test_sys_exit_on_import_and_in_a_hook_is_caught_and_attributed(
    with_hostile_plugins: Path,
) -> None:
    pm = _manager(allowed={"exitimport", "exithook", "cultura-zh"})
    exitimport = pm.record("exitimport")
    assert exitimport.status == "error"
    assert "failed to import 'cultura_testexitimport': SystemExit: 3 (at " in (exitimport.error or "")
    assert "CULTURA_DISABLE_PLUGINS=cultura-testexitimport" in (exitimport.error or "")
    exithook = pm.record("exithook")
    assert exithook.status == "error"
    assert (exithook.error or "").startswith("cultura_cultures() raised SystemExit: bye from exithook")
    assert cultura.culture("zh-TW", manager=pm).normalize("软件") == "軟體"


def test_keyboard_interrupt_raised_by_a_plugin_is_its_failure(with_hostile_plugins: Path) -> None:
    pm = _manager(allowed={"kihook"})
    with pytest.warns(PluginWarning, match=r"plugin 'kihook' \(cultura-testkihook 0.1.0\) in "
                      r"hook cultura_tokenizer_tweaks\(\): raised KeyboardInterrupt"):
        profile = cultura.culture("qaa", manager=pm)
    assert profile.normalize("x") == "x"  # the built-in normalizers still apply
    assert pm.record("kihook").status == "error"


def test_any_base_exception_from_a_hook_is_caught() -> None:
    class Closing:
        CULTURA_API_VERSION = "1.0"

        @cultura.hookimpl
        def cultura_cultures(self):  # type: ignore[no-untyped-def]
            raise GeneratorExit("closed")

    pm = PluginManager(entry_points=False)
    with pytest.warns(PluginWarning, match="raised GeneratorExit: closed"):
        record = pm.register(Closing(), name="closing")
    assert record.status == "error"


def test_an_exception_that_cannot_be_shown_is_still_reported() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    class Odd:
        CULTURA_API_VERSION = "1.0"

        @cultura.hookimpl
        def cultura_cultures(self):  # type: ignore[no-untyped-def]
            raise Unprintable

    pm = PluginManager(entry_points=False)
    with pytest.warns(PluginWarning, match=r"raised Unprintable: \(its message cannot be shown\)"):
        assert pm.register(Odd(), name="odd").status == "error"


def test_the_users_ctrl_c_still_stops_the_program(hostile_site: Path) -> None:
    code = (
        "import sys\nfrom cultura.core.plugins import PluginManager\n"
        "print('ready', flush=True)\n"
        "try:\n    PluginManager(allowed={'hangimport'}, timeout=0)\n"
        "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n    sys.exit(130)\n"
        "print('not interrupted')\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(hostile_site), "PATH": ""},
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(1.0)  # the manager now waits (no time limit) for the hanging import
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 130 and out == "interrupted\n"


# ----------------------------------------------------------------- time limit
def test_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, expected in [("", DEFAULT_TIMEOUT), ("2.5", 2.5), ("0", None), ("none", None),
                          (" None ", None)]:
        monkeypatch.setenv("CULTURA_PLUGIN_TIMEOUT", raw)
        assert PluginManager(entry_points=False).timeout == expected
    for raw in ("soon", "-1", "inf", "nan"):
        monkeypatch.setenv("CULTURA_PLUGIN_TIMEOUT", raw)
        with pytest.raises(CulturaError, match=f"CULTURA_PLUGIN_TIMEOUT='{raw}' is not a number "
                           "of seconds; set it to e.g. 10"):
            PluginManager(entry_points=False)
    assert PluginManager(entry_points=False, timeout=3).timeout == 3  # the argument wins
    assert PluginManager(entry_points=False, timeout=0).timeout is None
    with pytest.raises(CulturaError, match="timeout=-1"):
        PluginManager(entry_points=False, timeout=-1)


def test_hanging_import_is_marked_hung_within_the_limit(with_hostile_plugins: Path) -> None:
    started = time.monotonic()
    with pytest.warns(PluginWarning, match="importing 'cultura_testhangimport' did not finish "
                      r"within 0.5 s \(CULTURA_PLUGIN_TIMEOUT=0.5\)"):
        pm = PluginManager(allowed={"hangimport", "cultura-zh"}, timeout=0.5)
    assert time.monotonic() - started < 5
    record = pm.record("hangimport")
    assert record.status == "hung"
    assert "if it is only slow, raise the limit" in (record.error or "")
    assert pm.record("zh").status == "active"


def test_hanging_hook_is_cut_off_and_never_called_again(with_hostile_plugins: Path) -> None:
    pm = _manager(allowed={"hanghook"}, timeout=0.5)
    started = time.monotonic()
    with pytest.warns(PluginWarning, match=r"plugin 'hanghook' .* in hook "
                      r"cultura_tokenizer_tweaks\(\): did not return within 0.5 s"):
        profile = cultura.culture("qab", manager=pm)
    assert time.monotonic() - started < 5
    # the plugin is out: its knowledge hook (which raises when called) was not called
    assert [(f.hook, f.status) for f in profile.failures] == [("cultura_tokenizer_tweaks", "hung")]
    record = pm.record("hanghook")
    assert record.status == "hung"
    assert (record.error or "").startswith("cultura_tokenizer_tweaks() did not return within 0.5 s")
    started = time.monotonic()
    with pytest.raises(UnknownCultureError):  # its cultures are no longer served
        cultura.culture("qab", manager=pm)
    assert time.monotonic() - started < 0.5


def test_hooks_run_without_the_managers_lock() -> None:
    class Curious:
        """Reads the manager from inside its hook (another thread)."""

        CULTURA_API_VERSION = "1.0"

        def __init__(self, pm: PluginManager) -> None:
            self.pm = pm

        @cultura.hookimpl
        def cultura_cultures(self):  # type: ignore[no-untyped-def]
            assert [r.name for r in self.pm.records()] == ["und", "curious"]
            return [CultureInfo("eo")]

    pm = PluginManager(entry_points=False, timeout=5)
    assert pm.register(Curious(pm), name="curious").status == "active"


# ----------------------------------------------------------------- bad returns
def test_bad_cultures_mark_the_plugin_error(with_hostile_plugins: Path) -> None:
    pm = _manager(allowed={"badcultures", "badtag"})
    bad = pm.record("badcultures")
    assert bad.status == "error" and bad.cultures == ()
    assert (bad.error or "").startswith(
        "cultura_cultures() returned a list holding int, str; expected a list of CultureInfo"
    )
    tag = pm.record("badtag")
    assert tag.status == "error"
    assert (tag.error or "").startswith(
        "cultura_cultures() built an invalid registration: CultureInfo.tag: 'not a tag!!' is not "
        "a valid BCP-47 language tag"
    )
    assert pm.served_tags() == {"und"}


def test_non_list_and_non_string_tags_are_refused() -> None:
    class Sloppy:
        CULTURA_API_VERSION = "1.0"

        @cultura.hookimpl
        def cultura_cultures(self):  # type: ignore[no-untyped-def]
            return "yo"

    pm = PluginManager(entry_points=False)
    with pytest.warns(PluginWarning, match="returned str; expected a list of CultureInfo"):
        record = pm.register(Sloppy(), name="sloppy")
    assert record.status == "error"
    with pytest.raises(RegistrationError, match="CultureInfo.tag: must be a BCP-47 tag string, "
                       "got list"):
        CultureInfo(["yo"])  # type: ignore[arg-type]


# ----------------------------------------------------------------- same name, two distributions
def test_two_distributions_with_one_name_are_both_loaded(with_hostile_plugins: Path) -> None:
    with pytest.warns(PluginWarning, match="the entry-point name 'zh' is registered by "
                      "cultura-zh 0.1.0 and cultura-testimpostor 0.9.0; each is loaded"):
        pm = PluginManager(allowed={"zh"})
    both = [r for r in pm.records() if r.name == "zh"]
    assert [(r.distribution, r.status) for r in both] == [
        ("cultura-zh", "active"), ("cultura-testimpostor", "active")
    ]
    assert both[0].conflicts == ("cultura-testimpostor 0.9.0",)
    assert both[1].conflicts == ("cultura-zh 0.1.0",)
    assert pm.record("zh").distribution == "cultura-zh"  # by name: cultura-<name> first
    assert pm.record("cultura-testimpostor").distribution == "cultura-testimpostor"
    profile = cultura.culture("zh-TW", manager=pm)
    assert profile.normalize("软件") == "軟體"
    assert "impostor.same" in profile.normalizer_ids
    assert {p.distribution for p in profile.plugins} >= {"cultura-zh", "cultura-testimpostor"}
    pm.disable("zh")  # the name covers both
    assert {r.status for r in pm.records() if r.name == "zh"} == {"disabled"}


def test_one_of_two_is_disabled_by_its_distribution(with_hostile_plugins: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # no warning about the shared name
        pm = PluginManager(allowed={"zh"}, disabled={"cultura-testimpostor"})
    assert pm.record("cultura-testimpostor").status == "disabled"
    assert pm.record("zh").status == "active"
    assert "impostor.same" not in cultura.culture("zh", manager=pm).normalizer_ids


def test_one_plugin_object_is_registered_once() -> None:
    class Eo:
        CULTURA_API_VERSION = "1.0"

        @cultura.hookimpl
        def cultura_cultures(self):  # type: ignore[no-untyped-def]
            return [CultureInfo("eo")]

    plugin = Eo()
    pm = PluginManager(entry_points=False)
    pm.register(plugin, name="eo", distribution="cultura-eo")
    with pytest.warns(PluginWarning, match="Eo is already loaded as plugin 'eo' of cultura-eo"):
        record = pm.register(plugin, name="eo", distribution="another-eo")
    assert record.status == "error" and pm.record("cultura-eo").status == "active"
    with pytest.raises(PluginError, match=r"plugin 'eo' \(cultura-eo\): already registered"):
        pm.register(Eo(), name="eo", distribution="cultura-eo")


# ----------------------------------------------------------------- normalizers
def test_failing_normalizers_name_the_plugin(with_hostile_plugins: Path) -> None:
    pm = _manager(allowed={"badnorm"})
    with pytest.raises(PluginError) as info:
        cultura.culture("qac", manager=pm).normalize("text")
    message = str(info.value)
    assert message.startswith(
        "plugin 'badnorm' (cultura-testbadnorm 0.1.0): normalizer 'badnorm.explode' raised "
        "ValueError: normalizer exploded (at "
    )
    assert message.endswith("Fix the plugin, or disable it: CULTURA_DISABLE_PLUGINS=cultura-testbadnorm")
    with pytest.raises(PluginError, match="normalizer 'badnorm.numbers' returned a list holding "
                       r"int 5; it must return a list holding one string per input \(2 here\)"):
        cultura.culture("qad", manager=pm).normalize(["a", "b"])


def test_normalizer_results_are_checked() -> None:
    prov = Provenance("xx", "cultura-xx", "1.0")

    def exits(texts: list[str]) -> list[str]:
        raise SystemExit(4)

    cases = [
        (exits, "raised SystemExit: 4"),
        (lambda texts: tuple(texts), "returned tuple ('a',)"),
        (lambda texts: texts + ["extra"], "returned a list of length 2; it must return a list holding one string per input (1 here)"),
        (lambda texts: [b"a"], "returned a list holding bytes b'a'"),
    ]
    for fn, expected in cases:
        with pytest.raises(PluginError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            Normalizer("xx.n", fn, provenance=prov)(["a"])
    with pytest.raises(RegistrationError, match="normalizer 'xx.n' returned tuple"):
        Normalizer("xx.n", lambda texts: tuple(texts))(["a"])  # no plugin known

    def interrupted(texts: list[str]) -> list[str]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # may be the user's Ctrl-C: never swallowed
        Normalizer("xx.n", interrupted, provenance=prov)(["a"])
    upper = Normalizer("xx.n", lambda texts: [t.upper() for t in texts], provenance=prov)
    assert upper(("a", "b")) == ["A", "B"]


# ----------------------------------------------------------------- through the console script
def test_plugins_lists_hanging_plugins_as_hung_in_time(with_hostile_plugins: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    out = run_cli("plugins", env={"CULTURA_PLUGIN_TIMEOUT": "2"})
    # two imports hang (one sleeping, one burning a CPU): 2 s each, plus start-up
    assert time.monotonic() - started < 2 * 2 + 20
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    status = {(cells[0], cells[1]): cells[3] for cells in map(str.split, out.stdout.splitlines())
              if len(cells) > 3 and cells[0] != "und"}
    assert status["hangimport", "cultura-testhangimport"] == "hung"
    assert status["spinimport", "cultura-testspinimport"] == "hung"
    assert status["exitimport", "cultura-testexitimport"] == "error"
    assert status["zh", "cultura-zh"] == status["zh", "cultura-testimpostor"] == "active"
    notes = out.stdout.splitlines()
    assert any(line.startswith("hangimport: importing 'cultura_testhangimport' did not finish "
                               "within 2 s") for line in notes)
    assert any(line.startswith("zh (cultura-zh): conflict: the plugin name 'zh' is also registered "
                               "by cultura-testimpostor 0.9.0") for line in notes)


def test_zh_works_beside_a_plugin_that_exits(with_hostile_plugins: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    env = {"CULTURA_LOAD_PLUGINS": "cultura-zh,exitimport,exithook"}
    out = run_cli("normalize", "--culture", "zh-TW", "软件", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "軟體\n"
    out = run_cli("plugins", "--json", env=env)
    records = {r["name"]: r for r in json.loads(out.stdout)}
    assert records["exitimport"]["status"] == "error"
    assert "SystemExit: 3" in records["exitimport"]["error"]
    assert records["exithook"]["status"] == "error" and records["zh"]["status"] == "active"


def test_duplicate_name_is_listed_as_a_conflict(with_hostile_plugins: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    env = {"CULTURA_LOAD_PLUGINS": "zh"}
    out = run_cli("plugins", "--json", env=env)
    assert out.returncode == 0, out.stderr
    zh = {r["distribution"]: r for r in json.loads(out.stdout) if r["name"] == "zh"}
    assert zh["cultura-zh"]["conflicts"] == ["cultura-testimpostor 0.9.0"]
    assert zh["cultura-testimpostor"]["conflicts"] == ["cultura-zh 0.1.0"]
    assert {r["status"] for r in zh.values()} == {"active"}
    out = run_cli("normalize", "--culture", "zh-TW", "软件", env=env)
    assert out.returncode == 0 and out.stdout == "軟體\n"


def test_bad_returns_are_listed_as_errors(with_hostile_plugins: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("plugins", "--json", env={"CULTURA_LOAD_PLUGINS": "badcultures,badtag"})
    records = {r["name"]: r for r in json.loads(out.stdout)}
    assert records["badcultures"]["status"] == "error"
    assert "returned a list holding int, str" in records["badcultures"]["error"]
    assert records["badtag"]["status"] == "error"
    assert "'not a tag!!' is not a valid BCP-47 language tag" in records["badtag"]["error"]


@pytest.mark.parametrize(("tag", "expected"), [
    ("qac", "normalizer 'badnorm.explode' raised ValueError: normalizer exploded"),
    ("qad", "normalizer 'badnorm.numbers' returned a list holding int 5"),
])
def test_failing_normalizer_is_one_line(with_hostile_plugins: Path, run_cli, tag: str,  # type: ignore[no-untyped-def]
                                        expected: str) -> None:
    out = run_cli("normalize", "--culture", tag, "text", env={"CULTURA_LOAD_PLUGINS": "badnorm"})
    assert out.returncode == 1 and out.stdout == ""
    assert "Traceback" not in out.stderr
    first = out.stderr.splitlines()[0]
    assert first.startswith("error: plugin 'badnorm' (cultura-testbadnorm 0.1.0): " + expected)
    assert first.endswith("CULTURA_DISABLE_PLUGINS=cultura-testbadnorm")


def test_keyboard_interrupt_in_a_hook_does_not_stop_the_command(with_hostile_plugins: Path,  # type: ignore[no-untyped-def]
                                                                run_cli) -> None:
    out = run_cli("normalize", "--culture", "qaa", "x", env={"CULTURA_LOAD_PLUGINS": "kihook"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "x\n"
    [line] = out.stderr.splitlines()
    assert line.startswith("warning: plugin 'kihook' (cultura-testkihook 0.1.0) in hook "
                           "cultura_tokenizer_tweaks(): raised KeyboardInterrupt (at ")
    out = run_cli("show", "qaa", env={"CULTURA_LOAD_PLUGINS": "kihook"})
    assert (out.returncode, out.stderr) == (0, "")
    assert "failed: plugin 'kihook' (cultura-testkihook 0.1.0) in hook cultura_tokenizer_tweaks" \
        in out.stdout
