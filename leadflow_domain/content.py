"""The approved content library: imported from the program's catalog, checked at send time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from models.assets import Asset, AssetStatus
from models.program import Program
from models.tables import AssetRecord, utcnow

REQUIRED_METADATA = (
    "approval_id",
    "version",
    "product",
    "indication",
    "language",
    "funnel_stage",
    "channel",
)


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int
    unchanged: int


def _record_values(asset: Asset) -> dict[str, Any]:
    return {
        "title": asset.title,
        "approval_id": asset.approval_id,
        "approval_date": asset.approval_date,
        "expires_on": asset.expires_on,
        "status": asset.status.value,
        "countries": json.dumps(sorted(c.upper() for c in asset.countries)),
        "audience": json.dumps(sorted(asset.audience)),
        "channel": asset.channel,
        "product": asset.product,
        "indication": asset.indication,
        "language": asset.language,
        "funnel_stage": asset.funnel_stage,
        "topics": json.dumps(asset.topics),
        "promotional": asset.promotional,
        "subject": asset.subject,
        "body": asset.body,
        "isi": asset.isi,
    }


def import_catalog(session: Session, program: Program) -> ImportSummary:
    """Upsert every catalog asset by (id, version); a newer approved version supersedes the
    older ones, so they can no longer be sent."""
    added = updated = unchanged = 0
    for asset in program.assets:
        values = _record_values(asset)
        row = session.exec(
            select(AssetRecord).where(
                AssetRecord.asset_id == asset.id, AssetRecord.version == asset.version
            )
        ).first()
        if row is None:
            session.add(
                AssetRecord(
                    asset_id=asset.id, version=asset.version, imported_at=utcnow(), **values
                )  # type: ignore[arg-type]
            )
            added += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.imported_at = utcnow()
            session.add(row)
            updated += 1
        else:
            unchanged += 1
        if asset.status is AssetStatus.APPROVED:
            _supersede_older(session, asset)
    session.commit()
    return ImportSummary(added=added, updated=updated, unchanged=unchanged)


def _supersede_older(session: Session, asset: Asset) -> None:
    older = session.exec(
        select(AssetRecord).where(
            AssetRecord.asset_id == asset.id,
            AssetRecord.version != asset.version,
            AssetRecord.approval_date <= asset.approval_date,
            AssetRecord.status == AssetStatus.APPROVED.value,
        )
    ).all()
    for row in older:
        row.status = AssetStatus.SUPERSEDED.value
        session.add(row)


def current_asset(session: Session, asset_id: str) -> AssetRecord | None:
    """The library's current version of an asset (the newest approval)."""
    query = select(AssetRecord).where(AssetRecord.asset_id == asset_id)
    return session.exec(
        query.order_by(col(AssetRecord.approval_date).desc(), col(AssetRecord.id).desc())
    ).first()


def list_assets(session: Session) -> list[AssetRecord]:
    query = select(AssetRecord).order_by(col(AssetRecord.asset_id), col(AssetRecord.version))
    return list(session.exec(query).all())


def send_refusal(
    asset: AssetRecord, *, country: str | None, hcp_verified: bool, today: date
) -> str | None:
    """Why this asset may not go to this recipient today, or None: only approved,
    unexpired content with its MLR metadata (and its safety information block when
    promotional), in the asset's audience, country and channel; promotion only to verified HCPs."""
    if asset.status != AssetStatus.APPROVED.value:
        return f"asset status is {asset.status}"
    if today > asset.expires_on:
        return f"asset expired on {asset.expires_on.isoformat()}"
    missing = [name for name in REQUIRED_METADATA if not getattr(asset, name)]
    countries = json.loads(asset.countries)
    audience = json.loads(asset.audience)
    if not countries:
        missing.append("countries")
    if not audience:
        missing.append("audience")
    if missing:
        return f"asset metadata missing: {', '.join(missing)}"
    if asset.channel != "email":
        return f"asset is for the {asset.channel} channel, not email"
    if asset.promotional and not (asset.isi and asset.isi.strip()):
        return "promotional asset has no fair-balance / safety information"
    if not country:
        return "recipient country unknown"
    if country.upper() not in countries:
        return f"asset not approved for {country.upper()}"
    if asset.promotional:
        if "hcp" not in audience:
            return "promotional asset not approved for healthcare professionals"
        if not hcp_verified:
            return "recipient not a verified healthcare professional"
    return None
