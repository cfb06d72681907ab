"""Explanations: completeness, the planted keyword, mapping back through normalizers and added
vocabulary, rendering (hostile text in HTML), and ``cultura explain`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cultura.cli import cli
from cultura.core.errors import CulturaError
from cultura.core.plugins import reset_plugin_manager
from cultura.explain import align, render, spearman

from .conftest import KEYWORD, fold, keyword_data

#: completeness tolerance: |sum of IG attributions - (f(x) - f(x'))| must stay within 1% of
#: the logit difference plus 1e-4 (the quadrature and float32 rounding), at STEPS nodes: the
#: tiny keyword model, trained hard at a high learning rate, has a logit that jumps by 0.5
#: within 1/400 of the path on some texts (its delta there: 1.86 at 50 nodes, 0.58 at 200,
#: 1e-5 at 1000); a forward pass of it costs next to nothing
REL_TOL, ABS_TOL = 0.01, 1e-4
STEPS = 1000

HELD_OUT = [row["text"] for row in keyword_data(6, 7) if row["label"] == "yes"]


def within_tolerance(explanation: Any) -> bool:
    gap = explanation.logit - explanation.baseline_logit
    return abs(explanation.convergence_delta) <= REL_TOL * abs(gap) + ABS_TOL


# ----------------------------------------------------------------------------- alignment
def test_alignment_maps_length_changing_normalization_back() -> None:
    original = "ＡＢ ﻻ كـتـاب 软件!"
    (alignment,) = align([original], fold)
    assert alignment.normalized == "ab لا كتاب 軟體!"

    def back(fragment: str) -> str:
        start = alignment.normalized.index(fragment)
        span = alignment.original_span(start, start + len(fragment))
        assert span is not None
        return original[span[0] : span[1]]

    assert back("ab") == "ＡＢ" and back("b") == "Ｂ"  # width folding, one to one
    assert back("لا") == "ﻻ" and back("ل") == "ﻻ"  # a ligature decomposed: two from one
    assert back("كتاب") == "كـتـاب"  # tatweel removed inside the word
    assert back("軟體") == "软件" and back("體") == "件"  # a phrase converted in context
    assert back("!") == "!"
    assert alignment.original_span(3, 3) is None


def test_alignment_of_deleted_and_inserted_characters() -> None:
    def squash(texts: list[str]) -> list[str]:  # white-space runs folded, ends stripped
        return [" ".join(t.split()) for t in texts]

    original = "  a   bc  d "
    (alignment,) = align([original], squash)
    assert alignment.normalized == "a bc d"
    start = alignment.normalized.index("bc")
    assert original[slice(*alignment.original_span(start, start + 2))] == "bc"
    assert original[slice(*alignment.original_span(5, 6))] == "d"
    assert all(0 <= s < e <= len(original) for s, e in alignment.spans)


def test_spearman() -> None:
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [5, 5, 9]) == pytest.approx(1.0)  # ties: average ranks
    assert spearman([1, 2], [3, 3]) is None and spearman([1], [1]) is None


# ----------------------------------------------------------------------------- attributions
def test_completeness_within_tolerance(keyword_model: Any) -> None:
    explanations = keyword_model.explain(HELD_OUT[:4] + ["nothing special at the station"],
                                         target="yes", steps=STEPS)
    for e in explanations:
        assert e.convergence_delta is not None and e.steps == STEPS
        assert within_tolerance(e), (e.text, e.convergence_delta, e.logit - e.baseline_logit)
        text_ig = sum(p.ig for p in e.pieces if p.segment == "text")
        assert sum(p.ig for p in e.pieces) == pytest.approx(text_ig)  # specials: exactly 0
        assert sum(w.ig for w in e.words) == pytest.approx(text_ig, abs=1e-6)
    # the keyword texts are far from the baseline: the check is not passed by a tiny gap
    assert all(abs(e.logit - e.baseline_logit) > 0.5 for e in explanations[:4])
    # the logit explained is the model's (the embeddings path equals the ids path)
    logits = keyword_model.logits(HELD_OUT[:4])
    assert [e.logit for e in explanations[:4]] == pytest.approx(logits[:, 0].tolist(), abs=1e-4)
    coarse = keyword_model.explain(HELD_OUT[:4], target="yes", steps=1, cross_check=False)
    assert max(abs(e.convergence_delta) for e in coarse) > max(
        abs(e.convergence_delta) for e in explanations[:4])
    assert all(render.converged(e) for e in explanations)
    assert not all(render.converged(e) for e in coarse)
    assert any("NOT CONVERGED" in render.summary(e) for e in coarse)


def test_a_broken_attribution_fails_completeness(keyword_model: Any) -> None:
    """Gradient times the wrong input (x instead of x - x'), the classic bug, misses the
    completeness tolerance the real attributions meet."""
    import numpy as np
    import torch

    from cultura.adapt.cultural_model import _base_model

    (e,) = keyword_model.explain(HELD_OUT[:1], target="yes", steps=STEPS)
    device = next(keyword_model.model.parameters()).device
    enc = {k: v.to(device) for k, v in keyword_model.encode(HELD_OUT[:1]).items()}
    embeddings = _base_model(keyword_model.model).get_input_embeddings()
    with torch.no_grad():
        x = embeddings(enc["input_ids"])
        baseline = enc["input_ids"].clone()
        baseline[0, 1:-1] = keyword_model.tokenizer.pad_token_id
        x0 = embeddings(baseline)
    nodes, weights = np.polynomial.legendre.leggauss(STEPS)
    alphas = torch.tensor((nodes + 1) / 2, dtype=x.dtype, device=device).view(-1, 1, 1)
    points = (x0 + alphas * (x - x0)).requires_grad_(True)
    out = keyword_model.model(inputs_embeds=points,
                              attention_mask=enc["attention_mask"].expand(STEPS, -1),
                              token_type_ids=enc["token_type_ids"].expand(STEPS, -1))
    (grads,) = torch.autograd.grad(out.logits[:, 0].sum(), points)
    total = (grads * torch.tensor(weights / 2, dtype=x.dtype, device=device).view(-1, 1, 1)).sum(dim=0)
    broken = float((x[0] * total).sum())
    right = float(((x - x0)[0] * total).sum())
    gap = e.logit - e.baseline_logit
    assert abs(right - gap) <= REL_TOL * abs(gap) + ABS_TOL
    assert abs(broken - gap) > REL_TOL * abs(gap) + ABS_TOL


def test_planted_keyword_is_the_explanation(keyword_model: Any) -> None:
    explanations = [e for e in keyword_model.explain(HELD_OUT, target="yes") if e.predicted == "yes"]
    assert len(explanations) >= 4, "the model misses the keyword in most held-out texts"
    for e in explanations:
        by_ig = max(e.words, key=lambda w: w.ig)
        by_occlusion = max(e.words, key=lambda w: w.occlusion)
        assert by_ig.text == KEYWORD, (e.text, [(w.text, w.ig) for w in e.words])
        assert by_occlusion.text == KEYWORD, (e.text, [(w.text, w.occlusion) for w in e.words])
        assert e.top(1)[0].text == KEYWORD and e.rank_agreement is not None
    occlusion = keyword_model.explain(HELD_OUT[:2], method="occlusion", cross_check=False)
    for e in occlusion:
        assert e.method == "occlusion" and e.steps == 0 and e.convergence_delta is None
        assert e.rank_agreement is None and all(p.ig is None for p in e.pieces)
        assert e.top(1)[0].text == KEYWORD and e.top(1)[0].score == e.top(1)[0].occlusion


def test_words_map_back_through_normalizers_and_added_vocabulary(keyword_model: Any) -> None:
    text = "ＡＢ ﻻ كـتـاب 软件 春节 Excellent!"
    (e,) = keyword_model.explain(text)
    assert e.normalized == "ab لا كتاب 軟體 春节 excellent!"
    assert [w.text for w in e.words] == ["ＡＢ", "ﻻ", "كـتـاب", "软件", "春节", "Excellent", "!"]
    assert all(text[w.start : w.end] == w.text for w in e.words)
    pieces = {p.token: p for p in e.pieces if p.segment == "text"}
    assert pieces["軟體"].added and text[pieces["軟體"].start : pieces["軟體"].end] == "软件"
    assert pieces["春节"].added and text[pieces["春节"].start : pieces["春节"].end] == "春节"
    spring = next(w for w in e.words if w.text == "春节")  # one added piece: one word
    assert [e.pieces[i].token for i in spring.pieces] == ["春节"]
    ab = next(w for w in e.words if w.text == "ＡＢ")  # two pieces of one word
    assert [e.pieces[i].token for i in ab.pieces] == ["a", "##b"]
    assert [e.pieces[i].start for i in ab.pieces] == [0, 1]
    assert e.top(1)[0].text == "Excellent"


def test_token_classification_explains_one_word(tiny_bert: Path, manager: Any) -> None:
    from cultura.adapt.model import adapt

    model = adapt(str(tiny_bert), culture="zh", task="ner", manager=manager, seed=0)
    (e,) = model.explain("ＡＢ went to the station", token="station", target="B-LOC")
    assert e.head_type == "token-cls" and e.target == "B-LOC"
    assert e.focus is not None and e.text[e.focus[0] : e.focus[1]] == "station"
    assert within_tolerance(e)
    (by_index,) = model.explain("ＡＢ went to the station", token=0, target="B-LOC")
    assert by_index.text[slice(*by_index.focus)] == "ＡＢ"  # index of predict's words
    (default,) = model.explain("ＡＢ went to the station")
    assert default.focus is not None
    with pytest.raises(CulturaError, match="not a word"):
        model.explain("the station", token="train")
    with pytest.raises(CulturaError, match="out of range"):
        model.explain("the station", token=5)


def test_refusals_name_what_works(keyword_model: Any, tiny_bert: Path, manager: Any) -> None:
    from cultura.adapt.model import adapt

    with pytest.raises(CulturaError, match="ig, occlusion"):
        keyword_model.explain("x", method="shap")
    with pytest.raises(CulturaError, match="yes, no"):
        keyword_model.explain("x", target="maybe")
    with pytest.raises(CulturaError, match="leave token out"):
        keyword_model.explain("x", token="x")
    with pytest.raises(CulturaError, match="positive integer"):
        keyword_model.explain("x", steps=0)
    lm = adapt(str(tiny_bert), culture="zh", task="lm", manager=manager)
    with pytest.raises(CulturaError, match="seq-cls and token-cls heads"):
        lm.explain("the station")


def test_importing_explain_imports_no_torch() -> None:
    code = "import sys, cultura.explain, cultura.explain.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- rendering
HOSTILE = '<script>alert(1)</script> "q" & <img src=x onerror=alert(2)> excellent'


def test_html_is_self_contained_and_escapes_hostile_text(keyword_model: Any) -> None:
    from html.parser import HTMLParser

    class Page(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: set[str] = set()
            self.attributes: set[str] = set()
            self.texts: list[str] = []
            self._depth = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.add(tag)
            self.attributes.update(name for name, _ in attrs)
            if tag == "div" and ("class", "text") in attrs:
                self.texts.append("")
                self._depth = 1
            elif self._depth and tag == "span":
                self._depth += 1

        def handle_endtag(self, tag: str) -> None:
            if self._depth and tag in ("span", "div"):
                self._depth -= 1

        def handle_data(self, data: str) -> None:
            if self._depth:
                self.texts[-1] += data

    explanations = keyword_model.explain([HOSTILE])
    page = render.to_html({"<b>zh</b>": explanations, "other": explanations})
    parsed = Page()
    parsed.feed(page)
    # only the page's own tags and attributes: nothing of the text became markup
    assert parsed.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "p", "span",
                           "table", "tr", "th", "td", "div"}
    assert parsed.attributes <= {"charset", "class", "dir", "title", "style"}
    assert parsed.texts == [HOSTILE, HOSTILE]  # shown verbatim, in both columns
    assert "&lt;b&gt;zh&lt;/b&gt;" in page and "<b>" not in page
    assert "http" not in page and "url(" not in page and "@import" not in page
    assert page.count('class="w"') == 2 * len(explanations[0].words)


def test_text_and_rich_rendering(keyword_model: Any) -> None:
    from rich.console import Console

    explanations = keyword_model.explain(["the food was excellent"])
    plain = render.to_text(explanations)
    assert "excellent[+" in plain and "yes" in plain and "IG delta" in plain
    console = Console(record=True, width=120, force_terminal=True)
    console.print(render.to_rich({"a": explanations, "b": explanations}))
    shown = console.export_text()
    assert "the food was excellent" in shown and "a: yes" in shown and "b: yes" in shown
    assert "rgb(" in console.export_html(inline_styles=True) or "background" in console.export_html(
        inline_styles=True)
    with pytest.raises(CulturaError, match="same texts"):
        render.to_text({"a": explanations, "b": keyword_model.explain(["other text"])})


def test_png_reports_missing_glyphs(keyword_model: Any, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    explanations = keyword_model.explain(["春节 excellent", "the food"])
    monkeypatch.setattr(render, "FALLBACK_FONTS", ())  # only the default font: no CJK glyphs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = render.to_png({"zh": explanations, "again": explanations}, tmp_path / "e.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    notes = [w for w in caught if issubclass(w.category, render.RenderWarning)]
    assert len(notes) == 1 and "春" in str(notes[0].message) and "节" in str(notes[0].message)
    assert not [w for w in caught if "missing from font" in str(w.message)]


# ----------------------------------------------------------------------------- CLI
@pytest.fixture
def with_test_plugin(manager: Any) -> Any:
    reset_plugin_manager(manager)
    yield manager
    reset_plugin_manager(None)


def run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_json_html_png(saved: Any, with_test_plugin: Any, tmp_path: Path) -> None:
    html_file, png_file = tmp_path / "e.html", tmp_path / "e.png"
    out = json.loads(run(["explain", str(saved.zh), HELD_OUT[0], "ＡＢ 软件 excellent", "--json",
                          "--html", str(html_file), "--png", str(png_file), "--steps", str(STEPS)]))
    assert [e["text"] for e in out] == [HELD_OUT[0], "ＡＢ 软件 excellent"]
    for e in out:
        assert e["adapter"] == str(saved.zh) and e["culture"] == "zh" and e["task"] == "keyword"
        assert e["method"] == "ig" and e["steps"] == STEPS and e["target"] == "yes"
        assert abs(e["convergence_delta"]) <= REL_TOL * abs(e["logit"] - e["baseline_logit"]) + ABS_TOL
        assert max(e["words"], key=lambda w: w["score"])["text"] == KEYWORD
        assert all(e["text"][w["start"] : w["end"]] == w["text"] for w in e["words"])
    assert "软件" in [w["text"] for w in out[1]["words"]]
    assert "excellent" in html_file.read_text(encoding="utf-8")
    assert png_file.read_bytes()[:4] == b"\x89PNG"
    plain = run(["explain", str(saved.zh), HELD_OUT[0], "--method", "occlusion"])
    assert f"{KEYWORD}[+" in plain and "occlusion" in plain


def test_cli_compare_two_cultures(saved: Any, with_test_plugin: Any) -> None:
    texts = ["the food was excellent", "软件 春节"]
    out = json.loads(run(["explain", str(saved.zh), *texts, "--compare", str(saved.ja), "--json"]))
    assert [row["text"] for row in out] == texts
    for row in out:
        first, second = row["explanations"]
        assert (first["culture"], second["culture"]) == ("zh", "ja")
        assert (first["adapter"], second["adapter"]) == (str(saved.zh), str(saved.ja))
        assert [w["text"] for w in first["words"]] == [w["text"] for w in second["words"]]
    plain = run(["explain", str(saved.zh), texts[0], "--compare", str(saved.ja)])
    assert "(zh/keyword)" in plain and "(ja/keyword)" in plain and "excellent[" in plain


def test_cli_errors(saved: Any, with_test_plugin: Any) -> None:
    result = CliRunner().invoke(cli, ["explain", str(saved.zh)])
    assert result.exit_code != 0 and "nothing to explain" in str(result.exception)
    result = CliRunner().invoke(cli, ["explain", str(saved.zh), "x", "--method", "lime"])
    assert result.exit_code == 2 and "lime" in result.output


def test_auto_steps_double_until_the_attributions_converge(keyword_model: Any) -> None:
    fixed = keyword_model.explain(HELD_OUT[:4], target="yes", steps=50, cross_check=False)
    auto = keyword_model.explain(HELD_OUT[:4], target="yes", cross_check=False)  # the default
    for f, a in zip(fixed, auto, strict=True):
        assert a.steps in (50, 100, 200, 400, 800)
        assert render.converged(a) or a.steps == 800
        assert (a.steps == 50) == render.converged(f)  # more steps only where 50 fell short
    assert any(a.steps > 50 for a in auto), "no text needed more than 50 steps: nothing tested"
    with pytest.raises(CulturaError, match="positive integer or 'auto'"):
        keyword_model.explain(HELD_OUT[:1], steps="fast")
