"""`/codec`: the Temporal codec-server protocol, so the Temporal UI and
`temporal workflow show --codec-endpoint ... --codec-auth 'Bearer KEY'` can read encrypted
payloads. Only keys with `codec:decode` may; a payload whose data key was destroyed (an erased
lead) is answered 400 naming the key, never decoded."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from leadflow_domain.payload_crypto import DataKeyUnavailable
from starter.api.deps import ClientDep, CodecKey
from starter.api.schemas import CodecPayloads

router = APIRouter(prefix="/codec", tags=["codec"])
# What a browser on the Temporal UI's origin may send (the codec-server protocol's headers).
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


@router.options("/{operation}", include_in_schema=False)
def preflight(operation: str, request: Request) -> Response:
    """CORS preflight of the Temporal UI: answered before any key is checked."""
    return Response(status_code=204, headers=_cors(request))


@router.post("/encode", response_model=CodecPayloads)
async def encode(
    body: CodecPayloads, request: Request, response: Response, client: ClientDep, _: CodecKey
) -> CodecPayloads:
    """Encrypt payloads (no workflow context: the system data key)."""
    return await _convert("encode", body, request, response, client)


@router.post("/decode", response_model=CodecPayloads)
async def decode(
    body: CodecPayloads, request: Request, response: Response, client: ClientDep, _: CodecKey
) -> CodecPayloads:
    """Decrypt payloads with the data keys they name; clear payloads come back unchanged."""
    return await _convert("decode", body, request, response, client)


async def _convert(
    operation: Literal["encode", "decode"],
    body: CodecPayloads,
    request: Request,
    response: Response,
    client: Client,
) -> CodecPayloads:
    codec = client.data_converter.payload_codec
    if codec is None:
        raise HTTPException(503, "this API runs without the payload codec")
    cors = _cors(request)
    response.headers.update(cors)
    payloads = [_payload(index, raw, cors) for index, raw in enumerate(body.payloads)]
    try:
        converted = await getattr(codec, operation)(payloads)
    except DataKeyUnavailable as err:
        raise HTTPException(400, str(err), headers=cors) from err
    return CodecPayloads(payloads=[json_format.MessageToDict(p) for p in converted])


def _payload(index: int, raw: dict[str, Any], cors: dict[str, str]) -> Payload:
    try:
        return json_format.ParseDict(raw, Payload())
    except json_format.ParseError as err:
        message = f"payloads.{index}: not a payload (metadata and data in base64): {err}"
        raise HTTPException(422, message, headers=cors) from err


def _cors(request: Request) -> dict[str, str]:
    """Allow the Temporal UI of this installation (the dev server's UI port) to call."""
    origin = request.headers.get("origin")
    if origin is None or origin not in request.app.state.settings.temporal_ui_origins():
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Vary": "Origin",
    }
