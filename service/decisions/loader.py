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
_DTD_MESSAGE = ("DMN 文件中不允许 DOCTYPE 或实体（ENTITY）声明（实体可能读取服务器文件或无限展开）："
                "请删除 <!DOCTYPE ...>，直接写出文字本身")


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
        raise DmnLoadError([Problem(name, "", f"无法读取这个文件：“{exc.strerror}”")]) from None
    return load_bytes(data, name, check_schema=check_schema)


def load_bytes(data: bytes, name: str, *, check_schema: bool = True) -> DecisionModel:
    """Load DMN XML given as bytes; ``name`` is used in messages."""
    doctype = _doctype_problem(data, name)
    if doctype is not None:
        raise DmnLoadError([doctype])
    try:
        root = etree.fromstring(data, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise DmnLoadError([Problem(name, "", f"不是格式正确的 XML，请改正这一行：“{exc.msg}”", exc.lineno)]) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise DmnLoadError([Problem(name, "", f"无法读取这个 XML：“{type(exc).__name__}”")]) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DmnLoadError([Problem(name, "", _DTD_MESSAGE, 1)])
    entity = next((el for el in root.iter() if isinstance(el, etree._Entity)), None)
    if entity is not None:
        raise DmnLoadError([Problem(name, "", f"DMN 文件中不允许实体引用 {entity.text}：请直接写出文字本身",
                                    entity.sourceline)])
    ns = etree.QName(root).namespace
    # Some exporters put <definitions> in their own default namespace and only declare the
    # DMN one under a prefix; elements are matched by local name, so such files still read.
    declared = [v for v in root.nsmap.values() if v in DMN_NAMESPACES]
    if _local(root) != "definitions" or (ns not in DMN_NAMESPACES and not declared):
        raise DmnLoadError([Problem(name, "", f"不是 DMN 1.1-1.5 文件（根元素是 {root.tag}）：请上传 DMN 决策表文件", root.sourceline)])
    version = DMN_NAMESPACES[ns] if ns in DMN_NAMESPACES else DMN_NAMESPACES[declared[0]]
    problems: list[Problem] = []
    schema = _schema(version) if check_schema and ns in DMN_NAMESPACES else None
    if schema is not None and not schema.validate(root):
        for err in schema.error_log:
            problems.append(Problem(name, "XML schema", f"不符合 DMN 的 XML Schema，请按提示修改：“{err.message}”", err.line))
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
                self.problem(f"input data '{name}'", _unknown_type(_type_ref(var)), var)
        names = self._known_names()
        for tag, what in (("import", "导入其他模型"), ("decisionService", "决策服务")):
            for el in _children(root, tag):
                self.problem(f"{tag} '{el.get('name') or el.get('id') or ''}'", f"不支持{what}：请删除这个元素", el)
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
                    self.problem(f"decision '{decision.id}'", "同一个决策 id 用了两次：请给其中一个改名", el)
                model.decisions[decision.id] = decision
        if not _children(root, "decision"):
            self.problem("", "这个文件没有定义任何决策：请至少添加一个决策表")
        return model

    def _check_item_types(self, item: ItemDefinition | None, el: etree._Element) -> None:
        """An item definition (and each of its components) must build on a type the engine has values for:
        a value of an unknown type (a time, a duration) would otherwise pass unchecked."""
        stack = [(item, item.name)] if item is not None else []
        while stack:
            it, path = stack.pop()
            if not self.model.types.is_known(it.type_ref):
                self.problem(f"item definition '{path}'", _unknown_type(it.type_ref), el)
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
                self.problem(f"item definition '{name}', allowed values", f"允许值“{allowed_text}”不是支持的 FEEL 写法：“{exc}”", el)
        comps = {c.get("name") or "": self._item(c, c.get("name") or "") for c in _children(el, "itemComponent")}
        item = ItemDefinition(name, _type_ref(el), allowed, comps, el.get("isCollection") == "true")
        return item

    def _bkm(self, el: etree._Element, names: set[str]) -> None:
        name = el.get("name") or ""
        logic = _child(el, "encapsulatedLogic")
        if logic is None:
            self.problem(f"business knowledge model '{name}'", "业务知识模型没有封装逻辑（encapsulatedLogic）：请添加", el)
            return
        params = tuple(p.get("name") or "" for p in _children(logic, "formalParameter"))
        lit = _child(logic, "literalExpression")
        if lit is None:
            self.problem(f"business knowledge model '{name}'",
                         "业务知识模型的逻辑只支持字面表达式（literalExpression）", logic)
            return
        text = _text(lit) or ""
        try:
            body = parse_expression(text, names | set(params))
        except FeelSyntaxError as exc:
            self.problem(f"business knowledge model '{name}'", f"表达式“{text}”不是支持的 FEEL 写法：“{exc}”", lit)
            return
        if body is None:
            self.problem(f"business knowledge model '{name}'", "业务知识模型的表达式为空：请填写", lit)
            return
        param_types = tuple(_type_ref(p) for p in _children(logic, "formalParameter"))
        refs = [*param_types, _type_ref(_child(el, "variable")), _type_ref(lit)]
        for ref in refs:
            if not self.model.types.is_known(ref):
                self.problem(f"business knowledge model '{name}'", _unknown_type(ref), el)
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
                    self.problem(where, f"调用了 {fn}()，它既不是本文件的业务知识模型，也不是支持的内置函数"
                                        f"（{', '.join(sorted(BUILTINS))}）：请改正函数名", el)
                reported.add(fn)
                continue
            if n not in arities:
                self.problem(where, f"调用 {fn}() 时给了 {n} 个参数；它需要 "
                                    f"{' 或 '.join(map(str, arities))} 个", el)

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
                    self.problem(where, f"依赖的决策“#{ref}”在本文件中没有定义：请改为本文件中的决策", rd)
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
                self.problem(where, f"字面表达式“{text}”不是支持的 FEEL 写法：“{exc}”", lit_el)
                return None
            if expr is None:
                self.problem(where, "决策的字面表达式为空：请填写", lit_el)
                return None
            self._check_calls(expr, where, lit_el)
            if not self.model.types.is_known(_type_ref(lit_el)):
                self.problem(where, "字面表达式的" + _unknown_type(_type_ref(lit_el)), lit_el)
            logic = LiteralExpression(text, expr, _type_ref(lit_el))
        else:
            kinds = [_local(c) for c in el if _local(c) not in ("variable", "informationRequirement",
                                                                 "knowledgeRequirement", "authorityRequirement",
                                                                 "description", "extensionElements", "question",
                                                                 "allowedAnswers")]
            self.problem(where, "决策只支持决策表和字面表达式"
                         + (f"（这里是 {', '.join(kinds)}）" if kinds else "（这个决策没有逻辑）"), el)
            return None
        if logic is None:
            return None
        if not self.model.types.is_known(_type_ref(var)):
            self.problem(where, "决策变量的" + _unknown_type(_type_ref(var)), var)
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
            self.problem(where, f"未知的命中策略“{hit_policy}”：请用 {', '.join(HIT_POLICIES)} 之一", el)
        aggregation = el.get("aggregation")
        if aggregation is not None:
            if aggregation not in AGGREGATIONS:
                self.problem(where, f"未知的汇总方式“{aggregation}”：请用 SUM、MIN、MAX 或 COUNT", el)
            if hit_policy != "COLLECT":
                self.problem(where, f"汇总方式 {aggregation} 只能与命中策略 COLLECT 一起使用", el)
        inputs: list[InputClause] = []
        for i, inp in enumerate(_children(el, "input"), 1):
            inputs.append(self._input(inp, i, where, names))
        outputs: list[OutputClause] = []
        out_els = _children(el, "output")
        for i, out in enumerate(out_els, 1):
            outputs.append(self._output(out, i, where, names, single=len(out_els) == 1))
        if not outputs:
            self.problem(where, "决策表没有输出列：请添加一列", el)
        if hit_policy in ("PRIORITY", "OUTPUT ORDER") and outputs and not any(o.values for o in outputs):
            self.problem(where, f"命中策略 {hit_policy} 需要至少一个输出列给出输出值（即优先顺序）", el)
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
            self.problem(col, "输入表达式为空：请写上它读取的案件事实的名称", inp)
        else:
            try:
                expr = parse_expression(text, names) or Literal(None)
                self._check_calls(expr, col, inp)
            except FeelSyntaxError as exc:
                self.problem(col, f"输入表达式“{text}”不是支持的 FEEL 写法：“{exc}”", expr_el)
        type_ref = _type_ref(expr_el)
        if type_ref is None and isinstance(expr, Name):
            data = self.model.input_data.get(expr.name)
            type_ref = data.type_ref if data else None
        if not self.model.types.is_known(type_ref):
            self.problem(col, _unknown_type(type_ref), expr_el)
        allowed = None
        allowed_text = _text(_child(inp, "inputValues"))
        if allowed_text and allowed_text.strip():
            try:
                allowed = parse_unary_tests(allowed_text, names)
            except FeelSyntaxError as exc:
                self.problem(col, f"输入值“{allowed_text}”不是支持的 FEEL 写法：“{exc}”", inp)
        return InputClause(inp.get("id") or f"input{i}", label, text, expr, type_ref,
                           self.model.types.base_type(type_ref), allowed)

    def _output(self, out: etree._Element, i: int, where: str, names: set[str], single: bool) -> OutputClause:
        name = out.get("name")
        col = f"{where}, output column {i} '{out.get('label') or name or out.get('id')}'"
        if not name and not single:
            self.problem(col, "有多个输出列的决策表，每个输出列都需要名称（name）", out)
        type_ref = _type_ref(out)
        if not self.model.types.is_known(type_ref):
            self.problem(col, _unknown_type(type_ref), out)
        base = self.model.types.base_type(type_ref)
        values: tuple = ()
        values_text = _text(_child(out, "outputValues"))
        if values_text and values_text.strip():
            try:
                values = tuple(parse_unary_tests(values_text).literal_values())
            except FeelSyntaxError as exc:
                self.problem(col, f"输出值“{values_text}”不是支持的 FEEL 写法：“{exc}”", out)
            for v in values:
                if not literal_fits(v, base):
                    self.problem(col, f"输出值 {v!r} 与输出列的类型 {type_ref} 不符", out)
        default = None
        default_text = _text(_child(out, "defaultOutputEntry"))
        if default_text and default_text.strip():
            try:
                default = parse_expression(default_text, names)
            except FeelSyntaxError as exc:
                self.problem(col, f"默认输出“{default_text}”不是支持的 FEEL 写法：“{exc}”", out)
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
                hint = (f"：FEEL 中写作 {_PYTHONISMS[name]}" if name in _PYTHONISMS
                        else "：字符串值请加引号，或为这个事实添加一个输入列")
                self.problem(where, f"“{text.strip()}”中有未知的名称 {name}{hint}", el)

    def _rule(self, el: etree._Element, row: int, where: str, inputs: list[InputClause],
              outputs: list[OutputClause], names: set[str]) -> Rule | None:
        rid = el.get("id") or f"row{row}"
        rwhere = f"{where}, rule {row} ({rid})"
        in_els, out_els = _children(el, "inputEntry"), _children(el, "outputEntry")
        ok = True
        if len(in_els) != len(inputs):
            self.problem(rwhere, f"规则有 {len(in_els)} 个输入单元格，但决策表有 {len(inputs)} 个输入列", el)
            ok = False
        if len(out_els) != len(outputs):
            self.problem(rwhere, f"规则有 {len(out_els)} 个输出单元格，但决策表有 {len(outputs)} 个输出列", el)
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
                self.problem(cwhere, f"“{text.strip()}”不是支持的 FEEL 一元测试（unary test），请改正：“{exc}”", cell)
                continue
            self._check_names(ut.endpoints(), variables, cwhere, text, cell)
            for ep in ut.endpoints():
                if isinstance(ep, Literal) and not literal_fits(ep.value, clause.base_type):
                    self.problem(cwhere, f"“{text.strip()}”：值 {_show_literal(ep.value)} 与该列的类型 "
                                         f"{clause.type_ref} 不符", cell)
            if clause.allowed is not None:
                for ep in ut.endpoints():
                    if isinstance(ep, Literal) and ep.value is not None and not clause.allowed.matches(ep.value, _NO_VARIABLES):
                        self.problem(cwhere, f"“{text.strip()}”：{_show_literal(ep.value)} 不在该输入的允许值 "
                                             f"{clause.allowed.text} 之中", cell)
            tests.append(ut)
        exprs: list[Node | None] = []
        texts: list[str] = []
        for clause, cell in zip(outputs, out_els):
            text = (_text(cell) or "").strip()
            cwhere = f"{rwhere}, output '{clause.name or clause.label or clause.id}'"
            try:
                expr = parse_expression(text, names)
            except FeelSyntaxError as exc:
                self.problem(cwhere, f"“{text}”不是支持的 FEEL 表达式，请改正：“{exc}”", cell)
                continue
            self._check_calls(expr, cwhere, cell)
            self._check_names([expr] if expr is not None else [], variables, cwhere, text, cell)
            if isinstance(expr, Literal) and not literal_fits(expr.value, clause.base_type):
                self.problem(cwhere, f"“{text}”：值与输出列的类型 {clause.type_ref} 不符", cell)
            if clause.values and isinstance(expr, Literal) and expr.value is not None and expr.value not in clause.values:
                self.problem(cwhere, f"“{text}”不在输出值 {clause.values_text} 之中", cell)
            exprs.append(expr)
            texts.append(text)
        if len(tests) != len(inputs) or len(exprs) != len(outputs):
            return None
        annotation = " ".join(t.strip() for t in [_text(el, "description") or ""]
                              + [_text(a) or "" for a in _children(el, "annotationEntry")] if t.strip())
        return Rule(rid, row, tuple(tests), tuple(exprs), tuple(texts), annotation)


_PYTHONISMS = {"True": "true", "False": "false", "None": "null"}


def _unknown_type(type_ref: str | None) -> str:
    return f"类型 typeRef“{type_ref}”未知：请用 FEEL 的基本类型（string、number、boolean、date 等）或本文件的项定义"


_NO_VARIABLES = Env({})


def _show_literal(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
