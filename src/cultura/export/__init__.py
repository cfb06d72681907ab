"""Exports of culture adapters to formats other engines load.

* :mod:`cultura.export.vllm`: causal-LM LoRA adapters (no added vocabulary) as the PEFT
  LoRA layout vLLM's multi-LoRA serving loads (:func:`~cultura.export.vllm.export_vllm`).
"""
