"""The drill's steady workload: objects written into the writer region's bucket and loaded by
its loader, and reads through the web tier at the address Route 53's (modelled) answer gives.

Every upload S3 acknowledged is recorded with its event ids (each must end up in the writer's
database); every read is recorded with the region it reached and whether it succeeded (a
client-visible error is a failed read).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from tapstack_lab.drill.lab import Lab

#: The read clients issue: the latest events, as the web tier's read endpoint serves them.
READ_PATH = "/events?latest=5"


@dataclass(frozen=True)
class Upload:
    at: float
    seq: int
    region: str
    key: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Read:
    """One read: when it ended (``at``) and when it was sent."""

    at: float
    client: int
    region: str | None
    ok: bool
    status: int | None
    error: str | None = None
    sent: float = 0.0


class Workload:
    """A producer uploading ``records`` events every ``put_every`` seconds into the configured
    writer region's bucket, and ``clients`` readers each reading every ``read_every``
    seconds through their own resolver (caches with the record's TTL, whose first answers
    count as TTL/clients apart in age, so their caches expire at different times)."""

    def __init__(
        self,
        lab: Lab,
        *,
        put_every: float = 0.5,
        records: int = 4,
        clients: int = 3,
        read_every: float = 0.25,
    ) -> None:
        self.lab = lab
        self.put_every = put_every
        self.records = records
        self.clients = clients
        self.read_every = read_every
        self.uploads: list[Upload] = []
        self.failed_uploads: list[tuple[float, str, str]] = []
        self.reads: list[Read] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seq = itertools.count(1)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._produce, name="producer", daemon=True)]
        for client in range(self.clients):
            self._threads.append(
                threading.Thread(
                    target=self._read, args=(client,), name=f"reader {client}", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def acknowledged_ids(self) -> set[str]:
        with self._lock:
            return {i for upload in self.uploads for i in upload.ids}

    def _produce(self) -> None:
        while not self._stop.wait(self.put_every):
            seq = next(self._seq)
            region = self.lab.writer()
            key = f"incoming/drill/{seq:06d}.jsonl"
            ids = tuple(f"drill-{seq:06d}-{n}" for n in range(self.records))
            now = datetime.now(UTC).isoformat()
            body = "".join(
                json.dumps({"id": i, "occurred_at": now, "type": "drill", "payload": {"seq": seq}})
                + "\n"
                for i in ids
            ).encode()
            try:
                self.lab.buckets.put(region, key, body)
            except Exception as error:
                with self._lock:
                    self.failed_uploads.append((time.monotonic(), region, str(error)))
                continue
            with self._lock:
                self.uploads.append(Upload(time.monotonic(), seq, region, key, ids))

    def _read(self, client: int) -> None:
        resolver = self.lab.prober.client(age=client * self.lab.ttl / self.clients)
        targets = {web.url: region for region, web in self.lab.web.items()}
        while not self._stop.wait(self.read_every):
            sent = time.monotonic()
            target = resolver.resolve(sent)
            region = targets.get(target)
            status: int | None = None
            error: str | None = None
            try:
                with urllib.request.urlopen(target + READ_PATH, timeout=2) as response:  # noqa: S310
                    status = response.status
                    document = json.loads(response.read())
                    ok = status == 200 and isinstance(document.get("events"), list)
            except urllib.error.HTTPError as failure:
                status, ok, error = failure.code, False, f"HTTP {failure.code}"
                with contextlib.suppress(Exception):
                    failure.close()
            except (OSError, ValueError) as failure:
                ok, error = False, f"{type(failure).__name__}: {failure}"
            with self._lock:
                self.reads.append(
                    Read(time.monotonic(), client, region, ok, status, error, sent=sent)
                )
