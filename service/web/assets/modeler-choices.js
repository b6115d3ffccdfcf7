// The project's lists in the properties panel: a user task's role (camunda:candidateGroups), its form
// (camunda:formKey) and a business rule task's decision (camunda:decisionRef) are chosen from what the draft has,
// instead of typed. The Camunda 7 panel's own text fields for these three are replaced by the lists; everything
// else in the panel stays as bpmn-js-properties-panel shows it.
import { SelectEntry, isSelectEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject } from "bpmn-js/lib/util/ModelUtil";

function options(list, current, translate, placeholder) {
  const out = [{ value: "", label: "— " + translate(placeholder) + " —" }];
  list.forEach((c) => out.push({ value: c.value, label: c.label }));
  if (current && !list.some((c) => c.value === current)) {
    out.push({ value: current, label: current + "（" + translate("not in this draft") + "）" });
  }
  return out;
}

function choiceEntry(id, property, listName, labelText, placeholder, update) {
  return function Entry(props) {
    const { element } = props;
    const translate = useService("translate");
    const choices = useService("projectChoices");
    const modeling = useService("modeling");
    const commandStack = useService("commandStack");
    const bo = getBusinessObject(element);
    const getValue = () => bo.get(property) || "";
    const setValue = (value) => update({ element, bo, value: value || undefined, modeling, commandStack });
    return SelectEntry({
      element, id, label: translate(labelText), getValue, setValue,
      getOptions: () => options(choices[listName] || [], getValue(), translate, placeholder),
    });
  };
}

const REPLACEMENTS = {
  candidateGroups: choiceEntry("candidateGroups", "camunda:candidateGroups", "roles", "Candidate groups",
    "Choose a role", ({ element, bo, value, commandStack }) => commandStack.execute("element.updateModdleProperties",
      { element, moddleElement: bo, properties: { "camunda:candidateGroups": value } })),
  formKey: choiceEntry("formKey", "camunda:formKey", "forms", "Form key", "Choose a form",
    ({ element, value, modeling }) => modeling.updateProperties(element, { "camunda:formKey": value })),
  decisionRef: choiceEntry("decisionRef", "camunda:decisionRef", "decisions", "Decision reference",
    "Choose a decision", ({ element, value, modeling }) => modeling.updateProperties(element,
      { "camunda:decisionRef": value })),
};

function ChoicesProvider(propertiesPanel) {
  propertiesPanel.registerProvider(100, this); // after the Camunda 7 provider (500), so its groups exist
}
ChoicesProvider.$inject = ["propertiesPanel"];
ChoicesProvider.prototype.getGroups = function () {
  return function (groups) {
    groups.forEach((group) => {
      if (!Array.isArray(group.entries)) { return; }
      group.entries = group.entries.map((entry) => REPLACEMENTS[entry.id]
        ? { ...entry, component: REPLACEMENTS[entry.id], isEdited: isSelectEntryEdited } : entry);
    });
    return groups;
  };
};

export function choicesModule(choices) {
  return { __init__: ["projectChoicesProvider"], projectChoicesProvider: ["type", ChoicesProvider],
    projectChoices: ["value", choices] };
}
