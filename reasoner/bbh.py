"""BIG-Bench Hard: loading a clone of the data set and its fixed train/test split.

The project never copies question text into the repository. It reads a BBH
clone from a path (``--data``, ``REASON_BBH``, or ``../shared/data/bbh``) and
names a question by subtask, index and the SHA-256 of its input.

The split puts about 40 % of each subtask into ``train``. Questions that share
a stem (the text before ``\\nOptions:``) form one group and stay on one side,
except that a stem shared by more than 5 questions is a fixed prompt prefix and
does not group. Groups are ordered by the SHA-256 of their stem (of the whole
input for an ungrouped question) and added to train until it holds at least
``round(0.4 * n)`` questions. :func:`compute_split` implements that rule, so a
clone without ``split.json`` gets the same split.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from reasoner.paths import DEFAULT_BBH_DIR

SUBTASKS = (
    "boolean_expressions",
    "causal_judgement",
    "date_understanding",
    "disambiguation_qa",
    "dyck_languages",
    "formal_fallacies",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "navigate",
    "object_counting",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
    "word_sorting",
)
SPLITS = ("train", "test")
TRAIN_FRACTION = 0.4
# A stem shared by more questions than this is a fixed prompt prefix, not a scene.
MAX_GROUP_SIZE = 5


class DataError(Exception):
    """The BBH clone is missing, or a subtask or split name is unknown."""


@dataclass(frozen=True)
class Example:
    subtask: str
    index: int
    input: str
    target: str

    @property
    def sha256(self) -> str:
        return input_sha256(self.input)

    @property
    def id(self) -> str:
        return f"{self.subtask}/{self.index}"


def input_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stem_of(text: str) -> str:
    return text.split("\nOptions:")[0]


def compute_split(inputs: list[str]) -> dict[str, list[int]]:
    """Return the train and test indices of one subtask's questions by the split rule."""
    stems = [stem_of(text) for text in inputs]
    stem_counts = collections.Counter(stems)
    groups: dict[str, list[int]] = {}
    for index, (text, stem) in enumerate(zip(inputs, stems)):
        key = stem if stem_counts[stem] <= MAX_GROUP_SIZE else text
        groups.setdefault(key, []).append(index)
    ordered = sorted(groups, key=lambda key: hashlib.sha256(key.encode("utf-8")).hexdigest())

    train: list[int] = []
    wanted = round(TRAIN_FRACTION * len(inputs))
    for key in ordered:
        if len(train) >= wanted:
            break
        train.extend(groups[key])
    train_set = set(train)
    return {
        "train": sorted(train),
        "test": [index for index in range(len(inputs)) if index not in train_set],
    }


class BBH:
    """A BBH clone on disk: ``<root>/bbh/<subtask>.json`` and optionally ``<root>/split.json``."""

    def __init__(self, root: Path = DEFAULT_BBH_DIR):
        self.root = Path(root)
        if not (self.root / "bbh").is_dir():
            raise DataError(
                f"BBH data not found at {self.root} (expected {self.root / 'bbh'}/<subtask>.json); "
                "pass --data with the path of a BIG-Bench-Hard clone"
            )

    @functools.lru_cache(maxsize=None)
    def examples(self, subtask: str) -> list[Example]:
        if subtask not in SUBTASKS:
            raise DataError(f"unknown subtask {subtask!r}; known subtasks: {', '.join(SUBTASKS)}")
        path = self.root / "bbh" / f"{subtask}.json"
        try:
            records = json.loads(path.read_text(encoding="utf-8"))["examples"]
        except FileNotFoundError:
            raise DataError(f"missing file {path}") from None
        return [Example(subtask, i, r["input"], r["target"]) for i, r in enumerate(records)]

    @functools.lru_cache(maxsize=None)
    def split_indices(self, subtask: str) -> dict[str, list[int]]:
        split_file = self.root / "split.json"
        if split_file.is_file():
            split = json.loads(split_file.read_text(encoding="utf-8"))
            if subtask in split.get("train", {}):
                return {name: list(split[name][subtask]) for name in SPLITS}
        return compute_split([example.input for example in self.examples(subtask)])

    def split(self, subtask: str, name: str) -> list[Example]:
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; use train or test")
        examples = self.examples(subtask)
        return [examples[i] for i in self.split_indices(subtask)[name]]

    def example(self, subtask: str, index: int) -> Example:
        examples = self.examples(subtask)
        if not 0 <= index < len(examples):
            raise DataError(f"{subtask} has no question {index}")
        return examples[index]
