"""The paper's classification metrics (:mod:`~iterative_reasoning.metrics.classification`),
COCO's detection metrics (:mod:`~iterative_reasoning.metrics.detection`) and where a head moves
a detector's AP (:mod:`~iterative_reasoning.metrics.diagnosis`)."""

from iterative_reasoning.metrics.classification import (
    ClassificationMetrics,
    average_precision_of_classes,
    class_accuracy,
    class_average_precision,
    evaluate_classification,
    instance_accuracy,
    instance_average_precision,
    predict,
    ranked_ap,
    voc_ap,
)

__all__ = [
    "ClassificationMetrics",
    "average_precision_of_classes",
    "class_accuracy",
    "class_average_precision",
    "evaluate_classification",
    "instance_accuracy",
    "instance_average_precision",
    "predict",
    "ranked_ap",
    "voc_ap",
]
