"""Checks on knowledge sources: licenses, unique ids, provenance, and injection templates
filled as the runtime fills them."""

from __future__ import annotations

from cultura.testing.conformance.loading import PluginUnderTest
from cultura.testing.conformance.registry import CheckSkipped, needs, register

__all__ = ["check_knowledge_entries", "check_knowledge_provenance", "check_knowledge_templates"]

#: What a template's ``{knowledge}`` is filled with, to see that it is placed.
_KNOWLEDGE = "\u27e6knowledge\u27e7"


@register("api", needs("cultura_knowledge"))
def check_knowledge_entries(plugin: PluginUnderTest) -> None:
    """Knowledge sources have a license and entries with unique ids and non-empty text."""
    sources = plugin.results("cultura_knowledge")
    if not sources:
        raise CheckSkipped("cultura_knowledge returns no source for any declared culture")
    for tag, source in sources:
        entries = source.resolve()  # raises on duplicate ids
        assert entries, f"knowledge source {source.name} ({tag}) has no entries"
        assert source.license.strip(), f"knowledge source {source.name} ({tag}) has no license"


@register("api", needs("cultura_knowledge"))
def check_knowledge_templates(plugin: PluginUnderTest) -> None:
    """Injection templates fill as the runtime fills them: ``causal-lm`` templates with
    ``knowledge=`` and ``text=``, encoder templates (``seq-cls``, ``token-cls``) with
    ``knowledge=`` only, and each places the knowledge.

    Encoders get the knowledge as the second segment of a text pair (see
    ``cultura.adapt.knowledge.KnowledgeInjector.inject``), so ``{text}`` in an encoder
    template raises KeyError at prediction.
    """
    for tag, source in plugin.results("cultura_knowledge"):
        for head, template in source.templates.items():
            fields = {"knowledge": _KNOWLEDGE}
            if head == "causal-lm":
                fields["text"] = "text"
            names = " and ".join(f"{name}=" for name in fields)
            try:
                filled = template.format(**fields)
            except KeyError as exc:
                hint = (
                    "encoders get the text as the first segment of the pair: drop {text}"
                    if exc.args[0] == "text"
                    else "use only " + " and ".join(f"{{{name}}}" for name in fields)
                )
                raise AssertionError(
                    f"{source.name} ({tag}): the {head} template {template!r} uses "
                    f"{{{exc.args[0]}}}, but the runtime fills {head} templates with {names} "
                    f"only; {hint}"
                ) from None
            except (IndexError, ValueError) as exc:
                raise AssertionError(
                    f"{source.name} ({tag}): the {head} template {template!r} does not fill "
                    f"({exc}); write literal braces doubled ({{{{ }}}})"
                ) from None
            assert _KNOWLEDGE in filled, (
                f"{source.name} ({tag}): the {head} template {template!r} never places "
                "{knowledge} (doubled braces are literal)"
            )


@register("quality", needs("cultura_knowledge"))
def check_knowledge_provenance(plugin: PluginUnderTest) -> None:
    """Every knowledge entry names its source."""
    for tag, source in plugin.results("cultura_knowledge"):
        unsourced = [e.id for e in source.resolve() if not e.source.strip()]
        assert not unsourced, (
            f"{source.name} ({tag}): entries without a source: {unsourced[:5]}; give each "
            "row a source (or source= on the KnowledgeFile)"
        )
