'use strict';

const { is, isIsoLiteral, isPython } = require('./util');

/**
 * Timers hold literal ISO-8601 values (P7D, R3/P1D, 2027-01-01T09:00:00+08:00), as every modeler and
 * engine reads them; an expression must say language="python". A quoted "P7D" (the form of older
 * versions) or an unquoted name without a language is refused.
 */
module.exports = function() {

  function check(node, reporter) {
    if (!is(node, 'bpmn:TimerEventDefinition')) {
      return;
    }
    const owner = node.$parent;
    const values = [ 'timeDuration', 'timeDate', 'timeCycle' ].filter(kind => node[kind]);
    if (!values.length) {
      reporter.report(owner.id, 'Timer without a timeDuration, timeDate or timeCycle');
      return;
    }
    for (const kind of values) {
      const expression = node[kind];
      const body = (expression.body || '').trim();
      if (isPython(expression.language)) {
        if (isIsoLiteral(body)) {
          reporter.report(owner.id, `Timer ${kind} ${body} is an ISO-8601 literal but declares language="python": ` +
            'drop the language', [ kind ]);
        }
      } else if (!isIsoLiteral(body)) {
        reporter.report(owner.id, `Timer ${kind} "${body}" is not a literal ISO-8601 value (e.g. P7D, R3/P1D); ` +
          'an expression must declare language="python"', [ kind ]);
      }
    }
  }

  return { check };
};
