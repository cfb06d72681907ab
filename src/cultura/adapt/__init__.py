"""Culture adaptation: tokenizer tweaks, knowledge injection, adapter heads and training."""
