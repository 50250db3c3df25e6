"""Locations of the data that ships beside the package in a source checkout.

``reason`` runs from a checkout of its repository (installed with
``pip install -e .``): the rule packs, grammars, teacher records and the
shipped student live next to the ``reasoner`` package. Set ``REASON_HOME`` to
use another checkout's data.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("REASON_HOME", Path(__file__).resolve().parent.parent))
GRAMMAR_DIR = ROOT / "grammars"
RULES_DIR = ROOT / "rules"
MODEL_DIR = ROOT / "models" / "student"
TRAINING_DIR = ROOT / "training"
# The BBH clone that training and evaluation read; override with --data or REASON_BBH.
DEFAULT_BBH_DIR = Path(os.environ.get("REASON_BBH", ROOT.parent / "shared" / "data" / "bbh"))
