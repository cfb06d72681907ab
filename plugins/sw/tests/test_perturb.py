"""cultura-sw perturbations: each changes ordinary Swahili text, is deterministic; the ng'
apostrophe variants are real keyboard forms."""

from __future__ import annotations

from cultura_sw.perturb import APOSTROPHES, PERTURBATIONS

import cultura

TEXTS = ["Ng'ombe wa Juma alipotea jana, lakini wamempata leo asubuhi.",
         "Nimefurahi sana kukutana nawe Nairobi; tutaonana ng'ambo ya mto."]


def test_every_perturbation_changes_ordinary_text_and_is_deterministic() -> None:
    for p in PERTURBATIONS:
        out = p.apply(TEXTS, seed=0)
        assert all(a != b for a, b in zip(TEXTS, out, strict=True)), p.id
        assert out == p.apply(TEXTS, seed=0), p.id


def test_apostrophes_and_casing() -> None:
    by_id = {p.id: p for p in PERTURBATIONS}
    seen = {by_id["sw.apostrophe"].apply(["ng'ombe"], seed=s)[0] for s in range(40)}
    assert seen == {f"ng{a}ombe" for a in APOSTROPHES}
    profile = cultura.culture("sw")
    # the typographic apostrophes fold back; a dropped one does not
    assert profile.normalize("ng\u2019ombe") == "ng'ombe" != profile.normalize("ngombe")
    assert by_id["sw.lowercase"].apply(["Habari Nairobi"]) == ["habari nairobi"]
    assert by_id["sw.uppercase"].apply(["Habari"]) == ["HABARI"]
