"""A lead's Temporal history is encrypted with its own data key: unreadable without Leadflow's
keys, readable through the codec, and gone for good once the key is destroyed."""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from leadflow_domain.payload_crypto import DataKeyStore, DataKeyUnavailable
from starter.payload_codec import ENCODING, KEY_ID, EncryptionCodec, history_payloads
from tests.helpers.journey import Journey, NewJourney

EMAIL = "janelle.quimby@lakeshore-clinic.example"
COMMENT = "Please call my office manager Janelle Quimby on 555-0100"
PROFILE = {"email": EMAIL, "first_name": "Marisol", "last_name": "Okonkwo-Baptiste"}


@pytest.fixture
def clinician(new_journey: NewJourney) -> Journey:
    return new_journey(**PROFILE)


async def _personal_journey(lead: Journey) -> list[str]:
    """Events carrying personal data in their free fields; returns the event ids."""
    return [
        await lead.event(
            "page_viewed",
            url=f"https://hcp.example/evidence?email={EMAIL}",
            title="CORVA-HF evidence",
            topics=["evidence"],
        ),
        await lead.event("form_submitted", form="contact", comment=COMMENT),
    ]


async def _raw_history(env: WorkflowEnvironment, lead: Journey) -> WorkflowHistory:
    """The history as anyone with access to the Temporal server reads it: no codec."""
    config = env.client.config()
    config["data_converter"] = pydantic_data_converter
    return await Client(**config).get_workflow_handle(lead.handle.id).fetch_history()


async def test_the_history_holds_no_personal_data_without_the_key(
    env: WorkflowEnvironment, clinician: Journey, payload_keys: DataKeyStore
) -> None:
    event_ids = await _personal_journey(clinician)
    history = await _raw_history(env, clinician)

    secrets = [EMAIL, clinician.profile["npi"], "Marisol", "Okonkwo-Baptiste", COMMENT, "Quimby"]
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert [s for s in secrets if s.encode() in raw] == []
    assert [s for s in secrets if s in history.to_json()] == []

    encrypted = [p for p in history_payloads(history) if p.metadata.get("encoding") == ENCODING]
    assert encrypted, "the lead's payloads are encrypted"
    assert {p.metadata[KEY_ID] for p in encrypted} == {
        payload_keys.current_key(clinician.lead_id)[0].encode()
    }
    # With the key, the same payloads decode (a check that the search above would have found
    # what the events carried), and the codec-using client reads the lead's state.
    decoded = await EncryptionCodec(payload_keys).decode(encrypted)
    assert all(any(i.encode() in p.data for p in decoded) for i in event_ids)
    assert set(event_ids) <= set((await clinician.state()).recent_event_ids)


async def test_a_destroyed_data_key_leaves_the_history_undecodable(
    env: WorkflowEnvironment, clinician: Journey, payload_keys: DataKeyStore
) -> None:
    await _personal_journey(clinician)
    assert clinician.lead_id is not None
    key_id = payload_keys.current_key(clinician.lead_id)[0]

    assert payload_keys.destroy_lead_keys(clinician.lead_id) == 1

    history = await _raw_history(env, clinician)
    encrypted = [p for p in history_payloads(history) if p.metadata.get("encoding") == ENCODING]
    for payload in encrypted:
        with pytest.raises(DataKeyUnavailable, match=f"data key {key_id} destroyed or unknown"):
            await EncryptionCodec(payload_keys).decode([payload])
