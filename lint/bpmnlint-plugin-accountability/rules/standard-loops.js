'use strict';

const { camunda, extensionElements, is } = require('./util');

/**
 * Loops are standard multi-instance activities that a modeler shows (camunda:collection and
 * camunda:elementVariable on bpmn:multiInstanceLoopCharacteristics), never Camunda properties named
 * "collection"/"elementVariable" that no modeler draws. A multi-instance business rule task is evaluated by
 * the project's engine once per element: it takes no cardinality, data references or completion condition.
 */
module.exports = function() {

  function check(node, reporter) {
    if (!is(node, 'bpmn:Activity')) {
      return;
    }
    for (const property of extensionElements(node, 'property')) {
      const name = property.name || (property.$attrs || {}).name;
      if (name === 'collection' || name === 'elementVariable') {
        reporter.report(node.id, `Loop hidden in the Camunda property "${name}": make the activity multi-instance ` +
          '(camunda:collection, camunda:elementVariable) so that modelers show its loop marker');
      }
    }
    const loop = node.loopCharacteristics;
    if (!loop) {
      return;
    }
    if (is(loop, 'bpmn:StandardLoopCharacteristics')) {
      reporter.report(node.id, 'Standard loops are not run by the service: use a multi-instance activity');
      return;
    }
    const collection = camunda(loop, 'collection');
    const element = camunda(loop, 'elementVariable');
    if (!loop.loopCardinality && !collection) {
      reporter.report(node.id, 'Multi-instance activity without camunda:collection (the list to run over)');
    }
    if (collection && !element) {
      reporter.report(node.id, 'Multi-instance activity without camunda:elementVariable (the name of one element)');
    }
    if (is(node, 'bpmn:BusinessRuleTask')) {
      const extra = [ 'loopCardinality', 'loopDataInputRef', 'loopDataOutputRef', 'inputDataItem', 'outputDataItem',
        'completionCondition' ].filter(k => loop[k]);
      if (extra.length) {
        reporter.report(node.id, `A multi-instance business rule task takes only camunda:collection and ` +
          `camunda:elementVariable (found ${extra.join(', ')})`);
      }
    }
  }

  return { check };
};
