"""The plugin conformance suite: small named checks any cultura plugin can run on itself.

Modelled on scikit-learn's ``check_estimator``: each check is a plain function taking a
:class:`PluginUnderTest` and raising :class:`AssertionError` (it failed),
:class:`CheckSkipped` (it does not apply, with the reason) or returning ``None`` (it passed).
Checks come in two kinds:

* ``api`` — required: the plugin loads, declares its API version, imports no heavy module,
  its hooks return valid registrations, its probe file reads, normalizers are pure,
  idempotent, batched == per-item and never empty a non-empty text, each culture's whole
  normalizer chain leaves no stray white space or added invisible character, knowledge ids
  are unique and templates fill as the runtime fills them, term groups are balanced, sample
  data parses with known labels;
* ``quality`` — expected of a published plugin: added tokens are not already single tokens of
  the base vocabulary and initialize, sample data is balanced, knowledge is sourced, minimal
  pairs are minimal.

Only the checks that apply to what the plugin declares are run; the others are reported as
skipped, with the reason. Normalizer checks run over the built-in probes
(:data:`BUILTIN_PROBES`), the plugin's probe file (``CULTURA_PROBES``, read by
:func:`read_probes`) and the texts the plugin ships.

Use it from a test suite (``pytest`` picks the ids ``cultura-xx::check_name``)::

    from cultura.testing import parametrize_with_plugin_checks

    @parametrize_with_plugin_checks(["cultura_xx"])
    def test_conformance(plugin, check):
        check(plugin)

or in code::

    from cultura.testing import check_plugin
    report = check_plugin("cultura_xx")        # raises ConformanceError on a failure
    print(report.summary())

The package's modules: :mod:`~.loading` (the plugin under test), :mod:`~.registry` (checks
and their registry), :mod:`~.probes` (probe texts, the probe file format and the rule for
normalized text), :mod:`~.texts` (texts from the plugin's own data), one ``checks_*`` module
per group of checks (they register in the order imported here) and :mod:`~.runner`.
"""

# ruff: noqa: I001 -- the check modules are imported in the order their checks run
from __future__ import annotations

from cultura.testing.conformance.checks_loading import (
    HEAVY_MODULES,
    check_api_version,
    check_cultures_declared,
    check_hooks_return_registrations,
    check_import_is_light,
    check_profiles_build,
    check_registers,
)
from cultura.testing.conformance.checks_normalizers import (
    check_normalizer_batched_equals_single,
    check_normalizer_idempotent,
    check_normalizer_keeps_text,
    check_normalizer_pure,
    check_normalizer_returns_strings,
    check_probes,
    check_profile_normalization_clean,
    check_profile_normalization_idempotent,
)
from cultura.testing.conformance.checks_vocabulary import (
    base_tokenizer,
    check_vocabulary_initializes,
    check_vocabulary_not_in_base,
    check_vocabulary_resolves,
    tokenizer_efficacy,
)
from cultura.testing.conformance.checks_knowledge import (
    check_knowledge_entries,
    check_knowledge_provenance,
    check_knowledge_templates,
)
from cultura.testing.conformance.checks_heads import (
    check_adapter_heads,
    check_sample_data_balanced,
)
from cultura.testing.conformance.checks_bias import (
    check_bias_checks,
    check_bias_groups_sizeable,
    check_bias_pairs_minimal,
)
from cultura.testing.conformance.checks_distribution import check_distribution_metadata
from cultura.testing.conformance.checks_perturbations import (
    check_perturbations_change_text,
    check_perturbations_return_strings,
)
from cultura.testing.conformance.loading import PluginUnderTest, load_plugin
from cultura.testing.conformance.probes import (
    BUILTIN_PROBES,
    EDGE_TEXTS,
    PROBES_ATTRIBUTE,
    read_probes,
)
from cultura.testing.conformance.registry import (
    CHECKS,
    Check,
    CheckSkipped,
    ConformanceError,
    ConformanceSkipWarning,
    Kind,
)
from cultura.testing.conformance.runner import (
    CheckOutcome,
    ConformanceReport,
    check_plugin,
    parametrize_with_plugin_checks,
    plugin_checks,
)

__all__ = [
    "BUILTIN_PROBES",
    "CHECKS",
    "EDGE_TEXTS",
    "HEAVY_MODULES",
    "PROBES_ATTRIBUTE",
    "Check",
    "CheckOutcome",
    "CheckSkipped",
    "ConformanceError",
    "ConformanceReport",
    "ConformanceSkipWarning",
    "Kind",
    "PluginUnderTest",
    "base_tokenizer",
    "check_plugin",
    "load_plugin",
    "parametrize_with_plugin_checks",
    "plugin_checks",
    "read_probes",
    "tokenizer_efficacy",
    # the checks, also reached through CHECKS
    "check_adapter_heads",
    "check_api_version",
    "check_bias_checks",
    "check_bias_groups_sizeable",
    "check_bias_pairs_minimal",
    "check_cultures_declared",
    "check_distribution_metadata",
    "check_hooks_return_registrations",
    "check_import_is_light",
    "check_knowledge_entries",
    "check_knowledge_provenance",
    "check_knowledge_templates",
    "check_normalizer_batched_equals_single",
    "check_perturbations_change_text",
    "check_perturbations_return_strings",
    "check_normalizer_idempotent",
    "check_normalizer_keeps_text",
    "check_normalizer_pure",
    "check_normalizer_returns_strings",
    "check_probes",
    "check_profile_normalization_clean",
    "check_profile_normalization_idempotent",
    "check_profiles_build",
    "check_registers",
    "check_sample_data_balanced",
    "check_vocabulary_initializes",
    "check_vocabulary_not_in_base",
    "check_vocabulary_resolves",
]
