"""A plugin that claims zh and gives a normalizer id that cultura-zh already gives at zh."""
import cultura
from cultura import CultureInfo, Normalizer, TokenizerTweaks

CULTURA_API_VERSION = "1.0"


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("zh")]


@cultura.hookimpl
def cultura_tokenizer_tweaks(culture):
    if culture.tag == "zh":
        return TokenizerTweaks(normalizers=[Normalizer("zh.width", lambda t: list(t))])
    return None
