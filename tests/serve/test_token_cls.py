"""Token-classification adapters served in mixed batches: each row's words and entities equal
its culture's own ``CulturalModel.predict``; one head family per server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cultura import hookimpl
from cultura.core.plugins import PluginManager
from cultura.core.tags import Culture
from cultura.core.types import AdapterHeadSpec, PeftSpec
from cultura.serve import MultiCultureServer, ServeError, UnsupportedAdapterError

from .conftest import TEXTS, ServeTestPlugin, randomize

#: BIO tags in each culture's language; de has two entity types (5 labels)
NER = {"fr": ("O", "B-LIEU", "I-LIEU"), "de": ("O", "B-ORT", "I-ORT", "B-PER", "I-PER"),
       "es": ("O", "B-LUGAR", "I-LUGAR")}


class NerPlugin(ServeTestPlugin):
    """The serving test cultures (added tokens, ß folding, knowledge) with NER heads."""

    @hookimpl
    def cultura_adapter_heads(self, culture: Culture) -> list[AdapterHeadSpec] | None:
        if culture.tag not in NER:
            return None
        return [
            AdapterHeadSpec("ner", "token-cls", labels=NER[culture.tag],
                            peft=PeftSpec(r=4, alpha=8, dropout=0.0)),
            AdapterHeadSpec("sentiment", "seq-cls", labels=("neg", "pos"),
                            peft=PeftSpec(r=4, alpha=8, dropout=0.0)),
        ]


def ner_manager() -> PluginManager:
    pm = PluginManager(entry_points=False)
    assert pm.register(NerPlugin(), name="nertest", distribution="cultura-nertest",
                       version="1.0").status == "active"
    return pm


@pytest.fixture(scope="module")
def ner_artifacts(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from cultura.adapt.model import adapt

    root = tmp_path_factory.mktemp("ner-artifacts")
    out = {}
    for seed, culture in enumerate(NER):
        model = adapt(str(tiny_base), culture, "ner", seed=seed, manager=ner_manager(),
                      **({"knowledge": True} if culture == "es" else {}))
        randomize(model, 200 + seed)
        out[culture] = model.save_pretrained(root / culture)
    return out


def rows() -> tuple[list[str], list[str]]:
    """Interleaved rows (fr, de, es, fr, ...) with the cultures' added words, ß and knowledge."""
    texts = [*TEXTS["fr"], *TEXTS["de"], "Große Strasse in Berlin, hallo!", *TEXTS["es"]]
    cultures = ["fr"] * 4 + ["de"] * 5 + ["es"] * 4
    order = [i for k in range(5) for i in (k, 4 + k, 9 + k) if i < len(texts) and (i < 9 or k < 4)]
    return [texts[i] for i in order], [cultures[i] for i in order]


def serve(artifacts: dict[str, Path], base: Path, **kw: Any) -> MultiCultureServer:
    server = MultiCultureServer(str(base), manager=ner_manager(), device="cpu", **kw)
    for culture in artifacts:
        server.add(artifacts[culture])
    return server


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["text"] == want["text"]
    assert [(w["word"], w["label"], w["start"], w["end"]) for w in got["words"]] == [
        (w["word"], w["label"], w["start"], w["end"]) for w in want["words"]]
    assert got["words"] and all(
        abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(got["words"], want["words"], strict=True))
    assert [(e["type"], e["start"], e["end"], e["text"]) for e in got["entities"]] == [
        (e["type"], e["start"], e["end"], e["text"]) for e in want["entities"]]
    assert all(abs(a["score"] - b["score"]) < 1e-5
               for a, b in zip(got["entities"], want["entities"], strict=True))


@pytest.mark.parametrize("mixed", ["segments", "bmm"])
def test_a_mixed_batch_tags_every_row_as_its_culture_alone(ner_artifacts, tiny_base, mixed) -> None:
    from cultura.adapt.model import load_pretrained

    server = serve(ner_artifacts, tiny_base, slots=3, mixed=mixed)
    assert server.head_type == "token-cls"
    texts, cultures = rows()
    assert len(set(cultures[:3])) == 3  # no culture is contiguous
    got = server.predict(texts, cultures)
    references = {c: load_pretrained(ner_artifacts[c], manager=ner_manager(), dtype="float32") for c in NER}
    entities = 0
    for text, culture, result in zip(texts, cultures, got, strict=True):
        want = references[culture].predict([text])[0]
        assert result["culture"] == culture
        assert_same(result, want)
        labels = {w["label"] for w in result["words"]}
        assert labels <= set(NER[culture])  # each row in its own culture's tag set
        entities += len(result["entities"])
    assert entities > 0  # the comparison covers entity spans, not only "O" rows
    # the de normalizer folded ß before splitting: offsets refer to the normalized text
    berlin = got[texts.index("Große Strasse in Berlin, hallo!")]
    assert berlin["text"] == "Grosse Strasse in Berlin, hallo!"
    assert berlin["words"][0]["word"] == "Grosse"
    assert server.stats["forwards_fused"] >= 1


def test_more_cultures_than_slots_and_the_peft_engine(ner_artifacts, tiny_base) -> None:
    from cultura.adapt.model import load_pretrained

    texts, cultures = rows()
    one_slot = serve(ner_artifacts, tiny_base, slots=1)
    # PEFT mixes only same-shaped heads: fr and es (3 labels each)
    peft = serve({c: ner_artifacts[c] for c in ("fr", "es")}, tiny_base, engine="peft")
    pairs = [(t, c) for t, c in zip(texts, cultures, strict=True) if c != "de"]
    references = {c: load_pretrained(ner_artifacts[c], manager=ner_manager(), dtype="float32") for c in NER}
    for result, text, culture in zip(one_slot.predict(texts, cultures), texts, cultures, strict=True):
        assert_same(result, references[culture].predict([text])[0])
    got = peft.predict([t for t, _ in pairs], [c for _, c in pairs])
    for result, (text, culture) in zip(got, pairs, strict=True):
        assert_same(result, references[culture].predict([text])[0])
    assert one_slot.stats["swaps"] > 0 and peft.stats["forwards_peft"] >= 1


def test_one_head_family_per_server(ner_artifacts, tiny_base, tmp_path) -> None:
    from cultura.adapt.model import adapt

    sentiment = adapt(str(tiny_base), "fr", "sentiment", manager=ner_manager())
    server = serve({"fr": ner_artifacts["fr"]}, tiny_base)
    with pytest.raises(UnsupportedAdapterError, match=r"seq-cls adapter.*serves token-cls.*"
                       r"second server.*head_type='seq-cls'"):
        server.add(sentiment, culture="de")
    with pytest.raises(ServeError, match=r"serves token-cls adapters; use server.predict"):
        server.predict_proba(["bonjour"], "fr")
    with pytest.raises(ServeError, match=r"use server.predict"):
        server.generate(["bonjour"], "fr")
    # an explicit head type is kept from the start; the first adapter cannot change it
    typed = MultiCultureServer(str(tiny_base), head_type="seq-cls", manager=ner_manager(), device="cpu")
    with pytest.raises(UnsupportedAdapterError, match=r"token-cls adapter.*serves seq-cls"):
        typed.add(ner_artifacts["fr"])
    with pytest.raises(ServeError, match=r"head_type must be one of"):
        MultiCultureServer(head_type="masked-lm")
    # a server without head type takes its first adapter's, reloading its base for that head
    untyped = MultiCultureServer(str(tiny_base), manager=ner_manager(), device="cpu")
    untyped.add(ner_artifacts["de"])
    assert untyped.head_type == "token-cls" and untyped.describe()["head_type"] == "token-cls"


def test_post_predict_tags_words_on_a_token_cls_server(ner_artifacts, tiny_base) -> None:
    pytest.importorskip("starlette", reason="the 'serve' extra is not installed")
    from starlette.testclient import TestClient

    from cultura.serve.http import create_app

    server = serve(ner_artifacts, tiny_base, slots=3)
    texts, cultures = rows()
    with TestClient(create_app(server, max_batch_size=8, max_wait_ms=2)) as client:
        r = client.post("/predict", json={"inputs": [{"text": t, "culture": c}
                                                     for t, c in zip(texts, cultures, strict=True)]})
        assert r.status_code == 200, r.text
        for got, want in zip(r.json()["predictions"], server.predict(texts, cultures), strict=True):
            assert got["culture"] == want["culture"]
            assert_same(got, want)
        r = client.post("/generate", json={"text": "bonjour", "culture": "fr"})
        assert r.status_code == 422 and "POST /predict" in r.json()["error"]
