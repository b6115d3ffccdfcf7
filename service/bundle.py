"""A deployable set of process files: BPMN, DMN and form schemas, held in memory by name."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


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
        """sha256 over every file name and content: equal bundles deploy once."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()

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
