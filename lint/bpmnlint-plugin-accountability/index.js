'use strict';

/**
 * bpmnlint rules for the diagrams of the Mingshan accountability service (processes/*.bpmn).
 *
 * The service runs BPMN 2.0 with Camunda 7 attributes on SpiffWorkflow and its own adapter
 * (service/engine/): these rules check, in any modeler that runs bpmnlint, what that engine relies on.
 */
module.exports = {
  configs: {
    recommended: {
      rules: {
        'accountability/execution-platform': 'error',
        'accountability/expression-language': 'error',
        'accountability/literal-timers': 'error',
        'accountability/user-task-assignment': 'error',
        'accountability/decision-reference': 'error',
        'accountability/standard-loops': 'error'
      }
    }
  }
};
