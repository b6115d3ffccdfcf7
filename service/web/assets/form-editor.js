// The editor of a form's JSON Schema: CodeMirror 6 with JSON highlighting, folding and search, syntax errors at
// once, and the server's check of the schema (JSON Schema 2020-12 meta-validation and the project's rules for
// forms, service/drafts.py form_problems) marked where each problem is, a moment after each change.
import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { json, jsonParseLinter } from "@codemirror/lang-json";
import { linter, lintGutter } from "@codemirror/lint";
import { syntaxTree } from "@codemirror/language";

const PHRASES_ZH = {
  "Find": "查找", "Replace": "替换", "next": "下一个", "previous": "上一个", "all": "全部", "match case": "区分大小写",
  "regexp": "正则表达式", "by word": "全词匹配", "replace": "替换", "replace all": "全部替换", "close": "关闭",
  "current match": "当前匹配", "on line": "行", "Go to line": "跳到行", "go": "跳转", "Folded lines": "已折叠的行",
  "Unfolded lines": "已展开的行", "to": "至", "folded code": "已折叠的代码", "unfold": "展开", "Fold line": "折叠",
  "Unfold line": "展开", "Diagnostics": "问题", "No diagnostics": "没有问题", "Control character": "控制字符",
  "Completions": "补全", "Selection deleted": "已删除所选内容",
};
const VALUE_NODES = new Set(["Object", "Array", "String", "Number", "True", "False", "Null"]);

function children(node) {
  const out = [];
  for (let c = node.firstChild; c; c = c.nextSibling) { out.push(c); }
  return out;
}

/** Where the value at a JSON path (["properties", "grounds", "items"]) is in the text; the whole text if not found. */
export function findPath(state, path) {
  let node = children(syntaxTree(state).topNode).find((c) => VALUE_NODES.has(c.name));
  for (const key of path) {
    if (!node) { break; }
    let next = null;
    if (node.name === "Object") {
      for (const prop of children(node).filter((c) => c.name === "Property")) {
        const parts = children(prop);
        const name = parts.find((c) => c.name === "PropertyName");
        let text = name ? state.doc.sliceString(name.from, name.to) : "";
        try { text = JSON.parse(text); } catch (e) { /* keep the raw text */ }
        if (text === String(key)) { next = parts.reverse().find((c) => VALUE_NODES.has(c.name)) || name; break; }
      }
    } else if (node.name === "Array" && Number.isInteger(key)) {
      next = children(node).filter((c) => VALUE_NODES.has(c.name))[key] || null;
    }
    if (!next) { break; }
    node = next;
  }
  return node ? { from: node.from, to: Math.min(node.to, node.from + 200) } : { from: 0, to: 0 };
}

export function createFormEditor(parent, text, { zh, check, onChange, label }) {
  const serverLint = linter(async (view) => {
    const source = view.state.doc.toString();
    try { JSON.parse(source); } catch (e) { return []; } // the syntax linter already says where
    const problems = await check(source);
    return problems.map((p) => {
      const at = findPath(view.state, p.path || []);
      return { from: at.from, to: at.to, severity: "error",
        message: (p.path && p.path.length ? p.path.join(" › ") + "：" : "") + p.message };
    });
  }, { delay: 600 });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup, json(), linter(jsonParseLinter()), serverLint, lintGutter(), EditorView.lineWrapping,
        zh ? EditorState.phrases.of(PHRASES_ZH) : [],
        EditorView.contentAttributes.of({ "aria-label": label }),
        EditorView.updateListener.of((u) => { if (u.docChanged) { onChange(); } }),
      ],
    }),
  });
  // the scrolling box is reachable by keyboard too (axe: scrollable-region-focusable)
  view.scrollDOM.setAttribute("tabindex", "0");
  view.scrollDOM.setAttribute("role", "region");
  view.scrollDOM.setAttribute("aria-label", label);
  return view;
}
