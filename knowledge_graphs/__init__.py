"""Class graphs (is-kind-of, is-part-of, plural, left/right, similarity, dataset relations)
for the semantic path of the reasoning head, built offline from WordNet 3.0."""

from knowledge_graphs.build import BUILDABLE, build_class_graph
from knowledge_graphs.class_graph import ClassGraph, GraphFileError
from knowledge_graphs.lexicon import Lexicon, MemoryLexicon
from knowledge_graphs.ready_made import READY_MADE, build_ready_made, load_ready_made, vocabulary
from knowledge_graphs.relations import INVERSE_RELATIONS, RELATIONS, inverse_of
from knowledge_graphs.resolution import Resolution, resolve_classes
from knowledge_graphs.wordnet import WordNetLexicon, WordNetNotFoundError, load_wordnet

__all__ = [
    "BUILDABLE",
    "INVERSE_RELATIONS",
    "READY_MADE",
    "RELATIONS",
    "ClassGraph",
    "GraphFileError",
    "Lexicon",
    "MemoryLexicon",
    "Resolution",
    "WordNetLexicon",
    "WordNetNotFoundError",
    "build_class_graph",
    "build_ready_made",
    "inverse_of",
    "load_ready_made",
    "load_wordnet",
    "resolve_classes",
    "vocabulary",
]
