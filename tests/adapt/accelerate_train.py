"""Trains and saves a tiny adapter; run by test_accelerate.py under ``accelerate launch``.

Usage: accelerate_train.py BASE OUTPUT RESULTS_DIR (each process writes rank<N>.json there)
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import conftest  # noqa: E402  (this directory's fixtures module: the test plugin and toy data)

from cultura.adapt.model import adapt  # noqa: E402
from cultura.core.plugins import PluginManager  # noqa: E402


def main() -> None:
    import torch.distributed as dist

    base, output, results = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    manager = PluginManager(entry_points=False)
    manager.register(conftest.make_plugin(conftest.CallLog()), name="testculture")
    model = adapt(base, culture="zh", task="sentiment", manager=manager)
    history = model.train(conftest.toy_sentiment(), conftest.TOY_EVAL, epochs=2, lr=2e-2,
                          batch_size=8, progress=False)
    model.save_pretrained(output)
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    result = {"rank": rank, "world": world, "steps": [r.steps for r in history]}
    (results / f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
