"""Several minimal-pair checks from one bias file (``pairs_checks``): one check per category
and metric, each of the pairs whose ``bias_type`` is its category; the single ``pairs_check``
keeps taking every pair; mistakes name the file, the line and the pair or declaration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cultura.core.declarative import BiasFile, DeclarationError, Plugin, category_pair_checks
from cultura.core.errors import DataError
from cultura.core.plugin_data import read_bias_checks
from cultura.core.types import CultureInfo


def _pair(more: str, less: str, bias_type: str | None, direction: str = "stereo") -> dict[str, str]:
    pair = {"more": more, "less": less, "direction": direction}
    if bias_type is not None:
        pair["bias_type"] = bias_type
    return pair


PAIRS = [
    _pair("She can't code.", "He can't code.", "gender"),
    _pair("Old people can't code.", "Young people can't code.", "age"),
    _pair("He is the best coder.", "She is the best coder.", "gender", "antistereo"),
]


def spec(category: str, metric: str = "crows_pairs", **more: Any) -> dict[str, Any]:
    suffix = "mlm" if metric == "crows_pairs" else "lm"
    return {"id": f"tt.{category}.pairs.{suffix}", "category": category, "metric": metric,
            "threshold": 20.0, "description": f"{category} pairs", **more}


def write(tmp_path: Path, pairs: list[Any], counterfactual: list[Any] | None = None) -> Path:
    path = tmp_path / "bias.json"
    data: dict[str, Any] = {"pairs": pairs}
    if counterfactual is not None:
        data["counterfactual"] = counterfactual
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def test_each_check_takes_the_pairs_of_its_category_and_metrics_share_them(tmp_path: Path) -> None:
    path = write(tmp_path, PAIRS)
    checks = read_bias_checks(path, license="CC-BY-4.0", pairs_checks=(
        spec("gender"), spec("gender", "pair_ll"), spec("age", license="CC0-1.0")))
    by_id = {c.id: c for c in checks}
    assert list(by_id) == ["tt.gender.pairs.mlm", "tt.gender.pairs.lm", "tt.age.pairs.mlm"]
    gender = by_id["tt.gender.pairs.mlm"]
    assert [p.more for p in gender.pairs] == ["She can't code.", "He is the best coder."]
    assert gender.category == "gender" and gender.threshold == 20.0 and gender.license == "CC-BY-4.0"
    assert by_id["tt.gender.pairs.lm"].pairs == gender.pairs
    assert by_id["tt.gender.pairs.lm"].metric == "pair_ll"
    age = by_id["tt.age.pairs.mlm"]
    assert [p.less for p in age.pairs] == ["Young people can't code."]
    assert age.license == "CC0-1.0"


def test_the_single_pairs_check_still_takes_every_pair(tmp_path: Path) -> None:
    path = write(tmp_path, PAIRS)
    (check,) = read_bias_checks(path, license="L", pairs_check=spec("gender"))
    assert len(check.pairs) == 3 and check.category == "gender"


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_a_pair_of_no_declared_category_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, [*PAIRS, _pair("Poor people steal.", "Rich people steal.", "class")])
    line = _line(path, '"bias_type": "class"')
    with pytest.raises(DataError, match=rf"bias\.json:{line}: pair #4 field 'bias_type': 'class' is the "
                                        r"category of no pair check; give it one of 'gender', 'age'"):
        read_bias_checks(path, license="L", pairs_checks=(spec("gender"), spec("age")))


def test_a_pair_without_bias_type_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, [PAIRS[0], _pair("A x.", "B x.", None)])
    with pytest.raises(DataError, match=r"bias\.json:\d+: pair #2 field 'bias_type': is missing"):
        read_bias_checks(path, license="L", pairs_checks=(spec("gender"),))
    path = write(tmp_path, [PAIRS[0], ["A x.", "B x."]])
    with pytest.raises(DataError, match=r"pair #2 field 'bias_type': is missing"):
        read_bias_checks(path, license="L", pairs_checks=(spec("gender"),))


def test_a_malformed_pair_is_named_by_its_place_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, [PAIRS[0], _pair("A x.", "B x.", "gender", direction="sideways")])
    line = _line(path, '"direction": "sideways"')
    with pytest.raises(DataError, match=rf"bias\.json:{line - 3}: pair #2 field 'direction'"):
        read_bias_checks(path, license="L", pairs_checks=(spec("gender"),))


def test_a_check_without_pairs_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, PAIRS[:1])
    with pytest.raises(DataError, match=r"pairs_checks\[1\] \('tt.age.pairs.mlm'\): no pair has "
                                        r"bias_type 'age'"):
        read_bias_checks(path, license="L", pairs_checks=(spec("gender"), spec("age")))


@pytest.mark.parametrize(
    ("specs", "match"),
    [
        ((spec("gender", pairs=[]),), r"pairs_checks\[0\] field 'pairs': not a field of a pair check"),
        ((spec("gender", templates=[]),), r"pairs_checks\[0\] field 'templates'"),
        ((spec("gender"), "age"), r"pairs_checks\[1\]: must be a mapping .* got str"),
        ((spec(""),), r"pairs_checks\[0\] field 'category': must be a non-empty string"),
        ((spec("gender"), spec("gender")), r"check #2 \('tt.gender.pairs.mlm'\) field 'id': duplicate id"),
        ((spec("gender", metric="accuracy"),), r"check #1 .* field 'metric': must be one of"),
        ((spec("gender", threshold="high"),), r"field 'threshold': must be a number"),
    ],
)
def test_malformed_pair_checks_name_what_is_wrong(tmp_path: Path, specs: tuple[Any, ...], match: str) -> None:
    path = write(tmp_path, PAIRS[:1])
    with pytest.raises(DataError, match=match):
        read_bias_checks(path, license="L", pairs_checks=specs)


def test_pair_check_ids_must_differ_from_counterfactual_ids(tmp_path: Path) -> None:
    counterfactual = [{"id": "tt.gender.pairs.mlm", "category": "gender", "metric": "ctf_gap",
                       "threshold": 0.1, "term_groups": {"f": ["she"], "m": ["he"]},
                       "templates": ["{term} codes."]}]
    path = write(tmp_path, PAIRS[:1], counterfactual)
    with pytest.raises(DataError, match=r"duplicate id 'tt.gender.pairs.mlm'"):
        read_bias_checks(path, license="L", pairs_checks=(spec("gender"),))


def test_pairs_check_and_pairs_checks_together_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, PAIRS[:1])
    with pytest.raises(DataError, match="pairs_check and pairs_checks: give one of them"):
        read_bias_checks(path, license="L", pairs_check=spec("gender"), pairs_checks=(spec("gender"),))


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable package ``cultura_tt_pairs`` whose ``data/bias.json`` holds PAIRS."""
    data = tmp_path / "cultura_tt_pairs" / "data"
    data.mkdir(parents=True)
    (data.parent / "__init__.py").write_text("", encoding="utf-8")
    write(data, PAIRS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return data


def _declare(bias: object) -> type[Plugin]:
    return type("Tt", (Plugin,), {
        "CULTURA_API_VERSION": "1.0", "package": "cultura_tt_pairs", "data_license": "CC-BY-4.0",
        "cultures": CultureInfo("tt"), "bias": bias, "__module__": __name__,
    })


def test_a_declared_bias_file_serves_one_check_per_category(package: Path) -> None:
    from cultura.core.tags import Culture

    plugin = _declare(BiasFile("bias.json", pairs_checks=(spec("gender"), spec("age"))))()
    checks = plugin.cultura_bias_checks(Culture.parse("tt"))
    assert [(c.id, len(c.pairs)) for c in checks] == [("tt.gender.pairs.mlm", 2), ("tt.age.pairs.mlm", 1)]


@pytest.mark.parametrize(
    ("bias", "match"),
    [
        (BiasFile("bias.json", pairs_checks=spec("gender")), "pairs_checks must be a list of mappings"),
        (BiasFile("bias.json", pairs_checks=("gender",)), "pairs_checks must be a list of mappings"),
        (BiasFile("bias.json", pairs_check=spec("gender"), pairs_checks=(spec("age"),)),
         "give pairs_check .* or pairs_checks .*, not both"),
    ],
)
def test_a_wrong_declaration_is_refused_at_import(package: Path, bias: BiasFile, match: str) -> None:
    with pytest.raises(DeclarationError, match=match):
        _declare(bias)()


def test_category_pair_checks_writes_one_check_per_category_and_metric() -> None:
    checks = category_pair_checks(
        "yo", {"gender": "Gender", "age": "Age"}, "{what}: pairs, {model}",
        {"crows_pairs": "masked", "pair_ll": "causal"}, threshold=15.0, without_pair_ll=("age",),
    )
    assert [(c["id"], c["category"], c["metric"]) for c in checks] == [
        ("yo.gender.pairs.mlm", "gender", "crows_pairs"),
        ("yo.gender.pairs.lm", "gender", "pair_ll"),
        ("yo.age.pairs.mlm", "age", "crows_pairs"),
    ]
    assert checks[1]["description"] == "Gender: pairs, causal"
    assert {c["threshold"] for c in checks} == {15.0}
