'use strict';

const { is, isPython } = require('./util');

/**
 * Every condition says language="python" and every script task scriptFormat="python": the engine runs them
 * as Python in the project's RestrictedPython sandbox. JUEL (${...}) never runs.
 */
module.exports = function() {

  function checkExpression(owner, expression, what, reporter) {
    if (!expression) {
      return;
    }
    const body = (expression.body || '').trim();
    if (!body) {
      reporter.report(owner.id, `Empty ${what}`);
      return;
    }
    if (!isPython(expression.language)) {
      reporter.report(owner.id, `${capitalise(what)} without language="python" (it runs as Python in the sandbox; ` +
        `found ${expression.language ? `"${expression.language}"` : 'no language'})`, [ 'language' ]);
    }
    if (/[$#]\{/.test(body)) {
      reporter.report(owner.id, `${capitalise(what)} "${body}" is JUEL; write Python, e.g. register == True`);
    }
  }

  function check(node, reporter) {
    if (is(node, 'bpmn:SequenceFlow')) {
      checkExpression(node, node.conditionExpression, 'condition', reporter);
    }
    if (is(node, 'bpmn:MultiInstanceLoopCharacteristics') && node.$parent) {
      checkExpression(node.$parent, node.completionCondition, 'completion condition', reporter);
    }
    if (is(node, 'bpmn:ScriptTask')) {
      if (!isPython(node.scriptFormat)) {
        reporter.report(node.id, `Script without scriptFormat="python" (found ${node.scriptFormat ?
          `"${node.scriptFormat}"` : 'none'}): scripts run as Python in the sandbox`, [ 'scriptFormat' ]);
      }
      if (!(node.script || '').trim()) {
        reporter.report(node.id, 'Script task without an inline script', [ 'script' ]);
      }
    }
  }

  return { check };
};

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
