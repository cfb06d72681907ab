"""cultura-ar perturbations: each changes ordinary Arabic text, keeps its letters (the culture's
normalizers undo the diacritics and kashida), is deterministic, and ar-EG has its own Arabizi."""

from __future__ import annotations

import re

from cultura_ar.perturb import ARABIZI, PERTURBATIONS, informal_spelling

import cultura

TEXTS = ["أنا سعيدة جداً بهذه الخدمة، شكراً لكم على المساعدة.",
         "الطعام في هذا المطعم لذيذ والأسعار مناسبة.", "هل ستأتي إلى القاهرة غداً؟"]


def test_every_perturbation_changes_ordinary_text_and_is_deterministic() -> None:
    for p in PERTURBATIONS:
        out = p.apply(TEXTS, seed=0)
        assert all(a != b for a, b in zip(TEXTS, out, strict=True)), p.id
        assert out == p.apply(TEXTS, seed=0), p.id


def test_diacritics_and_kashida_keep_the_letters() -> None:
    profile = cultura.culture("ar")
    by_id = {c.key: c.value for c in profile.perturbations}
    for pid in ("ar.harakat", "ar.tatweel"):
        out = by_id[pid].apply(TEXTS, seed=3)
        assert profile.normalize(out) == profile.normalize(TEXTS), pid  # only marks were added
    assert re.search("[\u064e-\u0652]", by_id["ar.harakat"].apply(TEXTS, seed=3)[0])
    assert "\u0640" in "".join(by_id["ar.tatweel"].apply(TEXTS, seed=3))


def test_spelling_and_arabizi() -> None:
    assert informal_spelling("أنا في المدرسة على") == "انا في المدرسه علي"
    by_id = {p.id: p for p in PERTURBATIONS}
    words = by_id["ar.arabizi"].apply(["شكراً حبيبي"] * 1, seed=0)[0]
    assert set(words) - set(" ًشكراحبي")  # some Latin letters or digits
    assert "".join(ARABIZI[c] for c in "حبيبي") == "7byby"
    eg = {c.key: c for c in cultura.culture("ar-EG").perturbations}["ar.arabizi"]
    assert eg.level == "ar-EG" and "ج=g" in eg.value.description
    outs = {eg.value.apply(["جميل قلبي"], seed=s)[0] for s in range(20)}
    assert "gmyl 2lby" in outs
