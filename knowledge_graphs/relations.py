"""Names of the class-class relations and their inverses.

The original ADE graph had four directed relations, each with an explicit inverse carrying its
own weights (``IK``/``iIK``, ``PO``/``iPO``, ``PF``/``iPF``, ``LR``/``iLR``), and a symmetric
similarity ``SM``. These are their names here; an edge ``(s, t)`` of ``is_part_of`` reads
"``s`` is part of ``t``".
"""

from __future__ import annotations

IS_KIND_OF = "is_kind_of"
HAS_KIND = "has_kind"
IS_PART_OF = "is_part_of"
HAS_PART = "has_part"
PLURAL_OF = "plural_of"
SINGULAR_OF = "singular_of"
LEFT_RIGHT_OF = "left_right_of"
SIMILAR_TO = "similar_to"
#: Part-of mined from a dataset's part annotations (ADE20K), kept apart from WordNet's.
ANNOTATED_PART_OF = "annotated_part_of"
ANNOTATED_HAS_PART = "annotated_has_part"
#: Statistics of box annotations (:mod:`~knowledge_graphs.builders.statistics`): classes that
#: occur in the same images, and where one class's boxes usually sit relative to another's.
CO_OCCURS_WITH = "co_occurs_with"
BOX_ABOVE = "box_above"
BOX_BELOW = "box_below"
BOX_LEFT_OF = "box_left_of"
BOX_RIGHT_OF = "box_right_of"
BOX_INSIDE = "box_inside"
BOX_CONTAINS = "box_contains"
#: Classes whose objects have similar attributes (Visual Genome,
#: :mod:`~knowledge_graphs.builders.attributes`).
ATTRIBUTE_SIMILAR_TO = "attribute_similar_to"

#: Each directed relation and its inverse; symmetric relations are their own inverse.
INVERSE_RELATIONS: dict[str, str] = {
    IS_KIND_OF: HAS_KIND,
    HAS_KIND: IS_KIND_OF,
    IS_PART_OF: HAS_PART,
    HAS_PART: IS_PART_OF,
    PLURAL_OF: SINGULAR_OF,
    SINGULAR_OF: PLURAL_OF,
    LEFT_RIGHT_OF: LEFT_RIGHT_OF,
    SIMILAR_TO: SIMILAR_TO,
    ANNOTATED_PART_OF: ANNOTATED_HAS_PART,
    ANNOTATED_HAS_PART: ANNOTATED_PART_OF,
    CO_OCCURS_WITH: CO_OCCURS_WITH,
    BOX_ABOVE: BOX_BELOW,
    BOX_BELOW: BOX_ABOVE,
    BOX_LEFT_OF: BOX_RIGHT_OF,
    BOX_RIGHT_OF: BOX_LEFT_OF,
    BOX_INSIDE: BOX_CONTAINS,
    BOX_CONTAINS: BOX_INSIDE,
    ATTRIBUTE_SIMILAR_TO: ATTRIBUTE_SIMILAR_TO,
}

#: The WordNet and string relations, in the order of the original's ADE edge types.
RELATIONS: tuple[str, ...] = (
    IS_KIND_OF,
    HAS_KIND,
    LEFT_RIGHT_OF,
    PLURAL_OF,
    SINGULAR_OF,
    IS_PART_OF,
    HAS_PART,
    SIMILAR_TO,
)


def inverse_of(relation: str) -> str | None:
    """The inverse of a known relation, or ``None`` for a relation with no declared inverse
    (such as a dataset-mined predicate).

    Example:
        >>> inverse_of("is_part_of")
        'has_part'
    """
    return INVERSE_RELATIONS.get(relation)
