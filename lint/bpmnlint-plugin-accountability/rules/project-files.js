'use strict';

/**
 * The form keys and decision ids the project defines, for the rules that check references to them.
 *
 * A rule's config may list them ({ forms: [...], decisions: [...] }, e.g. in a browser modeler); otherwise
 * they are read from the folders named by { formsDir, decisionsDir } (default forms/ and processes/, relative
 * to the directory bpmnlint runs in). Where neither is possible, null: the reference is not checked.
 */
function load() {
  try {
    return { fs: require('fs'), path: require('path') };
  } catch (err) {
    return null;
  }
}

function formKeys(config = {}) {
  if (Array.isArray(config.forms)) {
    return new Set(config.forms);
  }
  const node = load();
  if (!node || !node.fs.existsSync || !node.fs.existsSync(config.formsDir || 'forms')) {
    return null;
  }
  const dir = config.formsDir || 'forms';
  return new Set(node.fs.readdirSync(dir).filter(f => f.endsWith('.json')).map(f => f.slice(0, -'.json'.length)));
}

function decisionIds(config = {}) {
  if (Array.isArray(config.decisions)) {
    return new Set(config.decisions);
  }
  const node = load();
  const dir = config.decisionsDir || 'processes';
  if (!node || !node.fs.existsSync || !node.fs.existsSync(dir)) {
    return null;
  }
  const ids = new Set();
  for (const file of node.fs.readdirSync(dir).filter(f => f.endsWith('.dmn'))) {
    const xml = node.fs.readFileSync(node.path.join(dir, file), 'utf8');
    for (const match of xml.matchAll(/<(?:[\w-]+:)?decision\b[^>]*?\bid="([^"]+)"/g)) {
      ids.add(match[1]);
    }
  }
  return ids;
}

module.exports = { formKeys, decisionIds };
