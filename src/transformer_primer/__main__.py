"""Command line: train, translate, complete and evaluate the character-level models.

Usage::

    python -m transformer_primer train reverse                 # writes ./reverse.npz
    python -m transformer_primer train reverse --out src/transformer_primer/weights/reverse.npz
    python -m transformer_primer translate reverse "hello world"   # prints: dlrow olleh
    python -m transformer_primer evaluate reverse --weights reverse.npz
    python -m transformer_primer train add                     # the decoder-only GPT: ./add.npz
    python -m transformer_primer complete add "37+48="         # prints: 85

The arrays of these models are tiny, so each numpy call is short and BLAS threads cost more
than they give: ``main`` sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` to 1 (unless they are already set) before anything imports numpy; this
module and ``transformer_primer/__init__.py`` import numpy only inside the commands.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported inside the commands only (see the module docstring)
    from .completer import Completer
    from .seq2seq import Seq2Seq

__all__ = ["main"]

MAX_TRAIN_SECONDS = 120  # the budget for one training run on one core (issue 4), in CPU seconds
MAX_TRAIN_SECONDS_GPT = 180  # the decoder-only model's budget (issue 13), in CPU seconds
QUALITY_GPT = {"add": 0.99}  # the exact match on held-out prompts the shipped GPT must reach
MAX_EVALUATE = 100_000  # held-out strings `evaluate -n` decodes at most (1,000 take a few seconds)


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    from .seq2seq import check_writable
    from .train import GPTTrainConfig, TrainConfig, train, train_gpt

    kind = GPTTrainConfig if args.task in QUALITY_GPT else TrainConfig
    given = {f.name: getattr(args, f.name, None) for f in fields(kind)}  # the command's options
    config = kind(**{name: value for name, value in given.items() if value is not None})
    out = check_writable("--out", args.out if args.out else f"{args.task}.npz")  # before training
    progress = None if args.quiet else sys.stderr
    if isinstance(config, GPTTrainConfig):
        model: Seq2Seq | Completer = train_gpt(config, progress)
    else:
        model = train(config, progress)
    model.metadata["command"] = shlex.join(["python", "-m", "transformer_primer", *argv])
    model.save(out)  # written whole or not at all
    last = float(model.history["valid_exact"][-1])
    print(
        f"{args.task}: {model.n_parameters} parameters, {config.steps} steps in "
        f"{model.metadata['train_seconds']:.1f} s, validation exact match {last:.3f}; wrote {out}"
    )
    return 0


def _load(args: argparse.Namespace) -> Seq2Seq:
    """The model of the command: the shipped one for the task, or --weights, trained on that task."""
    from .seq2seq import load, pretrained

    model = load(args.weights) if args.weights else pretrained(args.task)
    if model.task != args.task:
        raise ValueError(
            f"the weights in {args.weights} were trained on {model.task!r}, not on {args.task!r}: "
            f"ask for {model.task!r}, or give weights trained on {args.task!r}"
        )
    return model


def _load_completer(args: argparse.Namespace) -> Completer:
    """The decoder-only model of the command: the shipped one, or --weights trained on that task."""
    from .completer import load, pretrained

    model = load(args.weights) if args.weights else pretrained("add")
    if model.task != args.task:
        raise ValueError(
            f"the weights in {args.weights} were trained on {model.task!r}, not on {args.task!r}"
        )
    return model


def _translate(args: argparse.Namespace) -> int:
    print(_load(args).translate(args.text))
    return 0


def _complete(args: argparse.Namespace) -> int:
    print(_load_completer(args).complete(args.prompt))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .tasks import QUALITY, held_out, held_out_additions

    gpt = args.task in QUALITY_GPT
    limit = 1010 if gpt else MAX_EVALUATE  # the addition task's test split holds 1,010 prompts
    what = "held-out prompts" if gpt else "held-out strings"
    if not 1 <= args.n <= limit:
        raise ValueError(f"-n must be 1 to {limit:,} {what}, got {args.n}")
    model: Seq2Seq | Completer
    if gpt:
        model = completer = _load_completer(args)
        accuracy = completer.exact_match(held_out_additions(args.n))
    else:
        model = seq2seq = _load(args)
        accuracy = seq2seq.exact_match(held_out(args.n))
    quality = QUALITY_GPT[args.task] if gpt else QUALITY[args.task]
    budget = MAX_TRAIN_SECONDS_GPT if gpt else MAX_TRAIN_SECONDS
    seconds, cpu = model.metadata.get("train_seconds"), model.metadata.get("train_cpu_seconds")
    print(
        f"{args.task}: exact match {accuracy:.3f} on {args.n} {what} "
        f"(needed {quality:.2f}); trained in {seconds} s wall clock ({cpu} s CPU), "
        f"{model.n_parameters} parameters"
    )
    if args.check:
        if accuracy < quality:
            print(f"FAIL: {args.task} exact match {accuracy:.3f} < {quality:.2f}", file=sys.stderr)
            return 1
        if cpu is None or cpu >= budget:  # CPU time: the one core's work, whatever else runs
            print(f"FAIL: {args.task} trained in {cpu} s of CPU time, budget {budget} s", file=sys.stderr)
            return 1
    return 0


def _program(argv0: str) -> str:
    """How the user ran us, for the usage line: ``python -m transformer_primer`` or the script's name."""
    name = Path(argv0).name
    return "python -m transformer_primer" if name in ("__main__.py", "-m", "") else name


def _parser() -> argparse.ArgumentParser:
    tasks = ["copy", "reverse", "sort"]  # transformer_primer.tasks.TASKS, without importing numpy yet
    parser = argparse.ArgumentParser(prog=_program(sys.argv[0]), description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model from scratch and write its weights")
    p.add_argument("task", choices=[*tasks, *QUALITY_GPT])
    p.add_argument("--out", help="where to write the .npz file (default: TASK.npz)")
    p.add_argument("--seed", type=int, help="the one seed of the run (default 0)")
    p.add_argument("--steps", type=int, help="Adam steps")
    p.add_argument("--batch-size", dest="batch_size", type=int, help="strings per step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("translate", help="run a trained model on one text")
    p.add_argument("task", choices=tasks)
    p.add_argument("text", help="1 to 16 lowercase letters and spaces")
    p.add_argument("--weights", help="an .npz file written by `train` (default: the shipped model)")

    p = sub.add_parser("complete", help="continue a prompt with the decoder-only model")
    p.add_argument("task", choices=sorted(QUALITY_GPT))
    p.add_argument("prompt", help='a sum such as "37+48=" (two numbers 0 to 99)')
    p.add_argument("--weights", help="an .npz file written by `train add` (default: the shipped model)")

    p = sub.add_parser("evaluate", help="exact match on the held-out test strings (or prompts)")
    p.add_argument("task", choices=[*tasks, *QUALITY_GPT])
    p.add_argument("--weights", help="an .npz file written by `train` (default: the shipped model)")
    p.add_argument("-n", type=int, default=1000, help="how many held-out strings (default 1000)")
    p.add_argument(
        "--check", action="store_true", help="exit 1 below the quality bar or over the time budget"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 on success, 1 when ``evaluate --check`` fails, 2 on bad input.
    """
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # read once, when numpy loads BLAS: so before any import of it
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args, argv)
        if args.command == "translate":
            return _translate(args)
        if args.command == "complete":
            return _complete(args)
        return _evaluate(args)
    except (ValueError, TypeError, OSError) as err:  # OSError: a file that cannot be read or written
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
