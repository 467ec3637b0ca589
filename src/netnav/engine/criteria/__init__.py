"""Named criteria, registered on import under the names the knowledge base uses."""

from netnav.engine.criteria import fields, history, patient, tumour
from netnav.engine.criteria.base import (
    REGISTRY,
    CaseContext,
    CriterionSpecError,
    Node,
    compile_criterion,
)

__all__ = [
    "REGISTRY",
    "CaseContext",
    "CriterionSpecError",
    "Node",
    "compile_criterion",
    "fields",
    "history",
    "patient",
    "tumour",
]
