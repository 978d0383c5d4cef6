"""Pictures of a run: each region's prediction at each iteration with the attention, and the
training curves (matplotlib, written to files)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from iterative_reasoning.data.records import RegionSample
from iterative_reasoning.engine.log import read_log
from iterative_reasoning.models.region import RegionModel, collate_regions
from iterative_reasoning.nn.reasoning_head import ReasoningOutput
from knowledge_graphs.files import save_figure


def predictions_by_step(output: ReasoningOutput, names: Sequence[str]) -> dict[str, Tensor]:
    """Logits ``[R, C]`` of each prediction named by
    :meth:`~iterative_reasoning.nn.IterativeReasoningHead.prediction_names`, then ``"fused"``."""
    steps: dict[str, Tensor] = {}
    for name in names:
        if name == "base":
            steps[name] = output.base_logits
            continue
        module, t = name.rsplit("_", 1)
        stack = output.local_logits if module == "local" else output.global_logits
        assert stack is not None
        steps[name] = stack[int(t) - 1]
    steps["fused"] = output.logits
    return steps


@torch.no_grad()
def plot_iterations(
    model: RegionModel,
    sample: RegionSample,
    classes: Sequence[str],
    path: str | os.PathLike[str],
) -> Path:
    """Draw ``sample`` with its numbered boxes and, per region, the class predicted at each
    iteration (green when right) with its probability and attention weight, and the fused
    prediction. ``model`` needs a head."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if model.head is None:
        raise ValueError("plot_iterations needs a model with a reasoning head")
    model.eval()
    _, output = model(collate_regions([sample]))
    assert output is not None
    names = model.head.prediction_names()
    steps = predictions_by_step(output, names)
    attention = output.attention if output.attention is not None else None
    labels = sample.labels.tolist()

    figure = Figure(figsize=(6 + 1.6 * len(steps), 6))  # not pyplot: the backend is the user's
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(1, 2, width_ratios=[5, 1.6 * len(steps) + 2])
    ax = figure.add_subplot(grid[0])
    ax.imshow(sample.image.permute(1, 2, 0).clamp(0, 1).numpy())
    for i, box in enumerate(sample.boxes.tolist()):
        x1, y1, x2, y2 = box
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="yellow", lw=1))
        ax.text(x1, y1 - 2, str(i + 1), color="yellow", fontsize=8, va="bottom")
    ax.set_axis_off()
    ax.set_title(sample.image_id, fontsize=9)

    table = figure.add_subplot(grid[1])
    table.set_axis_off()
    cells, colours = [], []
    for r, label in enumerate(labels):
        row, row_colours = [f"{r + 1}. {classes[label]}"], ["white"]
        for n, (name, logits) in enumerate(steps.items()):
            p = torch.softmax(logits[r], -1)
            guess = int(p[1:].argmax()) + 1
            text = f"{classes[guess]} {float(p[guess]):.2f}"
            if attention is not None and name != "fused":
                text += f"\nattention {float(attention[n, r]):.2f}"
            row.append(text)
            row_colours.append("#c8e6c9" if guess == label else "#ffcdd2")
        cells.append(row)
        colours.append(row_colours)
    drawn = table.table(
        cellText=cells,
        cellColours=colours,
        colLabels=["region (truth)", *steps],
        loc="center",
        cellLoc="center",
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(7)
    drawn.scale(1, 2.4)
    figure.tight_layout()
    path = Path(path)
    save_figure(figure, path, dpi=110)
    return path


def plot_training_curves(
    run_dir: str | os.PathLike[str], models: Sequence[str], path: str | os.PathLike[str]
) -> Path:
    """The loss terms of each model's ``log.jsonl`` under ``run_dir/<model>``, one panel per
    model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * len(models), 3.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(models), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        log = read_log(Path(run_dir) / model)
        if not log:
            ax.set_title(f"{model}: no log")
            continue
        held_out = [line for line in log if "val_loss" in line]
        log = [line for line in log if "val_loss" not in line]
        steps = [line["step"] for line in log]
        for term in log[0] if log else ():
            if term in ("step", "lr") or all(line.get(term, 0.0) == 0.0 for line in log):
                continue
            ax.plot(steps, [line[term] for line in log], label=term.rstrip("_"))
        if held_out:
            values = [line["val_loss"] for line in held_out]
            ax.plot([line["step"] for line in held_out], values, "k--", label="validation loss")
        ax.set_title(model)
        ax.set_xlabel("step")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("loss")
    figure.tight_layout()
    path = Path(path)
    save_figure(figure, path, dpi=110)
    return path


def plot_detections(
    image: Tensor,
    detections: dict[str, dict[str, Tensor]],
    classes: Sequence[str],
    path: str | os.PathLike[str],
    score_thresh: float = 0.5,
) -> Path:
    """Draw ``image`` once per entry of ``detections`` (e.g. the detector's, then with the
    head), side by side: each detection above ``score_thresh`` as a box with its class and
    score. The figure is drawn without touching matplotlib's global backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    figure = Figure(figsize=(5.5 * len(detections), 5.8))
    FigureCanvasAgg(figure)
    pixels = image.permute(1, 2, 0).clamp(0, 1).cpu().numpy()
    for column, (title, found) in enumerate(detections.items()):
        axes = figure.add_subplot(1, len(detections), column + 1)
        axes.imshow(pixels)
        keep = found["scores"] > score_thresh
        boxes, labels = found["boxes"][keep].tolist(), found["labels"][keep].tolist()
        for (x1, y1, x2, y2), label, score in zip(
            boxes, labels, found["scores"][keep].tolist(), strict=True
        ):
            color = f"C{label % 10}"
            axes.add_patch(
                Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=1.5)
            )
            axes.text(
                x1,
                y1 - 2,
                f"{classes[label]} {score:.2f}",
                fontsize=7,
                color="white",
                bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "linewidth": 0},
            )
        axes.set_title(f"{title}: {len(boxes)} detections above {score_thresh}", fontsize=10)
        axes.axis("off")
    figure.tight_layout()
    path = Path(path)
    save_figure(figure, path, dpi=110)
    return path


def plot_class_ap_by_model(
    per_class: dict[str, dict[str, tuple[float, float]]],
    path: str | os.PathLike[str],
) -> Path:
    """Draw each class's AP (percent) by model, as grouped bars with the standard deviation over
    seeds as error bars: ``per_class`` maps model -> class -> ``(mean, std)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not per_class:
        raise ValueError("per_class must hold at least one model")
    models = list(per_class)
    classes = list(per_class[models[0]])
    width = 0.8 / len(models)
    figure = Figure(figsize=(max(8.0, 0.5 * len(classes) + 2.0), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for k, model in enumerate(models):
        means = [per_class[model][c][0] for c in classes]
        stds = [per_class[model][c][1] for c in classes]
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(classes))]
        axes.bar(xs, means, width, yerr=stds, label=model, capsize=1.5)
    axes.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    axes.set_ylabel("per-class AP (%)")
    axes.set_ylim(0, 105)
    axes.legend(fontsize=7, ncol=min(len(models), 4), loc="lower left")
    figure.tight_layout()
    path = Path(path)
    save_figure(figure, path, dpi=110)
    return path
