"""Class graphs (is-kind-of, is-part-of, plural, left/right, similarity, dataset relations)
for the semantic path of the reasoning head."""

from knowledge_graphs.relations import INVERSE_RELATIONS, RELATIONS, inverse_of

__all__ = ["INVERSE_RELATIONS", "RELATIONS", "inverse_of"]
