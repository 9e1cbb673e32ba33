"""The words resource: what training receives."""

from __future__ import annotations

from pathlib import Path

from parlance.store.orm import CustomModel, CustomWord
from tests.conftest import fake_services


def test_words_stored_with_control_characters_are_left_out_of_training(tmp_path: Path) -> None:
    svc = fake_services(tmp_path / "data")
    owner = svc.auth.create_key(instance_name="tests").instance_id
    cid = svc.customizations.create(owner, {"name": "m", "base_model_name": "en-US_BroadbandModel"})
    with svc.db.session() as s:  # as a server that did not refuse them yet stored them
        if not svc.db.is_postgres:  # PostgreSQL text cannot hold NUL, so no such row can exist there
            s.add(CustomWord(model_id=cid, word="nul\x00word", user=True))
        s.add(CustomWord(model_id=cid, word="fine", display_as="fi\x07ne", user=True))
        s.add(CustomWord(model_id=cid, word="good", sounds_like=["good"], user=True))
    with svc.db.session() as s:
        row = s.get(CustomModel, cid)
        assert [w["word"] for w in svc.words.training_words(s, row, "all")] == ["good"]
    svc.close()
