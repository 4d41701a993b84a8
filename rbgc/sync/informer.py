"""What a sync waits on, read by list + watch rather than by polling: client-go's informer.

In: the `Cluster` and the objects asked about (`get`). The first question about a kind in a
namespace (a `Feed`) lists it once and starts one watch from the list's resourceVersion, with
bookmarks; every later question is answered from the cache the watch keeps current, so reads
do not grow with how long pods take to get ready. A watch that ends is started again from the
last version seen (a bookmark moves it on while nothing changes); a 410 Gone (the version was
compacted away) lists the feed again. Out: the objects, and `wait`, which returns when a watch
brought something or the time passed.

A write's answer is newer than what the watch said so far (`wrote`): it goes into the cache,
and older events of the same object (a lower `metadata.generation`) are ignored after it, so a
step never reads the state from before its own apply as done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rbgc.sync.cluster import ENDED, Cluster, ClusterError, Feed, Object, Ref, Watches

GONE = 410  # a watch's resourceVersion is too old: list again


@dataclass(slots=True)
class Informer:
    cluster: Cluster
    store: dict[Feed, dict[str, Object]] = field(default_factory=dict)  # name -> object
    versions: dict[Feed, str] = field(default_factory=dict)  # the last resourceVersion seen
    relists: int = 0
    _watches: Watches | None = None
    _floors: dict[Ref, tuple[str, int]] = field(default_factory=dict)  # uid, generation

    def follow(self, feed: Feed) -> None:
        """List `feed` and watch it from there, once."""
        if feed in self.store:
            return
        self._list(feed)
        self._start(feed)

    def get(self, ref: Ref) -> Object | None:
        """The object as the watch last showed it (None: it does not exist)."""
        feed = Feed.of(ref)
        self.follow(feed)
        return self.store[feed].get(ref.name)

    def objects(self, feed: Feed) -> list[Object]:
        self.follow(feed)
        return [self.store[feed][name] for name in sorted(self.store[feed])]

    def wrote(self, body: Mapping[str, Any]) -> None:
        """A write's answer: the object as it is now, newer than any event not yet read."""
        ref = Ref.of(body)
        meta = body.get("metadata") or {}
        generation = meta.get("generation")
        if isinstance(generation, int):
            self._floors[ref] = (str(meta.get("uid") or ""), generation)
        feed = Feed.of(ref)
        if feed in self.store:
            self.store[feed][ref.name] = dict(body)

    def wait(self, seconds: float) -> list[tuple[Feed, Object]]:
        """Wait up to `seconds` for the watches' next events and take them in; the events
        (bookmarks and ends left out). `ClusterError` when a watch failed for another
        reason than an expired version (a 403: RBAC does not grant `watch`)."""
        if self._watches is None:
            self._watches = self.cluster.watches()
        out = []
        for feed, event in self._watches.wait(seconds):
            kind = event.get("type")
            body = event.get("object") or {}
            if kind == ENDED:
                self._start(feed)
            elif kind == "ERROR":
                if int(body.get("code") or 0) != GONE:
                    raise ClusterError(
                        int(body.get("code") or 500),
                        str(body.get("reason") or "Error"),
                        str(body.get("message") or "the watch failed"),
                    )
                self.relists += 1
                self._list(feed)
                self._start(feed)
            elif feed in self.store:
                version = str((body.get("metadata") or {}).get("resourceVersion") or "")
                if version:
                    self.versions[feed] = version
                if kind != "BOOKMARK" and self._take(feed, str(kind), body):
                    out.append((feed, event))
        return out

    def close(self) -> None:
        if self._watches is not None:
            self._watches.stop()
            self._watches = None

    def _list(self, feed: Feed) -> None:
        found, version = self.cluster.list_feed(feed)
        self.store[feed] = {}
        for body in found:
            self._take(feed, "ADDED", body)
        self.versions[feed] = version

    def _start(self, feed: Feed) -> None:
        if self._watches is None:
            self._watches = self.cluster.watches()
        self._watches.start(feed, self.versions.get(feed, ""))

    def _take(self, feed: Feed, kind: str, body: Mapping[str, Any]) -> bool:
        """Put an event's object in the cache unless it is older than a write's answer."""
        meta = body.get("metadata") or {}
        name = str(meta.get("name") or "")
        ref = Ref(feed.api_version, feed.kind, feed.namespace or str(meta.get("namespace")), name)
        floor = self._floors.get(ref)
        generation = meta.get("generation")
        if (
            floor is not None
            and kind != "DELETED"
            and str(meta.get("uid") or "") == floor[0]
            and isinstance(generation, int)
            and generation < floor[1]
        ):
            return False
        if kind == "DELETED":
            self.store[feed].pop(name, None)
            self._floors.pop(ref, None)
        else:
            self.store[feed][name] = {"apiVersion": feed.api_version, "kind": feed.kind, **body}
        return True
