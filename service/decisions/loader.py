"""Read DMN 1.1-1.5 files with lxml into a checked :class:`DecisionModel`.

Every cell is parsed when the file is loaded. A cell outside the supported FEEL subset, a
literal of the wrong type for its column, an unknown hit policy or a malformed rule is a
:class:`DmnLoadError` that lists each problem with file, line, decision, rule and column.
"""
from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

from lxml import etree

from .feel import (BUILTIN_ARITIES, BUILTINS, Env, FeelSyntaxError, Literal, Name, Node, UnaryTests, calls,
                   parse_expression, parse_unary_tests)
from .model import (AGGREGATIONS, HIT_POLICIES, Bkm, Decision, DecisionModel, DecisionTable, DmnLoadError,
                    InputClause, InputData, LiteralExpression, OutputClause, Problem, Rule)
from .types import ItemDefinition, literal_fits

DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "https://www.omg.org/spec/DMN/20211108/MODEL/": "1.4",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}
_XSD_FILES = {"1.1": "DMN.xsd", "1.2": "DMN12.xsd", "1.3": "DMN13.xsd"}


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _child(el: etree._Element, name: str) -> etree._Element | None:
    found = _children(el, name)
    return found[0] if found else None


def _text(el: etree._Element | None, name: str = "text") -> str | None:
    """The text of el's <text> child (or of el itself when name is empty)."""
    if el is None:
        return None
    node = _child(el, name) if name else el
    return None if node is None else (node.text or "")


def _type_ref(el: etree._Element | None) -> str | None:
    """typeRef as an attribute (DMN 1.1+ clauses) or a child element (item definitions)."""
    if el is None:
        return None
    if el.get("typeRef"):
        return el.get("typeRef")
    child = _child(el, "typeRef")
    return child.text.strip() if child is not None and child.text else None


@lru_cache(maxsize=None)
def _schema(version: str) -> etree.XMLSchema | None:
    """The DMN XSD bundled with SpiffWorkflow's DMN parser, located without importing it."""
    spec = importlib.util.find_spec("SpiffWorkflow")
    if spec is None or not spec.submodule_search_locations or version not in _XSD_FILES:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "dmn" / "parser" / "schema" / _XSD_FILES[version]
    if not path.exists():
        return None
    return etree.XMLSchema(etree.parse(str(path)))


# no entity expansion, no DTD, no network; a DOCTYPE or an entity reference is refused (see _doctype_problem)
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                              huge_tree=False, remove_comments=False)
_DTD_MESSAGE = ("a DOCTYPE or entity declaration is not allowed in a DMN file (entities could read files or "
                "expand without bound): remove the <!DOCTYPE ...> and write the text itself")


def _doctype_problem(data: bytes, name: str) -> Problem | None:
    """A problem when the bytes declare a DTD or entities (checked before parsing: lxml expands internal
    entities in attributes even with resolve_entities off)."""
    head = data.replace(b"\x00", b"")  # UTF-16 text, roughly
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        at = head.find(marker)
        if at >= 0:
            return Problem(name, "", _DTD_MESSAGE, head.count(b"\n", 0, at) + 1)
    return None


def load_file(path: str | Path, *, check_schema: bool = True, display_name: str | None = None) -> DecisionModel:
    """Load one DMN file; raise DmnLoadError listing every problem."""
    path = Path(path)
    name = display_name or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DmnLoadError([Problem(name, "", f"cannot read the file: {exc.strerror}")]) from None
    return load_bytes(data, name, check_schema=check_schema)


def load_bytes(data: bytes, name: str, *, check_schema: bool = True) -> DecisionModel:
    """Load DMN XML given as bytes; ``name`` is used in messages."""
    doctype = _doctype_problem(data, name)
    if doctype is not None:
        raise DmnLoadError([doctype])
    try:
        root = etree.fromstring(data, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise DmnLoadError([Problem(name, "", f"not well-formed XML: {exc.msg}", exc.lineno)]) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise DmnLoadError([Problem(name, "", f"cannot read the XML: {type(exc).__name__}")]) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DmnLoadError([Problem(name, "", _DTD_MESSAGE, 1)])
    entity = next((el for el in root.iter() if isinstance(el, etree._Entity)), None)
    if entity is not None:
        raise DmnLoadError([Problem(name, "", f"entity reference {entity.text} is not allowed in a DMN file",
                                    entity.sourceline)])
    ns = etree.QName(root).namespace
    # Some exporters put <definitions> in their own default namespace and only declare the
    # DMN one under a prefix; elements are matched by local name, so such files still read.
    declared = [v for v in root.nsmap.values() if v in DMN_NAMESPACES]
    if _local(root) != "definitions" or (ns not in DMN_NAMESPACES and not declared):
        raise DmnLoadError([Problem(name, "", f"not a DMN 1.1-1.5 file (root element {root.tag})", root.sourceline)])
    version = DMN_NAMESPACES[ns] if ns in DMN_NAMESPACES else DMN_NAMESPACES[declared[0]]
    problems: list[Problem] = []
    schema = _schema(version) if check_schema and ns in DMN_NAMESPACES else None
    if schema is not None and not schema.validate(root):
        for err in schema.error_log:
            problems.append(Problem(name, "XML schema", err.message, err.line))
    builder = _ModelBuilder(root, name, version, problems)
    model = builder.build()
    if problems:
        raise DmnLoadError(problems)
    return model


class _ModelBuilder:
    def __init__(self, root: etree._Element, file: str, version: str, problems: list[Problem]):
        self.root = root
        self.file = file
        self.problems = problems
        self.model = DecisionModel(file=file, dmn_version=version, name=root.get("name"))

    def problem(self, where: str, message: str, el: etree._Element | None = None) -> None:
        self.problems.append(Problem(self.file, where, message, el.sourceline if el is not None else None))

    def build(self) -> DecisionModel:
        root, model = self.root, self.model
        for item in _children(root, "itemDefinition"):
            parsed = self._item(item, item.get("name") or "")
            model.types.items[parsed.name] = parsed
        for el in _children(root, "itemDefinition"):
            self._check_item_types(model.types.items.get(el.get("name") or ""), el)
        for el in _children(root, "inputData"):
            var = _child(el, "variable")
            name = el.get("name") or (var.get("name") if var is not None else "")
            model.input_data[name] = InputData(el.get("id"), name, _type_ref(var))
            if not model.types.is_known(_type_ref(var)):
                self.problem(f"input data '{name}'", f"unknown typeRef '{_type_ref(var)}'", var)
        names = self._known_names()
        for tag, what in (("import", "imports of other models"), ("decisionService", "decision services")):
            for el in _children(root, tag):
                self.problem(f"{tag} '{el.get('name') or el.get('id') or ''}'", f"{what} are not supported", el)
        bkm_els = _children(root, "businessKnowledgeModel")
        for el in bkm_els:
            self._bkm(el, names)
        for el in bkm_els:  # calls are checked once every model is known (one may call another)
            bkm = self.model.bkms.get(el.get("name") or "")
            if bkm is not None:
                self._check_calls(bkm.body, f"business knowledge model '{bkm.name}'", el)
        ids: dict[str, str] = {el.get("id"): el.get("name") or el.get("id") for el in _children(root, "decision")}
        for el in _children(root, "decision"):
            decision = self._decision(el, names, ids)
            if decision is not None:
                if decision.id in model.decisions:
                    self.problem(f"decision '{decision.id}'", "the same decision id is used twice", el)
                model.decisions[decision.id] = decision
        if not _children(root, "decision"):
            self.problem("", "the file defines no decision")
        return model

    def _check_item_types(self, item: ItemDefinition | None, el: etree._Element) -> None:
        """An item definition (and each of its components) must build on a type the engine has values for:
        a value of an unknown type (a time, a duration) would otherwise pass unchecked."""
        stack = [(item, item.name)] if item is not None else []
        while stack:
            it, path = stack.pop()
            if not self.model.types.is_known(it.type_ref):
                self.problem(f"item definition '{path}'", f"unknown typeRef '{it.type_ref}'", el)
            stack.extend((comp, f"{path}.{name}") for name, comp in it.components.items())

    def _known_names(self) -> set[str]:
        root = self.root
        names = set(self.model.input_data)
        for tag in ("decision", "businessKnowledgeModel"):
            names |= {el.get("name") for el in _children(root, tag) if el.get("name")}
        for item in self.model.types.items.values():
            stack = [item]
            while stack:
                it = stack.pop()
                names |= set(it.components)
                stack.extend(it.components.values())
        return names

    def _item(self, el: etree._Element, name: str) -> ItemDefinition:
        allowed = None
        allowed_text = _text(_child(el, "allowedValues"))
        if allowed_text:
            try:
                allowed = parse_unary_tests(allowed_text)
            except FeelSyntaxError as exc:
                self.problem(f"item definition '{name}', allowed values", f'"{allowed_text}": {exc}', el)
        comps = {c.get("name") or "": self._item(c, c.get("name") or "") for c in _children(el, "itemComponent")}
        item = ItemDefinition(name, _type_ref(el), allowed, comps, el.get("isCollection") == "true")
        return item

    def _bkm(self, el: etree._Element, names: set[str]) -> None:
        name = el.get("name") or ""
        logic = _child(el, "encapsulatedLogic")
        if logic is None:
            self.problem(f"business knowledge model '{name}'", "has no encapsulated logic", el)
            return
        params = tuple(p.get("name") or "" for p in _children(logic, "formalParameter"))
        lit = _child(logic, "literalExpression")
        if lit is None:
            self.problem(f"business knowledge model '{name}'",
                         "only a literal expression is supported as its logic", logic)
            return
        text = _text(lit) or ""
        try:
            body = parse_expression(text, names | set(params))
        except FeelSyntaxError as exc:
            self.problem(f"business knowledge model '{name}'", f'"{text}": {exc}', lit)
            return
        if body is None:
            self.problem(f"business knowledge model '{name}'", "its expression is empty", lit)
            return
        param_types = tuple(_type_ref(p) for p in _children(logic, "formalParameter"))
        refs = [*param_types, _type_ref(_child(el, "variable")), _type_ref(lit)]
        for ref in refs:
            if not self.model.types.is_known(ref):
                self.problem(f"business knowledge model '{name}'", f"unknown typeRef '{ref}'", el)
        self.model.bkms[name] = Bkm(el.get("id"), name, params, body, param_types,
                                    _type_ref(_child(el, "variable")), _type_ref(lit))

    def _check_calls(self, node: Node | None, where: str, el: etree._Element) -> None:
        if node is None:
            return
        reported: set[str] = set()
        for call in calls(node):
            fn, n = call.function, len(call.args)
            bkm = self.model.bkms.get(fn)
            if bkm is not None:
                arities: tuple[int, ...] = (len(bkm.params),)
            elif fn in BUILTIN_ARITIES:
                arities = BUILTIN_ARITIES[fn]
            else:
                if fn not in reported:
                    self.problem(where, f"calls {fn}(), which is neither a business knowledge model of this file "
                                        f"nor a supported built-in ({', '.join(sorted(BUILTINS))})", el)
                reported.add(fn)
                continue
            if n not in arities:
                self.problem(where, f"calls {fn}() with {n} argument{'s' if n != 1 else ''}; it takes "
                                    f"{' or '.join(map(str, arities))}", el)

    def _decision(self, el: etree._Element, names: set[str], ids: dict[str, str]) -> Decision | None:
        did = el.get("id") or el.get("name") or ""
        name = el.get("name") or did
        where = f"decision '{did}'"
        required = []
        for req in _children(el, "informationRequirement"):
            rd = _child(req, "requiredDecision")
            if rd is not None:
                ref = (rd.get("href") or "").lstrip("#")
                if ref not in ids:
                    self.problem(where, f"requires decision '#{ref}', which this file does not define", rd)
                else:
                    required.append(ref)
        var = _child(el, "variable")
        table_el, lit_el = _child(el, "decisionTable"), _child(el, "literalExpression")
        if table_el is not None:
            logic = self._table(table_el, did, names)
        elif lit_el is not None:
            text = _text(lit_el) or ""
            try:
                expr = parse_expression(text, names)
            except FeelSyntaxError as exc:
                self.problem(where, f'literal expression "{text}": {exc}', lit_el)
                return None
            if expr is None:
                self.problem(where, "its literal expression is empty", lit_el)
                return None
            self._check_calls(expr, where, lit_el)
            if not self.model.types.is_known(_type_ref(lit_el)):
                self.problem(where, f"unknown typeRef '{_type_ref(lit_el)}' of the literal expression", lit_el)
            logic = LiteralExpression(text, expr, _type_ref(lit_el))
        else:
            kinds = [_local(c) for c in el if _local(c) not in ("variable", "informationRequirement",
                                                                 "knowledgeRequirement", "authorityRequirement",
                                                                 "description", "extensionElements", "question",
                                                                 "allowedAnswers")]
            self.problem(where, "only decision tables and literal expressions are supported"
                         + (f" (found {', '.join(kinds)})" if kinds else " (the decision has no logic)"), el)
            return None
        if logic is None:
            return None
        if not self.model.types.is_known(_type_ref(var)):
            self.problem(where, f"unknown typeRef '{_type_ref(var)}' of the decision's variable", var)
        canonical = etree.tostring(el, method="c14n")
        return Decision(
            id=did, name=name, file=self.file, version=hashlib.sha256(canonical).hexdigest(),
            description=(_text(el, "description") or "").strip(), type_ref=_type_ref(var), logic=logic,
            required_decisions=tuple(required), model=self.model)

    def _table(self, el: etree._Element, did: str, names: set[str]) -> DecisionTable | None:
        where = f"decision '{did}'"
        n_problems = len(self.problems)
        hit_policy = (el.get("hitPolicy") or "UNIQUE").strip()
        if hit_policy not in HIT_POLICIES:
            self.problem(where, f"unknown hit policy '{hit_policy}' (use one of {', '.join(HIT_POLICIES)})", el)
        aggregation = el.get("aggregation")
        if aggregation is not None:
            if aggregation not in AGGREGATIONS:
                self.problem(where, f"unknown aggregation '{aggregation}' (use SUM, MIN, MAX or COUNT)", el)
            if hit_policy != "COLLECT":
                self.problem(where, f"aggregation {aggregation} is only allowed with hit policy COLLECT", el)
        inputs: list[InputClause] = []
        for i, inp in enumerate(_children(el, "input"), 1):
            inputs.append(self._input(inp, i, where, names))
        outputs: list[OutputClause] = []
        out_els = _children(el, "output")
        for i, out in enumerate(out_els, 1):
            outputs.append(self._output(out, i, where, names, single=len(out_els) == 1))
        if not outputs:
            self.problem(where, "the table has no output column", el)
        if hit_policy in ("PRIORITY", "OUTPUT ORDER") and outputs and not any(o.values for o in outputs):
            self.problem(where, f"hit policy {hit_policy} needs output values (the priority order) "
                                f"on at least one output column", el)
        rules: list[Rule] = []
        for row, rule_el in enumerate(_children(el, "rule"), 1):
            rule = self._rule(rule_el, row, where, inputs, outputs, names)
            if rule is not None:
                rules.append(rule)
        if len(self.problems) > n_problems:
            return None
        return DecisionTable(el.get("id"), hit_policy, aggregation, tuple(inputs), tuple(outputs), tuple(rules))

    def _input(self, inp: etree._Element, i: int, where: str, names: set[str]) -> InputClause:
        expr_el = _child(inp, "inputExpression")
        label = inp.get("label")
        text = (_text(expr_el) or "").strip()
        col = f"{where}, input column {i} '{label or text}'"
        expr: Node = Literal(None)
        if not text:
            self.problem(col, "the input expression is empty: write the name of the case fact it reads", inp)
        else:
            try:
                expr = parse_expression(text, names) or Literal(None)
                self._check_calls(expr, col, inp)
            except FeelSyntaxError as exc:
                self.problem(col, f'input expression "{text}": {exc}', expr_el)
        type_ref = _type_ref(expr_el)
        if type_ref is None and isinstance(expr, Name):
            data = self.model.input_data.get(expr.name)
            type_ref = data.type_ref if data else None
        if not self.model.types.is_known(type_ref):
            self.problem(col, f"unknown typeRef '{type_ref}'", expr_el)
        allowed = None
        allowed_text = _text(_child(inp, "inputValues"))
        if allowed_text and allowed_text.strip():
            try:
                allowed = parse_unary_tests(allowed_text, names)
            except FeelSyntaxError as exc:
                self.problem(col, f'input values "{allowed_text}": {exc}', inp)
        return InputClause(inp.get("id") or f"input{i}", label, text, expr, type_ref,
                           self.model.types.base_type(type_ref), allowed)

    def _output(self, out: etree._Element, i: int, where: str, names: set[str], single: bool) -> OutputClause:
        name = out.get("name")
        col = f"{where}, output column {i} '{out.get('label') or name or out.get('id')}'"
        if not name and not single:
            self.problem(col, "a table with several outputs needs a name on each output", out)
        type_ref = _type_ref(out)
        if not self.model.types.is_known(type_ref):
            self.problem(col, f"unknown typeRef '{type_ref}'", out)
        base = self.model.types.base_type(type_ref)
        values: tuple = ()
        values_text = _text(_child(out, "outputValues"))
        if values_text and values_text.strip():
            try:
                values = tuple(parse_unary_tests(values_text).literal_values())
            except FeelSyntaxError as exc:
                self.problem(col, f'output values "{values_text}": {exc}', out)
            for v in values:
                if not literal_fits(v, base):
                    self.problem(col, f"output value {v!r} does not fit the output's type {type_ref}", out)
        default = None
        default_text = _text(_child(out, "defaultOutputEntry"))
        if default_text and default_text.strip():
            try:
                default = parse_expression(default_text, names)
            except FeelSyntaxError as exc:
                self.problem(col, f'default output "{default_text}": {exc}', out)
        return OutputClause(out.get("id") or f"output{i}", name, out.get("label"), type_ref, base, values,
                            values_text, default)

    def _variables(self, inputs: list[InputClause]) -> set[str]:
        """Names a cell may read: the table's input facts, input data and decisions of the file."""
        names = set(self.model.input_data)
        names |= {el.get("name") for el in _children(self.root, "decision") if el.get("name")}
        for clause in inputs:
            names |= clause.expression.names()
        return names

    def _check_names(self, nodes: list[Node], variables: set[str], where: str, text: str,
                     el: etree._Element) -> None:
        for node in nodes:
            for name in sorted(node.names() - variables):
                hint = (f"; FEEL writes {_PYTHONISMS[name]}" if name in _PYTHONISMS
                        else "; quote a string value, or add an input column for the fact")
                self.problem(where, f'"{text.strip()}": unknown name {name}{hint}', el)

    def _rule(self, el: etree._Element, row: int, where: str, inputs: list[InputClause],
              outputs: list[OutputClause], names: set[str]) -> Rule | None:
        rid = el.get("id") or f"row{row}"
        rwhere = f"{where}, rule {row} ({rid})"
        in_els, out_els = _children(el, "inputEntry"), _children(el, "outputEntry")
        ok = True
        if len(in_els) != len(inputs):
            self.problem(rwhere, f"has {len(in_els)} input entries but the table has {len(inputs)} inputs", el)
            ok = False
        if len(out_els) != len(outputs):
            self.problem(rwhere, f"has {len(out_els)} output entries but the table has {len(outputs)} outputs", el)
            ok = False
        if not ok:
            return None
        variables = self._variables(inputs)
        tests: list[UnaryTests] = []
        for clause, cell in zip(inputs, in_els):
            text = _text(cell) or ""
            cwhere = f"{rwhere}, input '{clause.title}'"
            try:
                ut = parse_unary_tests(text, names)
            except FeelSyntaxError as exc:
                self.problem(cwhere, f'"{text.strip()}" is not a supported FEEL unary test: {exc}', cell)
                continue
            self._check_names(ut.endpoints(), variables, cwhere, text, cell)
            for ep in ut.endpoints():
                if isinstance(ep, Literal) and not literal_fits(ep.value, clause.base_type):
                    self.problem(cwhere, f'"{text.strip()}": the value {_show_literal(ep.value)} does not fit '
                                         f"the column's type {clause.type_ref}", cell)
            if clause.allowed is not None:
                for ep in ut.endpoints():
                    if isinstance(ep, Literal) and ep.value is not None and not clause.allowed.matches(ep.value, _NO_VARIABLES):
                        self.problem(cwhere, f'"{text.strip()}": {_show_literal(ep.value)} is not among the '
                                             f"input's allowed values {clause.allowed.text}", cell)
            tests.append(ut)
        exprs: list[Node | None] = []
        texts: list[str] = []
        for clause, cell in zip(outputs, out_els):
            text = (_text(cell) or "").strip()
            cwhere = f"{rwhere}, output '{clause.name or clause.label or clause.id}'"
            try:
                expr = parse_expression(text, names)
            except FeelSyntaxError as exc:
                self.problem(cwhere, f'"{text}" is not a supported FEEL expression: {exc}', cell)
                continue
            self._check_calls(expr, cwhere, cell)
            self._check_names([expr] if expr is not None else [], variables, cwhere, text, cell)
            if isinstance(expr, Literal) and not literal_fits(expr.value, clause.base_type):
                self.problem(cwhere, f'"{text}": the value does not fit the output\'s type {clause.type_ref}', cell)
            if clause.values and isinstance(expr, Literal) and expr.value is not None and expr.value not in clause.values:
                self.problem(cwhere, f'"{text}" is not among the output values {clause.values_text}', cell)
            exprs.append(expr)
            texts.append(text)
        if len(tests) != len(inputs) or len(exprs) != len(outputs):
            return None
        annotation = " ".join(t.strip() for t in [_text(el, "description") or ""]
                              + [_text(a) or "" for a in _children(el, "annotationEntry")] if t.strip())
        return Rule(rid, row, tuple(tests), tuple(exprs), tuple(texts), annotation)


_PYTHONISMS = {"True": "true", "False": "false", "None": "null"}


_NO_VARIABLES = Env({})


def _show_literal(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
