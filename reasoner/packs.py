"""Rule packs: the folders under ``rules/`` that hold the executable knowledge base.

A pack folder holds

* ``pack.toml``: the pack's name, purpose, engine (``clingo`` or ``prolog``),
  the BBH subtasks it serves, its answer predicate, and its input predicates
  with the type of each argument (see :func:`reasoner.facts.type_error`). An
  answer predicate of arity 1 gives the answer itself; one of arity 2,
  ``answer(K, V)``, gives a sequence whose values, in the order of K, joined
  by spaces, are the answer;
* rule files: ``*.lp`` for clingo, ``*.pl`` for SWI-Prolog, loaded in name order;
* ``cases/*.lp``: regression cases, each a fact file whose first line reads
  ``% expect: ANSWER`` (or ``% expect: <unsatisfiable>``, ``<several answers>``,
  ``<no answer>``).
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from reasoner.paths import RULES_DIR

ENGINES = ("clingo", "prolog")


class PackError(Exception):
    """A rule pack that is missing, malformed or unsafe to run."""


@dataclass(frozen=True)
class RegressionCase:
    """Facts with the outcome the pack must give for them."""

    name: str
    path: Path
    expected: str

    @property
    def facts_text(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Pack:
    name: str
    directory: Path
    purpose: str
    engine: str
    subtasks: tuple[str, ...]
    answer_predicate: str
    inputs: dict[str, tuple[str, ...]]
    # Answers a question may have when it lists no options (for example Yes/No).
    answer_domain: tuple[str, ...] = ()
    # Pack-level knowledge: "none", or "entities" when the pack relies on a
    # knowledge base of named entities that cannot be complete.
    knowledge: str = "none"
    # The answer that "no answer set" stands for, in packs that search for a
    # refutation (a counter-model); empty when unsatisfiable means no answer.
    unsatisfiable_answer: str = ""
    # In a transcribing pack every fact copies the question word right after the
    # previous copy (a word list, a bracket sequence, an expression), passing
    # over the words in ``separators``, which are never copied after the first.
    consecutive: bool = False
    separators: tuple[str, ...] = ()
    # Whether a transcribing pack's list runs to the end of its line, so that a
    # transcription stops only at a line break, the question's end or a sentence's end.
    list_ends_line: bool = False
    # Whether a transcribing pack's list starts right after a colon that comes
    # before it on its line ("List: b a c"), so that a transcription cannot begin
    # inside the list, and copies no colon. A list with no colon before it on its
    # line may start at any word.
    list_after_colon: bool = False
    # Whether each copy into a "word" argument comes after the previous one, so that
    # the facts read those words from left to right and never copy one twice.
    reads_forward: bool = False
    # The input predicate, if any, whose facts option(Label, Name) restate the
    # question's options: solving checks each against the option it labels.
    option_fact: str = ""
    rule_files: tuple[Path, ...] = field(default=())

    @property
    def cases(self) -> list[RegressionCase]:
        cases = []
        for path in sorted((self.directory / "cases").glob("*.lp")):
            first_line = path.read_text(encoding="utf-8").split("\n", 1)[0]
            prefix = "% expect:"
            if not first_line.startswith(prefix):
                raise PackError(f"{path}: the first line must read '% expect: ANSWER'")
            cases.append(RegressionCase(path.stem, path, first_line[len(prefix):].strip()))
        return cases

    def rule_hashes(self) -> dict[str, str]:
        """Return the SHA-256 of each rule file, keyed by its path relative to the rules folder."""
        return {
            str(path.relative_to(self.directory.parent)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in self.rule_files
        }


def load_pack(directory: Path) -> Pack:
    """Load and validate the pack in ``directory``; raise :class:`PackError` when it is malformed."""
    manifest_path = directory / "pack.toml"
    if not manifest_path.is_file():
        raise PackError(f"{directory}: no pack.toml; a rule pack folder needs one")
    try:
        manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PackError(f"{manifest_path}: invalid TOML: {error}") from None

    missing = [key for key in ("name", "purpose", "engine", "answer", "inputs") if key not in manifest]
    if missing:
        raise PackError(f"{manifest_path}: missing keys: {', '.join(missing)}")
    if manifest["name"] != directory.name:
        raise PackError(f"{manifest_path}: name {manifest['name']!r} differs from its folder name")
    engine = manifest["engine"]
    if engine not in ENGINES:
        raise PackError(f"{manifest_path}: engine must be one of {', '.join(ENGINES)}, got {engine!r}")

    suffix = ".lp" if engine == "clingo" else ".pl"
    rule_files = tuple(sorted(directory.glob(f"*{suffix}")))
    if not rule_files:
        raise PackError(f"{directory}: no {suffix} rule files")

    inputs = {name: tuple(types) for name, types in manifest["inputs"].items()}
    option_fact = manifest.get("option_fact", "")
    if option_fact and (len(inputs.get(option_fact, ())) != 2 or "|" not in inputs[option_fact][1]):
        raise PackError(f"{directory}: option_fact {option_fact!r} must name an input with two arguments, "
                        "a label and a choice of constants")
    if manifest.get("list_ends_line") and not manifest.get("consecutive"):
        raise PackError(f"{manifest_path}: list_ends_line = true is invalid without consecutive = true")
    if manifest.get("list_after_colon") and not manifest.get("consecutive"):
        raise PackError(f"{manifest_path}: list_after_colon = true is invalid without consecutive = true")
    return Pack(
        name=manifest["name"],
        directory=directory,
        purpose=manifest["purpose"],
        engine=engine,
        subtasks=tuple(manifest.get("subtasks", ())),
        answer_predicate=manifest["answer"],
        inputs=inputs,
        answer_domain=tuple(manifest.get("answer_domain", ())),
        knowledge=manifest.get("knowledge", "none"),
        unsatisfiable_answer=manifest.get("unsatisfiable_answer", ""),
        consecutive=bool(manifest.get("consecutive", False)),
        separators=tuple(word.lower() for word in manifest.get("separators", ())),
        list_ends_line=bool(manifest.get("list_ends_line", False)),
        list_after_colon=bool(manifest.get("list_after_colon", False)),
        reads_forward=bool(manifest.get("reads_forward", False)),
        option_fact=option_fact,
        rule_files=rule_files,
    )


@functools.lru_cache(maxsize=8)
def load_packs(rules_dir: Path = RULES_DIR) -> dict[str, Pack]:
    """Load every pack under ``rules_dir``, keyed by name."""
    if not rules_dir.is_dir():
        raise PackError(f"rules folder not found: {rules_dir}")
    packs = {}
    for directory in sorted(rules_dir.iterdir()):
        if directory.is_dir() and (directory / "pack.toml").exists():
            pack = load_pack(directory)
            packs[pack.name] = pack
    return packs


def pack_for_subtask(subtask: str, rules_dir: Path = RULES_DIR) -> Pack | None:
    """Return the pack that serves a BBH subtask, or None when no pack does."""
    for pack in load_packs(rules_dir).values():
        if subtask in pack.subtasks:
            return pack
    return None
