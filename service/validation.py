"""`accountability validate`: check BPMN, DMN and form files before they are deployed.

Every problem names the file, the element and what to change. The checks are those that
SpiffWorkflow leaves to run time (conditions, scripts, timers), plus the project's own rules:
user tasks need a known role or an assignee and an existing form, gateways need conditions,
business rule tasks need existing decisions whose inputs some form, script or system fact provides.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from . import sandbox
from .decisions import Catalog, DmnLoadError, Problem, load_file, needed_inputs
from .engine import (INTAKE_FORM, ROLES, SYSTEM_FACTS, check_bpmn, timer_expression, timer_problem,
                     timer_value_problem)
from .engine.limits import limit_problems
from .forms import check_schema, load_form_json

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
_ASSIGNEE = re.compile(r"^(\$\{\s*[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\s*\}|[A-Za-z0-9_.-]+)$")


@dataclass
class FileSet:
    bpmn: list[Path] = field(default_factory=list)
    dmn: list[Path] = field(default_factory=list)
    forms: list[Path] = field(default_factory=list)


KINDS = {".bpmn": "bpmn", ".dmn": "dmn", ".json": "forms"}


def collect(paths: list[Path]) -> tuple[FileSet, list[Problem]]:
    """The BPMN, DMN and form files among the paths (folders: the files in them); a path that does not exist, or a
    file named on its own that is none of these, is a problem."""
    files, problems = FileSet(), []
    for p in paths:
        if not p.exists():
            problems.append(Problem(str(p), "", "没有这个文件或文件夹：请检查路径"))
            continue
        if not p.is_dir() and p.suffix not in KINDS:
            problems.append(Problem(str(p), "", "不是流程文件：请给出 .bpmn、.dmn 或表单 .json 文件，或者包含它们的文件夹"))
            continue
        for f in sorted(p.iterdir()) if p.is_dir() else [p]:
            if f.suffix in KINDS:
                getattr(files, KINDS[f.suffix]).append(f)
    return files, problems


def validate(paths: list[Path], *, default_processes: Path, default_forms: Path) -> tuple[list[Problem], int]:
    """All problems in the given files or folders, and how many files were checked.

    Checking diagrams needs the decisions and forms they refer to: when none are given, those of
    the default folders are used.
    """
    files, problems = collect(paths)
    checked = len(files.bpmn) + len(files.dmn) + len(files.forms)

    catalog = Catalog()
    dmn_files = files.dmn or (sorted(default_processes.glob("*.dmn")) if files.bpmn else [])
    defined: dict[str, Path] = {}  # decision id -> the file that defines it first
    for f in dmn_files:
        try:
            model = load_file(f)
        except DmnLoadError as exc:
            if f in files.dmn:
                problems += exc.problems
            continue
        duplicates = [did for did in model.decisions if did in defined]
        for did in duplicates:
            if f in files.dmn or defined[did] in files.dmn:
                problems.append(Problem(str(f), f"decision '{did}'", duplicate_decision(did, defined[did], f)))
        for did in model.decisions:
            defined.setdefault(did, f)
        if duplicates:
            continue  # the runtime refuses the whole set; the first file stays the one diagrams refer to
        catalog.models.append(model)
        if f in files.dmn:
            problems += table_problems(model, str(f))

    forms: dict[str, dict] = {}
    form_paths: dict[str, Path] = {}
    form_files = files.forms or (sorted(default_forms.glob("*.json")) if files.bpmn else [])
    for f in form_files:
        try:
            schema = load_form_json(f.read_bytes())
        except (OSError, ValueError) as exc:
            problems.append(Problem(str(f), "", f"不是有效的 JSON，请改正语法：“{exc}”", getattr(exc, "lineno", None)))
            continue
        if not isinstance(schema, dict):
            problems.append(Problem(str(f), f"form '{f.stem}'", "表单必须是一个 JSON 对象（{\"$schema\": ..., \"type\": \"object\", ...}）"))
            continue
        forms[f.stem] = schema
        form_paths[f.stem] = f
        if f in files.forms:
            problems += [Problem(str(f), f"form '{f.stem}'", msg) for msg in check_schema(schema)]

    if files.bpmn:
        parsed = check_bpmn(files.bpmn)
        problems += [Problem(file or "", element, message, line) for file, element, message, line in parsed]
        given = {f.resolve() for f in files.bpmn}
        context = [f for f in sorted(default_processes.glob("*.bpmn")) if f.resolve() not in given]
        if all(_well_formed(f) for f in files.bpmn + context):
            problems += _check_diagrams(files.bpmn, context, catalog, forms, form_paths,
                                        report_unused_forms=bool(files.forms))
    if not problems and files.bpmn and files.forms:
        problems += _runtime_problems(files.bpmn + context_diagrams(files.bpmn, default_processes), dmn_files,
                                      form_files)
    return problems, checked


def duplicate_decision(did: str, first: Path, again: Path) -> str:
    """The message for a decision id defined twice (e.g. a table saved again as sanction-draft.dmn)."""
    return (f"决策 id“{did}”在 {first.name} 和 {again.name} 中都有定义：同一组流程文件中每个决策 id 只能出现一次，"
            f"否则运行时无法确定使用哪一张表。请只保留其中一个文件——修改过的表保存回它原来的文件名，"
            f"另存的草稿不要放进 processes/，也不要一起上传")


def context_diagrams(given: list[Path], default_processes: Path) -> list[Path]:
    """The deployment's other diagrams (those of the default folder not among the given ones)."""
    resolved = {f.resolve() for f in given}
    return [f for f in sorted(default_processes.glob("*.bpmn")) if f.resolve() not in resolved]


def _runtime_problems(bpmn: list[Path], dmn: list[Path], forms: list[Path]) -> list[Problem]:
    """Build the engine from the files exactly as the service will (only when they hold the main process)."""
    from .bundle import Bundle
    from .deployments import load_problem
    from .engine import PROCESS_ID

    if not any(f'id="{PROCESS_ID}"'.encode() in f.read_bytes() for f in bpmn):
        return []  # a diagram checked on its own is not a deployment
    files = {f"processes/{f.name}": f.read_bytes() for f in bpmn + dmn}
    files.update({f"forms/{f.name}": f.read_bytes() for f in forms})
    problem = load_problem(Bundle(files))
    return [] if problem is None else [problem]


def _check_diagrams(checked: list[Path], context: list[Path], catalog: Catalog, forms: dict[str, dict],
                    form_paths: dict[str, Path], *, report_unused_forms: bool) -> list[Problem]:
    """Static checks of the diagrams in ``checked``; ``context`` diagrams (the rest of the deployment)
    count for what variables and processes exist, but their own problems are not reported."""
    problems: list[Problem] = []
    trees = {f: etree.parse(str(f)) for f in checked + context}
    process_ids = {p.get("id") for t in trees.values() for p in t.getroot().iterfind(f"{{{BPMN_NS}}}process")}
    used_forms: set[str] = set()
    provided = set(SYSTEM_FACTS)
    for schema in forms.values():
        provided |= set((schema.get("properties") or {}).keys())
    decisions_used: list[tuple[Path, etree._Element, str]] = []

    for f, tree in trees.items():
        def add(el, message, f=f):
            if f in checked:
                problems.append(Problem(str(f), el.get("id") or "", message, el.sourceline))

        root = tree.getroot()
        for task in root.iterfind(".//bpmn:userTask", NS):
            key = task.get(f"{{{CAMUNDA_NS}}}formKey")
            if not key:
                add(task, "用户任务没有 camunda:formKey：请填写它显示的表单（forms/ 中的表单名）")
            elif key not in forms:
                add(task, f"表单“{key}”不存在（没有 forms/{key}.json）：请改为已有的表单，或先建这个表单")
            else:
                used_forms.add(key)
            groups = [g.strip() for g in (task.get(f"{{{CAMUNDA_NS}}}candidateGroups") or "").split(",") if g.strip()]
            assignee = task.get(f"{{{CAMUNDA_NS}}}assignee")
            for g in groups:
                if g not in ROLES:
                    add(task, f"camunda:candidateGroups 中的角色“{g}”不存在：可用的角色是 {'、'.join(ROLES)}")
            if not groups and not assignee:
                add(task, "没有人能办理这个任务：请设置 camunda:candidateGroups"
                          f"（{'或'.join(ROLES)}）或 camunda:assignee（例如 ${{subject}}）")
            if assignee and not _ASSIGNEE.match(assignee.strip()):
                add(task, f"camunda:assignee“{assignee}”必须是用户名或变量，例如 ${{subject}}")
            for problem in limit_problems(task.get(f"{{{CAMUNDA_NS}}}dueDate"), _properties(task)):
                add(task, problem)

        for loop in root.iterfind(".//bpmn:multiInstanceLoopCharacteristics", NS):  # tasks and sub-processes
            if loop.get(f"{{{CAMUNDA_NS}}}elementVariable"):
                provided.add(loop.get(f"{{{CAMUNDA_NS}}}elementVariable"))

        flows = {fl.get("id"): fl for fl in root.iterfind(".//bpmn:sequenceFlow", NS)}
        for gw_tag in ("exclusiveGateway", "inclusiveGateway"):
            for gw in root.iterfind(f".//bpmn:{gw_tag}", NS):
                outgoing = [flows[o.text] for o in gw.iterfind("bpmn:outgoing", NS) if o.text in flows]
                if len(outgoing) < 2:
                    continue
                default = gw.get("default")
                for fl in outgoing:
                    if fl.find("bpmn:conditionExpression", NS) is None and fl.get("id") != default:
                        add(fl, f"网关“{gw.get('name') or gw.get('id')}”的这条出口连线既没有条件，也不是网关的默认连线："
                                f"请加上条件，或把它设为默认连线")

        for fl in flows.values():
            cond = fl.find("bpmn:conditionExpression", NS)
            if cond is not None:
                _check_expression(add, fl, (cond.text or "").strip(), "条件")

        for process in root.iterfind("bpmn:process", NS):  # the escalation threshold for every task
            for problem in limit_problems(None, _properties(process)):
                add(process, problem)

        for timer in root.iterfind(".//bpmn:timerEventDefinition", NS):
            event = timer.getparent()
            value = next((el.text for el in timer if el.text), None)
            for problem in limit_problems(None, _properties(event), timer_value=(value or "").strip().strip('"')):
                add(event, problem)
            for kind in ("timeDuration", "timeDate", "timeCycle"):
                el = timer.find(f"bpmn:{kind}", NS)
                if el is None:
                    continue
                text = (el.text or "").strip()
                problem = timer_value_problem(text, el.get("language"))
                if problem:
                    add(event, problem)
                    continue
                expression = timer_expression(text, el.get("language"))
                _check_expression(add, event, expression, f"定时器 {kind}")
                problem = timer_problem(kind, expression)
                if problem:
                    add(event, problem)

        for task in root.iterfind(".//bpmn:scriptTask", NS):
            script = task.find("bpmn:script", NS)
            code = script.text if script is not None and script.text else ""
            if not code.strip():
                add(task, "脚本任务没有脚本：请写上脚本，或改用其他任务类型")
                continue
            try:
                sandbox.compile_script(code)
            except sandbox.SandboxError as exc:
                add(task, f"脚本无法在沙箱中编译，请按提示修改：“{exc}”")
            provided |= assigned_names(code)

        for task in root.iterfind(".//bpmn:businessRuleTask", NS):
            ref = task.get(f"{{{CAMUNDA_NS}}}decisionRef")
            result = task.get(f"{{{CAMUNDA_NS}}}resultVariable")
            if result:
                provided.add(result)
            for prop in task.iterfind(".//camunda:property", NS):
                if prop.get("name") == "elementVariable" and prop.get("value"):
                    provided.add(prop.get("value"))
            if ref:
                decisions_used.append((f, task, ref))

        for call in root.iterfind(".//bpmn:callActivity", NS):
            called = call.get("calledElement")
            if not called or called not in process_ids:
                add(call, f"调用的流程“{called}”在这组文件中没有定义：请改为已有的流程"
                          f"（已有：{'、'.join(sorted(process_ids))}）")

    known = {d.id for d in catalog.decisions}
    for f, task, ref in decisions_used:
        if f not in checked:
            continue
        if ref not in known:
            problems.append(Problem(str(f), task.get("id") or "", f"决策“{ref}”不存在：请改为已有的决策"
                                    f"（已有：{'、'.join(sorted(known)) or '无'}）", task.sourceline))
            continue
        for name in needed_inputs(catalog.find(ref)):
            if name not in provided:
                problems.append(Problem(str(f), task.get("id") or "",
                                        f"决策“{ref}”读取“{name}”，但没有任何表单、受理字段、脚本或"
                                        f"系统事实提供它：请在表单或脚本中提供它，或修改决策表的输入", task.sourceline))

    if not report_unused_forms:
        return problems
    if INTAKE_FORM not in forms:
        problems.append(Problem("forms", f"form '{INTAKE_FORM}'", f"缺少受理表单（{INTAKE_FORM}.json）：请添加它"))
    for key in sorted(set(forms) - used_forms - {INTAKE_FORM}):
        problems.append(Problem(str(form_paths[key]), f"form '{key}'", f"没有用户任务使用表单“{key}”（camunda:formKey）：请在任务中使用它，或删除这个表单"))
    return problems


_ASSIGNMENT_LINE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\+|-|\*|/)?=(?!=)", re.MULTILINE)


def assigned_names(code: str) -> set[str]:
    """Variables a script sets, at any depth (also inside if and for blocks, where a diagram script often sets a
    result such as ``resolution``). A script that does not parse is read line by line, so that its one problem
    is reported once rather than as every table input it would have provided."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(_ASSIGNMENT_LINE.findall(code))
    names = set(sandbox.assigned_names(code))
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return names


def table_problems(model, file: str) -> list[Problem]:
    """The static analysis of every table of a DMN model, as validation problems."""
    from .decisions.analysis import analyse

    problems = []
    for decision in model.decisions.values():
        try:
            findings = analyse(decision).errors
        except Exception as exc:  # noqa: BLE001 - a table the analysis cannot read is refused, never deployed
            problems.append(Problem(file, f"decision '{decision.id}'",
                                    f"决策表无法完成静态分析（{exc.__class__.__name__}：{exc}），不能部署：请检查该表的输入、"
                                    f"输出和单元格"))
            continue
        for finding in findings:
            example = ""
            if finding.example:
                example = "，例如 " + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}"
                                              for k, v in finding.example.items())
            problems.append(Problem(file, f"decision '{decision.id}'", f"{finding.message}{example}"))
    return problems


def _well_formed(path: Path) -> bool:
    try:
        etree.parse(str(path))
        return True
    except (OSError, etree.XMLSyntaxError):
        return False


def _check_expression(add, el, text: str, what: str) -> None:
    if "${" in text or "#{" in text:
        add(el, f"{what}“{text}”是 JUEL 表达式；流程图中的表达式用 Python 写，例如 register == True")
        return
    if not text:
        add(el, f"{what}为空：请填写表达式")
        return
    try:
        sandbox.compile_expression(text)
    except sandbox.SandboxError as exc:
        add(el, f"{what}“{text}”无法在沙箱中编译，请按提示修改：“{exc}”")


def _properties(element) -> dict[str, str]:
    """The Camunda properties of an element (its own, not those of elements inside it)."""
    return {p.get("name"): p.get("value") or "" for p in element.iterfind("bpmn:extensionElements/camunda:properties/"
                                                                            "camunda:property", NS) if p.get("name")}
