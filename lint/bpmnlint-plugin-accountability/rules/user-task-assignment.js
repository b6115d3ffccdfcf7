'use strict';

const { camunda, is } = require('./util');
const { formKeys } = require('./project-files');

/**
 * A user task shows a form (camunda:formKey naming forms/<key>.json) and someone can work on it:
 * camunda:candidateGroups from the service's roles, or camunda:assignee (a variable such as ${hearing.person}).
 * Config: { roles: [...], forms: [...] | formsDir }.
 */
module.exports = function(config = {}) {
  const roles = config.roles || [ 'office', 'leading_group' ];
  let known;  // read once, on first use

  function check(node, reporter) {
    if (!is(node, 'bpmn:UserTask')) {
      return;
    }
    if (known === undefined) {
      known = formKeys(config);
    }
    const key = camunda(node, 'formKey');
    if (!key) {
      reporter.report(node.id, 'User task without camunda:formKey: name the form (forms/<key>.json) it shows',
        [ 'formKey' ]);
    } else if (known && !known.has(key)) {
      reporter.report(node.id, `Unknown form key "${key}": there is no forms/${key}.json`, [ 'formKey' ]);
    }
    const groups = (camunda(node, 'candidateGroups') || '').split(',').map(g => g.trim()).filter(Boolean);
    const assignee = (camunda(node, 'assignee') || '').trim();
    for (const group of groups.filter(g => !roles.includes(g))) {
      reporter.report(node.id, `Unknown role "${group}" in camunda:candidateGroups (roles: ${roles.join(', ')})`,
        [ 'candidateGroups' ]);
    }
    if (!groups.length && !assignee) {
      reporter.report(node.id, `No one can work on this task: set camunda:candidateGroups (${roles.join(' or ')}) ` +
        'or camunda:assignee (e.g. ${hearing.person})', [ 'candidateGroups' ]);
    }
  }

  return { check };
};
