'use strict';

const { camunda, is } = require('./util');
const { decisionIds } = require('./project-files');

/**
 * A business rule task names an existing decision (camunda:decisionRef, an id from the .dmn files) and the
 * variable that receives its outputs (camunda:resultVariable). Config: { decisions: [...] | decisionsDir }.
 */
module.exports = function(config = {}) {
  let known;

  function check(node, reporter) {
    if (!is(node, 'bpmn:BusinessRuleTask')) {
      return;
    }
    if (known === undefined) {
      known = decisionIds(config);
    }
    const ref = camunda(node, 'decisionRef');
    if (!ref) {
      reporter.report(node.id, 'Business rule task without camunda:decisionRef (the id of a decision)',
        [ 'decisionRef' ]);
    } else if (known && !known.has(ref)) {
      reporter.report(node.id, `Unknown decision "${ref}" (decisions: ${[ ...known ].sort().join(', ')})`,
        [ 'decisionRef' ]);
    }
    if (!camunda(node, 'resultVariable')) {
      reporter.report(node.id, 'Business rule task without camunda:resultVariable (where its outputs go)',
        [ 'resultVariable' ]);
    }
  }

  return { check };
};
