"""docs/deploy.md and deploy/ cannot rot silently: every ``cultura``, ``accelerate launch`` and
training-script command they show parses with the real command line (options that exist, values
of the right type), the container recipe keeps its guarantees (CPU torch by default, pinned
adapters verified at build time, a non-root ``cultura serve`` with a health check), the vLLM
export command exists, and the training script trains."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click
import pytest
import yaml

from cultura.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
TRAIN_SCRIPT = ROOT / "deploy" / "train.py"
#: shell operators that end one command and start the next
_OPERATORS = {"&&", "||", ";", "|"}
#: shell words that start a command without being one (``for ...; do cultura ...; done``)
_KEYWORDS = {"do", "then", "else", "{", "!"}
_FENCE = re.compile(r"^```(\w*)\s*$")


# ---------------------------------------------------------------------------- reading
def _blocks(text: str) -> Iterator[tuple[str, str]]:
    """``(language, code)`` of every fenced block of a Markdown text."""
    lang, body, inside = "", [], False
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence and not inside:
            lang, body, inside = fence.group(1), [], True
        elif line.strip() == "```" and inside:
            inside = False
            yield lang, "\n".join(body)
        elif inside:
            body.append(line)


def _joined(lines: list[str]) -> Iterator[str]:
    """Lines with backslash continuations joined."""
    current = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        yield current + line
        current = ""
    if current:
        yield current


def _commands(line: str) -> Iterator[list[str]]:
    """The simple commands of one shell line, each without leading ``VAR=value`` and shell
    keywords."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    command: list[str] = []
    for token in [*lexer, ";"]:
        if token in _OPERATORS:
            while command and (command[0] in _KEYWORDS
                               or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", command[0])):
                command.pop(0)
            if command:
                yield command
            command = []
        else:
            command.append(token)


def doc_commands() -> list[list[str]]:
    """Every command of the console (``$ ...``) and bash blocks of docs/deploy.md."""
    found = []
    for lang, code in _blocks(DOC.read_text(encoding="utf-8")):
        if lang == "console":
            lines = [line[2:] if line.startswith("$ ") else None for line in code.splitlines()]
            # a console block: commands start with "$ ", continuation lines follow them
            kept, previous = [], False
            for raw, line in zip(code.splitlines(), lines, strict=True):
                if line is not None or previous:
                    kept.append(line if line is not None else raw)
                previous = (line is not None or previous) and raw.rstrip().endswith("\\")
            found += [c for text in _joined(kept) for c in _commands(text)]
        elif lang in ("bash", "sh", "shell"):
            found += [c for text in _joined(code.splitlines()) for c in _commands(text)]
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of deploy/Dockerfile, continuation lines joined."""
    lines = [line for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
             if not line.lstrip().startswith("#")]
    out = []
    for line in _joined(lines):
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def dockerfile_commands() -> list[list[str]]:
    """The commands of the Dockerfile's RUN instructions (``--mount`` flags dropped) and of
    ENTRYPOINT + CMD, with the ``${VAR}`` placeholders as they are."""
    found: list[list[str]] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "RUN":
            rest = re.sub(r"^(--\S+\s+)+", "", rest)
            found += [c for c in _commands(rest) if c]
    found.append(entrypoint() + json.loads(_instruction("CMD")))
    return found


def _instruction(keyword: str) -> str:
    values = [rest for k, rest in dockerfile_instructions() if k == keyword]
    assert len(values) == 1, f"deploy/Dockerfile has {len(values)} {keyword} instructions"
    return values[0]


def entrypoint() -> list[str]:
    return list(json.loads(_instruction("ENTRYPOINT")))


def doc_container_args() -> list[list[str]]:
    """The arguments the docs' compose and Kubernetes examples append to the ENTRYPOINT."""
    found = []
    for lang, code in _blocks(DOC.read_text(encoding="utf-8")):
        if lang != "yaml":
            continue
        for document in yaml.safe_load_all(code):
            found += list(_container_args(document))
    return found


def _container_args(node: object) -> Iterator[list[str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("command", "args") and isinstance(value, list):
                yield [str(v) for v in value]
            else:
                yield from _container_args(value)
    elif isinstance(node, list):
        for item in node:
            yield from _container_args(item)


# ---------------------------------------------------------------------------- checking
def _click_command(name: str) -> click.Command:
    assert name in COMMANDS, f"`cultura {name}` is not a command (cultura.cli.COMMANDS)"
    with click.Context(cli) as ctx:
        command = cli.get_command(ctx, name)
    assert command is not None
    return command


def check_cultura(args: list[str], where: str) -> None:
    """``cultura ARGS`` names a real command, only its real options, and parses."""
    command = _click_command(args[0])
    known = {"--help"}
    for param in command.params:
        if isinstance(param, click.Option):
            known.update(param.opts, param.secondary_opts)
    for token in args[1:]:
        if token.startswith("-") and token != "-":
            option = token.split("=", 1)[0]
            assert option in known, (
                f"{where}: `cultura {args[0]}` has no option {option} (it has {sorted(known)})"
            )
    if any("$" in a or "<" in a for a in args):
        return  # placeholders: the options were checked, the values are the user's
    try:
        command.make_context(f"cultura {args[0]}", list(args[1:]), resilient_parsing=False)
    except click.BadParameter as exc:
        # an argument naming the user's files (./zh-chat) need not exist here; options must parse
        if not isinstance(exc.param, click.Argument):
            raise


def _train_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_train", TRAIN_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_accelerate(args: list[str], where: str) -> None:
    """``accelerate launch ...`` parses with accelerate's own parser and launches the
    training script with arguments it accepts."""
    from accelerate.commands.launch import launch_command_parser

    assert args[:2] == ["accelerate", "launch"], where
    parsed = launch_command_parser().parse_args(args[2:])
    if parsed.training_script == "deploy/train.py":
        _train_script().build_parser().parse_args(parsed.training_script_args)
    else:
        assert parsed.training_script_args and parsed.training_script_args[0] == "deploy/train.py", (
            f"{where}: accelerate launches {parsed.training_script!r}, not deploy/train.py"
        )


# ---------------------------------------------------------------------------- tests
def test_the_page_is_in_the_nav() -> None:
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    assert {"Deploying at scale": "deploy.md"} in nav


def test_every_cultura_command_in_the_docs_exists_with_its_options() -> None:
    commands = [c for c in doc_commands() if c[0] == "cultura"]
    names = {c[1] for c in commands}
    assert {"lock", "resolve", "serve", "train", "export"} <= names, names
    for command in commands:
        check_cultura(command[1:], "docs/deploy.md")


def test_the_serve_options_of_the_docs_are_real() -> None:
    serve = _click_command("serve")
    options = {o for p in serve.params if isinstance(p, click.Option) for o in p.opts}
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", DOC.read_text(encoding="utf-8")))
    in_serve = {o for c in doc_commands() if c[:2] == ["cultura", "serve"] for o in c if o.startswith("--")}
    assert in_serve <= options
    assert {"--api-key-file", "--offline", "--slots", "--host"} <= in_serve
    # options named in prose as serve's (the sizing and API key paragraphs) exist too
    for option in ("--slots", "--max-batch-size", "--max-wait-ms", "--api-key-file", "--offline"):
        assert option in named and option in options


def test_compose_and_kubernetes_arguments_are_serve_arguments() -> None:
    args = doc_container_args()
    assert len(args) >= 2, "the compose and the Kubernetes examples"
    for extra in args:
        check_cultura([*entrypoint()[1:], *extra], "docs/deploy.md (container arguments)")


def test_the_vllm_export_command_exists() -> None:
    export = _click_command("export")
    fmt = next(p for p in export.params if p.name == "fmt")
    assert isinstance(fmt.type, click.Choice) and "vllm" in fmt.type.choices
    shown = [c for c in doc_commands() if c[:2] == ["cultura", "export"]]
    assert any("vllm" in c for c in shown)
    vllm = [c for c in doc_commands() if c[:2] == ["vllm", "serve"]]
    assert vllm and all("--enable-lora" in c and "--lora-modules" in c for c in vllm)
    lora = [c[c.index("--lora-modules") + 1] for c in vllm]
    assert all(re.fullmatch(r"[\w.-]+=\S+", spec) for spec in lora)


def test_accelerate_commands_parse_and_launch_the_training_script() -> None:
    launches = [c for c in doc_commands() if c[:2] == ["accelerate", "launch"]]
    assert len(launches) >= 2, "one machine and several machines"
    assert any("--num_machines" in c and "--machine_rank" in c for c in launches)
    for command in launches:
        check_accelerate(command, "docs/deploy.md")
    for command in doc_commands():
        if command[:2] == ["python", "deploy/train.py"]:
            _train_script().build_parser().parse_args(command[2:])


def test_the_dockerfile_keeps_its_guarantees() -> None:
    instructions = dockerfile_instructions()
    args = {rest.split("=", 1)[0]: rest.partition("=")[2].strip('"')
            for k, rest in instructions if k == "ARG"}
    assert args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu", "CPU torch by default"
    runs = [rest for k, rest in instructions if k == "RUN"]
    torch_install = next(r for r in runs if "pip install torch" in r)
    assert '--index-url "${TORCH_INDEX}"' in torch_install
    # the CPU build stays: cultura installs under a constraint pinning that torch
    assert any("pip install -c" in r and "[serve]" in r for r in runs)
    assert any("cultura resolve" in r and "--lock" in r and "--download" in r for r in runs)
    users = [rest for k, rest in instructions if k == "USER"]
    assert users and users[-1] not in ("root", "0")
    keywords = [k for k, _ in instructions]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert entrypoint()[:2] == ["cultura", "serve"]
    assert "/health" in _instruction("HEALTHCHECK")
    env = " ".join(rest for k, rest in instructions if k == "ENV")
    assert "CULTURA_OFFLINE=1" in env and "CULTURA_LOCK=" in env


def test_every_cultura_command_in_the_dockerfile_exists_with_its_options() -> None:
    commands = [c for c in dockerfile_commands() if c[0] == "cultura"]
    assert {c[1] for c in commands} >= {"resolve", "serve"}
    for command in commands:
        check_cultura(command[1:], "deploy/Dockerfile")


def test_a_misspelled_option_is_caught() -> None:
    with pytest.raises(AssertionError, match="has no option --api-keyfile"):
        check_cultura(["serve", "zh/sentiment", "--api-keyfile", "key.txt"], "here")
    with pytest.raises(click.BadParameter):
        check_cultura(["serve", "zh/sentiment", "--port", "eighty"], "here")
    with pytest.raises(SystemExit):
        check_accelerate(["accelerate", "launch", "--num-gpus", "2", "deploy/train.py"], "here")


@pytest.mark.slow
def test_the_training_script_trains_and_saves(tmp_path: Path) -> None:
    from cultura.adapt.model import load_pretrained
    from cultura.testing.models import build_tiny_model

    base = build_tiny_model("bert", tmp_path / "bert")
    data = tmp_path / "texts.txt"
    data.write_text("the movie was great\nwe celebrate the spring festival with family\n" * 4,
                    encoding="utf-8")
    out = tmp_path / "adapter"
    # every culture has the built-in language-adapter task lm; und needs no plugin
    _train_script().main([str(data), "--base", str(base), "--culture", "und", "--task", "lm",
                          "-o", str(out), "--epochs", "1", "--batch-size", "4", "--dtype", "float32"])
    loaded = load_pretrained(out)
    assert (loaded.culture, loaded.spec.task, loaded.head_type) == ("und", "lm", "masked-lm")
    assert loaded.training_summary["epochs"] == 1
