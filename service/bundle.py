"""A deployable set of process files: BPMN, DMN and form schemas, held in memory by name.

A bundle is identified by its *canonical* content, not by its bytes: XML is parsed and written back in
exclusive C14N (attributes sorted, namespace declarations where they are used, comments and the
indentation between elements dropped, the modeler's ``exporter``/``exporterVersion`` stamp ignored), JSON is
re-serialised with sorted keys. Saving a file again in Camunda Modeler without changing it, or with another
Modeler release, therefore gives the same version.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

# attributes that say which tool wrote the file, not what the file means
_STAMPS = ("exporter", "exporterVersion")
# attributes written with the value the BPMN or DMN schema gives them anyway (a modeler may drop or add them)
_DEFAULTS = {
    ("decisionTable", "hitPolicy"): "UNIQUE", ("decisionTable", "preferredOrientation"): "Rule-as-Row",
    ("decisionTable", "isCollection"): "false", ("boundaryEvent", "cancelActivity"): "true",
    ("startEvent", "isInterrupting"): "true", ("startEvent", "parallelMultiple"): "false",
    ("multiInstanceLoopCharacteristics", "isSequential"): "false",
    ("multiInstanceLoopCharacteristics", "behavior"): "All", ("subProcess", "triggeredByEvent"): "false",
    ("process", "isClosed"): "false", ("process", "processType"): "None",
}
_DEFAULT_ANYWHERE = {"isForCompensation": "false", "startQuantity": "1", "completionQuantity": "1",
                     "gatewayDirection": "Unspecified", "isImmediate": None}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True,
                          huge_tree=False)


def canonical(name: str, data: bytes) -> bytes:
    """The canonical form of one file (see the module docstring); a file that does not parse is its own bytes."""
    if name.endswith((".bpmn", ".dmn")):
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError:
            return data
        for attr in _STAMPS:
            root.attrib.pop(attr, None)
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            local = etree.QName(el).localname
            for attr, value in list(el.attrib.items()):
                if "}" in attr:
                    continue
                default = _DEFAULTS.get((local, attr), _DEFAULT_ANYWHERE.get(attr, ...))
                if value == default:
                    del el.attrib[attr]
            if len(el) and el.text is not None and not el.text.strip():
                el.text = None  # indentation before the first child
            if el.tail is not None and not el.tail.strip():
                el.tail = None  # indentation between elements
        return etree.tostring(root, method="c14n", exclusive=True, with_comments=False)
    if name.endswith(".json"):
        try:
            value = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            return data
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return data


@dataclass(frozen=True)
class Bundle:
    """Files keyed by name: ``processes/<x>.bpmn``, ``processes/<x>.dmn``, ``forms/<key>.json``."""

    files: dict[str, bytes]

    @classmethod
    def from_folders(cls, processes: Path, forms: Path) -> "Bundle":
        files: dict[str, bytes] = {}
        for pattern in ("*.bpmn", "*.dmn"):
            for path in sorted(Path(processes).glob(pattern)):
                files[f"processes/{path.name}"] = path.read_bytes()
        for path in sorted(Path(forms).glob("*.json")):
            files[f"forms/{path.name}"] = path.read_bytes()
        return cls(files)

    @property
    def content_hash(self) -> str:
        """sha256 over every file name and canonical content: bundles that mean the same deploy once."""
        return bundle_hash(self.files)

    def _select(self, prefix: str, suffix: str) -> dict[str, bytes]:
        return {name: data for name, data in sorted(self.files.items())
                if name.startswith(prefix) and name.endswith(suffix)}

    @property
    def bpmn(self) -> dict[str, bytes]:
        return self._select("processes/", ".bpmn")

    @property
    def dmn(self) -> dict[str, bytes]:
        return self._select("processes/", ".dmn")

    @property
    def forms(self) -> dict[str, bytes]:
        return self._select("forms/", ".json")


def bundle_hash(files: dict[str, bytes]) -> str:
    """The identity of a set of files: sha256 over each name and the sha256 of its canonical content."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(canonical(name, files[name])).digest())
    return digest.hexdigest()
