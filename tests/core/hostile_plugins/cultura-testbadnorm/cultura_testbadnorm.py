"""A plugin whose normalizers fail: one raises (culture qac), one returns ints (qad)."""
import cultura
from cultura import CultureInfo, Normalizer, TokenizerTweaks

CULTURA_API_VERSION = "1.0"


def explode(texts):
    raise ValueError("normalizer exploded")


def numbers(texts):
    return [5 for _ in texts]


@cultura.hookimpl
def cultura_cultures():
    return [CultureInfo("qac", english_name="Test C"), CultureInfo("qad", english_name="Test D")]


@cultura.hookimpl
def cultura_tokenizer_tweaks(culture):
    fn = explode if culture.tag == "qac" else numbers
    return TokenizerTweaks(normalizers=[Normalizer(f"badnorm.{fn.__name__}", fn)])
