"""MultiCultureServer: mixed batches equal per-culture runs, shared added-token table, hot swap,
merge, the PEFT engine and its fallback, routing and errors.

Tolerance: probabilities within ``ATOL`` of running each culture's own CulturalModel on its
own rows (float32; the fused layers add the same terms in another order, and rows are padded
to the longest row of the mixed batch).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cultura.serve import MultiCultureServer, NotServedError, ServeError, UnsupportedAdapterError
from cultura.serve.server import RowAllocator

from .conftest import ADDED, LABELS, TEXTS, build_artifact, make_manager, mixed_rows, randomize

ATOL = 1e-5


def assert_matches_reference(server: Any, reference: Any, texts: list[str], cultures: list[str]) -> None:
    probs, labels = server.predict_proba(texts, cultures)
    assert len(probs) == len(texts)
    for text, culture, row, names in zip(texts, cultures, probs, labels, strict=True):
        want, want_labels = reference(culture).predict_proba([text])
        assert tuple(names) == tuple(want_labels) == LABELS[culture]
        np.testing.assert_allclose(row, want[0], atol=ATOL, err_msg=f"{culture}: {text!r}")


# --------------------------------------------------------------------------- mixed batches
@pytest.mark.parametrize("mixed", ["bmm", "segments"])
def test_mixed_batch_equals_each_cultures_own_model(server: Any, reference: Any, mixed: str) -> None:
    server.mixed = mixed
    texts, cultures = mixed_rows()
    assert_matches_reference(server, reference, texts, cultures)
    assert server.stats["forwards_fused"] == 1  # one forward pass for the whole mixed batch


def test_predict_keeps_order_and_localized_labels(server: Any, reference: Any) -> None:
    texts, cultures = mixed_rows()
    out = server.predict(texts, cultures, top_k=3)
    assert [r["text"] for r in out] == texts
    assert [r["culture"] for r in out] == cultures
    for row, culture, text in zip(out, cultures, texts, strict=True):
        want = reference(culture).predict([text], top_k=3)[0]
        assert row["label"] == want["label"]
        assert row["score"] == pytest.approx(want["score"], abs=ATOL)
        assert [t["label"] for t in row["top"]] == [t["label"] for t in want["top"]]
        assert len(row["top"]) == min(3, len(LABELS[culture]))


def test_single_culture_batches_and_small_batch_size(server: Any, reference: Any) -> None:
    assert_matches_reference(server, reference, TEXTS["de"], ["de"] * 4)
    texts, cultures = mixed_rows()
    out = server.logits(texts, cultures, batch_size=5)  # chunks cut through culture groups
    for text, culture, row in zip(texts, cultures, out, strict=True):
        assert torch.allclose(row, reference(culture).logits([text])[0], atol=1e-4)


def test_knowledge_and_normalizers_are_routed_per_row(server: Any) -> None:
    es = server.adapter("es").encoder
    assert es.inject(["the spring festival with family"]).pairs[0]  # es injects knowledge
    de_ids = server.adapter("de").encode(["große strasse"])["input_ids"]
    same_ids = server.adapter("de").encode(["grosse strasse"])["input_ids"]
    assert torch.equal(de_ids, same_ids)  # de folds ß -> ss before tokenizing
    fr_ids = server.adapter("fr").encode(["große"])["input_ids"]
    fr_ss = server.adapter("fr").encode(["grosse"])["input_ids"]
    assert not torch.equal(fr_ids, fr_ss)  # fr has no such normalizer


# --------------------------------------------------------------------------- added tokens
def test_added_tokens_get_distinct_rows_in_one_shared_table(server: Any, reference: Any) -> None:
    fr, de = server.adapter("fr"), server.adapter("de")
    v0 = server.describe()["shared_rows"]["base"]
    # both cultures number their added tokens from the base vocabulary size up ...
    assert fr.token_ids[0] == de.token_ids[0] == v0
    fr_tok, de_tok = fr.encoder.tokenizer, de.encoder.tokenizer
    assert fr_tok.convert_tokens_to_ids("bonjour") == de_tok.convert_tokens_to_ids("danke") == v0
    # ... and get disjoint blocks of the shared table
    fr_ids = set(fr.lut[list(fr.token_ids)].tolist())
    de_ids = set(de.lut[list(de.token_ids)].tolist())
    assert len(fr_ids) == len(ADDED["fr"]) and len(de_ids) == len(ADDED["de"])
    assert not fr_ids & de_ids and min(fr_ids | de_ids) >= v0
    # the shared rows hold each culture's own trained rows
    table = server.model.get_input_embeddings().weight
    for culture, adapter in (("fr", fr), ("de", de)):
        own = reference(culture).added_rows()["embedding"]
        shared = table[adapter.lut[list(adapter.token_ids)]]
        assert torch.equal(shared, own)
    assert not torch.equal(table[fr.lut[v0]], table[de.lut[v0]])
    # base ids pass through unchanged
    assert torch.equal(fr.lut[:v0], torch.arange(v0))
    # a batch where both cultures use local id v0 still matches each culture's own model
    assert_matches_reference(server, reference, ["bonjour bonjour", "danke danke"], ["fr", "de"])


def test_removed_culture_frees_its_rows_for_the_next(
    server: Any, artifacts: dict[str, Path], reference: Any
) -> None:
    start = server.adapter("fr").row_start
    used = server.describe()["shared_rows"]["added"]
    server.remove("fr")
    assert server.describe()["shared_rows"]["added"] == used - len(ADDED["fr"])
    with pytest.raises(NotServedError, match="'fr' is not served"):
        server.predict(["bonjour"], "fr")
    server.add(artifacts["fr"])
    assert server.adapter("fr").row_start == start
    assert_matches_reference(server, reference, ["bonjour merci", "danke"], ["fr", "de"])


def test_row_allocator_first_fit_merge_and_growth() -> None:
    rows = RowAllocator(100, 10)
    a, b, c = rows.allocate(3), rows.allocate(3), rows.allocate(3)
    assert (a, b, c) == (100, 103, 106)
    assert rows.allocate(2) is None and rows.used == 9
    rows.release(103, 3)
    assert rows.allocate(2) == 103  # first fit
    rows.release(103, 2)
    rows.release(100, 3)
    assert rows.free == [(100, 6), (109, 1)]  # neighbours merged
    rows.grow(20)
    assert rows.free == [(100, 6), (109, 11)]
    with pytest.raises(ValueError, match="released twice"):
        rows.release(101, 1)
    with pytest.raises(ValueError, match="outside"):
        rows.release(130, 1)


# --------------------------------------------------------------------------- hot swap
def test_hot_swap_reuses_slots_without_new_modules(
    tiny_base: Path, artifacts: dict[str, Path], reference: Any, serve_env: Any
) -> None:
    server = MultiCultureServer(str(tiny_base), slots=1, manager=serve_env, device="cpu")
    for culture in ("fr", "de", "es"):
        server.add(artifacts[culture])
    assert server.resident == ["fr"]
    def structure() -> dict[str, int]:  # slot entries point at the resident adapter's heads
        return {n: id(m) for n, m in server.model.named_modules() if ".slot_modules." not in n}

    modules = structure()
    buffers = {name: b.data_ptr() for name, b in server.model.named_buffers()}
    texts, cultures = mixed_rows()
    assert_matches_reference(server, reference, texts, cultures)  # 3 cultures through 1 slot
    assert server.stats["forwards"] == 3 and server.stats["swaps"] == 2  # fr was resident
    assert server.swap_in("es") == 0 and server.resident == ["es"]
    # swapping loaded weights into the same buffers: no module injected, nothing reallocated
    assert structure() == modules
    assert server.model.classifier.slot_modules["0"] is server.adapter("es").heads["classifier"]
    assert {name: b.data_ptr() for name, b in server.model.named_buffers()} == buffers
    assert_matches_reference(server, reference, TEXTS["es"], ["es"] * 4)


def test_swap_evicts_least_recently_used(
    tiny_base: Path, artifacts: dict[str, Path], serve_env: Any
) -> None:
    server = MultiCultureServer(str(tiny_base), slots=2, manager=serve_env, device="cpu")
    for culture in ("fr", "de", "es"):
        server.add(artifacts[culture])
    assert server.resident == ["fr", "de"]
    server.predict(["x"], "fr")  # fr used more recently than de
    server.swap_in("es")
    assert sorted(k for k in server.resident if k) == ["es", "fr"]
    assert server.adapter("de").slot is None
    assert server.stats["evictions"] == 1


# --------------------------------------------------------------------------- merge
def test_merge_equals_server_and_peft_merge_and_unload(server: Any, reference: Any, tmp_path: Path) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer
    from transformers import AutoModelForSequenceClassification

    from cultura.serve.fused import MultiLoraLinear, RoutedModule

    for culture in ("de", "fr"):
        merged = server.merge(culture)
        kinds = {type(m) for m in merged.model.modules()}
        assert not any(issubclass(k, (BaseTunerLayer, MultiLoraLinear, RoutedModule)) for k in kinds)
        texts = TEXTS[culture]
        want = server.logits(texts, culture)
        got = merged.logits(texts)
        assert got.shape == (len(texts), len(LABELS[culture]))
        for row, ref in zip(got, want, strict=True):
            assert torch.allclose(row, ref, atol=1e-4)
        own = reference(culture)
        peft_merged = copy.deepcopy(own.model).merge_and_unload()
        enc = own.encode(texts)
        with torch.no_grad():
            assert torch.allclose(peft_merged(**enc).logits, got, atol=1e-4)
    # the server still serves every culture unchanged
    texts, cultures = mixed_rows()
    assert_matches_reference(server, reference, texts, cultures)
    # saved in plain transformers format
    out = merged.save_pretrained(tmp_path / "merged-fr")
    info = json.loads((out / "cultura_merged.json").read_text(encoding="utf-8"))
    assert info["culture"] == "fr" and info["labels"] == list(LABELS["fr"])
    plain = AutoModelForSequenceClassification.from_pretrained(out).eval()
    with torch.no_grad():
        assert torch.allclose(plain(**merged.encode(TEXTS["fr"])).logits, merged.logits(TEXTS["fr"]), atol=1e-5)
    assert merged.predict(["bonjour"])[0]["label"] in LABELS["fr"]


# --------------------------------------------------------------------------- engines
def test_peft_engine_matches_and_calibrate_picks_a_measured_engine(
    tiny_base: Path, artifacts: dict[str, Path], reference: Any, serve_env: Any
) -> None:
    server = MultiCultureServer(str(tiny_base), slots=2, engine="peft", manager=serve_env, device="cpu")
    server.add(artifacts["fr"])
    server.add(artifacts["es"])  # same label count as fr: PEFT can mix them
    texts = TEXTS["fr"] + TEXTS["es"]
    cultures = ["fr", "es"] * 4
    texts = [TEXTS[c][i // 2] for i, c in enumerate(cultures)]
    assert_matches_reference(server, reference, texts, cultures)
    assert server.stats["forwards_peft"] == 1 and server.stats["forwards_fused"] == 0
    server.engine = "auto"
    result = server.calibrate(texts, cultures, repeat=1)
    assert set(result["seconds"]) == {"fused/bmm", "fused/segments", "peft"}
    assert result["engine"] in ("fused", "peft")
    best = min(result["seconds"], key=result["seconds"].get)
    assert best.startswith(result["engine"])
    assert_matches_reference(server, reference, texts, cultures)


def test_peft_engine_refuses_heads_of_other_shapes(server: Any) -> None:
    server.engine = "peft"
    with pytest.raises(ServeError, match="different number of labels"):
        server.predict(["a", "b"], ["fr", "de"])


def test_conv1d_lora_falls_back_to_peft(tmp_path: Path, serve_env: Any) -> None:
    """GPT-2's attention is a transposed Conv1D: the fused layers refuse it, PEFT runs it."""
    from cultura.adapt.model import adapt, load_pretrained
    from cultura.testing.models import build_tiny_model

    base = build_tiny_model("gpt2", tmp_path / "gpt2")
    paths = {}
    for seed, culture in enumerate(("fr", "es")):
        model = adapt(str(base), culture, "sentiment", knowledge=False, extend_vocab=False, seed=seed)
        randomize(model, 7 + seed)
        paths[culture] = model.save_pretrained(tmp_path / culture)
    server = MultiCultureServer(str(base), slots=2, manager=serve_env, device="cpu")
    for culture in paths:
        server.add(paths[culture])
    assert "Conv1D" in server.adapter("fr").fused
    refs = {c: load_pretrained(p, manager=serve_env) for c, p in paths.items()}
    texts = ["the movie was great", "the food was terrible and slow", "ok", "never again"]
    cultures = ["fr", "es", "es", "fr"]
    probs, _ = server.predict_proba(texts, cultures)
    for text, culture, row in zip(texts, cultures, probs, strict=True):
        np.testing.assert_allclose(row, refs[culture].predict_proba([text])[0][0], atol=ATOL)
    assert server.stats["forwards_peft"] == 1
    merged = server.merge("es")  # PEFT merges the transposed layers too
    assert torch.allclose(merged.logits(texts), refs["es"].logits(texts), atol=1e-4)
    server.engine = "fused"
    with pytest.raises(ServeError, match="engine='fused' cannot run fr: .*Conv1D"):
        server.predict(texts, cultures)


# --------------------------------------------------------------------------- adding
def test_add_by_registry_name_routes_by_the_names_culture(
    tiny_base: Path, artifacts: dict[str, Path], reference: Any, serve_env: Any
) -> None:
    from cultura.registry.store import LocalRegistry

    LocalRegistry().install(artifacts["de"])
    server = MultiCultureServer(manager=serve_env, device="cpu")  # base from the first adapter
    assert server.add("de-AT/sentiment") == "de-AT"  # resolved through de-AT -> de
    assert server.base_id == str(tiny_base)
    assert server.route("de-AT") == "de-AT"
    with pytest.raises(NotServedError, match="'de' is not served"):
        server.route("de")
    probs, labels = server.predict_proba(TEXTS["de"], "de-AT")
    for text, row in zip(TEXTS["de"], probs, strict=True):
        np.testing.assert_allclose(row, reference("de").predict_proba([text])[0][0], atol=ATOL)


def test_add_in_memory_model_under_another_tag_warns_and_copies(
    tiny_base: Path, reference: Any, serve_env: Any
) -> None:
    model = reference("fr")
    server = MultiCultureServer(str(tiny_base), manager=serve_env, device="cpu")
    assert server.add(model, culture="fr-CA") == "fr-CA"
    with pytest.warns(UserWarning, match="trained for 'fr' but is served as 'es'"):
        server.add(model, culture="es")
    before = server.logits(["bonjour"], "fr-CA")[0]
    randomize(model, 999)  # the server holds copies, not the caller's weights
    assert torch.equal(server.logits(["bonjour"], "fr-CA")[0], before)


def test_routing_follows_the_fallback_chain(server: Any) -> None:
    assert server.route("fr-CA") == "fr"
    assert server.route("DE_at") == "de"
    out = server.predict(["bonjour"], "fr-CA")
    assert out[0]["culture"] == "fr"
    with pytest.raises(NotServedError, match=r"'ja' is not served \(served: fr, de, es\)"):
        server.predict(["x"], "ja")


def test_route_cache_is_bounded_whatever_tags_clients_send(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cultura.serve.routing as routing

    monkeypatch.setattr(routing, "ROUTE_CACHE_SIZE", 3)
    server._route_cache.clear()
    tags = ["fr-CA", "fr-BE", "fr-CH", "fr-LU", "fr-MC", "de-AT", "de-CH"]
    assert [server.route(t) for t in tags] == ["fr"] * 5 + ["de"] * 2
    assert len(server._route_cache) == 3
    assert server.route("de-CH") == "de"  # still routed, just not remembered


def test_bad_calls_say_what_is_wrong(server: Any, artifacts: dict[str, Path]) -> None:
    with pytest.raises(ServeError, match="got 2 texts and 3 cultures"):
        server.predict(["a", "b"], ["fr", "de", "es"])
    with pytest.raises(ServeError, match=r"texts\[1\] is a int"):
        server.predict(["a", 3], "fr")
    with pytest.raises(ServeError, match="already served by"):
        server.add(artifacts["fr"])
    with pytest.raises(ServeError, match="neither an adapter directory nor an adapter name"):
        server.add("no such thing at all")
    with pytest.raises(ServeError, match="not int"):
        server.add(42)
    with pytest.raises(ServeError, match="slots must be at least 1"):
        MultiCultureServer(slots=0)
    with pytest.raises(ServeError, match="engine must be one of"):
        MultiCultureServer(engine="fast")


def test_adapter_for_other_base_weights_is_refused(
    tmp_path: Path, artifacts: dict[str, Path], reference: Any, serve_env: Any
) -> None:
    from cultura.core.errors import CulturaError
    from cultura.testing.models import build_tiny_model

    other = build_tiny_model("bert", tmp_path / "same-config-other-seed", seed=5)
    server = MultiCultureServer(str(other), manager=serve_env, device="cpu")
    # an in-memory model carries its base weights: they are compared with the server's
    with pytest.raises(UnsupportedAdapterError, match="other base weights .* parameter bert\\."):
        server.add(reference("fr"))
    # a directory is loaded onto the server's base: the manifest's weight digest differs
    with pytest.raises(CulturaError, match="base model mismatch.*different weights"):
        server.add(artifacts["de"])


def test_non_lora_and_non_classifier_adapters_are_refused(
    tmp_path: Path, tiny_base: Path, serve_env: Any
) -> None:
    from cultura.core.types import PeftSpec

    ia3 = build_artifact(tiny_base, tmp_path / "ia3", "es", 3, knowledge=False,
                         peft=PeftSpec(method="ia3"))
    reset = make_manager()
    server = MultiCultureServer(str(tiny_base), manager=reset, device="cpu")
    with pytest.raises(UnsupportedAdapterError, match="serves LoRA adapters; this one uses ia3"):
        server.add(ia3)


def test_import_does_not_load_torch() -> None:
    code = ("import sys, cultura.serve, cultura.serve.cli, cultura.serve.errors; "
            "print(sorted(m for m in ('torch', 'transformers', 'peft', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_decoder_base_mixed_batch_with_added_tokens(tmp_path: Path, serve_env: Any) -> None:
    """A LLaMA-style decoder classifies from the last non-pad token: padding a culture's rows
    to a longer mixed batch must not move it; fr's added tokens go through the shared table."""
    from cultura.adapt.model import adapt
    from cultura.testing.models import build_tiny_model

    base = build_tiny_model("llama", tmp_path / "llama")
    models = {}
    for seed, culture in enumerate(("fr", "es")):
        model = adapt(str(base), culture, "sentiment", knowledge=False, seed=seed)
        randomize(model, 20 + seed)
        models[culture] = model
    assert models["fr"].added.tokens == ADDED["fr"]
    server = MultiCultureServer(str(base), slots=2, manager=serve_env, device="cpu")
    for model in models.values():
        server.add(model)
    assert not server.adapter("fr").fused  # q_proj/v_proj are plain linear layers
    texts = ["bonjour", "the food was terrible and the service was slow", "merci merci", "ok"]
    cultures = ["fr", "es", "fr", "es"]
    probs, _ = server.predict_proba(texts, cultures)
    for text, culture, row in zip(texts, cultures, probs, strict=True):
        np.testing.assert_allclose(row, models[culture].predict_proba([text])[0][0], atol=ATOL)
    merged = server.merge("fr")
    assert torch.allclose(merged.logits(["bonjour merci"]), models["fr"].logits(["bonjour merci"]), atol=1e-4)


def test_a_wide_adapter_is_refused_by_name(server: Any, tmp_path: Path) -> None:
    """A wide tagger (no network to batch) is an adapter the server cannot run: refused,
    naming what it is and what to use, and the served cultures stay as they were."""
    from cultura.adapt.tagger import fit_wide_tagger

    rows = [{"tokens": ["je", "vis", "à", "Paris"], "tags": ["O", "O", "O", "B-LOC"]},
            {"tokens": ["Lyon", "est", "loin"], "tags": ["B-LOC", "O", "O"]}] * 3
    directory = fit_wide_tagger(rows, "fr", progress=False).save_pretrained(tmp_path / "w", task="ner")
    before = list(server.cultures)
    with pytest.raises(ServeError, match="cultura serve needs a PEFT adapter; this is a wide tagger"):
        server.add(directory, culture="fr-CA")
    assert server.cultures == before
