"""A test culture (``eo``) whose plugin gives a sentiment head, a normalizer folding 電 -> 电,
and perturbations of every sort: one that flips the label word (great <-> terrible), one the
tokenizer ignores (upper case), one that changes nothing, one the normalizer undoes (电 -> 電),
and three broken ones (raises, returns None, hangs)."""

import time

import cultura

CULTURA_API_VERSION = "1.2"


@cultura.hookimpl
def cultura_cultures():
    return [cultura.CultureInfo("eo", description="test culture for robustness")]


@cultura.hookimpl
def cultura_tokenizer_tweaks(culture):
    fold = str.maketrans({"電": "电"})
    return cultura.TokenizerTweaks(normalizers=[
        cultura.Normalizer("eo.fold", lambda texts: [t.translate(fold) for t in texts])])


@cultura.hookimpl
def cultura_adapter_heads(culture):
    return [cultura.AdapterHeadSpec("sentiment", "seq-cls", labels=("pos", "neg"))]


def swap(text):
    return text.replace("great", "\0").replace("terrible", "great").replace("\0", "terrible")


def raises(text):
    raise ValueError("no such luck")


def returns_none(text):
    return None


def hangs(text):
    time.sleep(5)
    return text


@cultura.hookimpl
def cultura_perturbations(culture):
    P = cultura.Perturbation
    return [
        P("eo.swap", swap, "great <-> terrible (flips the label)", kind="other"),
        P("eo.upper", str.upper, "upper case (the tokenizer is uncased)", kind="casing"),
        P("eo.inert", lambda text: text, "changes nothing"),
        P("eo.trad", lambda text: text.replace("电", "電"), "电 -> 電 (folded back)",
          kind="script"),
        P("eo.raises", raises, "raises"),
        P("eo.none", returns_none, "returns None"),
        P("eo.hangs", hangs, "hangs"),
    ]
