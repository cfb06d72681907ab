"""Causal-LM adapters served: a mixed batch of cultures continued in one decode loop gives each
row the tokens (and scores) its culture's own ``CulturalModel.predict`` gives; added
vocabulary through the shared input and output tables; sampling; refusals; ``POST /generate``."""

from __future__ import annotations

from typing import Any

import pytest

from cultura.serve import MultiCultureServer, ServeError, UnsupportedAdapterError

from .conftest import TEXTS, make_manager, randomize

NEW = 8  # tokens generated per row


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def lm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny decoder (LLaMA: untied LM head, fused engine; GPT-2: tied head, Conv1D layers on
    the PEFT engine) and a randomized language adapter (built-in task ``lm``) per test culture:
    fr and de add tokens (both numbered from the base vocabulary up), de folds ß, es puts its
    knowledge into the prompt."""
    from cultura.adapt.model import adapt
    from cultura.testing.models import build_tiny_model

    root = tmp_path_factory.mktemp(f"lm-{request.param}")
    base = build_tiny_model(request.param, root / "base")
    artifacts = {}
    for seed, culture in enumerate(("fr", "de", "es")):
        model = adapt(str(base), culture, "lm", seed=seed, manager=make_manager(),
                      **({"knowledge": True} if culture == "es" else {}))
        randomize(model, 300 + seed)
        artifacts[culture] = model.save_pretrained(root / culture)
    return {"kind": request.param, "base": base, "artifacts": artifacts}


def mixed() -> tuple[list[str], list[str]]:
    texts, cultures = [], []
    for i in range(4):
        for c in ("fr", "de", "es"):
            texts.append(TEXTS[c][i])
            cultures.append(c)
    return texts, cultures


def serve(lm: dict[str, Any], **kw: Any) -> MultiCultureServer:
    server = MultiCultureServer(str(lm["base"]), manager=make_manager(), device="cpu", **kw)
    for directory in lm["artifacts"].values():
        server.add(directory)
    return server


@pytest.mark.parametrize("engine", ["auto", "peft"])
def test_a_mixed_batch_generates_what_each_culture_alone_does(lm, engine) -> None:
    from cultura.adapt.model import load_pretrained

    server = serve(lm, engine=engine, slots=3)
    assert server.head_type == "causal-lm"
    texts, cultures = mixed()
    got = server.generate(texts, cultures, max_new_tokens=NEW)
    assert server.stats["generate_batches"] == 1  # twelve rows, three cultures: one decode loop
    references = {c: load_pretrained(d, manager=make_manager(), dtype="float32") for c, d in lm["artifacts"].items()}
    added = 0
    for text, culture, row in zip(texts, cultures, got, strict=True):
        want = references[culture].predict([text], max_new_tokens=NEW)[0]
        assert (row["culture"], row["text"]) == (culture, text)
        assert row["generated"] == want["generated"]
        assert row["score"] == pytest.approx(want["score"], abs=1e-4)
        tokenizer = references[culture].tokenizer
        assert tokenizer.decode(row["token_ids"], skip_special_tokens=True) == want["generated"]
        added += sum(t >= references[culture].added.vocab_size_before for t in row["token_ids"])
    # the cultures' own added tokens were generated, through the shared output rows
    assert added > 0
    engines = {"auto": "fused" if lm["kind"] == "llama" else "peft", "peft": "peft"}[engine]
    assert server.stats[f"generate_batches_{engines}"] == 1


def test_sampling_is_seeded_and_stays_in_each_cultures_vocabulary(lm) -> None:
    server = serve(lm)
    texts, cultures = mixed()
    one = server.generate(texts, cultures, max_new_tokens=NEW, do_sample=True, seed=7, temperature=2.0)
    two = server.generate(texts, cultures, max_new_tokens=NEW, do_sample=True, seed=7, temperature=2.0)
    greedy = server.generate(texts, cultures, max_new_tokens=NEW)
    assert [r["token_ids"] for r in one] == [r["token_ids"] for r in two]
    assert [r["token_ids"] for r in one] != [r["token_ids"] for r in greedy]
    for row in one:
        vocabulary = server.adapter(row["culture"]).encoder.added.vocab_size_after
        assert all(0 <= t < vocabulary for t in row["token_ids"])
    with pytest.raises(ServeError, match="temperature must be above 0"):
        server.generate(texts, cultures, do_sample=True, temperature=0.0)
    with pytest.raises(ServeError, match="max_new_tokens must be at least 1"):
        server.generate(texts, cultures, max_new_tokens=0)


def test_generation_and_classification_are_separate_servers(lm, tiny_base, artifacts) -> None:
    from cultura.adapt.model import adapt

    server = serve(lm)
    with pytest.raises(ServeError, match=r"serves causal-lm adapters; use server.generate"):
        server.predict(["bonjour"], "fr")
    sentiment = adapt(str(lm["base"]), "fr", "sentiment", manager=make_manager())
    with pytest.raises(UnsupportedAdapterError, match=r"seq-cls adapter.*serves causal-lm.*second server"):
        server.add(sentiment, culture="fr-CA")
    classifier = MultiCultureServer(str(tiny_base), manager=make_manager(), device="cpu")
    classifier.add(artifacts["fr"])
    with pytest.raises(ServeError, match=r"serves seq-cls adapters; use server.predict"):
        classifier.generate(["bonjour"], "fr")


def test_an_adapter_on_the_lm_head_itself_is_refused(lm, tmp_path) -> None:
    from cultura.adapt.model import adapt
    from cultura.core.types import PeftSpec

    if lm["kind"] != "llama":
        pytest.skip("one architecture is enough for the refusal")
    model = adapt(str(lm["base"]), "es", "lm", manager=make_manager(),  # es adds no tokens
                  peft=PeftSpec(target_modules=("q_proj", "lm_head")))
    server = serve(lm)
    with pytest.raises(UnsupportedAdapterError, match=r"changes the LM head \(lm_head\) itself"):
        server.add(model, culture="es-MX")
    assert server.cultures == ["fr", "de", "es"]


def test_post_generate(lm) -> None:
    pytest.importorskip("starlette", reason="the 'serve' extra is not installed")
    from starlette.testclient import TestClient

    from cultura.serve.http import Limits, create_app

    server = serve(lm)
    app = create_app(server, limits=Limits(max_new_tokens=16, max_generate_items=3))
    with TestClient(app) as client:
        r = client.post("/generate", json={"text": TEXTS["fr"][0], "culture": "fr-CA",
                                           "max_new_tokens": NEW})
        assert r.status_code == 200, r.text
        want = server.generate([TEXTS["fr"][0]], "fr", max_new_tokens=NEW)[0]
        assert r.json()["culture"] == "fr" and r.json()["generated"] == want["generated"]
        assert r.json()["token_ids"] == want["token_ids"]
        r = client.post("/generate", json={"culture": "de", "max_new_tokens": 4, "inputs": [
            {"text": "hallo große strasse"}, {"text": "the spring festival", "culture": "es"}]})
        assert r.status_code == 200, r.text
        rows = r.json()["generations"]
        assert [g["culture"] for g in rows] == ["de", "es"] and all(len(g["token_ids"]) <= 4 for g in rows)
        sampled = [client.post("/generate", json={"text": "bonjour", "culture": "fr", "do_sample": True,
                                                  "seed": 3, "temperature": 1.5}).json() for _ in range(2)]
        assert sampled[0]["token_ids"] == sampled[1]["token_ids"]
        for body, status, field in [
            ({"text": "x", "culture": "fr", "max_new_tokens": 17}, 422, "max_new_tokens"),
            ({"text": "x", "culture": "fr", "max_new_tokens": True}, 422, "max_new_tokens"),
            ({"text": "x", "culture": "fr", "temperature": 0}, 422, "temperature"),
            ({"text": "x", "culture": "fr", "seed": -1}, 422, "seed"),
            ({"text": "x", "culture": "fr", "do_sample": "yes"}, 422, "do_sample"),
            ({"text": "x", "culture": "fr", "top_k": 2}, 422, "top_k"),
            ({"culture": "fr", "inputs": [{"text": "x"}] * 4}, 413, "inputs"),
            ({"text": "x", "culture": "ja"}, 422, "culture"),
        ]:
            r = client.post("/generate", json=body)
            assert r.status_code == status and r.json().get("field") == field, (body, r.text)
        r = client.post("/predict", json={"text": "bonjour", "culture": "fr"})
        assert r.status_code == 422 and "POST /generate" in r.json()["error"]
        assert client.get("/health").json()["head_type"] == "causal-lm"
