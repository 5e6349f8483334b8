"""The application's infrastructure and the checks every command shares."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from collections.abc import Mapping
from typing import Any, Callable, Iterator, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import Environment, TopicError, strtobool

from core.actors import Actor, Role
from core.chained_stores import CHAIN_BROKEN, ChainedPOPOFactory, ChainedPostgresFactory, ChainedRecorder, ChainedSQLiteFactory
from core.domain import Campaign, Candidacy, Community, Inspection, RubricRecord, Selection, Tenant
from core.domain import ids
from core.errors import (ConcurrentChange, ConfigurationError, InvalidInput, NotFound, RequestTakenOver, RuleViolation,
                         StoreTampered, VersionConflict)
from core.fences import FENCE_LOST
from core.permissions import authorize
from core.plugins import PluginHost
from core.rubric import Rubric, canonical_points, item_ids_text
from core.sidestore import SideStore
from core.storage import StoreConfig, configured_url, parse_url
from core.text import check as check_text_rule, refuse_bad_text, shown as shown_text

A = TypeVar("A", bound=Aggregate)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
AGGREGATE_CACHE_SIZE = 2000
ALL_TENANTS = "*"

_EXPECTED_FACTORIES = {
    "memory": ChainedPOPOFactory,
    "sqlite": ChainedSQLiteFactory,
    "postgres": ChainedPostgresFactory,
}


def unreadable(store: StoreConfig, exc: Exception) -> ConfigurationError:
    """The store holds an event type this version does not know (stored topics never change)."""
    return ConfigurationError(
        f"the store at {store.display!r} holds events this version of Civic Ledger cannot read ({exc}); "
        "use the version that recorded them or a new store"
    )


def project_events(aggregate: Any, domain_events: Any) -> Any:
    """The library's projector without its per-event ``assert isinstance(event,
    CanMutateProtocol)``: a runtime Protocol check that costs about half of every replay on
    Python 3.11. Every stored event of this application is one of its aggregates' events."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class LedgerRepository(Repository[UUID]):
    """The library's repository, projecting with :func:`project_events` by default."""

    def get(self, aggregate_id: UUID, *, version: int | None = None, projector_func: Any = project_events,
            fastforward_skipping: bool = False, deepcopy_from_cache: bool = True) -> Any:
        return super().get(
            aggregate_id, version=version, projector_func=projector_func,
            fastforward_skipping=fastforward_skipping, deepcopy_from_cache=deepcopy_from_cache,
        )


#: Versions the caller expects streams to be at (an HTTP ``If-Match``), checked when a
#: command loads the stream it changes; see :meth:`LedgerBase.expecting`.
_EXPECTED: ContextVar[dict[UUID, int] | None] = ContextVar("civic_expected_versions", default=None)

#: The version each aggregate saved within :meth:`LedgerBase.noting_saves` reached.
_SAVED: ContextVar[dict[UUID, int] | None] = ContextVar("civic_saved_versions", default=None)


class LedgerBase(Application[UUID]):
    """Event store, plugin host and shared command helpers.

    ``store`` is a storage URL or a parsed :class:`StoreConfig`; by default the URL from
    ``CIVIC_DATABASE_URL`` (or the SQLite file beside the project) is used. The library's
    in-memory fallback is never reached: the persistence module is always set explicitly
    and checked after start-up.
    """

    name = "CivicLedger"
    snapshotting_intervals = {Tenant: 200, Community: 50, Campaign: 200, Candidacy: 100, Inspection: 100, Selection: 100}

    def __init__(
        self,
        store: StoreConfig | str | None = None,
        plugins: PluginHost | None = None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.store = store if isinstance(store, StoreConfig) else parse_url(store or configured_url())
        self.plugins = plugins if plugins is not None else PluginHost.discover()
        self._today = today
        self._rubric_cache: dict[str, Rubric] = {}
        try:
            super().__init__(env=dict(self.store.env))
        except ConfigurationError:
            raise  # names the store and what to do already (core.pgschema.NotInitialised)
        except Exception as exc:
            raise ConfigurationError(f"cannot open the event store at {self.store.display!r}: {exc}") from exc
        expected = _EXPECTED_FACTORIES[self.store.kind]
        if type(self.factory) is not expected or not isinstance(self.recorder, ChainedRecorder):
            raise ConfigurationError(
                f"storage {self.store.display!r} resolved to {type(self.factory).__qualname__} with "
                f"{type(self.recorder).__qualname__}, expected {expected.__qualname__} (hash-chained); "
                "refusing to run on the wrong store"
            )

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        """Only the storage URL's settings configure the store.

        The library would also read the process environment (including variables prefixed
        with the application name), which could silently redirect a configured store, for
        example to an in-memory SQLite database.
        """
        settings = {"IS_SNAPSHOTTING_ENABLED": "y", "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE)}
        settings.update(env or {})
        return Environment(name, settings)

    @property
    def side(self) -> SideStore:
        """Tables beside the events in the same database (request records, read models)."""
        store = self.__dict__.get("_side")
        if store is None:
            store = self.__dict__["_side"] = SideStore(self.store, self.recorder)
        return store

    def construct_repository(self) -> LedgerRepository:
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return LedgerRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    # -- event metadata ---------------------------------------------------------

    def today(self) -> str:
        return self._today().isoformat()

    def meta(
        self,
        actor: Actor,
        tenant: str,
        *,
        on: str | None = None,
        reason: str | None = None,
        campaign: str | None = None,
        rubric: str | None = None,
    ) -> dict[str, Any]:
        """Who, when, why and under what: recorded on every event."""
        today = self.today()
        effective = self.check_date("on", on) if on else today
        if effective > today:
            raise InvalidInput("on", on, f"a date on or before today ({today}): nothing is recorded ahead of time")
        return {
            "actor": actor.as_record(),
            "tenant": tenant,
            "effective": effective,
            "reason": reason,
            "campaign": campaign,
            "rubric": rubric,
        }

    # -- loading and saving -------------------------------------------------------

    def load(
        self, cls: type[A], aggregate_id: UUID | str, actor: Actor, kind: str, version: int | None = None,
        *, readonly: bool = False,
    ) -> A:
        """Load an aggregate the actor may see; anything else is NotFound.

        Loads go through an aggregate cache that catches up with the store on every read.
        A command gets its own copy; ``readonly`` hands out the shared cached object, which
        the caller must not change (cheaper for aggregates only read, such as a campaign
        consulted while scoring).
        """
        try:
            uid = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
        except ValueError:
            raise InvalidInput(f"{kind}_id", aggregate_id, "a UUID as printed by the platform") from None
        try:
            aggregate = self.repository.get(uid, version=version, deepcopy_from_cache=not readonly)
        except AggregateNotFoundError:
            raise NotFound(kind, uid) from None
        except TopicError as exc:
            raise unreadable(self.store, exc) from exc
        if not isinstance(aggregate, cls):
            raise NotFound(kind, uid)
        owner = aggregate.code if isinstance(aggregate, Tenant) else getattr(aggregate, "tenant", None)
        if owner is not None and not self.can_see(actor, owner):
            raise NotFound(kind, uid)
        expected = _EXPECTED.get()
        if expected and not readonly and version is None and uid in expected:
            self.check_version(aggregate, expected[uid], kind)
        return aggregate

    @staticmethod
    @contextmanager
    def expecting(stream_id: UUID | str, version: int) -> Iterator[None]:
        """Within this block, a command that loads ``stream_id`` to change it first checks
        that the stream is at ``version`` (else :class:`VersionConflict`, nothing recorded);
        a writer that gets in between is caught by the store (:class:`ConcurrentChange`)."""
        try:
            uid = stream_id if isinstance(stream_id, UUID) else UUID(str(stream_id))
        except ValueError:
            raise InvalidInput("stream_id", stream_id, "a UUID as printed by the platform") from None
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInput("If-Match", version, "the stream version (a whole number >= 1) from the ETag")
        token = _EXPECTED.set({**(_EXPECTED.get() or {}), uid: version})
        try:
            yield
        finally:
            _EXPECTED.reset(token)

    @staticmethod
    @contextmanager
    def noting_saves() -> Iterator[dict[UUID, int]]:
        """Within this block, every aggregate a command saves is noted with the version
        it reached (stream id -> version): an HTTP answer can name the version its write
        produced without loading the stream again."""
        saved: dict[UUID, int] = {}
        token = _SAVED.set(saved)
        try:
            yield saved
        finally:
            _SAVED.reset(token)

    @staticmethod
    def can_see(actor: Actor, tenant: str) -> bool:
        return actor.tenant == tenant or (actor.role is Role.AUDITOR and actor.tenant == ALL_TENANTS)

    def exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def save_all(self, *aggregates: Aggregate) -> None:
        """One atomic write; losing a race with another writer is a ConcurrentChange.

        Every event about to be recorded is first checked against the platform's text rule
        (:mod:`core.text`): whatever interface a command came from, text a store cannot
        hold is refused (InvalidInput) and nothing is recorded."""
        for aggregate in aggregates:
            refuse_bad_text(aggregate.pending_events)
        try:
            self.save(*aggregates)
        except IntegrityError as exc:
            raise ConcurrentChange() from exc
        except Exception as exc:
            if CHAIN_BROKEN in str(exc):  # from the store's linking (Python or the PostgreSQL trigger)
                raise StoreTampered(str(exc).strip().splitlines()[0]) from exc
            if FENCE_LOST in str(exc):  # from the request's write fence (Python or PostgreSQL)
                raise RequestTakenOver() from exc
            raise
        saved = _SAVED.get()
        if saved is not None:
            for aggregate in aggregates:
                saved[aggregate.id] = aggregate.version

    @staticmethod
    def check_version(aggregate: Aggregate, expected: int | None, kind: str) -> None:
        if expected is not None and expected != aggregate.version:
            raise VersionConflict(kind, aggregate.id, expected, aggregate.version)

    def authorize(self, actor: Actor, action: str, tenant: str) -> None:
        authorize(actor, action)
        if actor.tenant != tenant:
            raise NotFound("tenant", tenant)

    # -- rubrics --------------------------------------------------------------------

    def rubric_by_hash(self, content_hash: str) -> Rubric:
        """The rubric version recorded under ``content_hash`` (from the ledger, not a plugin)."""
        cached = self._rubric_cache.get(content_hash)
        if cached is not None:
            return cached
        try:
            record = self.repository.get(ids.rubric_record_id(content_hash))
        except AggregateNotFoundError:
            raise NotFound("rubric version", content_hash) from None
        assert isinstance(record, RubricRecord)
        # The hash is checked on the stored text itself, so a later change to the rubric
        # model (a new field with a default, say) can never make old versions unreadable.
        digest = "sha256:" + hashlib.sha256(record.definition.encode("utf-8")).hexdigest()
        if digest != content_hash:
            raise RuleViolation(f"stored rubric {record.rubric_id}@{record.rubric_version} does not match its hash {content_hash}")
        rubric = Rubric.model_validate_json(record.definition)
        self._rubric_cache[content_hash] = rubric
        return rubric

    def rubric_of(self, campaign: Campaign) -> Rubric:
        return self.rubric_by_hash(campaign.rubric["hash"])

    # -- input checks -------------------------------------------------------------------

    @staticmethod
    def check_date(field: str, value: Any) -> str:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise InvalidInput(field, value, "an ISO date YYYY-MM-DD") from None

    @staticmethod
    def check_text(field: str, value: Any, *, max_length: int = 4000) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(field, value if not isinstance(value, str) else shown_text(value), "non-empty text")
        check_text_rule(field, value)
        if len(value) > max_length:
            raise InvalidInput(field, value[:40] + "…", f"at most {max_length} characters")
        return value.strip()

    @staticmethod
    def check_key(field: str, value: Any, known: Any) -> str:
        """An id that must name one of ``known`` (objection, finding, veto, phase ids)."""
        if not isinstance(value, str) or value not in known:
            raise InvalidInput(field, value, ", ".join(known) or "(none recorded)")
        return value

    @staticmethod
    def check_count(field: str, value: Any, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidInput(field, value, f"a whole number >= {minimum}")
        return value

    @staticmethod
    def check_evidence(field: str, evidence: Any) -> list[dict[str, str]]:
        """Evidence references: file name + SHA-256 of its bytes (the bytes stay elsewhere)."""
        if evidence is None:
            return []
        if not isinstance(evidence, list):
            raise InvalidInput(field, evidence, "a list of {name, sha256}")
        checked = []
        for n, ref in enumerate(evidence):
            if not isinstance(ref, dict) or set(ref) != {"name", "sha256"}:
                raise InvalidInput(f"{field}[{n}]", ref, "an object with exactly 'name' and 'sha256'")
            if not isinstance(ref["name"], str) or not ref["name"].strip():
                raise InvalidInput(f"{field}[{n}].name", ref["name"], "a non-empty file name")
            digest = str(ref["sha256"]).lower()
            if not SHA256.match(digest):
                raise InvalidInput(f"{field}[{n}].sha256", ref["sha256"], "64 hexadecimal characters (SHA-256)")
            checked.append({"name": ref["name"].strip(), "sha256": digest})
        return checked

    @staticmethod
    def check_points(rubric: Rubric, field: str, item_id: str, value: Any) -> Decimal:
        """An item score: a number in [0, item maximum] on the rubric's step."""
        try:
            item = rubric.item(str(item_id))
        except KeyError:
            raise InvalidInput(field, item_id, f"an item id of rubric {rubric.ref} (1 of {len(rubric.items())})") from None
        if isinstance(value, str) and value in rubric.allowed_points(item.id):
            return Decimal(value)  # already canonical: the common case, checked by set lookup
        allowed = f"0 to {item.max_points} in steps of {rubric.step} (item {item.id})"
        if isinstance(value, bool):
            raise InvalidInput(f"{field}[{item.id}]", value, allowed)
        try:
            points = Decimal(str(value))
        except InvalidOperation:
            raise InvalidInput(f"{field}[{item.id}]", value, allowed) from None
        if not points.is_finite() or points < 0 or points > item.max_points or points.adjusted() < -6 or points % rubric.step:
            raise InvalidInput(f"{field}[{item.id}]", value, allowed)
        return Decimal(canonical_points(points))

    def check_sheet(self, rubric: Rubric, field: str, scores: Any, *, complete: bool) -> dict[str, str]:
        """A score sheet as item id -> canonical decimal string, in rubric order."""
        if not isinstance(scores, dict) or not scores:
            raise InvalidInput(field, scores, "an object mapping item ids to points")
        if len({str(k) for k in scores}) != len(scores):
            raise InvalidInput(field, sorted(map(str, scores)), "each item id once")
        checked = {str(k): self.check_points(rubric, field, k, v) for k, v in scores.items()}
        if complete:
            missing = [i.id for i in rubric.items() if i.id not in checked]
            if missing:
                ids = item_ids_text(missing)
                raise InvalidInput(
                    field, f"{len(checked)} items",
                    f"every item of {rubric.ref} (评分表须覆盖全部 {len(rubric.items())} 项；缺第 {ids} 项); missing: {ids}",
                )
        return {i.id: str(checked[i.id]) for i in rubric.items() if i.id in checked}
