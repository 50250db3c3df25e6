"""reason: a neural-symbolic reasoner.

A small distilled student translates a question into ground facts of the fact
language (``grammars/facts.lark``); clingo, or SWI-Prolog for some packs, solves
them against an auditable rule pack (``rules/<pack>/``); when no candidate gives
a verified answer, the student falls back to an unverified chain of thought.
"""

__version__ = "0.1.0"
