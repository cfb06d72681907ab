"""cultura: a plugin-based culture adapter registry for Hugging Face models.

The public API is re-exported here and imported lazily: ``import cultura`` does not import
torch, transformers or peft; they load when a function that computes with a model is used.

>>> import cultura
>>> cultura.culture("zh-TW").normalize("软件")  # doctest: +SKIP
'軟體'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    # core
    "hookimpl": "cultura.core.hookspecs:hookimpl",
    "hookspec": "cultura.core.hookspecs:hookspec",
    "API_VERSION": "cultura.core.hookspecs:API_VERSION",
    "Culture": "cultura.core.tags:Culture",
    "fallback_chain": "cultura.core.tags:fallback_chain",
    "canonical_tag": "cultura.core.tags:canonical",
    "culture": "cultura.core.profile:culture",
    "CultureProfile": "cultura.core.profile:CultureProfile",
    "Contribution": "cultura.core.profile:Contribution",
    "PluginManager": "cultura.core.plugins:PluginManager",
    "PluginRecord": "cultura.core.plugins:PluginRecord",
    "PluginWarning": "cultura.core.plugins:PluginWarning",
    "get_plugin_manager": "cultura.core.plugins:get_plugin_manager",
    "reset_plugin_manager": "cultura.core.plugins:reset_plugin_manager",
    # plugin data helpers (for plugin authors)
    "data_file": "cultura.core.plugin_data:data_file",
    "word_list": "cultura.core.plugin_data:word_list",
    "knowledge_entries": "cultura.core.plugin_data:knowledge_entries",
    "bias_checks_from_json": "cultura.core.plugin_data:bias_checks_from_json",
    # declarative plugins (a plugin as a class of data; hooks derived)
    "Plugin": "cultura.core.declarative:Plugin",
    "VocabularyFile": "cultura.core.declarative:VocabularyFile",
    "KnowledgeFile": "cultura.core.declarative:KnowledgeFile",
    "Head": "cultura.core.declarative:Head",
    "BiasFile": "cultura.core.declarative:BiasFile",
    "DeclarationError": "cultura.core.declarative:DeclarationError",
    # adapters, registry, bias, serving (heavy modules: imported on first use)
    "adapt": "cultura.adapt.model:adapt",
    "CulturalModel": "cultura.adapt.model:CulturalModel",
    "load_pretrained": "cultura.adapt.model:load_pretrained",
    "train": "cultura.adapt.train:train",
    "resume": "cultura.adapt.continual:resume",
    "regression_gate": "cultura.adapt.continual:regression_gate",
    "RegressionError": "cultura.adapt.continual:RegressionError",
    "prompt": "cultura.adapt.prompting:prompt",
    "Prompt": "cultura.adapt.prompting:Prompt",
    "zero_shot": "cultura.adapt.zeroshot:zero_shot",
    "ZeroShotClassifier": "cultura.adapt.prompting:ZeroShotClassifier",
    "fit_wide_deep": "cultura.adapt.wide:fit_wide_deep",
    "WideDeepClassifier": "cultura.adapt.wide:WideDeepClassifier",
    "fit_wide_tagger": "cultura.adapt.tagger:fit_wide_tagger",
    "WideTagger": "cultura.adapt.tagger:WideTagger",
    "gloss_view": "cultura.adapt.glossview:gloss_view",
    "load": "cultura.registry.resolve:load",
    "publish": "cultura.registry.hub:publish",
    "pull": "cultura.registry.hub:pull",
    "search": "cultura.registry.hub:search",
    "check_bias": "cultura.registry.bias:check_bias",
    "BiasReport": "cultura.bias.report:BiasReport",
    "robustness_report": "cultura.robustness.engine:robustness_report",
    "robustness_gate": "cultura.robustness.report:robustness_gate",
    "RobustnessReport": "cultura.robustness.report:RobustnessReport",
    "MultiCultureServer": "cultura.serve.server:MultiCultureServer",
    "export_onnx": "cultura.export.onnx:export_onnx",
    "OnnxModel": "cultura.export.runtime:OnnxModel",
    "Explanation": "cultura.explain.attribution:Explanation",
    "WordAttribution": "cultura.explain.attribution:WordAttribution",
    "PieceAttribution": "cultura.explain.attribution:PieceAttribution",
    # registrations
    "AdapterHeadSpec": "cultura.core.types:AdapterHeadSpec",
    "BiasCheck": "cultura.core.types:BiasCheck",
    "CultureInfo": "cultura.core.types:CultureInfo",
    "EmbeddingSource": "cultura.core.types:EmbeddingSource",
    "KnowledgeEntry": "cultura.core.types:KnowledgeEntry",
    "KnowledgeSource": "cultura.core.types:KnowledgeSource",
    "MinimalPair": "cultura.core.types:MinimalPair",
    "Normalizer": "cultura.core.types:Normalizer",
    "PeftSpec": "cultura.core.types:PeftSpec",
    "Perturbation": "cultura.core.types:Perturbation",
    "PromptTemplate": "cultura.core.types:PromptTemplate",
    "Provenance": "cultura.core.types:Provenance",
    "PublishedAdapter": "cultura.core.types:PublishedAdapter",
    "TokenizerTweaks": "cultura.core.types:TokenizerTweaks",
    "VocabularyExtension": "cultura.core.types:VocabularyExtension",
    "WordRules": "cultura.core.types:WordRules",
    # errors
    "CulturaError": "cultura.core.errors:CulturaError",
    "ConflictError": "cultura.core.errors:ConflictError",
    "DataError": "cultura.core.errors:DataError",
    "PluginError": "cultura.core.errors:PluginError",
    "RegistrationError": "cultura.core.errors:RegistrationError",
    "TagError": "cultura.core.errors:TagError",
    "UnknownCultureError": "cultura.core.errors:UnknownCultureError",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'cultura' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from cultura.core.declarative import (  # noqa: F401
        BiasFile,
        DeclarationError,
        Head,
        KnowledgeFile,
        Plugin,
        VocabularyFile,
    )
    from cultura.core.errors import (  # noqa: F401
        ConflictError,
        CulturaError,
        DataError,
        PluginError,
        RegistrationError,
        TagError,
        UnknownCultureError,
    )
    from cultura.core.hookspecs import API_VERSION, hookimpl, hookspec  # noqa: F401
    from cultura.core.plugins import (  # noqa: F401
        PluginManager,
        PluginRecord,
        PluginWarning,
        get_plugin_manager,
        reset_plugin_manager,
    )
    from cultura.core.profile import Contribution, CultureProfile, culture  # noqa: F401
    from cultura.core.tags import Culture, fallback_chain  # noqa: F401
    from cultura.core.types import (  # noqa: F401
        AdapterHeadSpec,
        BiasCheck,
        CultureInfo,
        KnowledgeEntry,
        KnowledgeSource,
        MinimalPair,
        Normalizer,
        PeftSpec,
        Perturbation,
        PromptTemplate,
        Provenance,
        PublishedAdapter,
        TokenizerTweaks,
        VocabularyExtension,
        WordRules,
    )
    from cultura.explain.attribution import (  # noqa: F401
        Explanation,
        PieceAttribution,
        WordAttribution,
    )
    from cultura.robustness.engine import robustness_report  # noqa: F401
    from cultura.robustness.report import RobustnessReport, robustness_gate  # noqa: F401
