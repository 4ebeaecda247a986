"""Graph -> graph rewrites (autodiff included). Imports only the graphc core; knows nothing of codegen."""

from __future__ import annotations

from .manager import PassReport, run_pipeline

__all__ = ["PassReport", "run_pipeline"]
