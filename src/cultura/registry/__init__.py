"""The adapter registry: names, the local registry, Hub publish/pull/search, resolution, lock.

Modules (none imports torch at import time):

* :mod:`~cultura.registry.names` — the name grammar (``zh-Hant-TW/sentiment@v1``,
  ``hf:org/repo@rev``, ``./path``);
* :mod:`~cultura.registry.store` — the local registry under ``$CULTURA_HOME``;
* :mod:`~cultura.registry.hub` — :func:`publish`, :func:`pull`, :func:`search`;
* :mod:`~cultura.registry.download` — ``pull_repo``: download, verify, install one Hub repo;
* :mod:`~cultura.registry.search` — search the Hub by tag;
* :mod:`~cultura.registry.fetch` — the checked Hub client (error translation, size and time
  limits) under downloads, search and publish;
* :mod:`~cultura.registry.resolve` — :func:`resolve` and :func:`load`;
* :mod:`~cultura.registry.bias` — ``check_bias`` taking adapter names (``cultura.check_bias``);
* :mod:`~cultura.registry.lockfile` — ``cultura.lock``;
* :mod:`~cultura.registry.compat` — base-model compatibility;
* :mod:`~cultura.registry.interop` — plain PEFT repos (synthesized manifests);
* :mod:`~cultura.registry.cli` — the ``publish``, ``pull``, ``search``, ``resolve``,
  ``lock``, ``list`` and ``remove`` commands.

See docs/registry.md.
"""
