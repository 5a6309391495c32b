"""OData query options: parse ``$filter``, ``$select``, ``$orderby``, ``$expand``, ``$top``,
``$skip`` and ``$count`` into a :class:`Query`, and compile the filter into a predicate.

Semantics (the simulator's reading of the API):

- A literal whose type does not fit the property it is compared with is a 400, as in
  ASP.NET OData (``CreateDate ge '2024-01-01'``, ``Amount eq 'x'``).
- At evaluation, a comparison with a null value or with a value of another type than
  expected (hostile records stored raw) is false; only ``eq null`` and ``ne null`` see nulls.
- Datetime comparisons compare instants, whatever the offsets on either side.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .dates import parse_instant
from .schema import (
    BOOLEAN,
    CONTACT_TAG_PROPERTIES,
    DATETIME,
    NUMERIC_TYPES,
    PRODUCTS,
    STRING,
    TAG_PROPERTIES,
    EntitySchema,
)

MAX_TOP = 300
PRODUCT_PROPERTIES = PRODUCTS.properties
KNOWN_OPTIONS = frozenset({"$filter", "$select", "$orderby", "$expand", "$top", "$skip", "$count"})

Record = dict[str, Any]
Predicate = Callable[[Record], bool]


class ODataError(ValueError):
    """A query the API rejects with 400 Bad Request."""


# --- syntax tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A constant: kind is ``number``, ``string``, ``datetime`` (an Instant), ``bool`` or ``null``."""

    kind: str
    value: Any
    text: str


@dataclass(frozen=True)
class Prop:
    """A property of the record."""

    name: str


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op one of eq ne gt ge lt le."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logical:
    """``and`` / ``or`` over two or more operands."""

    op: str
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    item: Node


@dataclass(frozen=True)
class Call:
    """A function call such as ``contains(Title,'x')``."""

    name: str
    args: tuple[Node, ...]


Node = Literal | Prop | Compare | Logical | Not | Call

COMPARISONS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
MIRRORED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
STRING_FUNCTIONS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda value, part: part in value,
    "startswith": str.startswith,
    "endswith": str.endswith,
}

# --- tokenizer -------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""\s*(?:
      (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[mMdDlL]?(?![\w.])
    | (?P<string>'(?:[^']|'')*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.lastgroup is None:
            raise ODataError(f"Syntax error at position {pos} in $filter '{text}'.")
        start = match.start(match.lastgroup)
        tokens.append(_Token(match.lastgroup, match.group(match.lastgroup), start))
        pos = match.end()
    return tokens


# --- parser ----------------------------------------------------------------------------------


class _Parser:
    """Recursive descent: or < and < not < comparison < primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise ODataError("The $filter expression is empty.")
        node = self._or()
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            raise ODataError(
                f"Syntax error at position {token.pos} in $filter '{self.text}': '{token.text}'."
            )
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            raise ODataError(f"Unexpected end of $filter '{self.text}'.")
        self.index += 1
        return token

    def _accept_word(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "name" and token.text == word:
            self.index += 1
            return True
        return False

    def _expect_punct(self, punct: str) -> None:
        token = self._next()
        if token.text != punct or token.kind != "punct":
            raise ODataError(f"Expected '{punct}' at position {token.pos} in $filter '{self.text}'.")

    def _or(self) -> Node:
        items = [self._and()]
        while self._accept_word("or"):
            items.append(self._and())
        return items[0] if len(items) == 1 else Logical("or", tuple(items))

    def _and(self) -> Node:
        items = [self._not()]
        while self._accept_word("and"):
            items.append(self._not())
        return items[0] if len(items) == 1 else Logical("and", tuple(items))

    def _not(self) -> Node:
        if self._accept_word("not"):
            return Not(self._not())
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._primary()
        token = self._peek()
        if token is not None and token.kind == "name" and token.text in COMPARISONS:
            self.index += 1
            return Compare(token.text, left, self._primary())
        return left

    def _primary(self) -> Node:
        token = self._next()
        if token.kind == "punct":
            if token.text != "(":
                raise ODataError(
                    f"Unexpected '{token.text}' at position {token.pos} in $filter '{self.text}'."
                )
            node = self._or()
            self._expect_punct(")")
            return node
        if token.kind == "number":
            number = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            return Literal("number", number, token.text)
        if token.kind == "string":
            return Literal("string", token.text[1:-1].replace("''", "'"), token.text)
        if token.kind == "datetime":
            instant = parse_instant(token.text)
            if instant is None:
                raise ODataError(f"The datetime literal '{token.text}' is not valid.")
            return Literal("datetime", instant, token.text)
        word = token.text
        if word in ("true", "false"):
            return Literal("bool", word == "true", word)
        if word == "null":
            return Literal("null", None, word)
        following = self._peek()
        if following is not None and following.text == "(" and following.kind == "punct":
            self.index += 1
            args = [self._or()]
            while (sep := self._peek()) is not None and sep.text == "," and sep.kind == "punct":
                self.index += 1
                args.append(self._or())
            self._expect_punct(")")
            return Call(word, tuple(args))
        if word in COMPARISONS or word in ("and", "or", "not"):
            raise ODataError(f"Syntax error at position {token.pos} in $filter '{self.text}': '{word}'.")
        return Prop(word)


def parse_filter(text: str, schema: EntitySchema) -> Node:
    """Parse and type-check a ``$filter`` expression against ``schema``."""
    node = _Parser(text).parse()
    if _check(node, schema) not in (BOOLEAN, None):
        raise ODataError(f"The $filter expression '{text}' is not a boolean expression.")
    return node


def _unknown_property(name: str, schema: EntitySchema) -> ODataError:
    if "/" in name:
        return ODataError(f"Navigation paths such as '{name}' are not supported on '{schema.name}'.")
    return ODataError(f"Could not find a property named '{name}' on type '{schema.type_name}'.")


def _check(node: Node, schema: EntitySchema) -> str | None:
    """Validate ``node``; return its type (None for the null literal)."""
    if isinstance(node, Prop):
        if node.name not in schema.properties:
            raise _unknown_property(node.name, schema)
        return schema.properties[node.name]
    if isinstance(node, Literal):
        return {"number": "number", "string": STRING, "datetime": DATETIME, "bool": BOOLEAN}.get(node.kind)
    if isinstance(node, Logical | Not):
        for item in node.items if isinstance(node, Logical) else (node.item,):
            if _check(item, schema) != BOOLEAN:
                raise ODataError(
                    f"The operands of '{getattr(node, 'op', 'not')}' must be boolean expressions."
                )
        return BOOLEAN
    if isinstance(node, Call):
        if node.name not in STRING_FUNCTIONS:
            raise ODataError(f"Unknown function '{node.name}'.")
        if len(node.args) != 2:
            raise ODataError(f"The function '{node.name}' takes two arguments.")
        for arg in node.args:
            if _check(arg, schema) != STRING:
                raise ODataError(f"The arguments of '{node.name}' must be strings.")
        return BOOLEAN
    left, right = _check(node.left, schema), _check(node.right, schema)
    if left is not None and right is not None and not _compatible(left, right):
        raise ODataError(
            f"A binary operator with incompatible types was detected. "
            f"Found operand types '{left}' and '{right}' for operator kind '{node.op}'."
        )
    return BOOLEAN


def _compatible(left: str, right: str) -> bool:
    numeric = NUMERIC_TYPES | {"number"}
    return left == right or (left in numeric and right in numeric)


# --- compiler --------------------------------------------------------------------------------


class _DateTime(tuple):
    """The instant of a datetime literal, so generic comparisons know to parse the other side."""


def _false(_record: Record) -> bool:
    return False


def compile_filter(node: Node) -> Predicate:
    """A fast predicate over records for a parsed (and checked) filter."""
    if isinstance(node, Logical):
        parts = [compile_filter(item) for item in node.items]
        if node.op == "and":
            return lambda record: all(part(record) for part in parts)
        return lambda record: any(part(record) for part in parts)
    if isinstance(node, Not):
        inner = compile_filter(node.item)
        return lambda record: not inner(record)
    if isinstance(node, Call):
        return _compile_call(node)
    if isinstance(node, Prop):
        name = node.name
        return lambda record: record.get(name) is True
    if isinstance(node, Literal):
        constant = node.value is True
        return lambda _record: constant
    if isinstance(node.left, Prop) and isinstance(node.right, Literal):
        return _compile_property_literal(node.left.name, node.op, node.right)
    if isinstance(node.left, Literal) and isinstance(node.right, Prop):
        return _compile_property_literal(node.right.name, MIRRORED[node.op], node.left)
    left, right, op = _value_getter(node.left), _value_getter(node.right), COMPARISONS[node.op]
    return lambda record: _compare_values(op, left(record), right(record))


def _compile_property_literal(name: str, op_name: str, literal: Literal) -> Predicate:
    op = COMPARISONS[op_name]
    expected = literal.value
    if literal.kind == "null":
        if op_name == "eq":
            return lambda record: record.get(name) is None
        if op_name == "ne":
            return lambda record: record.get(name) is not None
        return _false
    if literal.kind == "datetime":

        def datetime_predicate(record: Record) -> bool:
            value = record.get(name)
            if type(value) is not str:
                return False
            instant = parse_instant(value)
            return instant is not None and op(instant, expected)

        return datetime_predicate
    if literal.kind == "number":

        def number_predicate(record: Record) -> bool:
            value = record.get(name)
            return (type(value) is int or type(value) is float) and op(value, expected)

        return number_predicate
    kind = str if literal.kind == "string" else bool

    def typed_predicate(record: Record) -> bool:
        value = record.get(name)
        return type(value) is kind and op(value, expected)

    return typed_predicate


def _value_getter(node: Node) -> Callable[[Record], Any]:
    if isinstance(node, Prop):
        name = node.name
        return lambda record: record.get(name)
    if isinstance(node, Literal):
        value = _DateTime(node.value) if node.kind == "datetime" else node.value
        return lambda _record: value
    raise ODataError("Only properties and literals can be compared.")


def _kind_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _compare_values(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    """Generic comparison: nulls and mismatched types are false; datetimes compare instants."""
    if isinstance(left, _DateTime) or isinstance(right, _DateTime):
        left, right = _as_instant(left), _as_instant(right)
        return left is not None and right is not None and op(left, right)
    kind = _kind_of(left)
    if kind is None or kind == "other" or kind != _kind_of(right):
        return False
    if kind == "string":
        left_instant, right_instant = parse_instant(left), parse_instant(right)
        if left_instant is not None and right_instant is not None:
            return op(left_instant, right_instant)
    return op(left, right)


def _as_instant(value: Any) -> tuple[Any, ...] | None:
    if isinstance(value, _DateTime):
        return tuple(value)
    if type(value) is str:
        return parse_instant(value)
    return None


def _compile_call(node: Call) -> Predicate:
    function = STRING_FUNCTIONS[node.name]
    value_of, part_of = _value_getter(node.args[0]), _value_getter(node.args[1])

    def call_predicate(record: Record) -> bool:
        value, part = value_of(record), part_of(record)
        return type(value) is str and type(part) is str and function(value, part)

    return call_predicate


# --- keyset detection ------------------------------------------------------------------------


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Logical) and node.op == "and":
        return [leaf for item in node.items for leaf in _conjuncts(item)]
    return [node]


def _id_bound(node: Node) -> tuple[str, int] | None:
    """``("ge", n)`` or ``("le", n)`` when ``node`` bounds Id by an integer, else None."""
    if not isinstance(node, Compare):
        return None
    op, left, right = node.op, node.left, node.right
    if isinstance(left, Literal) and isinstance(right, Prop):
        op, left, right = MIRRORED[op], right, left
    if not (isinstance(left, Prop) and left.name == "Id" and isinstance(right, Literal)):
        return None
    if right.kind != "number" or type(right.value) is not int:
        return None
    value = right.value
    return {
        "gt": ("ge", value + 1),
        "ge": ("ge", value),
        "lt": ("le", value - 1),
        "le": ("le", value),
        "eq": ("eq", value),
    }.get(op)


# --- expand ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagsExpand:
    """How ``Tags`` are rendered: TagId only, or with the Tag itself (and selects)."""

    with_tag: bool = False
    tag_select: tuple[str, ...] | None = None
    select: tuple[str, ...] | None = None

    @property
    def is_full(self) -> bool:
        """Whether this is exactly ``Tags($expand=Tag)`` (the cached form)."""
        return self.with_tag and self.tag_select is None and self.select is None


@dataclass(frozen=True)
class LinesExpand:
    """How the lines of an order or a quote (``Products``) are rendered: their ``$select``, and
    whether each carries its catalogue ``Product`` (with that one's ``$select``)."""

    select: tuple[str, ...] | None = None
    with_product: bool = False
    product_select: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Expand:
    """The navigations a query expands."""

    tags: TagsExpand | None = None
    other_properties: bool = False
    lines: LinesExpand | None = None
    plain: frozenset[str] = frozenset()  # navigations shown as stored (a field's Type, a table's Options)

    @property
    def empty(self) -> bool:
        """Whether nothing is expanded."""
        return self.tags is None and not self.other_properties and self.lines is None and not self.plain


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ODataError(f"Unbalanced parentheses in '{text}'.")
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise ODataError(f"Unbalanced parentheses in '{text}'.")
    parts.append("".join(current))
    return parts


_EXPAND_ITEM_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*\Z", re.DOTALL)


def _expand_items(text: str) -> list[tuple[str, dict[str, str]]]:
    items = []
    for part in _split_top_level(text, ","):
        match = _EXPAND_ITEM_RE.match(part)
        if match is None:
            raise ODataError(f"Syntax error in $expand '{text}'.")
        options: dict[str, str] = {}
        if match.group(2) is not None and match.group(2).strip():
            for option in _split_top_level(match.group(2), ";"):
                key, sep, value = option.strip().partition("=")
                if not sep:
                    raise ODataError(f"Syntax error in $expand option '{option}'.")
                options[key] = value
        items.append((match.group(1), options))
    return items


def _select_list(text: str, properties: Iterable[str], where: str) -> tuple[str, ...]:
    known = set(properties)
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        if name not in known:
            raise ODataError(f"Could not find a property named '{name}' in {where}.")
    return names


def parse_expand(text: str, schema: EntitySchema) -> Expand:
    """Parse ``$expand``: ``Tags``, ``Tags($expand=Tag)``, ``OtherProperties``, and the lines of an
    order or a quote, ``Products($select=...;$expand=Product($select=...))`` (as allowed)."""
    tags: TagsExpand | None = None
    lines: LinesExpand | None = None
    other = False
    plain: set[str] = set()
    for name, options in _expand_items(text):
        if name not in schema.navigations:
            raise ODataError(
                f"Could not find a navigation property named '{name}' on type '{schema.type_name}'."
            )
        if name in schema.plain:
            if options:
                raise ODataError(f"Query options inside $expand={name} are not supported.")
            plain.add(name)
            continue
        if name == "OtherProperties":
            if options:
                raise ODataError("Query options inside $expand=OtherProperties are not supported.")
            other = True
            continue
        if name == "Products" and schema.lines is not None:
            lines = _parse_lines_options(options, schema.lines)
            continue
        tags = _parse_tags_options(options)
    return Expand(tags=tags, other_properties=other, lines=lines, plain=frozenset(plain))


def _parse_lines_options(options: dict[str, str], properties: dict[str, str]) -> LinesExpand:
    select, with_product, product_select = _nested_options(options, "Products", properties, "Product",
                                                           PRODUCT_PROPERTIES)
    return LinesExpand(select=select, with_product=with_product, product_select=product_select)


def _parse_tags_options(options: dict[str, str]) -> TagsExpand:
    select, with_tag, tag_select = _nested_options(options, "Tags", CONTACT_TAG_PROPERTIES, "Tag", TAG_PROPERTIES)
    return TagsExpand(with_tag=with_tag, tag_select=tag_select, select=select)


def _nested_options(options: dict[str, str], where: str, properties: Iterable[str], child: str,
                    child_properties: Iterable[str]) -> tuple[tuple[str, ...] | None, bool, tuple[str, ...] | None]:
    """The options inside an expanded navigation ``where``: its ``$select``, and whether (and with
    which ``$select``) it expands its one navigation ``child``."""
    select, with_child, child_select = None, False, None
    for key, value in options.items():
        if key == "$select":
            select = _select_list(value, properties, where)
        elif key == "$expand":
            items = _expand_items(value)
            if len(items) != 1 or items[0][0] != child:
                raise ODataError(f"Could not find a navigation property named '{value}' on {where}.")
            with_child = True
            for inner_key, inner_value in items[0][1].items():
                if inner_key != "$select":
                    raise ODataError(f"The query option '{inner_key}' is not supported inside {child}.")
                child_select = _select_list(inner_value, child_properties, child)
        else:
            raise ODataError(f"The query option '{key}' is not supported inside {where}.")
    return select, with_child, child_select


# --- the whole query -------------------------------------------------------------------------


@dataclass
class Query:
    """A validated list query."""

    predicate: Predicate | None = None  # the whole filter
    residual: Predicate | None = None  # the filter less its Id bounds
    id_min: int | None = None  # inclusive bounds on Id taken from top-level conjuncts
    id_max: int | None = None
    select: tuple[str, ...] | None = None
    orderby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    top: int = MAX_TOP
    skip: int = 0
    count: bool = False
    expand: Expand = field(default_factory=Expand)

    @property
    def has_id_bounds(self) -> bool:
        """Whether the filter bounds Id (records without an integer Id then never match)."""
        return self.id_min is not None or self.id_max is not None

    @property
    def ordered_by_id(self) -> bool:
        """Whether results come in ascending Id order (explicitly or by default)."""
        return self.orderby in ((), (("Id", False),))


def _non_negative_int(option: str, text: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", text):
        raise ODataError(f"Invalid value '{text}' for {option}: a non-negative integer is expected.")
    return int(text)


def _parse_orderby(text: str, schema: EntitySchema) -> tuple[tuple[str, bool], ...]:
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(f"Syntax error in $orderby '{text}'.")
        if words[0] not in schema.properties:
            raise _unknown_property(words[0], schema)
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(keys)


def parse_query(params: list[tuple[str, str]], schema: EntitySchema, count_supported: bool,
                max_top: int = MAX_TOP) -> Query:
    """Validate the query string parameters of a list request into a :class:`Query`."""
    options: dict[str, str] = {}
    for key, value in params:
        if not key.startswith("$"):
            continue  # custom query options are ignored, as OData does
        if key not in KNOWN_OPTIONS:
            raise ODataError(f"The query parameter '{key}' is not supported.")
        if key in options:
            raise ODataError(
                f"Query option '{key}' was specified more than once, but it must be specified at most once."
            )
        options[key] = value
    query = Query()
    if "$filter" in options:
        node = parse_filter(options["$filter"], schema)
        query.predicate = compile_filter(node)
        residual: list[Node] = []
        for conjunct in _conjuncts(node):
            bound = _id_bound(conjunct)
            if bound is None:
                residual.append(conjunct)
                continue
            kind, value = bound
            if kind in ("ge", "eq"):
                query.id_min = value if query.id_min is None else max(query.id_min, value)
            if kind in ("le", "eq"):
                query.id_max = value if query.id_max is None else min(query.id_max, value)
        if residual:
            query.residual = compile_filter(
                residual[0] if len(residual) == 1 else Logical("and", tuple(residual))
            )
    if "$select" in options:
        query.select = _select_list(options["$select"], schema.properties, f"type '{schema.type_name}'")
    if "$orderby" in options:
        query.orderby = _parse_orderby(options["$orderby"], schema)
    if "$top" in options:
        query.top = min(max_top, _non_negative_int("$top", options["$top"]))
    if "$skip" in options:
        query.skip = _non_negative_int("$skip", options["$skip"])
    if "$expand" in options:
        query.expand = parse_expand(options["$expand"], schema)
    if "$count" in options and count_supported:
        value = options["$count"].strip()
        if value not in ("true", "false"):
            raise ODataError(f"Invalid value '{value}' for $count: 'true' or 'false' is expected.")
        query.count = value == "true"
    return query
