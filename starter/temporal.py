"""Temporal client set-up: one factory, so every client uses the pydantic data converter."""

from __future__ import annotations

import structlog
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from models.search import SEARCH_ATTRIBUTES
from starter.settings import Settings

log = structlog.get_logger(__name__)


async def connect(settings: Settings) -> Client:
    """Connect to the configured Temporal server."""
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
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
