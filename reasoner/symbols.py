"""Conversion of clingo symbols to the plain values that answers are compared as."""

from __future__ import annotations

import clingo


def symbol_value(symbol: clingo.Symbol) -> str:
    """Return an answer symbol as text: a string's content, a number's digits, a constant's name."""
    if symbol.type == clingo.SymbolType.String:
        return symbol.string
    if symbol.type == clingo.SymbolType.Number:
        return str(symbol.number)
    if symbol.type == clingo.SymbolType.Function and not symbol.arguments:
        return symbol.name
    return str(symbol)
