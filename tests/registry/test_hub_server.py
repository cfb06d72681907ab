"""The local Hub-compatible server itself, through the real huggingface_hub client and raw HTTP."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from cultura.testing.hub import LocalHub, git_blob_oid


def _request(hub: LocalHub, method: str, path: str, *, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(hub.url + path, data=body, method=method,
                                 headers={"Authorization": f"Bearer {hub.token}", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture
def repo(hf_api: Any) -> str:
    hf_api.create_repo("org/files")
    hf_api.upload_file(path_or_fileobj=bytes(range(256)) * 4, path_in_repo="data/blob.bin",
                       repo_id="org/files")
    return "org/files"


def test_resolve_headers_and_ranges(local_hub: LocalHub, repo: str) -> None:
    commit = local_hub.commits(repo)[0]
    data = bytes(range(256)) * 4
    status, headers, body = _request(local_hub, "HEAD", f"/{repo}/resolve/main/data/blob.bin")
    assert status == 200 and body == b""
    assert headers["X-Repo-Commit"] == commit
    assert headers["ETag"] == f'"{git_blob_oid(data)}"'
    assert headers["Content-Length"] == str(len(data))
    status, headers, body = _request(local_hub, "GET", f"/{repo}/resolve/{commit}/data/blob.bin",
                                     headers={"Range": "bytes=1000-"})
    assert status == 206 and body == data[1000:]
    assert headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    status, _, _ = _request(local_hub, "GET", f"/{repo}/resolve/main/data/blob.bin",
                            headers={"Range": "bytes=5000-"})
    assert status == 416


def test_errors_map_to_the_client_exceptions(local_hub: LocalHub, hf_api: Any, repo: str) -> None:
    with pytest.raises(RepositoryNotFoundError):
        hf_api.model_info("org/missing")
    with pytest.raises(RevisionNotFoundError):
        hf_api.model_info(repo, revision="nope")
    with pytest.raises(RemoteEntryNotFoundError):
        hf_api.hf_hub_download(repo, "missing.txt")
    with pytest.raises(HfHubHTTPError) as info:
        HfApi(endpoint=local_hub.url, token=False).create_repo("org/anon")
    assert info.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as info:
        HfApi(endpoint=local_hub.url, token="hf_wrong").model_info(repo)
    assert info.value.response.status_code == 401  # a bad token is refused even for reads
    assert [f.path for f in hf_api.list_repo_tree(repo, recursive=True)] == [
        ".gitattributes", "data", "data/blob.bin"]
    assert [f.path for f in hf_api.list_repo_tree(repo)] == [".gitattributes", "data"]


def test_commits_are_all_or_nothing_and_honour_the_parent(
    local_hub: LocalHub, hf_api: Any, repo: str
) -> None:
    head = local_hub.commits(repo)[0]
    lines = [
        {"key": "header", "value": {"summary": "two ops"}},
        {"key": "file", "value": {"path": "new.txt", "encoding": "base64",
                                  "content": base64.b64encode(b"new").decode()}},
        {"key": "deletedFile", "value": {"path": "not/there.txt"}},
    ]
    body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    status, headers, _ = _request(local_hub, "POST", f"/api/models/{repo}/commit/main", body=body,
                                  headers={"Content-Type": "application/x-ndjson"})
    assert status == 404 and headers["X-Error-Code"] == "EntryNotFound"
    assert local_hub.commits(repo)[0] == head and "new.txt" not in local_hub.files(repo)
    lines[0]["value"]["parentCommit"] = "0" * 40
    del lines[2]
    body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    status, _, _ = _request(local_hub, "POST", f"/api/models/{repo}/commit/main", body=body)
    assert status == 412 and local_hub.commits(repo)[0] == head
    lines[0]["value"]["parentCommit"] = head
    body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    status, _, reply = _request(local_hub, "POST", f"/api/models/{repo}/commit/main", body=body)
    assert status == 200 and json.loads(reply)["commitOid"] == local_hub.commits(repo)[0]
    assert local_hub.files(repo)["new.txt"] == b"new"
    assert [c.title for c in hf_api.list_repo_commits(repo)] == [
        "two ops", "Upload data/blob.bin with huggingface_hub", "initial commit"]


def test_list_models_filters_are_anded_and_come_from_the_card(
    local_hub: LocalHub, hf_api: Any
) -> None:
    cards = {
        "org/a": "---\nlibrary_name: peft\nbase_model: base/x\nlanguage: [zh]\n"
                 "tags: [cultura, 'culture:zh']\n---\n",
        "org/b": "---\ntags: [cultura]\n---\n",
        "org/c": "no front matter",
    }
    for repo_id, card in cards.items():
        hf_api.create_repo(repo_id)
        hf_api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo_id)
    ids = lambda **kw: sorted(m.id for m in hf_api.list_models(**kw))  # noqa: E731
    assert ids(filter="cultura") == ["org/a", "org/b"]
    assert ids(filter=["cultura", "culture:zh"]) == ["org/a"]
    assert ids(filter=["base_model:adapter:base/x", "peft", "zh"]) == ["org/a"]
    assert ids(search="B") == ["org/b"]
    assert ids(author="org") == ["org/a", "org/b", "org/c"]
    [info] = list(hf_api.list_models(filter="culture:zh", cardData=True))
    assert info.card_data.base_model == "base/x"
