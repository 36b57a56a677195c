"""Temporal client set-up: one factory, so every client uses the pydantic data converter and
the payload encryption codec."""

from __future__ import annotations

import dataclasses

import structlog
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from leadflow_domain.payload_crypto import DataKeyStore
from models.db import connect_db
from models.search import SEARCH_ATTRIBUTES
from starter.payload_codec import EncryptionCodec
from starter.settings import Settings

log = structlog.get_logger(__name__)


def payload_keys(settings: Settings) -> DataKeyStore:
    """The installation's data keys: its database, wrapped by its master key."""
    return DataKeyStore(connect_db(settings.resolved_database_url), settings.resolved_master_key())


def data_converter(keys: DataKeyStore) -> DataConverter:
    """Pydantic payloads, encrypted with the data keys in `keys`."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))


def with_payload_keys(client: Client, keys: DataKeyStore) -> Client:
    """The same connection, encrypting with `keys` (e.g. a test's installation)."""
    config = client.config()
    config["data_converter"] = data_converter(keys)
    return Client(**config)


def keys_of(client: Client) -> DataKeyStore | None:
    """The data keys a client encrypts with; None for a client without Leadflow's codec."""
    codec = client.data_converter.payload_codec
    return codec.keys if isinstance(codec, EncryptionCodec) else None


async def connect(settings: Settings, keys: DataKeyStore | None = None) -> Client:
    """Connect to the configured Temporal server."""
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(keys or payload_keys(settings)),
    )


async def search_attributes_registered(client: Client) -> bool:
    """Whether the namespace has Leadflow's search attributes (workflows only upsert then)."""
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as err:
        log.warning("cannot list search attributes; leads will not be searchable", error=str(err))
        return False
    missing = [key.name for key in SEARCH_ATTRIBUTES if key.name not in response.custom_attributes]
    if missing:
        log.warning(
            "search attributes not registered; leads will not be searchable", missing=missing
        )
    return not missing
