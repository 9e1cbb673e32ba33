"""Datasets (Azure's training data): Language datasets are UTF-8 text, one sentence a line.

A dataset is stored once, as text in `data_dir/datasets/{id}.txt`; custom models made from it (Azure's
`POST /models`) copy it into a corpus, so deleting the dataset later does not change a trained model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from parlance.errors import BadRequest
from parlance.services.owned import get_owned, list_owned
from parlance.services.resources import decode_text
from parlance.settings import Settings
from parlance.store.db import Database
from parlance.store.orm import Dataset

KINDS = ("Language",)  # acoustic data needs custom acoustic models (not built yet)
MAX_BYTES = 200 * 1024 * 1024


class Datasets:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    def path(self, dataset_id: str) -> Path:
        return self.settings.data_dir / "datasets" / f"{dataset_id}.txt"

    def create(
        self,
        owner: str,
        *,
        kind: str,
        display_name: str,
        locale: str,
        data: bytes,
        description: str = "",
        custom_properties: dict[str, Any] | None = None,
    ) -> Dataset:
        if kind not in KINDS:
            raise BadRequest(f"Datasets of kind {kind} are not supported; supported kinds: {', '.join(KINDS)}")
        if not display_name or len(display_name) > 256:
            raise BadRequest("displayName is required: a non-empty string of at most 256 characters")
        if len(data) > MAX_BYTES:
            raise BadRequest(f"The dataset is larger than {MAX_BYTES} bytes")
        text = decode_text(data, "dataset")
        lines = text.splitlines()
        accepted = sum(1 for line in lines if line.strip())
        with self.db.session() as s:
            row = Dataset(
                owner=owner,
                kind=kind,
                display_name=display_name,
                description=description,
                locale=locale,
                properties={"acceptedLineCount": accepted, "rejectedLineCount": len(lines) - accepted},
                custom_properties=custom_properties or {},
            )
            s.add(row)
            s.flush()
            target = self.path(row.id)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)  # the row commits only after the text is in place
            s.expunge(row)
            return row

    def get(self, owner: str, dataset_id: str) -> Dataset:
        with self.db.session() as s:
            row = get_owned(s, Dataset, owner, dataset_id, "Dataset")
            s.expunge(row)
            return row

    def text(self, owner: str, dataset_id: str) -> str:
        self.get(owner, dataset_id)
        return self.path(dataset_id).read_text(encoding="utf-8")

    def list(self, owner: str, skip: int = 0, top: int = 100) -> tuple[list[Dataset], int]:
        with self.db.session() as s:
            return list_owned(s, Dataset, owner, skip, top)

    def delete(self, owner: str, dataset_id: str) -> None:
        with self.db.session() as s:
            row = s.get(Dataset, dataset_id)
            if row is None or row.owner != owner:
                return  # Azure: 204 "successfully deleted or did not exist"
            s.delete(row)
        self.path(dataset_id).unlink(missing_ok=True)
