"""Publish, search, pull and load by name against the local Hub, with the real client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import cultura
from cultura.adapt.artifact import ArtifactError, config_fingerprint, read_manifest
from cultura.core.errors import CulturaError
from cultura.registry.hub import publish, pull, search
from cultura.registry.store import LocalRegistry
from cultura.testing.hub import LocalHub

from .conftest import LABELS, TEXTS


def _front_matter(card: bytes) -> dict[str, Any]:
    text = card.decode()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def _resolve_gets(hub: LocalHub) -> int:
    return sum(1 for r in hub.log if r.method == "GET" and "/resolve/" in r.path)


def test_publish_uploads_everything_in_one_commit(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path
) -> None:
    source = artifact("zh-Hant")
    result = publish(source, "org/zh-hant-sentiment")
    commits = local_hub.commits("org/zh-hant-sentiment")
    assert len(commits) == 2 and result.commit == commits[0]  # repo creation + ONE commit
    assert result.url == f"{local_hub.url}/org/zh-hant-sentiment"
    assert result.commit_url.endswith(result.commit)
    remote = local_hub.files("org/zh-hant-sentiment")
    assert set(remote) == {".gitattributes", *result.files}
    for rel in result.files:  # the card and manifest written back locally are what was sent
        assert remote[rel] == (source / rel).read_bytes(), rel
    meta = _front_matter(remote["README.md"])
    assert meta["library_name"] == "peft"
    assert meta["base_model"] == str(tiny_base)
    assert meta["language"] == ["zh-Hant"]
    assert {"cultura", "culture:zh-Hant", "task:sentiment"} <= set(meta["tags"])
    manifest = read_manifest(source)
    assert manifest.bias is None  # the test culture declares no bias checks
    assert "No bias checks were run" in remote["README.md"].decode()


def test_republish_replaces_stale_files_in_one_commit(
    local_hub: LocalHub, hf_api: Any, artifact: Callable[..., Path]
) -> None:
    publish(artifact(), "org/zh")
    hf_api.upload_file(path_or_fileobj=b"stale", path_in_repo="old/notes.txt", repo_id="org/zh")
    before = len(local_hub.commits("org/zh"))
    result = publish(artifact(seed=1), "org/zh")
    assert len(local_hub.commits("org/zh")) == before + 1
    assert "old/notes.txt" not in local_hub.files("org/zh")
    assert set(local_hub.files("org/zh")) == {".gitattributes", *result.files}


def test_publish_to_a_branch_and_private(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    from huggingface_hub import HfApi

    result = publish(artifact(), "org/zh-private", private=True, revision="dev")
    assert result.url.endswith("/org/zh-private/tree/dev") and result.revision == "dev"
    assert set(local_hub.files("org/zh-private", "main")) == {".gitattributes"}
    assert "cultura.json" in local_hub.files("org/zh-private", "dev")
    anonymous = HfApi(endpoint=local_hub.url, token=False)
    assert [m.id for m in anonymous.list_models(filter="cultura")] == []
    assert [a.repo_id for a in search()] == []  # the search looks at main; dev is not on main


def test_publish_refuses_a_broken_artifact_before_any_upload(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    source = artifact()
    (source / "adapter_model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(ArtifactError, match="cannot publish.*adapter_model.safetensors changed"):
        publish(source, "org/broken")
    assert not [r for r in local_hub.log if r.method == "POST"]
    with pytest.raises(CulturaError, match="repo"):
        publish(artifact(), "not-a-repo-id")


def test_search_by_culture_task_and_base(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path, other_base: Path
) -> None:
    publish(artifact("zh"), "org/zh-a")
    publish(artifact("zh", seed=1), "org/zh-b")
    publish(artifact("zh", base="other"), "team/zh-other")
    publish(artifact("zh-Hant"), "org/zh-hant")
    local_hub.set_downloads("org/zh-a", 5)
    local_hub.set_downloads("org/zh-b", 30)
    local_hub.set_downloads("team/zh-other", 30)

    found = search(culture="zh", task="sentiment")
    assert [a.repo_id for a in found] == ["org/zh-b", "team/zh-other", "org/zh-a"]
    first = found[0]
    assert (first.name, first.head_type, first.downloads) == ("zh/sentiment", "seq-cls", 30)
    assert first.base_model == str(tiny_base) and first.bias_summary() == "not checked"
    assert [a.repo_id for a in search(culture="zh", base=str(other_base))] == ["team/zh-other"]
    assert [a.repo_id for a in search(culture="zh-Hant")] == ["org/zh-hant"]
    assert search(culture="zh-TW") == []  # exact tag (canonical zh-Hant-TW); no fallback here
    assert search(task="ner") == []
    assert len(search()) == 4


def test_pull_verifies_installs_and_reuses(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    source = artifact()
    result = publish(source, "org/zh")
    entry = pull("hf:org/zh")
    assert entry.origin.repo_id == "org/zh" and entry.origin.commit == result.commit
    for rel in read_manifest(source).files:
        assert (entry.path / rel).read_bytes() == (source / rel).read_bytes()
    gets = _resolve_gets(local_hub)
    assert pull("hf:org/zh") == entry  # already installed at that commit: no download
    assert _resolve_gets(local_hub) == gets
    assert pull(f"hf:org/zh@{result.commit}") == entry
    forced = pull("hf:org/zh", force=True)
    assert forced.entry_id == entry.entry_id and _resolve_gets(local_hub) > gets
    assert LocalRegistry().entries() == [forced]


def test_round_trip_publish_search_pull_load_predict(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path
) -> None:
    from cultura.adapt.model import load_pretrained

    source = artifact("zh-Hant", seed=3)
    original = load_pretrained(source)
    expected_proba, labels = original.predict_proba(TEXTS)
    expected = original.predict(TEXTS)
    assert tuple(labels) == LABELS

    publish(source, "org/zh-hant-sentiment")
    assert [a.repo_id for a in cultura.search(culture="zh-Hant", task="sentiment")] == [
        "org/zh-hant-sentiment"
    ]
    entry = cultura.pull("zh-Hant-TW/sentiment", base=str(tiny_base))  # walks the chain
    assert entry.origin.repo_id == "org/zh-hant-sentiment" and entry.culture == "zh-Hant"
    model = cultura.load("zh-Hant-TW/sentiment", base=str(tiny_base))
    proba, labels = model.predict_proba(TEXTS)
    assert tuple(labels) == LABELS
    np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=1e-6)
    assert model.predict(TEXTS) == expected
    other = load_pretrained(artifact("zh-Hant", seed=4)).predict_proba(TEXTS)[0]
    assert not np.allclose(other, expected_proba, atol=1e-3)  # the weights really matter


def _plain_logits(base: Path, adapter: Path, texts: list[str]) -> np.ndarray:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
    model = PeftModel.from_pretrained(model, str(adapter)).eval()
    tok = AutoTokenizer.from_pretrained(base)
    with torch.no_grad():
        batch = tok(texts, return_tensors="pt", padding=True)
        return torch.softmax(model(**batch).logits, dim=-1).numpy()


def test_published_artifacts_load_with_plain_peft(
    local_hub: LocalHub, artifact: Callable[..., Path], tiny_base: Path
) -> None:
    from cultura.adapt.model import load_pretrained

    source = artifact("zh", seed=5)
    publish(source, "org/zh")
    entry = pull("hf:org/zh")
    texts = TEXTS[:2] + TEXTS[3:]  # already normalized: the culture's normalizers are no-ops
    plain = _plain_logits(tiny_base, entry.path, texts)
    ours = load_pretrained(entry.path).predict_proba(texts)[0]
    np.testing.assert_allclose(plain, ours, atol=1e-5)


def _plain_peft_repo(base: Path, folder: Path, hf_api: Any, repo_id: str) -> np.ndarray:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(7)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
    # the tiny base is an MLM checkpoint: its pooler is untrained, so the adapter carries it
    config = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value"],
                        modules_to_save=["classifier", "pooler"])
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.normal_(0, 0.5)
    peft_model.save_pretrained(folder)
    hf_api.create_repo(repo_id)
    hf_api.upload_folder(repo_id=repo_id, folder_path=folder)
    return _plain_logits(base, folder, TEXTS[:2])


def test_plain_peft_repo_loads_with_a_synthesized_manifest(
    local_hub: LocalHub, hf_api: Any, tiny_base: Path, tmp_path: Path
) -> None:
    from cultura.adapt.model import load_pretrained

    expected = _plain_peft_repo(tiny_base, tmp_path / "plain", hf_api, "someone/plain-lora")
    with pytest.raises(CulturaError, match="plain PEFT adapter.*--culture <tag> --task <task>"):
        pull("hf:someone/plain-lora")
    assert LocalRegistry().entries() == []
    # its config names a local folder as the base: never read because a repo says so
    with pytest.raises(CulturaError, match="base_model_name_or_path.*not a Hub model id.*--base"):
        pull("hf:someone/plain-lora", culture="zh-TW", task="sentiment")
    assert LocalRegistry().entries() == []
    entry = pull("hf:someone/plain-lora", culture="zh-TW", task="sentiment", base=str(tiny_base))
    assert entry.synthesized and entry.name == "zh-Hant-TW/sentiment"
    manifest = read_manifest(entry.path)
    assert manifest.synthesized and manifest.labels == LABELS  # labels from the plugin's head
    assert manifest.head_type == "seq-cls" and manifest.base_model.id == str(tiny_base)
    import json

    base_config = json.loads((tiny_base / "config.json").read_text())
    assert manifest.base_model.fingerprint == config_fingerprint(base_config)
    proba = load_pretrained(entry.path).predict_proba(TEXTS[:2])[0]
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    model = cultura.load("hf:someone/plain-lora")  # now installed: loads by its Hub id
    np.testing.assert_allclose(model.predict_proba(TEXTS[:2])[0], expected, atol=1e-5)


def test_pickle_only_repos_are_refused_without_downloading(
    local_hub: LocalHub, hf_api: Any
) -> None:
    hf_api.create_repo("someone/pickled")
    hf_api.upload_file(path_or_fileobj=b'{"peft_type": "LORA"}', path_in_repo="adapter_config.json",
                       repo_id="someone/pickled")
    hf_api.upload_file(path_or_fileobj=b"\x80\x04pickle", path_in_repo="adapter_model.bin",
                       repo_id="someone/pickled")
    with pytest.raises(CulturaError, match="adapter_model.bin.*safetensors weights only"):
        pull("hf:someone/pickled", culture="zh", task="sentiment")
    assert not [r for r in local_hub.log if r.path.endswith(".bin")]


def test_publish_works_against_a_server_without_whoami(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    local_hub.fail("GET", "/api/whoami-v2", status=404, times=None)
    notes: list[str] = []
    result = publish(artifact(), "org/no-whoami", echo=notes.append)
    assert local_hub.commits("org/no-whoami")[0] == result.commit
    assert any("has no token check (whoami answered 404)" in n for n in notes)


def test_publish_errors_name_the_failing_step(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    local_hub.fail("POST", "/api/repos/create", status=500, times=None)
    with pytest.raises(CulturaError, match=r"step: creating the repo\).*server error \(500\)"):
        publish(artifact(), "org/failing-create")
    local_hub.clear_faults()
    local_hub.fail("GET", "/api/whoami-v2", status=401, times=None)
    with pytest.raises(CulturaError, match=r"step: checking the token\).*401"):
        publish(artifact(), "org/bad-token")


def test_search_summary_counts_skipped_checks_and_survives_odd_cards() -> None:
    from cultura.registry.hub import HubAdapter

    def adapter(bias: Any) -> HubAdapter:
        return HubAdapter(repo_id="org/x", sha=None, culture="ko", task="sentiment",
                          head_type="seq-cls", base_model="b", downloads=0, bias=bias,
                          private=False, last_modified=None)

    checks = [{"status": "pass"}, {"status": "pass"}, {"status": "pass"}, {"status": "skipped"}]
    assert adapter({"passed": True, "checks": checks}).bias_summary() == "passed (3 run, 1 skipped)"
    assert adapter({"passed": True, "checks": checks[:2]}).bias_summary() == "passed (2 run)"
    assert adapter({"passed": "yes", "checks": "lots"}).bias_summary() == "FAILED"
    assert adapter(None).bias_summary() == "not checked"


def test_publish_card_names_the_repo_and_takes_a_license(
    local_hub: LocalHub, artifact: Callable[..., Path]
) -> None:
    source = artifact()
    publish(source, "org/zh-licensed", license="cc-by-4.0")
    remote = local_hub.files("org/zh-licensed")
    card = remote["README.md"].decode()
    assert _front_matter(remote["README.md"])["license"] == "cc-by-4.0"
    assert 'cultura.load("hf:org/zh-licensed")' in card
    assert card.count("## Bias report") == 1
    assert read_manifest(source).license == "cc-by-4.0"
    assert (source / "cultura.json").stat().st_mode & 0o777 == 0o666 & ~_umask()
    with pytest.raises(CulturaError, match="is not a licence id"):
        publish(source, "org/zh-licensed", license="see LICENSE file")


def _umask() -> int:
    from cultura.adapt.artifact import current_umask

    return current_umask()
