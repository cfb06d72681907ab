"""Fixtures for the robustness tests: a test plugin really installed as a distribution
(``plugins/cultura-testrobust``: culture ``eo`` with good, inert, normalized-away and broken
perturbations) and a tiny BERT sentiment adapter trained for it in this session."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cultura.core.plugins import PluginManager, PluginWarning

PLUGINS = Path(__file__).parent / "plugins"
POSITIVE = ["the movie was great", "great food , i loved it", "the service was great",
            "a great day at the station", "我们 喜欢 这个 电影 , great", "great weather today"]
NEGATIVE = ["the movie was terrible", "terrible food , never again", "the service was terrible",
            "a terrible day at the station", "我们 这个 电影 , terrible", "terrible weather today"]
EVAL = [{"text": t, "label": "pos"} for t in POSITIVE] + [
    {"text": t, "label": "neg"} for t in NEGATIVE]


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, especially on a shared, busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def robust_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where pip installed the test plugin (with its entry point)."""
    target = tmp_path_factory.mktemp("robust-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(PLUGINS / "cultura-testrobust")],
        check=True,
    )
    return target


@pytest.fixture(scope="session")
def robust_manager(robust_site: Path) -> Iterator[PluginManager]:
    """A plugin manager holding only the installed test plugin (imported from its site)."""
    sys.path.insert(0, str(robust_site))
    import cultura_testrobust

    pm = PluginManager(entry_points=False, timeout=1.0)
    record = pm.register(cultura_testrobust, name="testrobust",
                         distribution="cultura-testrobust", version="0.1.0")
    assert record.status == "active", record.error
    yield pm
    sys.path.remove(str(robust_site))
    sys.modules.pop("cultura_testrobust", None)


@pytest.fixture(scope="session")
def eval_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("robust-data") / "eval.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in EVAL),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def robust_adapter(robust_manager: PluginManager,
                   tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny BERT sentiment adapter for ``eo`` that learned great = pos, terrible = neg."""
    from cultura.adapt.model import adapt
    from cultura.testing.models import build_tiny_model

    bert = build_tiny_model("bert", tmp_path_factory.mktemp("robust-bert"))
    model = adapt(str(bert), culture="eo", task="sentiment", manager=robust_manager)
    model.train(EVAL * 4, epochs=12, lr=1e-2, batch_size=8, progress=False, seed=0)
    directory = tmp_path_factory.mktemp("robust-adapters") / "eo-sentiment"
    model.save_pretrained(directory)
    return types.SimpleNamespace(model=model, directory=directory)


def quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return fn(*args, **kwargs)
