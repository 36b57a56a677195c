"""The Leadflow worker: LeadWorkflow and its activities on the configured task queue.

Run it with `python worker.py` (or `leadflow worker`) against the configured Temporal server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.worker import Worker

from activities.compliance_reviews import ReviewActivities
from activities.crm import CrmActivities, Webhook
from activities.decisions import DecisionArchive
from activities.drug_safety import SafetyActivities
from activities.messaging import Links, MessagingActivities, SmtpTarget
from activities.program_loader import ProgramActivities
from leadflow_domain.content import import_catalog
from models.db import connect_db, migrate
from models.program import load_program
from starter.logging import configure_logging
from starter.settings import Settings
from starter.temporal import connect, search_attributes_registered
from workflows.lead import LeadWorkflow
from workflows.safety_case import SafetyCaseWorkflow
from workflows.webhook import CrmWebhookWorkflow

log = structlog.get_logger(__name__)
ACTIVITY_THREADS = 16


def build_worker(
    client: Client, settings: Settings, db: Engine, *, search_attributes: bool = False
) -> Worker:
    """The worker `up`, `python worker.py` and the tests all run.

    Args:
        search_attributes: whether the namespace has Leadflow's search attributes, so lead
            workflows publish their stage, track, queue and score (see
            `starter.temporal.search_attributes_registered`).
    """
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[LeadWorkflow, SafetyCaseWorkflow, CrmWebhookWorkflow],
        activities=_activities(settings, db, search_attributes=search_attributes),
        activity_executor=ThreadPoolExecutor(ACTIVITY_THREADS),
        max_concurrent_activities=ACTIVITY_THREADS,
    )


def _activities(
    settings: Settings, db: Engine, *, search_attributes: bool
) -> list[Callable[..., Any]]:
    """Every activity the workflows call, bound to clients built from settings."""
    smtp = SmtpTarget(settings.resolved_smtp_host, settings.smtp_port)
    messaging = _messaging(settings, db, smtp)
    program = ProgramActivities(settings.program, search_attributes=search_attributes)
    archive = DecisionArchive(db)
    safety = SafetyActivities(db, smtp, settings.program)
    reviews = ReviewActivities(db)
    crm = CrmActivities(db, smtp, settings.program, _webhook(settings))
    return [
        program.load_program,
        messaging.send_touch,
        archive.archive_decisions,
        safety.forward_case,
        safety.escalate_case,
        reviews.open_review,
        reviews.close_review,
        crm.create_crm_task,
        crm.update_crm_task,
        crm.enrich_facts,
        crm.deliver_crm_webhook,
    ]


def _messaging(settings: Settings, db: Engine, smtp: SmtpTarget) -> MessagingActivities:
    links = Links(settings.resolved_public_url, settings.resolved_signing_key())
    return MessagingActivities(db, smtp, settings.program, links)


def _webhook(settings: Settings) -> Webhook:
    secret = settings.crm_webhook_secret
    return Webhook(
        settings.crm_webhook_url,
        secret.get_secret_value() if secret else None,
        settings.crm_webhook_timeout,
    )


def prepare_database(db: Engine, settings: Settings) -> None:
    """Migrate the schema and import the program's catalog into the content library."""
    migrate(db)
    with Session(db) as session:
        summary = import_catalog(session, load_program(settings.program))
    log.info("content library imported", **summary.__dict__)


async def main(client: Client | None = None, settings: Settings | None = None) -> None:
    """Run the worker until cancelled."""
    configure_logging()
    settings = settings or Settings()
    load_program(settings.program)  # a bad program file stops start-up with the field named
    db = connect_db(settings.resolved_database_url)
    prepare_database(db, settings)
    client = client or await connect(settings)
    worker = build_worker(
        client, settings, db, search_attributes=await search_attributes_registered(client)
    )
    log.info("worker started", task_queue=settings.task_queue)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
