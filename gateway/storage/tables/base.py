"""What every table module shares: the row base class and the column types."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class TableRow(SQLModel):
    """A row of a table on the one `SQLModel.metadata`; repositories query its Core `__table__`."""

    if TYPE_CHECKING:  # declarative sets it on every `table=True` class; SQLModel does not declare it
        __table__: ClassVar[sa.Table]


class DecimalText(sa.types.TypeDecorator[Decimal]):
    """Decimal stored as its exact text: SQLite has no decimal type and would round through a float."""

    impl = sa.String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else format(value, "f")

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def json_field() -> Any:
    return Field(sa_column=sa.Column(sa.JSON, nullable=False))


def moment_field(*, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=index))


def decimal_field(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(DecimalText(), nullable=nullable))
