"""Evaluate a decision as DMN 1.3 says, and record a trace of why it came out so."""
from __future__ import annotations

import decimal
import functools
from dataclasses import dataclass
from typing import Any, Mapping

from .feel import (BUILTINS, FEEL_CONTEXT, Env, FeelEvaluationError, Name, feel_compare, feel_equal, feel_kind,
                   to_feel, to_json)
from .model import (Decision, DecisionError, DecisionInputError, DecisionModel, DecisionTable, HitPolicyViolation,
                    LiteralExpression, Rule)
from .types import TypeMismatch, TypeSystem


@dataclass
class Evaluation:
    """The result of one decision: DMN outputs (FEEL values) and a JSON-ready trace."""

    outputs: Any
    trace: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"outputs": to_json(self.outputs), "trace": self.trace}


def evaluate(decision: Decision, inputs: Mapping[str, Any]) -> Evaluation:
    """Evaluate a decision on JSON inputs; raise DecisionError subclasses on bad input or tables."""
    model = decision.model
    variables, errors = _prepare_inputs(decision, inputs)
    required_traces = []
    for req_id in decision.required_decisions:
        req = model.decisions[req_id]
        if req.name not in inputs:
            sub = evaluate(req, inputs)
            variables[req.name] = sub.outputs
            required_traces.append(sub.trace)
    if errors:
        raise DecisionInputError(decision.id, errors)
    env = Env(variables, _bkm_functions(model))
    types = model.types
    try:
        if isinstance(decision.logic, LiteralExpression):
            outputs = decision.logic.expression.evaluate(env)
            outputs = types.conform(outputs, decision.logic.type_ref, "the literal expression's result")
            read = {name: to_json(variables.get(name)) for name in sorted(decision.logic.expression.names())}
            outputs = types.conform(outputs, decision.type_ref, "the decision's result")
            trace = _trace(decision, read, [], outputs)
        else:
            outputs, trace = _evaluate_table(decision, decision.logic, env)
            conformed = types.conform(outputs, decision.type_ref, "the decision's result")
            if conformed is not outputs:
                outputs = conformed
                trace["outputs"] = to_json(outputs)
    except (FeelEvaluationError, TypeMismatch) as exc:
        raise DecisionError(f"decision '{decision.id}': {exc}") from None
    if required_traces:
        trace["required"] = required_traces
    return Evaluation(outputs, trace)


def needed_inputs(decision: Decision) -> list[str]:
    """Top-level names the decision reads, other than functions and required decisions."""
    model = decision.model
    logic = decision.logic
    nodes = [logic.expression] if isinstance(logic, LiteralExpression) else [c.expression for c in logic.inputs]
    if isinstance(logic, DecisionTable):
        nodes += [ep for r in logic.rules for t in r.inputs for ep in t.endpoints()]
        nodes += [o for r in logic.rules for o in r.outputs if o is not None]
    provided = {model.decisions[r].name for r in decision.required_decisions}
    seen: dict[str, None] = {}
    for node in nodes:
        for name in sorted(node.names()):
            if name not in provided and name not in BUILTINS and name not in model.bkms:
                seen.setdefault(name, None)
    return list(seen)


def _prepare_inputs(decision: Decision, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Check presence and types of the inputs; convert them to FEEL values."""
    model = decision.model
    errors: dict[str, str] = {}
    declared = _declared_types(decision)
    variables: dict[str, Any] = {}
    for name in needed_inputs(decision):
        if name not in inputs:
            label = declared.get(name, (None, None))[1]
            errors[name] = "missing input" + (f" ({label})" if label and label != name else "")
    for name, value in inputs.items():
        type_ref = declared.get(name, (None, None))[0]
        try:
            variables[name] = model.types.coerce(value, type_ref, name) if type_ref else to_feel(value)
        except TypeMismatch as exc:
            errors[name] = exc.detail if exc.where == name else f"{exc.where}: {exc.detail}"
        except FeelEvaluationError as exc:
            errors[name] = str(exc)
    return variables, errors


def _declared_types(decision: Decision) -> dict[str, tuple[str | None, str | None]]:
    """name -> (typeRef, label) from input data elements and name-only input columns."""
    out: dict[str, tuple[str | None, str | None]] = {
        name: (data.type_ref, None) for name, data in decision.model.input_data.items()}
    table = decision.table
    if table is not None:
        for clause in table.inputs:
            if isinstance(clause.expression, Name) and clause.type_ref:
                out[clause.expression.name] = (clause.type_ref, clause.label)
    return out


def _bkm_functions(model: DecisionModel) -> dict[str, Any]:
    functions: dict[str, Any] = {}

    def invoke(bkm, *args):
        if len(args) != len(bkm.params):
            raise FeelEvaluationError(f"{bkm.name}() takes {len(bkm.params)} arguments, got {len(args)}")
        types = model.types
        try:
            args = tuple(types.conform(a, t, f"{bkm.name}() parameter '{p}'")
                         for a, p, t in zip(args, bkm.params, bkm.param_types or (None,) * len(args)))
            result = bkm.body.evaluate(Env(dict(zip(bkm.params, args)), functions))
            result = types.conform(result, bkm.body_type_ref, f"the result of {bkm.name}()")
            return types.conform(result, bkm.type_ref, f"the result of {bkm.name}()")
        except TypeMismatch as exc:
            raise FeelEvaluationError(str(exc)) from None

    for bkm in model.bkms.values():
        functions[bkm.name] = functools.partial(invoke, bkm)
    return functions


def _evaluate_table(decision: Decision, table: DecisionTable, env: Env) -> tuple[Any, dict[str, Any]]:
    values: list[Any] = []
    errors: dict[str, str] = {}
    for clause in table.inputs:
        value = clause.expression.evaluate(env)
        key = clause.text
        if value is not None and clause.type_ref is not None:
            try:  # the value the rules test is the converted one (a date column reads a date, not its text)
                value = decision.model.types.coerce(value, clause.type_ref, key)
            except TypeMismatch as exc:
                errors[key] = exc.detail if exc.where == key else f"{exc.where}: {exc.detail}"
        if clause.allowed is not None and key not in errors and value is not None and not clause.allowed.matches(value, env):
            errors[key] = f"{to_json(value)!r} is not one of the allowed values {clause.allowed.text}"
        values.append(value)
    if errors:
        raise DecisionInputError(decision.id, errors)
    inputs_trace = {c.text: to_json(v) for c, v in zip(table.inputs, values)}

    matched = [r for r in table.rules if all(t.matches(v, env) for t, v in zip(r.inputs, values))]
    results = {r.id: _rule_output(table, r, env, decision.model.types) for r in matched}
    policy = table.hit_policy
    hits: list[Rule]
    if policy == "UNIQUE":
        if len(matched) > 1:
            raise HitPolicyViolation(decision.id, policy, matched, "more than one rule matched")
        hits = matched
    elif policy == "ANY":
        first = matched[0] if matched else None
        if first is not None and any(not _same(results[r.id], results[first.id]) for r in matched[1:]):
            raise HitPolicyViolation(decision.id, policy, matched, "the matching rules give different outputs")
        hits = matched[:1]
    elif policy == "FIRST":
        hits = matched[:1]
    elif policy == "PRIORITY":
        hits = sorted(matched, key=lambda r: _priority(table, r, results[r.id]))[:1]
    elif policy == "OUTPUT ORDER":
        hits = sorted(matched, key=lambda r: _priority(table, r, results[r.id]))
    else:  # COLLECT, RULE ORDER
        hits = matched

    if policy in ("UNIQUE", "ANY", "FIRST", "PRIORITY"):
        outputs = results[hits[0].id] if hits else _default_output(table, env, decision.model.types)
    elif table.aggregation:
        outputs = _aggregate(decision, table.aggregation, [results[r.id] for r in hits])
    else:
        outputs = [results[r.id] for r in hits]
        if not hits:
            default = _default_output(table, env, decision.model.types)
            outputs = [default] if default is not None else []
    trace = _trace(decision, inputs_trace, [
        {"id": r.id, "row": r.row, "annotation": r.annotation, "outputs": to_json(results[r.id])} for r in matched],
        outputs)
    trace["selected"] = [r.id for r in hits]
    return outputs, trace


def _rule_output(table: DecisionTable, rule: Rule, env: Env, types: TypeSystem) -> Any:
    values = []
    for clause, expr in zip(table.outputs, rule.outputs):
        where = f"rule {rule.row} ({rule.id}), output '{clause.name or clause.label or clause.id}'"
        value = types.conform(expr.evaluate(env), clause.type_ref, where) if expr is not None else None
        if clause.values and value is not None and not any(feel_equal(value, v) is True for v in clause.values):
            # the loader checks literal outputs; a computed one is checked here
            raise FeelEvaluationError(f"{where}: {to_json(value)!r} is not among the output values "
                                      f"{clause.values_text}")
        values.append(value)
    if len(table.outputs) == 1:
        return values[0]
    return {o.name: v for o, v in zip(table.outputs, values)}


def _default_output(table: DecisionTable, env: Env, types: TypeSystem) -> Any:
    if not any(o.default is not None for o in table.outputs):
        return None
    values = [types.conform(o.default.evaluate(env), o.type_ref, f"the default of output '{o.name or o.id}'")
              if o.default is not None else None for o in table.outputs]
    if len(table.outputs) == 1:
        return values[0]
    return {o.name: v for o, v in zip(table.outputs, values)}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return feel_equal(a, b) is True


def _priority(table: DecisionTable, rule: Rule, result: Any) -> tuple:
    """Sort key: the index of each output in its output values list (lower = higher priority)."""
    key = []
    for out in table.outputs:
        if not out.values:  # columns without output values do not rank
            continue
        value = result if len(table.outputs) == 1 else result.get(out.name)
        idx = next((j for j, v in enumerate(out.values) if feel_equal(v, value)), len(out.values))
        key.append(idx)
    key.append(rule.row)
    return tuple(key)


def _aggregate(decision: Decision, aggregation: str, values: list[Any]) -> Any:
    """SUM/MIN/MAX/COUNT over the hits; with several outputs, per output column (as the TCK does)."""
    if values and isinstance(values[0], dict):
        return {k: _aggregate(decision, aggregation, [v.get(k) for v in values]) for k in values[0]}
    if aggregation == "COUNT":
        return to_feel(len(values))
    present = [v for v in values if v is not None]
    if not present:
        return None
    kinds = {feel_kind(v) for v in present}
    if aggregation == "SUM":
        if kinds != {"number"}:
            raise DecisionError(f"decision '{decision.id}': COLLECT SUM needs numbers, got {sorted(kinds)}")
        with decimal.localcontext(FEEL_CONTEXT):  # FEEL's 34 digits, not Python's default 28
            return sum(present, start=to_feel(0))
    if len(kinds) != 1 or kinds.pop() not in ("number", "string", "date", "dateTime"):
        raise DecisionError(f"decision '{decision.id}': COLLECT {aggregation} needs comparable values of one type "
                            f"(numbers, strings or dates), got {sorted(kinds)}")
    order = functools.cmp_to_key(_compare_or_fail)  # dates with and without a time zone do not compare
    return min(present, key=order) if aggregation == "MIN" else max(present, key=order)


def _compare_or_fail(a: Any, b: Any) -> int:
    result = feel_compare(a, b)
    if result is None:
        raise FeelEvaluationError(f"{to_json(a)!r} and {to_json(b)!r} cannot be compared")
    return result


def _trace(decision: Decision, inputs: dict[str, Any], matched: list[dict[str, Any]], outputs: Any) -> dict[str, Any]:
    table = decision.table
    return {
        "decision": decision.id,
        "name": decision.name,
        "file": decision.file,
        "version": decision.version,
        "table": table.id if table else None,
        "hit_policy": table.hit_policy if table else None,
        "aggregation": table.aggregation if table else None,
        "inputs": inputs,
        "matched": matched,
        "outputs": to_json(outputs),
    }
