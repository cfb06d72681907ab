"""Causal-LM adapters served: a mixed batch of cultures continued in one decode loop.

:meth:`MultiCultureServer.generate <cultura.serve.server.MultiCultureServer.generate>` routes
and groups rows by culture, builds each row's prompt as the culture's
:class:`~cultura.adapt.model.CulturalModel` does (its normalizers, its knowledge in the prompt
template when the adapter injects knowledge, its tokenizer and added tokens mapped into the
shared embedding table), pads the prompts on the left and runs one decode loop for the batch:
a prefill pass, then one token per row per step through the base model's own key/value cache
(``cache``, formerly ``past_key_values``, of the ``transformers`` forward, with ``position_ids`` counted from each
row's first real token). The route — which LoRA slot each row uses — is fixed for the whole
loop, so every step runs each row through its culture's adapter (fused slots, or PEFT's
``adapter_names`` on the PEFT engine).

Added vocabulary
    Each culture's added tokens have rows in the shared input table
    (:mod:`cultura.serve.table`) and, in the output layer, rows at the same shared ids
    (:class:`OutputTable`): a tied LM head *is* the table; an untied one is grown with it and
    holds each culture's trained output rows. A row's next token is chosen among the base
    vocabulary and its own culture's added tokens only (the logits are gathered in the
    culture's own token numbering), so its scores are those of its own model. Refused, with the
    reason: LoRA or a saved copy on the LM head itself, and an untied LM head with a bias when
    the adapter adds tokens.

Decoding
    Greedy by default (what ``CulturalModel.predict`` does for causal-lm heads, with which the
    tokens agree); ``do_sample=True`` samples from ``softmax(logits / temperature)`` with a
    seeded generator (the same request and seed give the same output). A row stops at its
    tokenizer's end-of-sequence token, after ``max_new_tokens``, or when it reaches the base's
    maximum positions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cultura.serve.errors import ServeError, UnsupportedAdapterError

if TYPE_CHECKING:
    import torch

    from cultura.serve.adapters import ServedAdapter
    from cultura.serve.server import MultiCultureServer
    from cultura.serve.table import SharedTable

__all__ = ["OutputTable", "generate"]


class OutputTable:
    """The LM head of a causal-LM server, row for row with the shared embedding table (see the
    module docstring)."""

    def __init__(self, model: Any) -> None:
        from cultura.adapt.heads import module_name

        out = model.get_output_embeddings()
        if out is None or getattr(out, "weight", None) is None:
            raise ServeError(f"{type(model).__name__} has no output layer to generate with")
        self.module = out
        self.name = module_name(model, out)
        self.tied = out.weight is model.get_input_embeddings().weight
        self.v0 = int(out.weight.shape[0])

    def check(self, adapter: ServedAdapter, label: str) -> None:
        """Refuse what cannot share this output layer (before any row is placed)."""
        prefix = f"{self.name}."
        touched = [n for n in (*adapter.lora, *adapter.heads) if n == self.name]
        touched += [k for k in adapter.peft_state if k.startswith(prefix) or f".{prefix}" in k]
        if touched:
            raise UnsupportedAdapterError(
                f"{label}: its adapter changes the LM head ({self.name}) itself, which the "
                "server shares among all cultures over one vocabulary table; serve it alone "
                "with CulturalModel.predict, or retrain it without the LM head in "
                "target_modules / modules_to_save"
            )
        if adapter.token_ids and not self.tied and getattr(self.module, "bias", None) is not None:
            raise UnsupportedAdapterError(
                f"{label}: it adds tokens to a base whose untied LM head has a bias, which the "
                "server's shared output rows do not hold; serve it alone with "
                "CulturalModel.predict"
            )
        if adapter.token_ids and not self.tied and adapter.out_rows is None:
            raise UnsupportedAdapterError(
                f"{label}: it adds tokens but holds no LM-head rows for them; re-save the adapter"
            )

    def place(self, table: SharedTable, adapter: ServedAdapter) -> None:
        """Give the output layer the table's row count and ``adapter``'s added output rows at
        the shared ids the table gave its tokens."""
        import torch
        from torch import nn

        weight = table.embedding.weight
        if self.tied:  # the table's rows are the output rows (the table may have grown)
            self.module.weight = weight
        else:
            if self.module.weight.shape[0] < weight.shape[0]:
                old = self.module.weight
                new = old.new_zeros(weight.shape[0], old.shape[1])
                new[: old.shape[0]] = old
                self.module.weight = nn.Parameter(new, requires_grad=False)
            if adapter.out_rows is not None and adapter.row_start is not None:
                start, n = adapter.row_start, int(adapter.out_rows.shape[0])
                with torch.no_grad():
                    self.module.weight[start : start + n] = adapter.out_rows.to(self.module.weight.dtype)
        if hasattr(self.module, "out_features"):
            self.module.out_features = int(self.module.weight.shape[0])


@contextmanager
def _routed(server: MultiCultureServer, groups: list[tuple[str, list[int]]], engine: str) -> Iterator[Any]:
    """The model to call for a batch of ``groups`` (culture, rows), each row routed to its
    culture's adapter for every call made inside the block."""
    import functools

    from cultura.serve.dispatch import choose_mixed
    from cultura.serve.fused import Route

    adapters = [server._adapters[k] for k, _ in groups]
    sizes = [len(rows) for _, rows in groups]
    if engine == "fused":
        keys = [a.key for a in adapters]
        slots = [server._slots.swap_in(a, keys) for a in adapters]
        mode = choose_mixed(server.mixed, len(groups), server.calibration)
        route = Route.from_sizes(slots, sizes, device=server.device, mode=mode)
        with server._slots.router.routing(route):
            yield server.model
    else:
        peft = server._peft_engine()
        for a in adapters:
            peft.load(a)
        names = [a.key for a, n in zip(adapters, sizes, strict=True) for _ in range(n)]
        yield functools.partial(peft.model, adapter_names=names)


def _cache_name(model: Any) -> str:
    """The name of the key/value cache argument (and output) of ``model``'s forward:
    ``cache`` in recent ``transformers``, ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _prompts(adapter: ServedAdapter, texts: list[str]) -> list[list[int]]:
    """Each text's prompt as the culture's model builds it, in shared-table ids, unpadded."""
    enc = adapter.encode(texts)
    ids, mask = enc["input_ids"], enc["attention_mask"].bool()
    return [row[keep].tolist() for row, keep in zip(ids, mask, strict=True)]


def _decode_batch(
    server: MultiCultureServer,
    groups: list[tuple[str, list[int]]],
    texts: list[str],
    engine: str,
    *,
    max_new_tokens: int,
    generator: torch.Generator | None,
    temperature: float,
) -> list[tuple[list[int], list[float]]]:
    """Generated tokens (in each culture's numbering) and their log-probabilities, per row of
    ``groups`` in order."""
    import torch

    device = server.device
    adapters = [server._adapters[k] for k, _ in groups]
    prompts = [p for a, (_, rows) in zip(adapters, groups, strict=True)
               for p in _prompts(a, [texts[i] for i in rows])]
    # per row: the culture's vocabulary as shared-table ids (its id j -> column index[j])
    index, eos = [], []
    for a, (_, rows) in zip(adapters, groups, strict=True):
        columns = a.lut if a.lut is not None else torch.arange(server._table.v0)
        index += [columns.to(device)] * len(rows)
        eos += [a.encoder.tokenizer.eos_token_id] * len(rows)
    batch, length = len(prompts), max(len(p) for p in prompts)
    if length == 0:
        raise ServeError("a prompt encodes to no tokens; give each row some text")
    ids = torch.full((batch, length), server.pad_id, dtype=torch.long)
    mask = torch.zeros((batch, length), dtype=torch.long)
    for r, p in enumerate(prompts):
        if p:
            ids[r, length - len(p) :] = torch.tensor(p)
            mask[r, length - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    config = server.model.config
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    lengths = [len(p) for p in prompts]
    new: list[list[int]] = [[] for _ in prompts]
    logps: list[list[float]] = [[] for _ in prompts]
    done = [False] * batch
    cache = _cache_name(server.model)
    with torch.inference_mode(), _routed(server, groups, engine) as model:
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                    logits_to_keep=1)
        for step in range(max_new_tokens):
            last = out.logits[:, -1].float()
            following = []
            for r in range(batch):
                if not done[r] and limit is not None and lengths[r] >= limit:
                    done[r] = True
                if done[r]:
                    following.append(server.pad_id)
                    continue
                logp = torch.log_softmax(last[r, index[r]], dim=-1)
                if generator is None:
                    token = int(logp.argmax())
                else:
                    probs = torch.softmax(last[r, index[r]] / temperature, dim=-1)
                    token = int(torch.multinomial(probs, 1, generator=generator))
                if eos[r] is not None and token == eos[r]:
                    done[r] = True
                    following.append(server.pad_id)
                    continue
                new[r].append(token)
                logps[r].append(float(logp[token]))
                lengths[r] += 1
                following.append(int(index[r][token]))
            if all(done) or step == max_new_tokens - 1:
                break
            mask = torch.cat([mask, mask.new_ones((batch, 1))], dim=1)
            positions = positions[:, -1:] + 1
            out = model(input_ids=torch.tensor(following, device=device).unsqueeze(1),
                        attention_mask=mask, position_ids=positions,
                        use_cache=True, **{cache: getattr(out, cache)})
    return list(zip(new, logps, strict=True))


def generate(
    server: MultiCultureServer,
    texts: list[str],
    keys: list[str],
    *,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    seed: int | None = None,
    batch_size: int | None = None,
) -> list[dict[str, Any]]:
    """Continue each of ``texts`` with its culture's adapter (``keys``: the served culture per
    row); ``{"culture", "text", "generated", "score", "token_ids"}`` per row in input order
    (``score``: the mean log-probability of the generated tokens, as ``CulturalModel.predict``
    gives; ``token_ids``: in the culture's own token numbering)."""
    import torch

    if max_new_tokens < 1:
        raise ServeError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if do_sample and not temperature > 0:
        raise ServeError(f"temperature must be above 0 for sampling, got {temperature}")
    generator = None
    if do_sample:
        generator = torch.Generator(device=server.device)
        generator.manual_seed(seed if seed is not None else int(torch.seed() % 2**63))
    out: list[dict[str, Any]] = [{} for _ in texts]
    with server._lock:
        for engine, part in server._parts(keys, batch_size):
            start = time.perf_counter()
            results = _decode_batch(server, part, texts, engine, max_new_tokens=max_new_tokens,
                                    generator=generator, temperature=temperature)
            server.stats["generate_microseconds"] += int((time.perf_counter() - start) * 1e6)
            server.stats["generate_batches"] += 1
            server.stats[f"generate_batches_{engine}"] += 1
            rows = [(k, i) for k, idx in part for i in idx]
            for (key, i), (tokens, logps) in zip(rows, results, strict=True):
                adapter = server._adapters[key]
                tokenizer = adapter.encoder.tokenizer
                out[i] = {
                    "culture": key,
                    "text": texts[i],
                    "generated": tokenizer.decode(tokens, skip_special_tokens=True),
                    "score": sum(logps) / len(logps) if logps else 0.0,
                    "token_ids": tokens,
                }
                adapter.rows_served += 1
        server.stats["rows"] += len(texts)
    return out
