"""The payload codec and the data key store, on a real SQLite database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    WorkflowSerializationContext,
)

from leadflow_domain.payload_crypto import DataKeyStore, DataKeyUnavailable
from starter.payload_codec import ENCODING, KEY_ID, EncryptionCodec
from starter.settings import Settings
from tests.helpers.installation import installation

Store = Callable[..., DataKeyStore]


@pytest.fixture
def another_process(tmp_path: Path, sqlite_db: Engine) -> Store:
    """A key store of another process of the same installation (own cache, same database)."""
    master = Settings(**installation(tmp_path)).resolved_master_key()

    def store(cache_size: int = 10_000, master_key: bytes = master) -> DataKeyStore:
        return DataKeyStore(sqlite_db, master_key, cache_size)

    return store


SECRET = b'{"comment": "Please call my office manager Janelle Quimby on 555-0100"}'


def _payload(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def _for_workflow(codec: EncryptionCodec, workflow_id: str) -> EncryptionCodec:
    return codec.with_context(
        WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)
    )


def _for_activity_of(codec: EncryptionCodec, workflow_id: str) -> EncryptionCodec:
    context = ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="send_touch",
        activity_task_queue="leadflow",
        workflow_id=workflow_id,
        workflow_type="LeadWorkflow",
        is_local=False,
    )
    return codec.with_context(context)


async def test_a_payload_round_trips_and_is_unreadable_encrypted(
    payload_keys: DataKeyStore,
) -> None:
    codec = _for_workflow(EncryptionCodec(payload_keys), "lead-ld_1")
    [encrypted] = await codec.encode([_payload()])
    assert encrypted.metadata["encoding"] == ENCODING
    assert encrypted.metadata[KEY_ID].startswith(b"dk_")
    assert b"Janelle" not in encrypted.SerializeToString()
    # Decoding needs no context: the key id travels with the payload.
    assert await EncryptionCodec(payload_keys).decode([encrypted]) == [_payload()]


async def test_each_lead_has_its_own_key_and_other_workflows_share_the_system_key(
    payload_keys: DataKeyStore,
) -> None:
    codec = EncryptionCodec(payload_keys)

    async def key_of(encoder: EncryptionCodec) -> bytes:
        [encrypted] = await encoder.encode([_payload()])
        return encrypted.metadata[KEY_ID]

    lead_1 = await key_of(_for_workflow(codec, "lead-ld_1"))
    assert await key_of(_for_activity_of(codec, "lead-ld_1")) == lead_1
    assert await key_of(_for_workflow(codec, "lead-ld_2")) != lead_1
    system = await key_of(codec)
    assert system not in (lead_1, await key_of(_for_workflow(codec, "lead-ld_2")))
    assert await key_of(_for_workflow(codec, "safety-SC-1")) == system
    assert await key_of(_for_workflow(codec, "crm-webhook-t1")) == system


async def test_payloads_recorded_in_clear_decode_unchanged(payload_keys: DataKeyStore) -> None:
    assert await EncryptionCodec(payload_keys).decode([_payload()]) == [_payload()]


async def test_another_process_decodes_with_the_stored_key(
    payload_keys: DataKeyStore, another_process: Store
) -> None:
    [encrypted] = await _for_workflow(EncryptionCodec(payload_keys), "lead-ld_1").encode(
        [_payload()]
    )
    other = another_process(cache_size=1)
    assert await EncryptionCodec(other).decode([encrypted]) == [_payload()]


async def test_an_unknown_key_id_is_a_clear_error(payload_keys: DataKeyStore) -> None:
    [encrypted] = await EncryptionCodec(payload_keys).encode([_payload()])
    encrypted.metadata[KEY_ID] = b"dk_000000000000000000000000"
    with pytest.raises(DataKeyUnavailable, match="data key dk_0+ destroyed or unknown"):
        await EncryptionCodec(payload_keys).decode([encrypted])


async def test_a_payload_relabelled_with_another_key_id_does_not_decrypt(
    payload_keys: DataKeyStore,
) -> None:
    codec = EncryptionCodec(payload_keys)
    [one] = await _for_workflow(codec, "lead-ld_1").encode([_payload()])
    [two] = await _for_workflow(codec, "lead-ld_2").encode([_payload()])
    one.metadata[KEY_ID] = two.metadata[KEY_ID]
    with pytest.raises(DataKeyUnavailable, match="does not decrypt this payload"):
        await codec.decode([one])


async def test_a_destroyed_lead_key_fails_clearly_everywhere(
    payload_keys: DataKeyStore, another_process: Store
) -> None:
    codec = EncryptionCodec(payload_keys)
    [encrypted] = await _for_workflow(codec, "lead-ld_1").encode([_payload()])
    [other_lead] = await _for_workflow(codec, "lead-ld_2").encode([_payload()])
    key_id = encrypted.metadata[KEY_ID].decode()

    assert payload_keys.destroy_lead_keys("ld_1") == 1

    for store in (payload_keys, another_process()):
        with pytest.raises(DataKeyUnavailable, match=f"data key {key_id} destroyed or unknown"):
            await EncryptionCodec(store).decode([encrypted])
        # Nothing new about an erased lead is stored readable.
        with pytest.raises(DataKeyUnavailable, match="destroyed"):
            await _for_workflow(EncryptionCodec(store), "lead-ld_1").encode([_payload()])
        assert await EncryptionCodec(store).decode([other_lead]) == [_payload()]


async def test_keys_wrapped_by_another_master_key_are_refused(
    payload_keys: DataKeyStore, another_process: Store
) -> None:
    [encrypted] = await EncryptionCodec(payload_keys).encode([_payload()])
    stranger = another_process(master_key=os.urandom(32))
    with pytest.raises(DataKeyUnavailable, match="wrapped by another master key"):
        await EncryptionCodec(stranger).decode([encrypted])


async def test_the_key_cache_is_bounded(another_process: Store) -> None:
    small = another_process(cache_size=2)
    codec = EncryptionCodec(small)
    encrypted = [
        (await _for_workflow(codec, f"lead-ld_{n}").encode([_payload()]))[0] for n in range(5)
    ]
    assert small.cached_keys == 2
    assert await codec.decode(encrypted) == [_payload()] * 5


@pytest.mark.parametrize("value", ["short", "not*base64*at*all=", "A" * 45])
def test_a_bad_master_key_is_refused_naming_the_setting_not_the_value(
    value: str, tmp_path: Path
) -> None:
    settings = Settings(master_key=value, data_dir=tmp_path)
    with pytest.raises(ValueError, match="^LEADFLOW_MASTER_KEY must be base64url of 32 bytes$"):
        settings.resolved_master_key()
