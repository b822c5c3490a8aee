"""A local stand-in for the Kaggle API that speaks the protocol of the official client (kaggle 2.2.4).

What `KaggleApi.dataset_download_files` sends, and what this server answers:

1. With an access token (KAGGLE_API_TOKEN), `authenticate()` first checks it:
   POST /api/v1/security.OAuthService/IntrospectToken, JSON {"token": ...} -> {"active": bool, "username": ...}.
2. POST /api/v1/datasets.DatasetApiService/DownloadDataset, JSON {"ownerSlug": ..., "datasetSlug": ...},
   with HTTP Basic auth (username, key) or `Authorization: Bearer <token>`. Kaggle answers 302 to a signed
   storage URL; an error is a JSON body {"code": <status>, "message": ...} with that HTTP status. These calls
   are not retried: an HTTP error or a refused connection reaches the caller at once.
3. requests follows the redirect with a GET (the POST body dropped). The client reads Content-Length,
   Last-Modified, ETag and Accept-Ranges, streams the body into `<slug>.zip` and compares its size with
   Content-Length. A transfer broken off mid-way is retried up to 5 times, after sleeps of 2 to 32 s, with
   `Range: bytes=<size so far>-` and `If-Range: <ETag>`; a 206 answer is appended, a 200 one starts over, and
   any other status is requested again without Range and saved as it comes.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/api/v1"
DOWNLOAD_DATASET = f"{API}/datasets.DatasetApiService/DownloadDataset"
INTROSPECT_TOKEN = f"{API}/security.OAuthService/IntrospectToken"
STORAGE = "/storage/"
ETAG = '"fake-kaggle-archive-1"'
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


@dataclass
class FakeKaggle:
    """What the server knows (accounts, data sets) and how it should misbehave; it records every request."""

    username: str = "tester"
    key: str = "0123456789abcdef"
    token: str = "KGAT_test_token"
    datasets: dict[str, bytes] = field(default_factory=dict)  # "owner/slug" -> zip archive bytes
    api_status: int | None = None  # answer every API call with this HTTP error status instead
    broken_transfers: int = 0  # this many archive downloads promise the whole range, send half and hang up
    storage_status: int | None = None  # archive downloads after the broken ones answer with this HTTP error
    url: str = ""
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Range header)

    def authorized(self, header: str | None) -> bool:
        basic = base64.b64encode(f"{self.username}:{self.key}".encode()).decode()
        return header in (f"Basic {basic}", f"Bearer {self.token}")


class KaggleHandler(BaseHTTPRequestHandler):
    server: KaggleHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
        pass

    def send_json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status: int, message: str) -> None:
        self.send_json(status, {"code": status, "message": message})

    def do_POST(self) -> None:
        fake = self.server.fake
        fake.seen.append(("POST", self.path, ""))
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if fake.api_status is not None:
            return self.send_error_json(fake.api_status, "simulated failure")
        if self.path == INTROSPECT_TOKEN:
            active = request.get("token") == fake.token
            return self.send_json(200, {"active": active, "username": fake.username if active else ""})
        if self.path != DOWNLOAD_DATASET:
            return self.send_error_json(404, "Not found")
        if not fake.authorized(self.headers.get("Authorization")):
            return self.send_error_json(401, "Unauthenticated")
        ref = f"{request.get('ownerSlug')}/{request.get('datasetSlug')}"
        if ref not in fake.datasets:
            return self.send_error_json(404, "Not found")
        self.send_response(302)
        self.send_header("Location", f"{fake.url}{STORAGE}{ref}.zip")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        fake = self.server.fake
        fake.seen.append(("GET", self.path, self.headers.get("Range", "")))
        ref = self.path.removeprefix(STORAGE).removesuffix(".zip")
        if not self.path.startswith(STORAGE) or ref not in fake.datasets:
            return self.send_error_json(404, "Not found")
        if fake.broken_transfers == 0 and fake.storage_status is not None:
            return self.send_error_json(fake.storage_status, "simulated storage failure")
        archive = fake.datasets[ref]
        start = 0
        ranged = self.headers.get("Range", "").startswith("bytes=") and self.headers.get("If-Range") in (None, ETAG)
        if ranged:
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
        body = archive[start:]
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{len(archive) - 1}/{len(archive)}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", ETAG)
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        if fake.broken_transfers > 0:
            fake.broken_transfers -= 1
            body = body[: len(body) // 2]
        self.wfile.write(body)
        # HTTP/1.0: the connection closes here, so a short body is a transfer broken off mid-way.


class KaggleHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeKaggle) -> None:
        super().__init__(("127.0.0.1", 0), KaggleHandler)
        self.fake = fake
        fake.url = f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def running_server(fake: FakeKaggle) -> Iterator[str]:
    """Serve `fake` on a free port of 127.0.0.1 from a background thread; yield its base URL."""
    server = KaggleHTTPServer(fake)
    # A short poll interval: shutdown() waits for the serving loop's next look at its stop flag.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield fake.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
