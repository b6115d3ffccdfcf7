'use strict';

const { MODELER_NS, extensionAttribute, is } = require('./util');

/**
 * The file declares the engine that really runs it: modeler:executionPlatform="SpiffWorkflow".
 *
 * Camunda Modeler opens a file that declares "Camunda Platform" (or no platform) as a Camunda 7 diagram and
 * offers to deploy it to a Camunda 7 engine, which cannot run the Python conditions and scripts; it refuses
 * to open a platform it does not know instead. Config: { platform, version }.
 */
module.exports = function(config = {}) {
  const platform = config.platform || 'SpiffWorkflow';
  const version = config.version || '3.2.0';

  function check(node, reporter) {
    if (!is(node, 'bpmn:Definitions')) {
      return;
    }
    const declared = extensionAttribute(node, MODELER_NS, 'executionPlatform');
    const declaredVersion = extensionAttribute(node, MODELER_NS, 'executionPlatformVersion');
    if (declared !== platform) {
      reporter.report(node.id, `Declares execution platform ${declared ? `"${declared}"` : '(none)'}: the ` +
        `diagram runs on ${platform} ${version} (modeler:executionPlatform="${platform}"), and a modeler ` +
        'must not offer to deploy it to an engine that cannot run it', [ 'executionPlatform' ]);
    } else if (declaredVersion !== version) {
      reporter.report(node.id, `Declares ${platform} version ${declaredVersion || '(none)'}: the service runs ` +
        `${platform} ${version} (modeler:executionPlatformVersion="${version}")`, [ 'executionPlatformVersion' ]);
    }
  }

  return { check };
};
