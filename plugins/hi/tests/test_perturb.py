"""cultura-hi perturbations: each changes ordinary Hindi text, is deterministic; encoding
variants (precomposed nukta, joiners) are undone by the culture's normalizers."""

from __future__ import annotations

from cultura_hi.perturb import PERTURBATIONS

import cultura

TEXTS = ["ज़िंदगी में ख़ुशी बहुत ज़रूरी है। हाँ, मैं कल स्कूल आऊँगा, क्या तुम भी आओगे।",
         "इस फ़िल्म की कहानी क्या शानदार थी, हम ज़रूर फिर देखेंगे।"]


def test_every_perturbation_changes_ordinary_text_and_is_deterministic() -> None:
    for p in PERTURBATIONS:
        out = p.apply(TEXTS, seed=0)
        assert any(a != b for a, b in zip(TEXTS, out, strict=True)), p.id
        assert out == p.apply(TEXTS, seed=0), p.id


def test_what_each_changes() -> None:
    by_id = {p.id: p for p in PERTURBATIONS}
    assert by_id["hi.nukta.dropped"].apply(["ज़िंदगी ख़ुश"]) == ["जिंदगी खुश"]
    assert by_id["hi.nukta.precomposed"].apply(["ज़"]) == ["\u095b"]
    assert by_id["hi.chandrabindu"].apply(["हाँ माँ"]) == ["हां मां"]
    assert by_id["hi.danda"].apply(["ठीक है।"]) == ["ठीक है."]
    joined = by_id["hi.joiners"].apply(["क्या स्कूल"], seed=0)[0]
    assert joined.replace("\u200d", "").replace("\u200c", "") == "क्या स्कूल"
    profile = cultura.culture("hi")
    for pid in ("hi.nukta.precomposed", "hi.joiners"):  # encodings: normalized back
        assert profile.normalize(by_id[pid].apply(TEXTS, seed=1)) == profile.normalize(TEXTS)
