"""``iterative-reasoning``: train and evaluate region classifiers with and without the reasoning
head, and run the demo.

iterative-reasoning demo [--task detection] [--benchmark hard] [--output-dir runs/demo]
iterative-reasoning diagnose runs/demo-detection-rt_detr   (where the head moves the AP)
iterative-reasoning train --dataset ade20k --root ADE --model final --output-dir runs/ade-final
iterative-reasoning evaluate --dataset ade20k --root ADE --model final --output-dir runs/ade-final
iterative-reasoning export --output-dir runs/ade-final --to heads/ade-final   (a shareable head)
iterative-reasoning train --task detection --detector fasterrcnn_resnet50_fpn --dataset coco \
    --root IMAGES --annotations instances_train.json --model final --output-dir runs/det-final
torchrun --nproc_per_node 4 -m iterative_reasoning.cli train ...  (DDP; --batch-size over all)

Each command builds its run (dataset, class graph, model, schedule) through
:mod:`iterative_reasoning.recipes`, as the demos and the examples do.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from urllib.error import URLError

from tqdm import tqdm

from iterative_reasoning.cli import commands
from iterative_reasoning.cli.parser import flags_without_effect, parser
from iterative_reasoning.engine.lock import RunDirectoryBusy
from iterative_reasoning.engine.stopping import TrainingInterrupted, TrainingTerminated


def main(argv: list[str] | None = None) -> int:
    """The ``iterative-reasoning`` command; returns its exit status. Deprecation notices of
    the libraries it drives (FutureWarning) are silenced while it runs, and only then: the
    process's warning filters are as they were when it returns."""
    with warnings.catch_warnings(), _messages_to_stderr():
        warnings.simplefilter("ignore", FutureWarning)
        return _main(argv)


class _Stderr(logging.Handler):
    """Each message on its own line of the standard error as it is then (above any progress
    bar)."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


@contextlib.contextmanager
def _messages_to_stderr() -> Iterator[None]:
    """The package's messages (progress, a run stopped and where it saved) printed while the
    command runs; the logger is as it was afterwards."""
    logger = logging.getLogger("iterative_reasoning")
    handler, before = _Stderr(), (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before[0])
        logger.propagate = before[1]


def _main(argv: list[str] | None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    problem = _path_problem(args)
    if problem is None and args.command in ("train", "evaluate"):
        problem = flags_without_effect(args)
    if problem:
        print(f"iterative-reasoning {args.command}: {problem}", file=sys.stderr)
        return 2

    try:
        if args.command == "demo":
            return commands.demo(args)
        if args.command == "train":
            return commands.train(args)
        if args.command == "diagnose":
            return commands.diagnose(args)
        if args.command == "export":
            return commands.export(args)
        return commands.evaluate(args)
    except (FileNotFoundError, ValueError, RunDirectoryBusy) as error:
        print(f"iterative-reasoning {args.command}: {error}", file=sys.stderr)
        return 2
    except FloatingPointError as error:  # a loss not finite, or diverging: the run failed
        print(f"iterative-reasoning {args.command}: {error}", file=sys.stderr)
        return 1
    except ImportError as error:  # e.g. WordNet missing (WordNetNotFoundError)
        print(f"iterative-reasoning {args.command}: {error}", file=sys.stderr)
        return 2
    except URLError as error:  # pretrained weights, with no network
        print(
            f"iterative-reasoning {args.command}: cannot download the pretrained weights "
            f"({error.reason}); without a network, give --weights none, or put the file in "
            "torch's cache (TORCH_HOME/hub/checkpoints) on a machine that has one",
            file=sys.stderr,
        )
        return 2
    except OSError as error:  # a file where a directory is meant, no permission, a full disk
        where = f"{error.filename}: " if error.filename else ""
        print(
            f"iterative-reasoning {args.command}: {where}{error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    except (TrainingInterrupted, TrainingTerminated) as stop:  # train printed where it saved
        return stop.exit_status
    except KeyboardInterrupt:  # a second Ctrl-C: train printed its checkpoint, if any
        print(f"iterative-reasoning {args.command}: interrupted", file=sys.stderr)
        return 130


def _path_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the paths given, before any work: a file where a directory is
    meant, a missing annotation file."""
    for name in ("output_dir", "root", "init_convnet"):
        path = getattr(args, name, None)
        if path is not None and path.exists() and not path.is_dir():
            return f"--{name.replace('_', '-')} {path} is a file, not a directory"
    annotations = getattr(args, "annotations", None)
    if annotations is not None and not annotations.is_file():
        return f"--annotations {annotations} is not a file"
    weights = getattr(args, "weights", None)
    if weights is not None and weights.lower() != "none":
        from torchvision.models import ResNet50_Weights

        try:
            ResNet50_Weights.verify(weights)
        except KeyError:
            names = ", ".join(w.name for w in ResNet50_Weights)
            return f"--weights {weights} is not a weight name; give one of {names}, or 'none'"
    return None
