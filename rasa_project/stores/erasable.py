"""Rasa's SQL tracker store, made able to forget a conversation.

Rasa's `SQLTrackerStore.save` only appends: it counts the events it holds for the sender
(since the last session start) and inserts the tracker's events past that number. A
tracker replaced with fewer events (the gateway's erasure: `PUT
/conversations/<id>/tracker/events` with `[]`) therefore changes nothing in the database.

`ErasableSQLTrackerStore` keeps that behaviour for every ordinary save, and when a tracker
holds fewer events than are stored for its sender it deletes all of that sender's rows
(every session) and writes the tracker's events in the same transaction: a replace.
endpoints.production.yml names it as the tracker store's `type` (same settings as `SQL`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class ErasableSQLTrackerStore(SQLTrackerStore):
    """An SQL tracker store where a shorter tracker replaces the stored one (so [] erases)."""

    def _additional_events(
        self, session: Session, tracker: DialogueStateTracker
    ) -> Iterator[Event]:
        """The events to insert: the new ones, or all of them after deleting the old rows."""
        stored = self._event_query(
            session, tracker.sender_id, fetch_events_from_all_sessions=False
        ).count()
        if len(tracker.events) >= stored:
            return itertools.islice(tracker.events, stored, len(tracker.events))
        # Fewer events than stored: a replace. Committed with the inserts by `save`.
        session.query(self.SQLEvent).filter(
            self.SQLEvent.sender_id == tracker.sender_id
        ).delete(synchronize_session=False)
        return iter(list(tracker.events))
