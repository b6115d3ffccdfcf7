'use strict';

const CAMUNDA_NS = 'http://camunda.org/schema/1.0/bpmn';
const MODELER_NS = 'http://camunda.org/schema/modeler/1.0';

/** Whether a moddle element is of a BPMN type (or a subtype), e.g. is(node, 'bpmn:Activity'). */
function is(node, type) {
  return !!node && typeof node.$instanceOf === 'function' && node.$instanceOf(type);
}

/** The bpmn:Definitions an element belongs to. */
function definitionsOf(node) {
  let current = node;
  while (current && current.$parent) {
    current = current.$parent;
  }
  return current;
}

/** The prefix the file binds to a namespace (the rules read attributes by namespace, whatever the prefix). */
function prefixFor(node, uri) {
  const definitions = definitionsOf(node) || node;
  const attrs = (definitions && definitions.$attrs) || {};
  for (const key of Object.keys(attrs)) {
    if (key.startsWith('xmlns:') && attrs[key] === uri) {
      return key.slice('xmlns:'.length);
    }
  }
  return null;
}

/** An extension attribute (e.g. camunda:formKey) of an element, as written in the file, or undefined. */
function extensionAttribute(node, uri, name) {
  const prefix = prefixFor(node, uri);
  const attrs = node.$attrs || {};
  if (prefix && attrs[`${prefix}:${name}`] !== undefined) {
    return attrs[`${prefix}:${name}`];
  }
  if (typeof node.get === 'function') {  // when the linter was given the Camunda moddle
    try {
      const value = node.get(`camunda:${name}`);
      if (value !== undefined && uri === CAMUNDA_NS) {
        return value;
      }
    } catch (err) {
      // not a known property: no value
    }
  }
  return undefined;
}

function camunda(node, name) {
  return extensionAttribute(node, CAMUNDA_NS, name);
}

/** The extension elements of a given local name (e.g. camunda:property), however the moddle read them. */
function extensionElements(node, localName) {
  const found = [];
  const walk = (el) => {
    if (!el || typeof el !== 'object') {
      return;
    }
    const type = el.$type || '';
    if (type.split(':').pop() === localName || type.split(':').pop() === capitalise(localName)) {
      found.push(el);
    }
    for (const child of [].concat(el.$children || [], el.values || [])) {
      walk(child);
    }
  };
  walk(node.extensionElements);
  return found;
}

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A literal ISO-8601 duration, date(-time) or repetition, as service/engine/timers.py reads it. */
const NUM = '\\d+(?:[.,]\\d+)?';
const DURATION = `P(?!$)(?:${NUM}Y)?(?:${NUM}M)?(?:${NUM}W)?(?:${NUM}D)?(?:T(?=\\d)(?:${NUM}H)?(?:${NUM}M)?(?:${NUM}S)?)?`;
const DATE = '\\d{4}-\\d{2}-\\d{2}(?:T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?)?';
const ISO_LITERAL = new RegExp(`^(?:${DURATION}|${DATE}|R\\d*/(?:(?:${DATE})/)?${DURATION}(?:/${DATE})?)$`);

function isIsoLiteral(text) {
  return ISO_LITERAL.test((text || '').trim());
}

function isPython(language) {
  return (language || '').trim().toLowerCase() === 'python';
}

module.exports = {
  CAMUNDA_NS, MODELER_NS, camunda, definitionsOf, is, extensionAttribute, extensionElements, isIsoLiteral, isPython
};
