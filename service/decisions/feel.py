"""The FEEL subset the project's decision tables are written in.

Supported, as Camunda Modeler's table editor writes it:

* unary tests (input entries): ``-`` or empty (any), a simple value (equality; a name that
  holds a list is satisfied when the list contains the input value),
  comparisons ``< 3``, ``<= 3``, ``> 3``, ``>= 3``, intervals ``[1..5]``, ``]1..5[``,
  ``(1..5)``, ``[1..5[``, disjunctions ``"a","b"``, ``not(...)``, ``null``;
* simple values: string, number, ``true``/``false``, ``null``, ``date("2026-01-01")``
  and (qualified) names;
* expressions (input expressions, output entries, literal expressions): simple values,
  parentheses, ``+ - * / **``, unary minus, comparisons, ``and``/``or`` (three-valued), path
  access ``a.b`` (a context's entry, a date's ``year``/``month``/``day``/``weekday``, the
  member of each element of a list), calls of business knowledge models, ``date(text)``,
  ``date(year, month, day)`` and ``not(...)``, and list literals ``["a", "b"]`` (``[]`` is the
  empty list) whose elements are such expressions; a list evaluates to a Python list.
  In a unary test ``[`` still opens an interval, and ``[1..5]`` is refused as an expression.

Everything else is a :class:`FeelSyntaxError` when the table is loaded, so nothing is
ever evaluated by guesswork; what only shows while evaluating and the subset has no values
for (durations from date arithmetic, other date properties, years outside 1-9999, dates
with and without a time zone compared) is a :class:`FeelEvaluationError`, never a quiet
null. Numbers are ``decimal.Decimal`` with FEEL's 34 digits.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

# IEEE 754 decimal128, as FEEL numbers are: 34 digits, exponents -6143..6144 (beyond them: null)
FEEL_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN, Emax=6144, Emin=-6143)


class FeelSyntaxError(ValueError):
    """A text that is not in the supported FEEL subset."""


class FeelEvaluationError(ValueError):
    """An expression that cannot be evaluated (e.g. an unknown function)."""


# --------------------------------------------------------------------------- values

def to_feel(value: Any) -> Any:
    """Convert a JSON-ish Python value to its FEEL value (numbers become Decimal)."""
    if value is None or isinstance(value, (bool, str, decimal.Decimal, dt.date)):
        return value
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): to_feel(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_feel(v) for v in value]
    raise FeelEvaluationError(f"values of type {type(value).__name__} are not FEEL values")


def to_json(value: Any) -> Any:
    """Convert a FEEL value to a JSON-ready value (integral numbers become int)."""
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value() and abs(value) < 10**18:
            return int(value)
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def feel_kind(value: Any) -> str | None:
    """The FEEL type family of a value, used for comparisons."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, decimal.Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "dateTime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "context"
    return type(value).__name__


def feel_equal(a: Any, b: Any) -> bool | None:
    """FEEL ``=``: null equals only null; values of different types give null; lists and
    contexts are equal when their members are (``[true] = [1]`` is not true)."""
    if a is None or b is None:
        return a is None and b is None
    kind = feel_kind(a)
    if kind != feel_kind(b):
        return None
    if kind == "dateTime" and (a.tzinfo is None) != (b.tzinfo is None):
        raise FeelEvaluationError("a date and time with a time zone cannot be compared with one without")
    if kind == "list":
        if len(a) != len(b):
            return False
        return _all_equal(zip(a, b))
    if kind == "context":
        if a.keys() != b.keys():
            return False
        return _all_equal((a[k], b[k]) for k in a)
    return a == b


def _all_equal(pairs: Iterable[tuple[Any, Any]]) -> bool | None:
    result: bool | None = True
    for x, y in pairs:
        eq = feel_equal(x, y)
        if eq is False:
            return False
        if eq is None:
            result = None
    return result


def feel_compare(a: Any, b: Any) -> int | None:
    """Order two values (-1, 0, 1), or None when FEEL says the comparison is null."""
    kind = feel_kind(a)
    if a is None or b is None or kind != feel_kind(b) or kind not in ("number", "string", "date", "dateTime"):
        return None
    if kind == "dateTime" and (a.tzinfo is None) != (b.tzinfo is None):
        raise FeelEvaluationError("a date and time with a time zone cannot be compared with one without")
    return (a > b) - (a < b)


# --------------------------------------------------------------------------- tokens

@dataclass(frozen=True)
class Token:
    kind: str  # 'num', 'str', 'name', 'op', 'end'
    text: str
    value: Any
    pos: int


_OPS = ("**", "..", "<=", ">=", "!=", "<", ">", "=", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")  # FEEL digits are ASCII only
_NAME_START = re.compile(r"[^\W\d]", re.UNICODE)
_NAME_PART = re.compile(r"[\w?']", re.UNICODE)
_OUTSIDE_CHARACTERS = {"{": "contexts {...}", "@": "@-literals", "?": "the implicit input ?",
                       ":": "named arguments and context entries"}
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'"}


_PLAIN_NAME = re.compile(r"[^\W\d][\w?']*", re.UNICODE)


def _join_surrogates(value: str, pos: int) -> str:
    r"""``"\ud83d\udc0e"`` is one character (a code point), as FEEL counts; a lone half is refused."""
    if not any("\ud800" <= ch <= "\udfff" for ch in value):
        return value
    try:
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise FeelSyntaxError(f"the string at position {pos + 1} has half of a surrogate pair (\\u escape) "
                              f"without the other half") from None


def tokenize(text: str, known_names: Iterable[str] = ()) -> list[Token]:
    """Split FEEL text into tokens; names with spaces are recognised from known_names."""
    # names FEEL allows with spaces or with . / - ' + * inside ("Loan-to-value") are read whole when the
    # model defines them, the longest first, as FEEL resolves names against their scope
    spaced = sorted((n for n in known_names if n and not _PLAIN_NAME.fullmatch(n)), key=len, reverse=True)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            j, out = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    if j + 1 >= n:
                        break
                    esc = text[j + 1]
                    if esc == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2:j + 6] or ""):
                        out.append(chr(int(text[j + 2:j + 6], 16)))
                        j += 6
                        continue
                    if esc not in _ESCAPES:
                        raise FeelSyntaxError(f"unknown escape \\{esc} in a string at position {j + 1}")
                    out.append(_ESCAPES[esc])
                    j += 2
                    continue
                out.append(text[j])
                j += 1
            if j >= n:
                raise FeelSyntaxError(f"string starting at position {i + 1} is not closed with \"")
            tokens.append(Token("str", text[i:j + 1], _join_surrogates("".join(out), i), i))
            i = j + 1
            continue
        m = _NUMBER.match(text, i)
        if m and not text.startswith("..", i):  # in "1..5" the number stops before the dots
            tokens.append(Token("num", m.group(0), decimal.Decimal(m.group(0)), i))
            i = m.end()
            continue
        if _NAME_START.match(ch):
            for name in spaced:
                end = i + len(name)
                if text.startswith(name, i) and (end >= n or not _NAME_PART.match(text[end])):
                    tokens.append(Token("name", name, name, i))
                    i = end
                    break
            else:
                j = i + 1
                while j < n and _NAME_PART.match(text[j]):
                    j += 1
                tokens.append(Token("name", text[i:j], text[i:j], i))
                i = j
            continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, op, i))
                i += len(op)
                break
        else:
            hint = (f": {_OUTSIDE_CHARACTERS[ch]} are outside the supported FEEL subset"
                    if ch in _OUTSIDE_CHARACTERS else "")
            raise FeelSyntaxError(f"unexpected character {ch!r} at position {i + 1}{hint}")
    tokens.append(Token("end", "", None, n))
    return tokens


# --------------------------------------------------------------------------- AST

class Node:
    """An expression node: ``evaluate(env)`` returns a FEEL value."""

    def evaluate(self, env: "Env") -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def names(self) -> set[str]:
        """Top-level variable names this expression reads."""
        return set()

    def functions(self) -> set[str]:
        """Names of the functions this expression calls."""
        return set()


@dataclass(frozen=True)
class Literal(Node):
    value: Any  # a list literal of constants is folded into a Literal holding a list

    def evaluate(self, env: "Env") -> Any:
        if isinstance(self.value, list):
            return _fresh(self.value)  # a fresh list: callers may change the result
        return self.value

    def __hash__(self) -> int:  # a list value is not hashable as such
        return hash(_freeze(self.value))


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _fresh(value: Any) -> Any:
    return [_fresh(v) for v in value] if isinstance(value, list) else value


@dataclass(frozen=True)
class ListExpr(Node):
    """A list literal with at least one non-constant element, e.g. ``[a, "b"]``."""

    items: tuple[Node, ...]

    def evaluate(self, env: "Env") -> Any:
        return [item.evaluate(env) for item in self.items]

    def names(self) -> set[str]:
        out: set[str] = set()
        for item in self.items:
            out |= item.names()
        return out

    def functions(self) -> set[str]:
        out: set[str] = set()
        for item in self.items:
            out |= item.functions()
        return out


@dataclass(frozen=True)
class Name(Node):
    name: str

    def evaluate(self, env: "Env") -> Any:
        return env.lookup(self.name)

    def names(self) -> set[str]:
        return {self.name}


@dataclass(frozen=True)
class Path(Node):
    base: Node
    member: str

    def evaluate(self, env: "Env") -> Any:
        return _member(self.base.evaluate(env), self.member)

    def names(self) -> set[str]:
        return self.base.names()

    def functions(self) -> set[str]:
        return self.base.functions()


def _member(value: Any, member: str) -> Any:
    """FEEL path ``value.member``: a context's entry (null when absent), a date's property, the
    member of each element of a list; null for values without members."""
    if isinstance(value, dict):
        return value.get(member)
    if isinstance(value, dt.date):
        return _date_property(value, member)
    if isinstance(value, list):
        return [_member(item, member) for item in value]
    return None


_DATE_PROPERTIES = ("year", "month", "day", "weekday")
_DATETIME_PROPERTIES = _DATE_PROPERTIES + ("hour", "minute", "second")


def _date_property(value: dt.date, member: str) -> Any:
    """FEEL's properties of a date (and date and time) that the subset has values for."""
    allowed = _DATETIME_PROPERTIES if isinstance(value, dt.datetime) else _DATE_PROPERTIES
    if member not in allowed:
        raise FeelEvaluationError(f"the property '{member}' of a {feel_kind(value)} is not supported "
                                  f"(supported: {', '.join(allowed)})")
    if member == "weekday":
        return decimal.Decimal(value.isoweekday())
    return decimal.Decimal(getattr(value, member))


@dataclass(frozen=True)
class Negate(Node):
    operand: Node

    def evaluate(self, env: "Env") -> Any:
        value = self.operand.evaluate(env)
        if not isinstance(value, decimal.Decimal):
            return None
        return value.copy_negate()  # exact: no rounding to Python's default 28 digits

    def names(self) -> set[str]:
        return self.operand.names()

    def functions(self) -> set[str]:
        return self.operand.functions()


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, dt.date) or isinstance(b, dt.date):
        # FEEL gives durations (date - date) or shifted dates (date + duration): outside the subset
        raise FeelEvaluationError(f"arithmetic ('{op}') on dates is not supported (FEEL durations are "
                                  f"outside the supported subset)")
    if not (isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal)):
        return None
    with decimal.localcontext(FEEL_CONTEXT):
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return None if b == 0 else a / b
            if op == "**":
                return a ** b
        except (decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow):
            return None
    raise AssertionError(op)


def _compare_op(op: str, a: Any, b: Any) -> bool | None:
    if op == "=":
        return feel_equal(a, b)
    if op == "!=":
        eq = feel_equal(a, b)
        return None if eq is None else not eq
    c = feel_compare(a, b)
    if c is None:
        return None
    return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node

    def evaluate(self, env: "Env") -> Any:
        a, b = self.left.evaluate(env), self.right.evaluate(env)
        if self.op in ("=", "!=", "<", "<=", ">", ">="):
            return _compare_op(self.op, a, b)
        return _arith(self.op, a, b)

    def names(self) -> set[str]:
        return self.left.names() | self.right.names()

    def functions(self) -> set[str]:
        return self.left.functions() | self.right.functions()


def _truth(value: Any) -> bool | None:
    """A FEEL operand of ``and``/``or``: a boolean, or null for anything else."""
    return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class Logical(Node):
    """``a and b`` / ``a or b`` with FEEL's three-valued logic (non-booleans count as null)."""

    op: str  # 'and' or 'or'
    left: Node
    right: Node

    def evaluate(self, env: "Env") -> Any:
        a, b = _truth(self.left.evaluate(env)), _truth(self.right.evaluate(env))
        decisive = self.op == "or"  # true decides an 'or', false decides an 'and'
        if a is decisive or b is decisive:
            return decisive
        if a is None or b is None:
            return None
        return not decisive

    def names(self) -> set[str]:
        return self.left.names() | self.right.names()

    def functions(self) -> set[str]:
        return self.left.functions() | self.right.functions()


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]

    def evaluate(self, env: "Env") -> Any:
        return env.call(self.function, [a.evaluate(env) for a in self.args])

    def names(self) -> set[str]:
        out: set[str] = set()
        for a in self.args:
            out |= a.names()
        return out

    def functions(self) -> set[str]:
        out = {self.function}
        for a in self.args:
            out |= a.functions()
        return out


_DATE_TEXT = re.compile(r"-?\d{4,9}-\d{2}-\d{2}")


def _date(*args: Any) -> Any:
    """FEEL ``date(from)`` (a date string, a date or a date and time) and ``date(year, month, day)``."""
    if len(args) == 3:
        if not all(isinstance(a, decimal.Decimal) for a in args):
            return None
        if any(a != a.to_integral_value() for a in args):
            return None
        year, month, day = (int(a) for a in args)
        _check_year(year)
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    (value,) = args
    if isinstance(value, dt.date):
        return value if not isinstance(value, dt.datetime) else value.date()
    if isinstance(value, str):
        if not _DATE_TEXT.fullmatch(value):
            return None
        _check_year(int(value[:-6]))
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _check_year(year: int) -> None:
    if not 1 <= year <= 9999:
        raise FeelEvaluationError(f"the year {year} is outside the years 1-9999 the engine has dates for")


def _not(value: Any) -> Any:
    """FEEL ``not(x)``: the negation of a boolean, null for anything else."""
    return (not value) if isinstance(value, bool) else None


BUILTINS: dict[str, Callable[..., Any]] = {"date": _date, "not": _not}
BUILTIN_ARITIES: dict[str, tuple[int, ...]] = {"date": (1, 3), "not": (1,)}


def calls(node: Node | None) -> list["Call"]:
    """Every function call inside an expression (to check names and numbers of arguments at load)."""
    found: list[Call] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Call):
            found.append(item)
        if isinstance(item, Node):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__)  # type: ignore[attr-defined]
        elif isinstance(item, tuple):
            stack.extend(item)
    return found


class Env:
    """Variables and functions an expression is evaluated with."""

    def __init__(self, variables: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None):
        self.variables = variables
        self.functions = {**BUILTINS, **(functions or {})}

    def lookup(self, name: str) -> Any:
        return self.variables.get(name)

    def call(self, name: str, args: Sequence[Any]) -> Any:
        fn = self.functions.get(name)
        if fn is None:
            raise FeelEvaluationError(f"unknown function {name}()")
        return fn(*args)


# --------------------------------------------------------------------------- unary tests

class UnaryTest:
    """One positive test of a unary-tests cell; ``test`` gives True, False or None."""

    def test(self, value: Any, env: Env) -> bool | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def endpoints(self) -> list[Node]:
        return []


@dataclass(frozen=True)
class EqualsTest(UnaryTest):
    endpoint: Node

    def test(self, value: Any, env: Env) -> bool | None:
        expected = self.endpoint.evaluate(env)
        equal = feel_equal(value, expected)
        if equal is not True and isinstance(expected, list):
            # DMN's semantics of unary tests: an expression that evaluates to a list is
            # satisfied when the input value is contained in the list
            return any(feel_equal(value, item) is True for item in expected)
        return equal

    def endpoints(self) -> list[Node]:
        return [self.endpoint]


@dataclass(frozen=True)
class CompareTest(UnaryTest):
    op: str
    endpoint: Node

    def test(self, value: Any, env: Env) -> bool | None:
        return _compare_op(self.op, value, self.endpoint.evaluate(env))

    def endpoints(self) -> list[Node]:
        return [self.endpoint]


@dataclass(frozen=True)
class IntervalTest(UnaryTest):
    low: Node
    high: Node
    low_closed: bool
    high_closed: bool

    def test(self, value: Any, env: Env) -> bool | None:
        lo = _compare_op(">=" if self.low_closed else ">", value, self.low.evaluate(env))
        hi = _compare_op("<=" if self.high_closed else "<", value, self.high.evaluate(env))
        if lo is None or hi is None:
            return None
        return lo and hi

    def endpoints(self) -> list[Node]:
        return [self.low, self.high]


@dataclass(frozen=True)
class UnaryTests:
    """A whole input entry: any (``-``), a disjunction of tests, or its negation."""

    text: str
    tests: tuple[UnaryTest, ...]  # empty tuple with negated=False means "any"
    negated: bool = False

    @property
    def is_any(self) -> bool:
        return not self.tests and not self.negated

    def matches(self, value: Any, env: Env) -> bool:
        if self.is_any:
            return True
        result: bool | None = False
        for t in self.tests:
            r = t.test(value, env)
            if r is True:
                result = True
                break
            if r is None:
                result = None
        if self.negated:
            return result is False
        return result is True

    def endpoints(self) -> list[Node]:
        return [e for t in self.tests for e in t.endpoints()]

    def literal_values(self) -> list[Any]:
        """The values of a plain list of literals (e.g. output values), else raise."""
        values = []
        for t in self.tests:
            if self.negated or not isinstance(t, EqualsTest) or not isinstance(t.endpoint, Literal):
                raise FeelSyntaxError(f"{self.text!r} must be a list of literal values")
            values.append(t.endpoint.value)
        return values


# --------------------------------------------------------------------------- parser

_KEYWORDS = ("in", "instance", "between", "satisfies", "then", "else", "return", "if", "for", "some", "every",
             "function")

class _Parser:
    def __init__(self, text: str, known_names: Iterable[str]):
        self.text = text
        self.tokens = tokenize(text, known_names)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def at(self, kind: str, text: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def take(self, kind: str, text: str | None = None) -> Token:
        if not self.at(kind, text):
            want = text or kind
            got = self.tok.text or "the end"
            raise FeelSyntaxError(f"expected {want!r} at position {self.tok.pos + 1}, found {got!r}")
        t = self.tok
        self.i += 1
        return t

    def done(self) -> None:
        if not self.at("end"):
            raise FeelSyntaxError(f"unexpected {self.tok.text!r} at position {self.tok.pos + 1}{self._hint()}")

    def _hint(self) -> str:
        """Why a token cannot continue the text, for the FEEL that lies outside the subset."""
        t, prev = self.tok, self.tokens[self.i - 1] if self.i else None
        if t.kind == "name" and t.text in _KEYWORDS:
            return f": '{t.text}' expressions are outside the supported FEEL subset"
        if t.kind == "name" and prev is not None and prev.kind == "name":
            return (f": '{prev.text} {t.text}' is neither a name of this model nor a supported function "
                    f"(supported: {', '.join(sorted(BUILTINS))})")
        if t.kind == "name" and prev is not None and prev.kind == "num" and re.fullmatch(r"[eE]\d+", t.text):
            return ": numbers with an exponent are outside the supported FEEL subset"
        if t.kind == "op" and t.text == "[":
            return ": filters and indexes (list[...]) are outside the supported FEEL subset"
        return ""

    # simple values: literals, date("..."), names and paths, negative numbers
    def simple_value(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.text == "-" and self.tokens[self.i + 1].kind == "num":
            self.i += 2
            return Literal(self.tokens[self.i - 1].value.copy_negate())
        if t.kind == "num":
            self.i += 1
            return Literal(t.value)
        if t.kind == "str":
            self.i += 1
            return Literal(t.value)
        if t.kind == "name":
            if t.text in ("true", "false"):
                self.i += 1
                return Literal(t.text == "true")
            if t.text == "null":
                self.i += 1
                return Literal(None)
            if t.text == "date" and self.tokens[self.i + 1].text == "(":
                self.i += 2
                s = self.take("str")
                self.take("op", ")")
                try:
                    value = _date(s.value)
                except FeelEvaluationError as exc:
                    raise FeelSyntaxError(f"date({s.text}): {exc}") from None
                if value is None:
                    raise FeelSyntaxError(f"date({s.text}) is not a valid date: write date(\"YYYY-MM-DD\")")
                return Literal(value)
            if t.text == "not":
                raise FeelSyntaxError(f"not(...) must enclose the whole cell (position {t.pos + 1})")
            self.i += 1
            node: Node = Name(t.text)
            while self.at("op", "."):
                self.i += 1
                node = Path(node, self.take("name").text)
            return node
        raise FeelSyntaxError(f"expected a value at position {t.pos + 1}, found {t.text or 'the end'!r}")

    def positive_test(self) -> UnaryTest:
        t = self.tok
        if t.kind == "op" and t.text in ("<", "<=", ">", ">="):
            self.i += 1
            return CompareTest(t.text, self.simple_value())
        if t.kind == "op" and t.text in ("[", "]", "("):
            self.i += 1
            low = self.simple_value()
            self.take("op", "..")
            high = self.simple_value()
            close = self.tok
            if not (close.kind == "op" and close.text in ("]", "[", ")")):
                raise FeelSyntaxError(f"an interval must end with ']', '[' or ')' at position {close.pos + 1}")
            self.i += 1
            return IntervalTest(low, high, t.text == "[", close.text == "]")
        if t.kind == "op" and t.text in ("=", "!="):
            raise FeelSyntaxError(f"'{t.text}' is not a FEEL unary test: write the value alone for equality, "
                                  f"or not(value) for inequality")
        return EqualsTest(self.simple_value())

    def unary_tests(self) -> UnaryTests:
        stripped = self.text.strip()
        if stripped in ("", "-"):
            return UnaryTests(stripped, ())
        negated = False
        if self.at("name", "not") and self.tokens[self.i + 1].text == "(":
            self.i += 2
            negated = True
        tests = [self.positive_test()]
        while self.at("op", ","):
            self.i += 1
            tests.append(self.positive_test())
        if negated:
            self.take("op", ")")
        self.done()
        return UnaryTests(stripped, tuple(tests), negated)

    # expressions: disjunction < conjunction < comparison < arithmetic
    def expression(self) -> Node:
        node = self.conjunction()
        while self.at("name", "or"):
            self.i += 1
            node = Logical("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.comparison()
        while self.at("name", "and"):
            self.i += 1
            node = Logical("and", node, self.comparison())
        return node

    def comparison(self) -> Node:
        left = self.additive()
        if self.tok.kind == "op" and self.tok.text in ("=", "!=", "<", "<=", ">", ">="):
            op = self.take("op").text
            left = Binary(op, left, self.additive())
        return left

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.take("op").text
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.power()
        while self.tok.kind == "op" and self.tok.text in ("*", "/"):
            op = self.take("op").text
            node = Binary(op, node, self.power())
        return node

    def power(self) -> Node:
        node = self.unary()
        while self.at("op", "**"):
            self.i += 1
            node = Binary("**", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("op", "-"):
            self.i += 1
            return Negate(self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.text == "(":
            self.i += 1
            node = self.expression()
            self.take("op", ")")
        elif t.kind == "op" and t.text == "[":
            node = self.list_literal()
        elif t.kind == "name" and self.tokens[self.i + 1].text == "(" and t.text not in ("true", "false", "null"):
            if t.text == "date" and self.tokens[self.i + 2].kind == "str":
                node = self.simple_value()
            else:
                self.i += 2
                args: list[Node] = []
                if not self.at("op", ")"):
                    args.append(self.expression())
                    while self.at("op", ","):
                        self.i += 1
                        args.append(self.expression())
                self.take("op", ")")
                node = Call(t.text, tuple(args))
        elif t.kind == "name" and t.text in ("not", "if", "for", "some", "every", "function", "and", "or",
                                              "in", "instance", "between", "satisfies", "then", "else", "return"):
            raise FeelSyntaxError(f"'{t.text}' is outside the supported FEEL subset (position {t.pos + 1})")
        else:
            node = self.simple_value()
        while self.at("op", "."):
            self.i += 1
            node = Path(node, self.take("name").text)
        return node

    def list_literal(self) -> Node:
        """``[e1, e2, ...]`` in an expression; a list of constants becomes one Literal."""
        start = self.take("op", "[")
        items: list[Node] = []
        if not self.at("op", "]"):
            while True:
                if self.at("end"):
                    break
                items.append(self.expression())
                if self.at("op", ".."):
                    raise FeelSyntaxError(f"a range [a..b] is a unary test, not an expression: write it in an "
                                          f"input entry (position {self.tok.pos + 1})")
                if not self.at("op", ","):
                    break
                self.i += 1
        if self.at("end"):
            raise FeelSyntaxError(f"the list opened at position {start.pos + 1} is not closed with ']'")
        if not self.at("op", "]"):
            raise FeelSyntaxError(f"expected ',' or ']' at position {self.tok.pos + 1} in the list opened at "
                                  f"position {start.pos + 1}, found {self.tok.text!r}")
        self.i += 1
        if all(isinstance(item, Literal) for item in items):
            return Literal([item.value for item in items])
        return ListExpr(tuple(items))


def parse_unary_tests(text: str | None, known_names: Iterable[str] = ()) -> UnaryTests:
    """Parse an input entry (unary tests); raise FeelSyntaxError outside the subset."""
    return _Parser(text or "", known_names).unary_tests()


def parse_expression(text: str | None, known_names: Iterable[str] = ()) -> Node | None:
    """Parse an expression; None for an empty text (a null output)."""
    if text is None or not text.strip():
        return None
    p = _Parser(text, known_names)
    node = p.expression()
    p.done()
    return node
