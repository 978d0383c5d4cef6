"""Sphinx configuration."""

import warnings

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

project = "iterative-reasoning"
author = "The iterative-reasoning developers"
copyright = "2026, " + author
release = "0.1.0.dev0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_use_ivar = True
napoleon_custom_sections = [("Shapes", "notes_style")]
intersphinx_mapping = {}  # offline builds: no inventories are fetched
nitpicky = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
