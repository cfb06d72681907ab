"""``cultura new-plugin TAG``: scaffold a culture plugin that installs and passes its tests.

The generated distribution ``cultura-<name>`` (written to ``OUTPUT/cultura-<name>/``) has a
``pyproject.toml`` with the ``[project.entry-points.cultura]`` entry point,
``src/cultura_<name>/__init__.py`` declaring the plugin as data (a
:class:`~cultura.core.declarative.Plugin` subclass: a normalizer, a word list, a knowledge
file, a sentiment head with 30 sample rows, a counterfactual and a minimal-pair bias check,
a probe file; cultura derives every hook from it), ``normalize.py``, package data, a README
and tests wired to the conformance suite. The example content is English placeholder text, marked as such,
for the author to replace with text in the culture's language.
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
"""{distribution}: {english_name} ({tag}) for cultura, declared as data (cultura derives the hooks).

Replace the English placeholders in ``data/`` with text in the language (see README.md).
"""

from __future__ import annotations

from cultura.core.declarative import BiasFile, Head, KnowledgeFile, Plugin, VocabularyFile
from cultura.core.types import CultureInfo, Normalizer, Perturbation
from {module}.normalize import collapse_punctuation

__version__ = "0.1.0"


class {class_name}(Plugin):
    """{english_name} ({tag}): a normalizer, vocabulary, knowledge, a sentiment head, bias checks."""

    CULTURA_API_VERSION = "{api_version}"
    cultures = CultureInfo("{tag}", description="{english_name}")
    data_license = "CC-BY-4.0"
    probes = "probes.txt"  # edge cases of the script: the conformance suite feeds them to normalizers
    normalizers = Normalizer("{prefix}.punctuation", collapse_punctuation, "collapse repeated punctuation")
    vocabulary = VocabularyFile("{prefix}.words", "vocab.txt", "frequent words the base vocabulary splits")
    templates = {{"causal-lm": "Context: {{knowledge}}\\n{{text}}"}}  # encoders: knowledge is a 2nd segment
    knowledge = KnowledgeFile("{prefix}.culture", "knowledge.jsonl", "cultural knowledge for {tag}")
    heads = Head(
        "sentiment", "seq-cls", labels=("positive", "negative", "neutral"),  # rename them in the language
        sample_data="sentiment.jsonl", description="sentiment of a text",
    )
    # how people really write the language, for `cultura robustness` (scripts, accents, typos)
    perturbations = Perturbation("{prefix}.lowercase", str.lower, "all lower case, as in chat", kind="casing")
    bias = BiasFile("bias.json", pairs_check={{
        "id": "{prefix}.stereotypes", "category": "gender", "metric": "crows_pairs", "threshold": 10.0,
        "description": "minimal pairs (CrowS-Pairs style)",
    }})


plugin = {class_name}()
plugin.export(globals())  # the module is the entry point: it carries the derived hooks
'''

_NORMALIZE = '''\
"""Normalizers for {english_name}: batched (``list[str] -> list[str]``), pure and idempotent."""

from __future__ import annotations

import re

_REPEATED_PUNCTUATION = re.compile(r"([!?.,;:])\\1+")


def collapse_punctuation(texts: list[str]) -> list[str]:
    """"Great!!!" -> "Great!"."""
    return [_REPEATED_PUNCTUATION.sub(r"\\1", t) for t in texts]
'''

_TEST_PLUGIN = '''\
"""Conformance suite and own tests for {distribution}."""

from __future__ import annotations

import pytest

from cultura.testing import parametrize_with_plugin_checks
from {module}.normalize import collapse_punctuation


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

The plugin is the class `{class_name}` in `src/{module}/__init__.py`: a declaration of what
it gives, from which cultura derives the hooks; the normalizers are in `normalize.py`.

| hook | what it gives |
|---|---|
| tokenizer tweaks | `{prefix}.punctuation`: collapse repeated punctuation; `{prefix}.words`: `data/vocab.txt` |
| knowledge | `{prefix}.culture`: `data/knowledge.jsonl` |
| adapter heads | `sentiment` (`seq-cls`): labels in `heads`, sample data in `data/sentiment.jsonl` |
| bias checks | `{prefix}.gender` (`ctf_gap`) and `{prefix}.stereotypes` (`crows_pairs`): `data/bias.json` |

## Make it yours

The files in `src/{module}/data/` hold **English placeholder examples**. Replace them with
content written in the culture's language:

1. `vocab.txt` — one token per line (`#` starts a comment): frequent words of the language
   that the base model's vocabulary splits into many pieces; build it with a script.
2. `knowledge.jsonl` — one JSON object per line: `id` (unique), `text`, `tags`, `source`,
   `license`.
3. `sentiment.jsonl` — `{{"text": ..., "label": ...}}` rows, balanced across the labels, 30 or
   more (at least 5 per label); rename the labels in `heads` to labels in the language.
4. `bias.json` — `counterfactual` checks (aligned term groups of at least 3 terms, swapped by
   index; at least 3 templates with `{{term}}`) and minimal `pairs`.
5. Add normalizers for your script to `normalize.py` and list them in `normalizers` (see
   cultura's docs, "Write a plugin in 15 minutes").
6. `probes.txt` — edge cases of your script, one per line (`\\uXXXX` escapes for invisible
   characters, `#` starts a comment): look-alike letters, marks, joiners, spacing. The
   conformance suite feeds them, with its own built-in edge cases, to every normalizer.

Run `python -m pytest` after each change: the conformance suite tells you what to fix.

License: code Apache-2.0; data CC-BY-4.0 (state the license of any data you add).
"""

_PROBES = """\
# Probes: edge cases of the script that the conformance suite feeds to every normalizer, beside
# its own built-in ones (white space, zero-width and format characters, fillers, combining
# marks, width forms). One probe per line, verbatim; the escapes \\uXXXX, \\UXXXXXXXX, \\xXX,
# \\N{{NAME}}, \\t, \\n, \\r, \\\\ and \\# keep invisible characters readable; lines starting with
# '#' are comments.
# Placeholder examples: replace them with the look-alikes, marks and spacing of {english_name}.
Great!!! Why?? Fine...
Hello , world ! (spaced punctuation)
“double” ‘single’ don’t don't
cafe\\u0301 caf\\N{{LATIN SMALL LETTER E WITH ACUTE}}
word\\u00a0word word\\u200bword word\\u00adword
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

#: placeholder tokens: English words the base vocabulary (BERT uncased) splits into pieces
_VOCABULARY = (
    "heartwarming", "overpriced", "tasteless", "potholes", "spotless", "overcooked", "unhelpful",
    "flavourful",
)

#: placeholder sample sentences, 10 per label (30 rows, balanced)
_SENTIMENT = {
    "positive": [
        "The food was delicious and the staff were kind.",
        "What a wonderful film, I loved every minute.",
        "The delivery arrived early and in perfect condition.",
        "Our teacher explains everything clearly and patiently.",
        "The new park is beautiful and the children love it.",
        "A heartwarming story, told with great care.",
        "The rooms were spotless and the view was lovely.",
        "The soup was flavourful and the bread still warm.",
        "The nurse was patient and answered all our questions.",
        "Great value: I would happily buy it again.",
    ],
    "negative": [
        "The food was cold and tasteless.",
        "The film was long and boring, a waste of money.",
        "The parcel arrived broken and nobody answered my calls.",
        "The service was rude and slow.",
        "The road is full of potholes and always jammed.",
        "Overpriced and overcooked, we will not come back.",
        "The staff were unhelpful and the queue never moved.",
        "The phone stopped working after two days.",
        "The room was dirty and the shower was broken.",
        "I waited an hour and the order was still wrong.",
    ],
    "neutral": [
        "The shop opens at nine and closes at six.",
        "The meeting is on Tuesday in room two.",
        "The train leaves every two hours from the main station.",
        "The book has twelve chapters.",
        "I bought bread and milk and went home.",
        "The museum is next to the post office.",
        "The bus stops at the market on weekdays.",
        "The form asks for a name and an address.",
        "The library lends books for three weeks.",
        "The river crosses the town from north to south.",
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


def _class_name(english_name: str, module: str) -> str:
    """A class name from the culture's English name ("German (Switzerland)" -> GermanSwitzerland)."""
    name = "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", english_name))
    if name.isidentifier() and name.isascii() and not name[0].isdigit():
        return name
    return "".join(w.title() for w in module.split("_"))


def scaffold(tag: str, directory: str | Path, *, name: str | None = None, force: bool = False) -> Path:
    """Write a plugin package for ``tag`` to ``directory/cultura-<name>/`` and return that root."""
    from cultura.core.hookspecs import API_VERSION

    names = plugin_names(tag, name)
    names["api_version"] = API_VERSION
    names["prefix"] = names["entry_point"].replace("-", ".")
    ep = names["entry_point"]
    names["entry_point_toml"] = ep if re.fullmatch(r"[A-Za-z0-9_-]+", ep) else json.dumps(ep)
    names["class_name"] = _class_name(names["english_name"], names["module"])
    root = Path(directory) / names["distribution"]
    if root.exists() and any(root.iterdir()) and not force:
        raise CulturaError(f"{root} already exists and is not empty; pick another --output or pass --force")
    package = root / "src" / names["module"]
    (package / "data").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(_fill(_PYPROJECT, names), encoding="utf-8")
    (root / "README.md").write_text(_fill(_README, names), encoding="utf-8")
    (package / "__init__.py").write_text(_fill(_INIT, names), encoding="utf-8")
    (package / "normalize.py").write_text(_fill(_NORMALIZE, names), encoding="utf-8")
    (package / "data" / "probes.txt").write_text(_fill(_PROBES, names), encoding="utf-8")
    (root / "tests" / "test_plugin.py").write_text(_fill(_TEST_PLUGIN, names), encoding="utf-8")
    knowledge = [
        {k: (_fill(v, names) if isinstance(v, str) else v) for k, v in row.items()}
        for row in _KNOWLEDGE
    ]
    (package / "data" / "knowledge.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in knowledge), encoding="utf-8"
    )
    (package / "data" / "vocab.txt").write_text(
        "# placeholder: replace with frequent words of the language that the base vocabulary\n"
        "# splits into pieces (one token per line)\n" + "".join(f"{t}\n" for t in _VOCABULARY),
        encoding="utf-8",
    )
    rows = [
        {"text": texts[i], "label": label}
        for i in range(len(_SENTIMENT["positive"]))
        for label, texts in _SENTIMENT.items()
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
    help="Parent directory: the package is written to OUTPUT/cultura-<name>/.",
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
