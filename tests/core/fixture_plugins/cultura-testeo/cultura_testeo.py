"""A well-behaved test plugin: Esperanto, with the x-system normalizer and a head."""
import cultura
from cultura import AdapterHeadSpec, CultureInfo, Normalizer, TokenizerTweaks

CULTURA_API_VERSION = "1.0"


def x_system(texts):
    """Esperanto x-system: cx -> ĉ, gx -> ĝ, ... (idempotent)."""
    pairs = {"cx": "ĉ", "gx": "ĝ", "hx": "ĥ", "jx": "ĵ", "sx": "ŝ", "ux": "ŭ"}
    out = []
    for t in texts:
        for k, v in pairs.items():
            t = t.replace(k, v)
        out.append(t)
    return out


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("eo", description="Esperanto (test)")]


@cultura.hookimpl
def cultura_tokenizer_tweaks(culture, requested):
    # accepts both arguments; the zh test plugin accepts only `culture`
    return TokenizerTweaks(normalizers=[Normalizer("eo.xsystem", x_system, "x-system")])


@cultura.hookimpl
def cultura_adapter_heads():
    # accepts no argument at all: allowed (any subset of the spec's arguments)
    return [AdapterHeadSpec("sentimo", "seq-cls", labels=("pozitiva", "negativa"))]
