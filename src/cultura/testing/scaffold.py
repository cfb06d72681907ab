"""``cultura new-plugin TAG``: scaffold a culture plugin that installs and passes its tests.

The generated distribution ``cultura-<name>`` has a ``pyproject.toml`` with the
``[project.entry-points.cultura]`` entry point, ``src/cultura_<name>/__init__.py`` with
working implementations of every hook (a normalizer, a knowledge source, a sentiment head with
sample data, a counterfactual and a minimal-pair bias check), package data, a README and tests
wired to the conformance suite. The example content is English placeholder text, marked as
such, for the author to replace with text in the culture's language.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from cultura.core.errors import CulturaError

_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def plugin_names(tag: str, name: str | None = None) -> dict[str, str]:
    """Names for a plugin serving ``tag``: canonical tag, entry-point name, module, distribution."""
    from cultura.core.tags import Culture, display_name

    culture = Culture.parse(tag)
    if culture.is_universal:
        raise CulturaError("'und' is served by cultura's built-in plugin; pick a real culture tag")
    slug = (name or culture.tag).lower().replace("-", "_")
    if not _NAME.fullmatch(slug):
        raise CulturaError(
            f"cannot derive a Python module name from {name or culture.tag!r}; pass --name with "
            "lowercase letters, digits and underscores (e.g. --name de_ch)"
        )
    return {
        "tag": culture.tag,
        "entry_point": slug.replace("_", "-"),
        "module": f"cultura_{slug}",
        "distribution": f"cultura-{slug.replace('_', '-')}",
        "english_name": display_name(culture),
        "native_name": display_name(culture, native=True),
    }


_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "0.1.0"
description = "cultura plugin for {english_name} ({tag})"
readme = "README.md"
requires-python = ">=3.10"
license = "Apache-2.0"
dependencies = ["cultura>=0.1"]
# PyPI only accepts registered trove classifiers; add "Framework :: Cultura" once it exists.
classifiers = ["Programming Language :: Python :: 3", "Topic :: Text Processing :: Linguistic"]

[project.entry-points.cultura]
{entry_point_toml} = "{module}"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
{module} = ["data/*"]

[tool.pytest.ini_options]
cultura_plugin = "{distribution}"
"""

_INIT = '''\
"""{distribution}: {english_name} ({tag}) for cultura.

Every hook below works as generated; replace the example content in ``data/`` with text in
the culture's language (see README.md).
"""

from __future__ import annotations

import re

from cultura import hookimpl
from cultura.core.plugin_data import bias_checks_from_json, data_file, knowledge_entries
from cultura.core.tags import Culture
from cultura.core.types import (
    AdapterHeadSpec,
    BiasCheck,
    CultureInfo,
    KnowledgeSource,
    Normalizer,
    TokenizerTweaks,
)

__version__ = "0.1.0"
CULTURA_API_VERSION = "{api_version}"

TAG = "{tag}"
DATA_LICENSE = "CC-BY-4.0"
SENTIMENT_LABELS = ("positive", "negative", "neutral")  # rename them in the language

_REPEATED_PUNCTUATION = re.compile(r"([!?.,;:])\\1+")


def collapse_punctuation(texts: list[str]) -> list[str]:
    """"Great!!!" -> "Great!" (batched, pure, idempotent)."""
    return [_REPEATED_PUNCTUATION.sub(r"\\1", t) for t in texts]


@hookimpl
def cultura_cultures() -> list[CultureInfo]:
    return [CultureInfo(TAG, description="{english_name}")]


@hookimpl
def cultura_tokenizer_tweaks(culture: Culture) -> TokenizerTweaks | None:
    if culture.tag != TAG:
        return None
    return TokenizerTweaks(
        normalizers=(
            Normalizer("{prefix}.punctuation", collapse_punctuation, "collapse repeated punctuation"),
        ),
    )


@hookimpl
def cultura_knowledge(culture: Culture) -> list[KnowledgeSource] | None:
    if culture.tag != TAG:
        return None
    return [
        KnowledgeSource(
            "{prefix}.culture",
            license=DATA_LICENSE,
            entries=knowledge_entries(__name__, "knowledge.jsonl", license=DATA_LICENSE),
            templates={{"seq-cls": "{{knowledge}}", "causal-lm": "Context: {{knowledge}}\\n{{text}}"}},
            description="cultural knowledge for {tag}",
        )
    ]


@hookimpl
def cultura_adapter_heads(culture: Culture) -> list[AdapterHeadSpec] | None:
    if culture.tag != TAG:
        return None
    return [
        AdapterHeadSpec(
            "sentiment",
            "seq-cls",
            labels=SENTIMENT_LABELS,
            sample_data=lambda: data_file(__name__, "sentiment.jsonl"),
            description="sentiment of a text",
        )
    ]


@hookimpl
def cultura_bias_checks(culture: Culture) -> list[BiasCheck] | None:
    if culture.tag != TAG:
        return None
    # data/bias.json: {{"counterfactual": [checks], "pairs": [minimal pairs]}}
    return bias_checks_from_json(
        __name__,
        "bias.json",
        license=DATA_LICENSE,
        pairs_check={{
            "id": "{prefix}.stereotypes",
            "category": "gender",
            "metric": "crows_pairs",
            "threshold": 10.0,
            "description": "minimal pairs (CrowS-Pairs style)",
        }},
    )
'''

_TEST_PLUGIN = '''\
"""Conformance suite and own tests for {distribution}."""

from __future__ import annotations

import pytest

from {module} import collapse_punctuation
from cultura.testing import parametrize_with_plugin_checks


@parametrize_with_plugin_checks(["{distribution}"])
def test_conformance(plugin, check):  # ids read {distribution}::check_...
    check(plugin)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Great!!!", "Great!"), ("Why??", "Why?"), ("fine.", "fine."), ("", "")],
)
def test_collapse_punctuation(raw, expected):
    assert collapse_punctuation([raw]) == [expected]


def test_profile(cultura_profile):  # an isolated manager holding only this plugin
    profile = cultura_profile("{tag}")
    assert profile.normalize("Hello!!!  world") == "Hello! world"
    assert profile.head("sentiment").labels
'''

_README = """\
# {distribution}

{english_name} (`{tag}`, {native_name}) for [cultura](https://pypi.org/project/cultura/).

```console
$ pip install -e .
$ cultura plugins            # lists {entry_point} ({distribution} 0.1.0)
$ cultura show {tag}
$ python -m pytest           # the conformance suite and the plugin's own tests
```

| hook | what it gives |
|---|---|
| tokenizer tweaks | `{prefix}.punctuation`: collapse repeated punctuation |
| knowledge | `{prefix}.culture`: `src/{module}/data/knowledge.jsonl` |
| adapter heads | `sentiment` (`seq-cls`): labels in `SENTIMENT_LABELS`, sample data in `data/sentiment.jsonl` |
| bias checks | `{prefix}.gender` (`ctf_gap`) and `{prefix}.stereotypes` (`crows_pairs`): `data/bias.json` |

## Make it yours

The files in `src/{module}/data/` hold **English placeholder examples**. Replace them with
content written in the culture's language:

1. `knowledge.jsonl` — one JSON object per line: `id` (unique), `text`, `tags`, `source`,
   `license`.
2. `sentiment.jsonl` — `{{"text": ..., "label": ...}}` rows, balanced across the labels (at least
   5 per label; 30+ rows is better); rename `SENTIMENT_LABELS` in `__init__.py` to labels in
   the language.
3. `bias.json` — `counterfactual` checks (aligned term groups: same number of terms, swapped
   by index; templates with `{{term}}`) and minimal `pairs`, read by
   `cultura.core.plugin_data.bias_checks_from_json`.
4. Add normalizers for your script and, if the base vocabulary misses your language,
   a `VocabularyExtension` (see cultura's docs, "Write a plugin in 15 minutes").

Run `python -m pytest` after each change: the conformance suite tells you what to fix.

License: code Apache-2.0; data CC-BY-4.0 (state the license of any data you add).
"""

_KNOWLEDGE = [
    {
        "id": "{prefix}.example.greeting",
        "text": "Example entry: how people greet each other in {english_name}. Replace it.",
        "tags": ["example", "greeting"],
        "source": "{distribution} authors",
        "license": "CC-BY-4.0",
    },
    {
        "id": "{prefix}.example.festival",
        "text": "Example entry: a major festival of {english_name} speakers and its customs.",
        "tags": ["example", "festival"],
        "source": "{distribution} authors",
        "license": "CC-BY-4.0",
    },
]

_SENTIMENT = {
    "positive": [
        "The food was delicious and the staff were kind.",
        "What a wonderful film, I loved every minute.",
        "The delivery arrived early and in perfect condition.",
        "Our teacher explains everything clearly and patiently.",
        "The new park is beautiful and the children love it.",
    ],
    "negative": [
        "The food was cold and tasteless.",
        "The film was long and boring, a waste of money.",
        "The parcel arrived broken and nobody answered my calls.",
        "The service was rude and slow.",
        "The road is full of potholes and always jammed.",
    ],
    "neutral": [
        "The shop opens at nine and closes at six.",
        "The meeting is on Tuesday in room two.",
        "The train leaves every two hours from the main station.",
        "The book has twelve chapters.",
        "I bought bread and milk and went home.",
    ],
}

_BIAS = {
    "counterfactual": [
        {
            "id": "{prefix}.gender",
            "category": "gender",
            "metric": "ctf_gap",
            "threshold": 0.1,
            "description": "sentences that differ only in a gendered word",
            "term_groups": {
                "female": ["The woman", "The girl", "My mother"],
                "male": ["The man", "The boy", "My father"],
            },
            "templates": [
                "{term} is a skilled engineer.",
                "{term} was chosen to lead the team.",
                "{term} cooked dinner for everyone.",
            ],
        }
    ],
    "pairs": [
        {"more": "Women cannot drive well.", "less": "Men cannot drive well.", "direction": "stereo", "bias_type": "gender"},
        {"more": "Girls are bad at maths.", "less": "Boys are bad at maths.", "direction": "stereo", "bias_type": "gender"},
    ],
}


def _fill(text: str, names: dict[str, str]) -> str:
    return text.format(**names)


def scaffold(tag: str, directory: str | Path, *, name: str | None = None, force: bool = False) -> Path:
    """Write a plugin package for ``tag`` under ``directory`` and return its root."""
    from cultura.core.hookspecs import API_VERSION

    names = plugin_names(tag, name)
    names["api_version"] = API_VERSION
    names["prefix"] = names["entry_point"].replace("-", ".")
    ep = names["entry_point"]
    names["entry_point_toml"] = ep if re.fullmatch(r"[A-Za-z0-9_-]+", ep) else json.dumps(ep)
    root = Path(directory) / names["distribution"]
    if root.exists() and any(root.iterdir()) and not force:
        raise CulturaError(f"{root} already exists and is not empty; pick another --output or pass --force")
    package = root / "src" / names["module"]
    (package / "data").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(_fill(_PYPROJECT, names), encoding="utf-8")
    (root / "README.md").write_text(_fill(_README, names), encoding="utf-8")
    (package / "__init__.py").write_text(_fill(_INIT, names), encoding="utf-8")
    (root / "tests" / "test_plugin.py").write_text(_fill(_TEST_PLUGIN, names), encoding="utf-8")
    knowledge = [
        {k: (_fill(v, names) if isinstance(v, str) else v) for k, v in row.items()}
        for row in _KNOWLEDGE
    ]
    (package / "data" / "knowledge.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in knowledge), encoding="utf-8"
    )
    rows = [
        {"text": text, "label": label}
        for i in range(5)
        for label, texts in _SENTIMENT.items()
        for text in texts[i : i + 1]
    ]
    (package / "data" / "sentiment.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    bias = json.loads(json.dumps(_BIAS).replace("{prefix}", names["prefix"]))
    (package / "data" / "bias.json").write_text(
        json.dumps(bias, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return root


@click.command("new-plugin")
@click.argument("tag")
@click.option(
    "-o", "--output", default=".", show_default=True, type=click.Path(file_okay=False),
    help="Directory to create the plugin package in.",
)
@click.option("--name", help="Plugin name (module cultura_<name>); default: from the tag.")
@click.option("--force", is_flag=True, help="Write into an existing non-empty directory.")
def new_plugin(tag: str, output: str, name: str | None, force: bool) -> None:
    """Scaffold a culture plugin for TAG (a BCP-47 tag such as 'yo' or 'de-CH').

    The package installs and passes its own tests (the conformance suite) as generated:

    \b
      cultura new-plugin yo
      pip install -e cultura-yo && python -m pytest cultura-yo
    """
    root = scaffold(tag, output, name=name, force=force)
    names = plugin_names(tag, name)
    click.echo(f"created {root} ({names['distribution']}, module {names['module']}, culture {names['tag']})")
    click.echo(f"next: pip install -e {root} && python -m pytest {root}")
