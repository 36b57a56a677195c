from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from models.assets import AssetStatus
from models.program import ProgramError, load_program
from starter.settings import SAMPLE_PROGRAM


def test_sample_program_is_valid_and_uses_iso_durations() -> None:
    program = load_program(SAMPLE_PROGRAM)
    assert program.cadence.first_touch_delay == timedelta(seconds=2)
    assert program.asset(program.content.first_touch) is not None
    assert all(asset.isi for asset in program.assets if asset.promotional)


def test_a_test_program_can_use_pt2s(make_program) -> None:  # type: ignore[no-untyped-def]
    assert load_program(make_program("PT2S")).cadence.first_touch_delay == timedelta(seconds=2)
    assert load_program(make_program("P7D")).cadence.first_touch_delay == timedelta(days=7)


def _broken(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(SAMPLE_PROGRAM.read_text())
    change(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_bad_duration_names_path_and_field(tmp_path: Path) -> None:
    path = _broken(tmp_path, lambda raw: raw["cadence"].update(first_touch_delay="soon"))
    with pytest.raises(ProgramError) as err:
        load_program(path)
    assert str(path) in str(err.value)
    assert "cadence.first_touch_delay" in str(err.value)


def test_promotional_asset_without_isi_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, lambda raw: raw["assets"][0].pop("isi"))
    with pytest.raises(ProgramError, match="needs its isi block"):
        load_program(path)


def test_content_map_must_name_a_catalog_asset(tmp_path: Path) -> None:
    path = _broken(tmp_path, lambda raw: raw["content"].update(first_touch="NOPE-1"))
    with pytest.raises(ProgramError, match="unknown asset NOPE-1"):
        load_program(path)


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="cannot read program file"):
        load_program(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ProgramError, match="not valid YAML"):
        load_program(bad)


def test_only_approved_unexpired_assets_are_sendable() -> None:
    asset = load_program(SAMPLE_PROGRAM).assets[0]
    assert asset.sendable_on(asset.expires_on) is None
    assert asset.sendable_on(asset.expires_on + timedelta(days=1)) == (
        f"asset expired on {asset.expires_on.isoformat()}"
    )
    withdrawn = asset.model_copy(update={"status": AssetStatus.WITHDRAWN})
    assert withdrawn.sendable_on(date(2026, 1, 1)) == "asset status is withdrawn"
