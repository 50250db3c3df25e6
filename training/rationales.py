"""Rationales verbalised from solver derivations, to train the fallback's chain of thought.

For a training question with verified facts, the solver's answer set holds
every derived atom (who is honest, who holds what after each swap, the order
of the objects, the value of each subexpression, the heading after each
step). Each pack's verbaliser turns those atoms into a short chain of thought
that ends with ``So the answer is X.``; the text is built from the facts and
atoms only, never from the question text.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

import clingo

from reasoner.facts import Constant, Fact
from reasoner.symbols import symbol_value

FINAL = "So the answer is {answer}."


def _atoms(atoms: list[str]) -> dict[str, list[list[str | int]]]:
    """Group atoms by predicate name, with plain Python arguments."""
    grouped: dict[str, list[list[str | int]]] = defaultdict(list)
    for text in atoms:
        symbol = clingo.parse_term(text)
        if symbol.type != clingo.SymbolType.Function:
            continue
        grouped[symbol.name].append(
            [s.number if s.type == clingo.SymbolType.Number else symbol_value(s) for s in symbol.arguments]
        )
    return grouped


def _arg(value) -> str:
    return value.name if isinstance(value, Constant) else str(value)


def web_of_lies(facts: list[Fact], atoms, answer: str) -> list[str]:
    honest = {args[0] for args in atoms["honest"]}

    def status(person: str) -> str:
        return "tells the truth" if person in honest else "lies"

    lines = []
    for fact in facts:
        if fact.predicate == "given":
            person = fact.args[0]
            lines.append(f"{person} {status(person)}.")
        elif fact.predicate == "says":
            speaker, subject, claim = fact.args[0], fact.args[1], _arg(fact.args[2])
            said = "tells the truth" if claim == "truth" else "lies"
            lines.append(f"{speaker} says {subject} {said}. {subject} {status(subject)}, so {speaker} {status(speaker)}.")
        elif fact.predicate == "ask":
            lines.append(f"The question asks about {fact.args[0]}, who {status(fact.args[0])}.")
    return lines


def tracking_shuffled_objects(facts: list[Fact], atoms, answer: str) -> list[str]:
    holds = {(args[0], args[2]): args[1] for args in atoms["holds"]}
    starts = [f"{f.args[0]} has {f.args[1]}" for f in facts if f.predicate == "start"]
    lines = [f"At the start: {', '.join(starts)}."]
    last = 0
    for fact in facts:
        if fact.predicate == "swap":
            step, first, second = fact.args
            lines.append(f"{first} and {second} swap: {first} has {holds[(first, step)]}, {second} has {holds[(second, step)]}.")
            last = step
    for fact in facts:
        if fact.predicate == "ask":
            lines.append(f"At the end, {fact.args[0]} has {holds[(fact.args[0], last)]}.")
        elif fact.predicate == "ask_holder":
            holder = next(p for (p, s), item in holds.items() if s == last and item == fact.args[0])
            lines.append(f"At the end, {holder} has {fact.args[0]}.")
    return lines


def logical_deduction(facts: list[Fact], atoms, answer: str) -> list[str]:
    order = [obj for obj, _ in sorted(((a[0], a[1]) for a in atoms["at"]), key=lambda item: item[1])]
    lines = [f"From the first end, the order is: {', '.join(order)}."]
    places = {(a[0], a[1], a[2]) for a in atoms["place"]}
    for fact in facts:
        if fact.predicate == "option":
            label, obj, end, k = fact.args
            if (obj, _arg(end), k) in places:
                lines.append(f"Option ({label}) holds: {obj} is number {k} from the {_arg(end)} end.")
    return lines


def boolean_expressions(facts: list[Fact], atoms, answer: str) -> list[str]:
    tokens = {f.args[0]: f.args[1] for f in facts if f.predicate == "token"}
    values = {(a[0], a[1]): a[2] for a in atoms["atom"]}
    lines = []
    inner = sorted(((i, j) for (i, j) in values if tokens.get(i) == "("), key=lambda span: (span[1] - span[0], span[0]))
    for i, j in inner:
        text = " ".join(tokens[k] for k in range(i, j + 1))
        lines.append(f"{text} is {'True' if values[(i, j)] else 'False'}.")
    negations = sorted(
        (((a[0], a[1]), a[2]) for a in atoms["unary"] if tokens.get(a[0]) == "not"),
        key=lambda item: (item[0][1] - item[0][0], item[0][0]),
    )
    for (i, j), value in negations:
        text = " ".join(tokens[k] for k in range(i, j + 1))
        lines.append(f"{text} is {'True' if value else 'False'}.")
    whole = " ".join(tokens[k] for k in sorted(tokens))
    lines.append(f"So {whole} is {answer}.")
    return lines


_COMPASS = ["north", "east", "south", "west"]
_DELTA = [(0, 1), (1, 0), (0, -1), (-1, 0)]


def navigate(facts: list[Fact], atoms, answer: str) -> list[str]:
    headings = {a[0]: a[1] for a in atoms["heading"]}
    facing = {a[0]: a[1] for a in atoms["facing"]}
    x = y = 0
    lines = ["Start at (0, 0), facing north."]
    for fact in facts:
        step = fact.args[0]
        if fact.predicate == "move":
            dx, dy = _DELTA[headings[step]]
            count = fact.args[2]
            x, y = x + dx * count, y + dy * count
            lines.append(f"Take {count} steps {_arg(fact.args[1])}, heading {_COMPASS[headings[step]]}: now at ({x}, {y}).")
        elif fact.predicate == "turn":
            lines.append(f"Turn {_arg(fact.args[1])}: now facing {_COMPASS[facing[step]]}.")
    where = "the starting point" if (x, y) == (0, 0) else "not the starting point"
    lines.append(f"The walk ends at ({x}, {y}), {where}.")
    return lines


def multistep_arithmetic(facts: list[Fact], atoms, answer: str) -> list[str]:
    tokens = {f.args[0]: str(f.args[1]) for f in facts if f.predicate in ("num", "op")}
    groups = sorted(((a[0], a[1], a[2]) for a in atoms["factor"] if tokens.get(a[0]) == "("),
                    key=lambda item: (item[1] - item[0], item[0]))
    lines = [f"{' '.join(tokens[k] for k in range(i, j + 1))} = {value}." for i, j, value in groups]
    whole = " ".join(tokens[k] for k in sorted(tokens))
    lines.append(f"So {whole} = {answer}.")
    return lines


def word_sorting(facts: list[Fact], atoms, answer: str) -> list[str]:
    words = [f.args[1] for f in sorted((f for f in facts if f.predicate == "item"), key=lambda f: f.args[0])]
    return [f"The words are: {' '.join(words)}.", f"In alphabetical order: {answer}."]


def dyck_languages(facts: list[Fact], atoms, answer: str) -> list[str]:
    symbols = {f.args[0]: f.args[1] for f in facts if f.predicate == "symbol"}
    still_open = sorted((a[0] for a in atoms["open"]), reverse=True)
    opened = " ".join(symbols[i] for i in still_open)
    return [f"The brackets still open, innermost first, are: {opened}.", f"Closing them in that order gives: {answer}."]


def object_counting(facts: list[Fact], atoms, answer: str) -> list[str]:
    categories = {a[0]: a[1] for a in atoms["category"]}
    asked = next(_arg(f.args[0]) for f in facts if f.predicate == "ask")
    counted = [f"{f.args[1]} ({f.args[2]})" for f in facts
               if f.predicate == "have" and categories.get(f.args[1]) == asked]
    listed = ", ".join(counted) if counted else "none"
    return [f"The items of the category {asked}: {listed}.", f"In all: {answer}."]


def hyperbaton(facts: list[Fact], atoms, answer: str) -> list[str]:
    kinds = {a[0]: a[1] for a in atoms["kind"]}
    options: dict[str, list[str]] = {}
    for fact in sorted((f for f in facts if f.predicate == "adjective"), key=lambda f: f.args[0]):
        options.setdefault(fact.args[1], []).append(fact.args[2])
    lines = ["Adjectives go in the order opinion, size, age, shape, color, origin, material, purpose."]
    for label, words in options.items():
        described = ", ".join(f"{w} ({kinds.get(w, 'unknown')})" for w in words)
        verdict = "in order" if f"({label})" == answer or label == answer else "out of order"
        lines.append(f"Option ({label}): {described}: {verdict}.")
    return lines


def temporal_sequences(facts: list[Fact], atoms, answer: str) -> list[str]:
    def hour(h, m) -> str:
        return f"{h}{_arg(m)}"

    lines = []
    for fact in facts:
        if fact.predicate == "woke":
            lines.append(f"Awake from {hour(*fact.args)}.")
        elif fact.predicate == "seen":
            lines.append(f"Busy from {hour(fact.args[1], fact.args[2])} to {hour(fact.args[3], fact.args[4])}.")
        elif fact.predicate == "closed":
            lines.append(f"Closed after {hour(*fact.args)}.")
    free = [f for f in facts if f.predicate == "option" and f"({f.args[0]})" == answer]
    for fact in free:
        lines.append(f"Free only from {hour(fact.args[1], fact.args[2])} to {hour(fact.args[3], fact.args[4])}.")
    return lines


def colored_objects(facts: list[Fact], atoms, answer: str) -> list[str]:
    entries = [f"{f.args[0]}: {f.args[1]} {f.args[2]} {f.args[3]}" for f in facts if f.predicate == "item"]
    lines = [f"The objects in order are {'; '.join(entries)}."]
    targets = [a[0] for a in atoms["target"]]
    counts = [a[0] for a in atoms["count"]]
    if targets:
        lines.append(f"The object asked about is number {targets[0]}.")
    if counts:
        lines.append(f"Counting gives {counts[0]}.")
    return lines


VERBALISERS: dict[str, Callable] = {
    "colored_objects": colored_objects,
    "hyperbaton": hyperbaton,
    "temporal_sequences": temporal_sequences,
    "multistep_arithmetic": multistep_arithmetic,
    "word_sorting": word_sorting,
    "dyck_languages": dyck_languages,
    "object_counting": object_counting,
    "web_of_lies": web_of_lies,
    "tracking_shuffled_objects": tracking_shuffled_objects,
    "logical_deduction": logical_deduction,
    "boolean_expressions": boolean_expressions,
    "navigate": navigate,
}


def verbalise(pack: str, facts: list[Fact], atoms: list[str], answer: str) -> str | None:
    """Return the chain of thought for a solved question, or None when the pack has no verbaliser."""
    verbaliser = VERBALISERS.get(pack)
    if verbaliser is None:
        return None
    lines = verbaliser(facts, _atoms(atoms), answer)
    return " ".join(lines + [FINAL.format(answer=answer)])
