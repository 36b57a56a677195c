"""`/codec/encode` and `/codec/decode`: the Temporal codec-server protocol over real HTTP, for
keys with `codec:decode`, with the CORS answers the Temporal UI needs."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from leadflow_domain.payload_crypto import DataKeyStore
from starter.api import create_app
from starter.payload_codec import ENCODING, EncryptionCodec
from starter.settings import Settings
from tests.helpers.api import OPS_KEY, api_client, ops_keyring

DECODER_KEY = "test-decoder-key"
JSON = base64.b64encode(b"json/plain").decode()


def _payload(text: str) -> dict[str, object]:
    return {"metadata": {"encoding": JSON}, "data": base64.b64encode(text.encode()).decode()}


@pytest.fixture
async def codec_api(
    env: WorkflowEnvironment, settings: Settings, db: Engine
) -> AsyncIterator[httpx.AsyncClient]:
    ring = ops_keyring()
    ring.add("decoder", DECODER_KEY, ("codec:decode",))
    app = create_app(settings, client=env.client, db=db, keyring=ring)
    async with api_client(app, DECODER_KEY) as http:
        yield http


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_payloads_encode_and_decode_over_http(codec_api: httpx.AsyncClient) -> None:
    plain = [_payload('{"lead_id": "ld_1"}')]
    encoded = await codec_api.post("/codec/encode", json={"payloads": plain})
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    assert b"ld_1" not in base64.b64decode(sealed["data"])

    decoded = await codec_api.post("/codec/decode", json={"payloads": [sealed, *plain]})
    assert decoded.status_code == 200
    assert decoded.json()["payloads"] == [*plain, *plain]  # a clear payload comes back as it is


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_only_keys_with_codec_decode_may_read_payloads(
    codec_api: httpx.AsyncClient,
) -> None:
    body = {"payloads": [_payload("{}")]}
    ops = {"Authorization": f"Bearer {OPS_KEY}"}
    refused = await codec_api.post("/codec/decode", json=body, headers=ops)
    assert refused.status_code == 403 and "codec:decode" in refused.json()["detail"]
    anonymous = await codec_api.post("/codec/decode", json=body, headers={"Authorization": ""})
    assert anonymous.status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_temporal_ui_of_this_installation_may_call_across_origins(
    codec_api: httpx.AsyncClient, settings: Settings
) -> None:
    ui = f"http://127.0.0.1:{settings.dev_server_port + 1000}"
    asked = {"Origin": ui, "Access-Control-Request-Method": "POST"}
    preflight = await codec_api.options("/codec/decode", headers=asked)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ui
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    answer = await codec_api.post(
        "/codec/decode", json={"payloads": [_payload("{}")]}, headers={"Origin": ui}
    )
    assert answer.headers["access-control-allow-origin"] == ui

    elsewhere = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    foreign = await codec_api.options("/codec/decode", headers=elsewhere)
    assert "access-control-allow-origin" not in foreign.headers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_erased_lead_s_payload_is_refused_naming_the_destroyed_key(
    codec_api: httpx.AsyncClient, payload_keys: DataKeyStore
) -> None:
    [sealed] = await EncryptionCodec(payload_keys, "ld_erased").encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b'{"stage": "mql"}')]
    )
    key_id = sealed.metadata["encryption-key-id"].decode()
    assert payload_keys.destroy_lead_keys("ld_erased") == 1
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }
    refused = await codec_api.post("/codec/decode", json=body)
    assert refused.status_code == 400
    assert f"data key {key_id} destroyed or unknown" in refused.json()["detail"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_malformed_payload_is_refused_naming_it(codec_api: httpx.AsyncClient) -> None:
    body = {"payloads": [_payload("{}"), {"data": "not base64 !"}]}
    refused = await codec_api.post("/codec/decode", json=body)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("payloads.1: not a payload")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_cut_or_unnamed_ciphertext_is_refused_not_a_500(
    codec_api: httpx.AsyncClient,
) -> None:
    sealed = base64.b64encode(ENCODING).decode()
    cut = {"metadata": {"encoding": sealed}, "data": base64.b64encode(b"short").decode()}
    refused = await codec_api.post("/codec/decode", json={"payloads": [cut]})
    assert refused.status_code == 400
    assert "encryption-key-id is missing" in refused.json()["detail"]
    [good] = (await codec_api.post("/codec/encode", json={"payloads": [_payload("{}")]})).json()[
        "payloads"
    ]
    good["data"] = base64.b64encode(b"short").decode()
    refused = await codec_api.post("/codec/decode", json={"payloads": [good]})
    assert refused.status_code == 400 and "does not decrypt" in refused.json()["detail"]
