"""What the releases package needs of the application that runs it, stated once.

pipeline's `App` is the one implementation: it reads the configuration file and
wires the packages together. releases states here what its commands and its
promotion use of it, so that it never imports pipeline, channels or notify; the
hooks (`promotion_gates`, `after_promotion`, `next_push`) reach those packages
through the App. channels extends this Protocol with what it adds
(channels.app.ChannelsApp) and notify extends channels' (notify.app.NotifyApp);
notes stands alone and states its own (notes.app.NotesApp).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console

    from releases.artifacts.artifact import ArtifactStore
    from releases.artifacts.buildview import Build
    from releases.hosts.hostspec import HostSpec
    from releases.hosts.remote import ConnectSettings
    from releases.records.ledger import Ledger
    from releases.records.reads import Rows
    from releases.tiers.promote import GateVerdict


class TierSettings(Protocol):
    """One checked [[tiers]] table (pipeline.TierConfig)."""

    @property
    def name(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def url(self) -> str: ...            # channels' key too: where the tier's readers use it
    @property
    def hosts(self) -> tuple[HostSpec, ...]: ...
    @property
    def deploy_path(self) -> str: ...
    @property
    def health_check(self) -> str: ...
    @property
    def pre_activate(self) -> str: ...
    @property
    def post_activate(self) -> str: ...
    @property
    def shared(self) -> tuple[str, ...]: ...
    @property
    def keep(self) -> int: ...
    @property
    def parallel(self) -> int: ...
    @property
    def on_failure(self) -> str: ...


class ProjectSettings(Protocol):
    """The checked configuration as the packages read it (pipeline.Config)."""

    @property
    def base_dir(self) -> Path: ...
    @property
    def project_name(self) -> str: ...
    @property
    def repo(self) -> Path: ...
    @property
    def branch(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def build_command(self) -> str: ...
    @property
    def build_output(self) -> str: ...
    @property
    def ledger_url(self) -> str: ...
    @property
    def artifacts_dir(self) -> Path: ...
    @property
    def tiers(self) -> Sequence[TierSettings]: ...

    def tier(self, name: str) -> TierSettings: ...

    def tier_names(self) -> list[str]: ...

    def section(self, name: str) -> dict[str, Any]: ...


class Window(Protocol):
    """The next push window as releases shows it (channels.calendar.calendar.PushWindow is one)."""

    @property
    def start(self) -> datetime: ...
    @property
    def start_utc(self) -> datetime: ...


class ReleasesApp(Protocol):
    """What releases' commands and promotion use of pipeline's App."""

    @property
    def config(self) -> ProjectSettings: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def out(self) -> Console: ...
    @property
    def err(self) -> Console: ...
    @property
    def json(self) -> bool: ...
    @property
    def store(self) -> ArtifactStore: ...

    def emit_json(self, payload: Any) -> None: ...

    def confirm(self, question: str, yes: bool) -> bool: ...

    def next_push(self) -> Window | None: ...

    def ledger_rows(self, others: Mapping[str, int] | None = None) -> AbstractContextManager[Rows]:
        """One read of the ledger (releases.records.reads.reading): no SQLAlchemy on a SQLite ledger."""
        ...

    def resolve_build(self, spec: str) -> Build: ...

    def connect_settings(self) -> ConnectSettings: ...

    def promotion_gates(self, build: Build, tier: str) -> Sequence[GateVerdict]:
        """Every gate's verdict: channels' gates and the notice gates."""
        ...

    def record_override(self, build: Build, tier: str, gates: list[str], reason: str) -> None: ...

    def after_promotion(self, build: Build, tier: str) -> None:
        """Called once after a rollout succeeded: notices, the release tag."""
        ...
