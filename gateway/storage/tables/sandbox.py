"""The sandbox's workspaces: each app's generation of persona copies (sandbox/workspaces.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from gateway.storage.tables.base import TableRow, moment_field


class SandboxWorkspaceRow(TableRow, table=True):
    """An app that reset its personas at least once; an app without a row is in generation 0."""

    __tablename__ = "sandbox_workspaces"

    client_id: str = Field(primary_key=True, max_length=64)
    generation: int
    reset_at: datetime = moment_field()


class PersonaCopyRow(TableRow, table=True):
    """One persona as it lives in one app's workspace; the customer row holds the copy itself."""

    __tablename__ = "sandbox_persona_copies"

    customer_id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(index=True, max_length=64)
    generation: int
    persona: str = Field(max_length=100)
    created_at: datetime = moment_field()


class TestClockRow(TableRow, table=True):
    """A sandbox app's test clock (sandbox/clocks.py)."""

    __tablename__ = "sandbox_test_clocks"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=100)
    frozen_time: datetime = moment_field()
    created_at: datetime = moment_field()


class ClockAttachmentRow(TableRow, table=True):
    """A persona copy that lives in a test clock's time; a customer is on one clock at most."""

    __tablename__ = "sandbox_clock_attachments"

    customer_id: str = Field(primary_key=True, max_length=40)
    clock_id: str = Field(index=True, max_length=40)
    persona: str = Field(max_length=100)
