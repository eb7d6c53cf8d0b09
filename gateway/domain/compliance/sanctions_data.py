"""The synthetic consolidated sanctions list, decoded once from the JSON file shipped with the package."""

from datetime import date
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec

DEFAULT_DATA_FILE: Final = Path(__file__).with_name("data") / "sanctions.json"

# A listed birth date is a full ISO date or only a year, as on real consolidated lists.
BirthDate = Annotated[str, msgspec.Meta(pattern=r"^\d{4}(-\d{2}-\d{2})?$")]
CountryCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class SanctionsAlias(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Another name the listed party is known by; weak aliases are low-quality a.k.a.s."""

    name: NonEmpty
    quality: Literal["strong", "weak"]
    script: Literal["latin", "han", "cyrillic", "arabic"]


class SanctionsEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One listed individual or entity."""

    id: Annotated[str, msgspec.Meta(pattern=r"^SAN-\d{5}$")]
    kind: Literal["individual", "entity"]
    primary_name: NonEmpty
    aliases: tuple[SanctionsAlias, ...]
    birth_dates: tuple[BirthDate, ...]
    nationalities: tuple[CountryCode, ...]
    programs: tuple[NonEmpty, ...]
    listed_on: date
    remarks: str


class SanctionsList(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A versioned list; `version` is reported with every screening result."""

    version: NonEmpty
    source: Literal["synthetic"]
    entries: tuple[SanctionsEntry, ...]


def load_sanctions_list(path: Path | None = None) -> SanctionsList:
    """Decode and check the list (the shipped file unless `path` is given)."""
    sanctions = msgspec.json.decode((path or DEFAULT_DATA_FILE).read_bytes(), type=SanctionsList)
    ids = [entry.id for entry in sanctions.entries]
    if len(set(ids)) != len(ids):
        raise ValueError("sanctions list has duplicate entry ids")
    for entry in sanctions.entries:
        # Entities have no birth dates; a date on one is a data error, not something to match on.
        if entry.kind == "entity" and entry.birth_dates:
            raise ValueError(f"{entry.id}: an entity cannot have birth dates")
    return sanctions
