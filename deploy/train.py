"""Train one culture adapter: on one machine, or unchanged on many under ``accelerate launch``.

    python deploy/train.py train.jsonl --base BASE --culture zh-Hant-TW --task sentiment -o out/
    accelerate launch --multi_gpu --num_machines 2 --machine_rank 0 --num_processes 16 \\
        --main_process_ip 10.0.0.1 --main_process_port 29500 \\
        deploy/train.py train.jsonl --base BASE --culture zh-Hant-TW --task sentiment -o out/

cultura's training loop runs on ``accelerate.Accelerator``: every process reads the same data
file and trains on its own shard of each epoch, gradients are averaged across processes, and
only the main process (global rank 0) writes the adapter. ``--batch-size`` is per process.
Precision follows ``--dtype`` (bfloat16 trains in Accelerate's mixed precision).
See docs/deploy.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import cultura
from cultura.adapt.defaults import DEFAULT_BATCH_SIZE, DEFAULT_LR
from cultura.adapt.precision import DTYPE_CHOICES


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("data", help="training data, read as `cultura train` reads it")
    parser.add_argument("--eval", default=None, help="held-out data (early stopping)")
    parser.add_argument("--base", required=True, help="base model: Hub id, path or alias")
    parser.add_argument("--culture", required=True, help="BCP-47 tag, e.g. zh-Hant-TW")
    parser.add_argument("--task", required=True, help="a task of the culture's plugins, or lm")
    parser.add_argument("--output", "-o", required=True, help="adapter directory to write")
    parser.add_argument("--epochs", type=int, default=None, help="default: by the data's size")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="per process")
    parser.add_argument("--lr", type=float, default=DEFAULT_LR)
    parser.add_argument("--dtype", choices=DTYPE_CHOICES, default="auto")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)

    model = cultura.adapt(args.base, culture=args.culture, task=args.task, dtype=args.dtype,
                          seed=args.seed)
    model.train(args.data, args.eval, epochs=args.epochs, batch_size=args.batch_size,
                lr=args.lr, seed=args.seed, progress=False)
    model.save_pretrained(args.output, overwrite=True)


if __name__ == "__main__":
    main()
