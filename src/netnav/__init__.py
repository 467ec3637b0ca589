"""netnav (NET Navigator): explainable, evidence-cited plans for neuroendocrine neoplasms.

Public surface: :func:`netnav.api.recommend` turns a case document into a plan, and
:func:`netnav.api.explain` gives the verdict tree for one option. Everything clinical lives in
the knowledge base (``netnav/knowledge/data``); the code only evaluates it.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
