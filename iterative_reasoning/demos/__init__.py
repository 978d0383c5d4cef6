"""The demos: the paper's Table 1 on the synthetic benchmark (:mod:`~iterative_reasoning.demos.
classification`), its hard tier over seeds (:mod:`~iterative_reasoning.demos.hard`), a detector
with and without the head (:mod:`~iterative_reasoning.demos.detection`), and their pictures
(:mod:`~iterative_reasoning.demos.plot`)."""
