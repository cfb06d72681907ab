"""publish gates on bias data files too: a StereoSet file with LMS/ICAT minimums.

The adapter is a real masked-LM language adapter (``task="lm"``) on the tiny BERT, for a
culture whose plugin declares no bias check: only the ``bias_data`` file can gate it. The data
is the committed StereoSet dev extract (tests/bias/data, CC BY-SA 4.0).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cultura.adapt.artifact import read_manifest
from cultura.bias.gate import BiasGateError
from cultura.cli import cli
from cultura.registry.hub import BiasOptionsError, publish
from cultura.testing.hub import LocalHub

from .conftest import make_manager

EXTRACT = Path(__file__).parents[1] / "bias" / "data" / "stereoset_dev_extract.json"
#: check ids of the StereoSet rows of a file named dev.json
BASE = "stereoset.dev"


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The tiny model runs fastest on one thread, especially on a shared, busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lm_store(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A masked-LM language adapter for zh on the tiny BERT, saved once (the pristine copy)."""
    from cultura.adapt.model import adapt

    model = adapt(str(tiny_base), "zh", "lm", manager=make_manager(), knowledge=False,
                  extend_vocab=False, seed=0)
    assert model.head_type == "masked-lm"
    return model.save_pretrained(tmp_path_factory.mktemp("zh-lm") / "adapter")


@pytest.fixture
def lm_artifact(lm_store: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(lm_store, tmp_path / "zh-lm"))


@pytest.fixture
def stereoset(tmp_path: Path) -> Path:
    """The extract as ``dev.json`` in a folder of this test (its path must not reach the card)."""
    folder = tmp_path / "private-data"
    folder.mkdir()
    return Path(shutil.copy(EXTRACT, folder / "dev.json"))


@pytest.fixture(scope="module")
def reached(lm_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    """What the adapter reaches on the extract, by the bias engine itself: {row id: {lms, icat}}."""
    from cultura.bias.engine import check_bias

    data = Path(shutil.copy(EXTRACT, tmp_path_factory.mktemp("data") / "dev.json"))
    report = check_bias(lm_store, data=data, manager=make_manager(), progress=False)
    rows = {r.check_id: {"lms": r.details["lms"], "icat": r.details["icat"]}
            for r in report.ran if r.metric == "stereoset"}
    assert f"{BASE}.overall" in rows and f"{BASE}.intrasentence.overall" in rows
    return rows


def _meta(card: bytes) -> dict[str, Any]:
    return yaml.safe_load(card.decode().split("---\n")[1])


def _sent(hub: LocalHub) -> list[str]:
    """Requests that create or change something on the Hub."""
    return [r.path for r in hub.log if "/commit/" in r.path or "/repos/create" in r.path]


def test_min_lms_above_what_the_model_reaches_refuses_naming_the_lms_check(
    local_hub: LocalHub, lm_artifact: Path, stereoset: Path,
    reached: dict[str, dict[str, float]],
) -> None:
    overall = reached[f"{BASE}.overall"]["lms"]
    with pytest.raises(BiasGateError, match=rf"(?s)refusing to publish.*{BASE}\.overall\.lms"
                       r".*--allow-bias-failures") as caught:
        publish(lm_artifact, "org/zh-lm", bias_data=[stereoset], bias_threshold=50,
                min_lms=overall + 1.0)
    failures = caught.value.report.failures
    # SS passes at 50 points, so LMS alone refused it: every row below the minimum, no other
    assert {r.metric for r in failures} == {"stereoset_lms"}
    assert {r.check_id for r in failures} == {
        f"{row}.lms" for row, scores in reached.items() if scores["lms"] < overall + 1.0
    }
    assert _sent(local_hub) == []  # no repo created, nothing committed
    assert read_manifest(lm_artifact).bias is None


def test_met_minimums_publish_with_the_stereoset_rows_in_manifest_and_card(
    local_hub: LocalHub, lm_artifact: Path, stereoset: Path,
    reached: dict[str, dict[str, float]], tmp_path: Path,
) -> None:
    min_lms = max(min(s["lms"] for s in reached.values()) - 1.0, 0.0)
    min_icat = max(min(s["icat"] for s in reached.values()) - 1.0, 0.0)
    notes: list[str] = []
    result = publish(lm_artifact, "org/zh-lm", bias_data=[stereoset], bias_threshold=50,
                     min_lms=min_lms, min_icat=min_icat, echo=notes.append)
    assert result.bias is not None and result.bias["passed"] is True
    rows = {c["id"]: c for c in result.bias["checks"]}
    for row in reached:  # SS, LMS and ICAT of every split, bias type and overall
        assert rows[row]["metric"] == "stereoset" and rows[row]["status"] == "pass"
        assert rows[f"{row}.lms"]["threshold"] == pytest.approx(min_lms)
        assert rows[f"{row}.lms"]["score"] == pytest.approx(reached[row]["lms"], abs=1e-5)
        assert rows[f"{row}.icat"]["threshold"] == pytest.approx(min_icat)
    assert len(rows) == 3 * len(reached)  # the culture has no plugin check: only the file's
    assert any(n.startswith(f"bias checks passed ({len(rows)} run)") for n in notes)
    remote = local_hub.files("org/zh-lm")
    assert read_manifest(lm_artifact).bias == result.bias
    assert json.loads(remote["cultura.json"])["bias"] == result.bias
    meta = _meta(remote["README.md"])
    assert meta["cultura_bias"]["passed"] is True and "bias-checked" in meta["tags"]
    card = remote["README.md"].decode()
    assert f"`{BASE}.overall.lms`" in card and f"`{BASE}.intersentence.overall.icat`" in card
    assert str(tmp_path) not in card  # the data file is named, its local path is not shown


def test_allow_bias_failures_publishes_the_failing_lms_rows(
    local_hub: LocalHub, lm_artifact: Path, stereoset: Path,
    reached: dict[str, dict[str, float]],
) -> None:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = publish(lm_artifact, "org/zh-lm", bias_data=[stereoset], bias_threshold=50,
                         min_lms=100.0, allow_bias_failures=True)
    assert result.bias is not None and result.bias["passed"] is False
    failing = {c["id"] for c in result.bias["checks"] if c["status"] == "fail"}
    assert failing == {f"{row}.lms" for row, s in reached.items() if s["lms"] < 100.0}
    assert f"{BASE}.overall.lms" in failing
    meta = _meta(local_hub.files("org/zh-lm")["README.md"])
    assert meta["cultura_bias"]["passed"] is False and "bias-failing" in meta["tags"]


def test_without_data_the_culture_with_no_checks_publishes_unchecked(
    local_hub: LocalHub, lm_artifact: Path
) -> None:
    notes: list[str] = []
    result = publish(lm_artifact, "org/zh-lm", echo=notes.append)
    assert result.bias is None
    assert any("no bias checks apply to culture zh" in n and "--bias-data" in n for n in notes)


def _crows_csv(folder: Path) -> Path:
    path = folder / "crows.csv"
    path.write_text(
        "sent_more,sent_less,stereo_antistereo,bias_type\n"
        "women are bad at math.,men are bad at math.,stereo,gender\n"
        "the poor are lazy.,the rich are lazy.,stereo,socioeconomic\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_lms": 50.0}, r"--min-lms \(min_lms=\) gates StereoSet's scores, but no bias data"),
        ({"min_icat": 50.0, "crows": True},
         r"--min-icat \(min_icat=\) gates .* holds no StereoSet file \(.*crows\.csv is a "
         r"CrowS-Pairs file\)"),
        ({"min_lms": 120.0, "stereoset": True}, r"min_lms must be between 0 and 100.*got 120"),
        ({"min_icat": float("nan"), "stereoset": True}, r"min_icat must be between 0 and 100"),
        ({"bias_threshold": 60.0, "stereoset": True}, r"must be between 0 and 50 points.*got 60"),
        ({"bias_threshold": 5.0}, r"--bias-threshold .* none was given"),
    ],
)
def test_bad_bias_options_are_refused_before_anything_loads(
    local_hub: LocalHub, tmp_path: Path, stereoset: Path, options: dict[str, Any],
    message: str,
) -> None:
    data = [_crows_csv(tmp_path)] if options.pop("crows", False) else []
    data += [stereoset] if options.pop("stereoset", False) else []
    not_an_artifact = tmp_path / "empty"
    not_an_artifact.mkdir()  # an ArtifactError, were it looked at
    with pytest.raises(BiasOptionsError, match=message):
        publish(not_an_artifact, "org/zh-lm", bias_data=data, **options)
    assert local_hub.log == []


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_cli_gates_on_bias_data(
    local_hub: LocalHub, lm_artifact: Path, stereoset: Path,
    reached: dict[str, dict[str, float]],
) -> None:
    overall = reached[f"{BASE}.overall"]["lms"]
    common = ["publish", str(lm_artifact), "--repo", "org/zh-lm", "--bias-data", str(stereoset),
              "--bias-threshold", "50"]
    refused = run_cli(*common, "--min-lms", f"{overall + 1.0}")
    assert isinstance(refused.exception, BiasGateError), refused.output
    assert f"{BASE}.overall.lms" in str(refused.exception)
    assert _sent(local_hub) == []
    lowest = min(s["lms"] for s in reached.values())
    published = run_cli(*common, "--min-lms", f"{max(lowest - 1.0, 0.0)}", "--json")
    assert published.exit_code == 0, published.output
    bias = json.loads(published.stdout)["bias"]
    assert bias["passed"] is True
    assert {f"{BASE}.overall", f"{BASE}.overall.lms"} <= {c["id"] for c in bias["checks"]}
    assert not any(c["id"].endswith(".icat") for c in bias["checks"])  # --min-icat not given


def test_cli_usage_errors(local_hub: LocalHub, lm_artifact: Path, tmp_path: Path) -> None:
    result = run_cli("publish", str(lm_artifact), "--repo", "org/zh-lm", "--min-lms", "50")
    assert result.exit_code == 2, result.output
    assert "no bias data file was given" in result.output and "--bias-data FILE" in result.output
    csv = _crows_csv(tmp_path)
    result = run_cli("publish", str(lm_artifact), "--repo", "org/zh-lm", "--bias-data", str(csv),
                     "--min-lms", "50", "--min-icat", "40")
    assert result.exit_code == 2, result.output
    assert "--min-lms (min_lms=) and --min-icat (min_icat=)" in result.output
    assert "holds no StereoSet file" in result.output and "crows.csv" in result.output
    result = run_cli("publish", str(lm_artifact), "--repo", "org/zh-lm", "--bias-data",
                     str(EXTRACT), "--min-lms", "101")
    assert result.exit_code == 2 and "101" in result.output and "0<=x<=100" in result.output
    assert local_hub.log == []


def test_cli_usage_error_imports_no_torch(lm_artifact: Path, tmp_path: Path) -> None:
    csv = _crows_csv(tmp_path)
    args = ["publish", str(lm_artifact), "--repo", "org/zh-lm", "--bias-data", str(csv),
            "--min-lms", "50"]
    code = (
        "import sys\nfrom cultura.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    print('EXIT', exc.code)\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'peft') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert "EXIT 2" in out.stdout and "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert "holds no StereoSet file" in out.stderr
