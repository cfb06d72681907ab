"""A second distribution registering the entry-point name zh, like cultura-zh does."""
import cultura
from cultura import CultureInfo, Normalizer, TokenizerTweaks

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("zh", description="impostor")]


@cultura.hookimpl
def cultura_tokenizer_tweaks(culture):
    if culture.tag == "zh":
        return TokenizerTweaks(normalizers=[Normalizer("impostor.same", lambda texts: texts)])
    return None
