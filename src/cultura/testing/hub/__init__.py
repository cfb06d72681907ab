"""A local, in-memory, Hugging Face Hub-compatible server for offline tests.

Plugin authors (and cultura's own tests) use it to exercise publishing, pulling and searching
with the *real* ``huggingface_hub`` client, without a network::

    from cultura.testing.hub import LocalHub

    with LocalHub() as hub:                      # listens on 127.0.0.1, a free port
        api = HfApi(endpoint=hub.url, token=hub.token)
        api.create_repo("org/adapter")
        ...

or, in a pytest suite, a fixture built on :func:`serve_local_hub` (see
``tests/registry/conftest.py``), which also points ``HF_ENDPOINT`` and ``HF_TOKEN`` at it.

What it implements — the part of the Hub API that ``huggingface_hub`` uses for model repos:

* ``POST /api/repos/create``, ``DELETE /api/repos/delete``, ``GET /api/whoami-v2``,
  ``POST /api/validate-yaml``;
* ``POST /api/models/{repo}/preupload/{rev}`` (every file is uploaded "regular", i.e. inline)
  and ``POST /api/models/{repo}/commit/{rev}`` (NDJSON: header, file, deletedFile,
  deletedFolder; ``parentCommit`` is honoured). A commit is applied all or nothing;
* ``GET /api/models/{repo}[/revision/{rev}]`` (model info with tags, card data, siblings),
  ``GET /api/models/{repo}/tree/{rev}[/{path}]``, ``POST .../paths-info/{rev}``,
  ``GET .../refs``, ``GET .../commits/{rev}``, ``POST .../branch/{name}``;
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with ``ETag``, ``X-Repo-Commit``,
  ``Content-Length`` and byte ranges (so interrupted downloads resume);
* ``GET /api/models`` with ``filter`` (all must match), ``search``, ``author``, ``sort``,
  ``limit``, ``full`` and ``cardData``. Tags are derived from the README front matter as the
  Hub does (``tags``, ``library_name``, ``language``, ``license:``, ``base_model:``);
* authentication: a request with an unknown token gets ``401 Invalid credentials`` (on every
  route, as on the Hub); writes need a valid token; private repos are hidden without one.

Faults for robustness tests: :meth:`LocalHub.fail` (answer an HTTP error),
:meth:`LocalHub.drop` (cut the connection in the middle of a response body),
:meth:`LocalHub.trickle` (send a response body a few bytes at a time, slowly) and
:meth:`LocalHub.tamper` (serve different bytes for a stored file, as corrupted storage or a
malicious mirror would). Lies of a hostile server, for security tests:
:meth:`LocalHub.override_sha` (answer any string as a repo's commit id) and
:meth:`LocalHub.declare_size` (list a file with a size other than its own).
:attr:`LocalHub.log` records method, path and status of every request — never headers, so
tokens do not end up in it.

The package's modules: :mod:`~.state` (repos, commits, blobs and the request log),
:mod:`~.faults` (:class:`Fault` and the fault API), :mod:`~.handler` (the HTTP routes) and
:mod:`~.server` (:class:`LocalHub`, :func:`serve_local_hub`).
"""

from __future__ import annotations

from cultura.testing.hub.faults import Fault
from cultura.testing.hub.server import LocalHub, serve_local_hub
from cultura.testing.hub.state import RequestRecord, git_blob_oid

__all__ = ["Fault", "LocalHub", "RequestRecord", "git_blob_oid", "serve_local_hub"]
