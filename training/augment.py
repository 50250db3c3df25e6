"""Label-preserving augmentation: new names and numbers, changed in question and facts alike.

Renaming replaces every occurrence of an entity name, on word boundaries, in
the question and in the facts, so the facts stay a correct translation of the
new question. Navigation walks get new step counts the same way; Boolean
expressions get some constants flipped. The answer may change with a new
count or constant, but the translation target never does.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from reasoner.facts import Fact

# Names from many languages, with accents, apostrophes, hyphens and quotes, so
# the student learns to copy what it has never seen.
PERSON_NAMES = """
Zoë Ōtake D'Arcy Jean-Luc Ngozi Søren Amélie Bjørn Chidi Émile Farah Dvořák Łucja Ines Kofi Mei
Anaïs Björk Çelik Dagný Eero Fiadh Gökhan Hiroshi Ífeoma Jürgen Kenji Laleh Mateus Nuñez Oğuz
Paŭlo Quang Rūta Saoirse Thảo Ugné Vítor Wojciech Xiadani Yusuf Zdeněk Aoife Bartłomiej Ciarán
Dániel Eşref Fumiko Grete Hâkon Iñaki Jaroslav Kaito Lorcán Miloš Nkechi Olúwaseun Pilar Rasmus
Sigrún Tomás Uriel Varvara Wiremu Ximena Yaw Zainab O'Neil O'Hara Mary-Kate Anne-Marie Al-Sayed
Aarav Bongani Camille Dmitri Esperanza Folake Giulia Hamid Ingrid Jamal Kalani Leilani Mateo
Nadia Omar Priya Quentin Ramona Sven Tariq Ursula Valentina Wen Xavier Yara Zeynep
""".split() + ["Bea \"Bee\" Ruiz", "Mr. Okafor", "Van der Berg", "José María", "Li Wei", "Ana Lúcia"]

THING_NAMES = """
teal|lantern crimson|kettle ochre|scarf violet|umbrella amber|teapot jade|vase cobalt|notebook
ivory|comb scarlet|kite olive|mug silver|spoon golden|whistle maroon|satchel cyan|marble
lilac|candle beige|pillow navy|compass rust|bucket mint|globe plum|basket coral|shell
""".split()
THING_NAMES = [name.replace("|", " ") for name in THING_NAMES] + [
    "Kōji's lantern", "the old map", "sea-green bottle", "Hokusai print", "café table", "tōfu box",
    "rocking chair", "brass bell", "cedar box", "paper crane", "wool hat", "clay pot",
]

_BOUNDARY_BEFORE = r"(?<![\w'’\-])"
_BOUNDARY_AFTER = r"(?![\w'’\-])"


def replace_words(text: str, mapping: dict[str, str]) -> str:
    """Replace whole-word occurrences of each key by its value, longer keys first, in one pass."""
    if not mapping:
        return text
    keys = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(_BOUNDARY_BEFORE + "(" + "|".join(re.escape(k) for k in keys) + ")" + _BOUNDARY_AFTER)
    return pattern.sub(lambda match: mapping[match.group(1)], text)


def rename_entities(
    text: str, facts: list[Fact], name_positions: set[tuple[str, int]], rng: random.Random
) -> tuple[str, list[Fact]]:
    """Give every copied name new text, consistently in the question and the facts.

    ``name_positions`` lists the (predicate, argument) pairs that hold names.
    Option labels (single letters) keep their text.
    """
    names = {
        fact.args[k] for fact in facts for k in range(len(fact.args))
        if (fact.predicate, k) in name_positions and isinstance(fact.args[k], str) and len(fact.args[k]) > 1
    }
    mapping: dict[str, str] = {}
    used = set()
    for name in sorted(names):
        pool = PERSON_NAMES if name[:1].isupper() else THING_NAMES
        choices = [c for c in pool if c not in used and c not in text]
        if not choices:
            continue
        new = rng.choice(choices)
        used.add(new)
        mapping[name] = new
    new_text = replace_words(text, mapping)
    new_facts = [
        replace(fact, args=tuple(mapping.get(a, a) if isinstance(a, str) else a for a in fact.args))
        for fact in facts
    ]
    return new_text, new_facts


def renumber_moves(text: str, facts: list[Fact], rng: random.Random) -> tuple[str, list[Fact]]:
    """Give navigation moves new step counts, consistently in the question and the facts.

    Only counts written as digits in the question are changed.
    """
    counts = {fact.args[2] for fact in facts if fact.predicate == "move" and isinstance(fact.args[2], int)}
    counts = {c for c in counts if re.search(_BOUNDARY_BEFORE + str(c) + _BOUNDARY_AFTER, text)}
    if not counts:
        return text, facts
    new_values = rng.sample(range(1, 31), len(counts))
    mapping = dict(zip(sorted(counts), new_values))
    new_text = replace_words(text, {str(k): str(v) for k, v in mapping.items()})
    new_facts = [
        replace(fact, args=(fact.args[0], fact.args[1], mapping.get(fact.args[2], fact.args[2])))
        if fact.predicate == "move" else fact
        for fact in facts
    ]
    return new_text, new_facts


def flip_constants(text: str, facts: list[Fact], rng: random.Random) -> tuple[str, list[Fact]]:
    """Flip some True/False constants of a Boolean expression in the question and the facts.

    The k-th true/false token fact belongs to the k-th ``True``/``False`` word of
    the question; when the counts differ, nothing changes.
    """
    pattern = re.compile(_BOUNDARY_BEFORE + r"(True|False)" + _BOUNDARY_AFTER)
    matches = list(pattern.finditer(text))
    literal_facts = [i for i, f in enumerate(facts) if f.predicate == "token" and f.args[1] in ("True", "False")]
    if len(matches) != len(literal_facts):
        return text, facts
    flips = [rng.random() < 0.5 for _ in matches]
    pieces, position = [], 0
    for match, flip in zip(matches, flips):
        pieces.append(text[position:match.start()])
        word = match.group(1)
        pieces.append({"True": "False", "False": "True"}[word] if flip else word)
        position = match.end()
    pieces.append(text[position:])
    new_facts = list(facts)
    for fact_index, flip in zip(literal_facts, flips):
        if flip:
            fact = facts[fact_index]
            value = "False" if fact.args[1] == "True" else "True"
            new_facts[fact_index] = replace(fact, args=(fact.args[0], value))
    return "".join(pieces), new_facts
