"""The Kaggle download runs the real `kaggle` client against a local fake of the Kaggle API (tests/kaggle_server.py).

Every test is cut off from the developer's credentials and configuration (HOME, KAGGLE_* variables, proxies)
and from the real network: every endpoint the client can choose points at the local server.
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from kaggle_server import DOWNLOAD_DATASET, INTROSPECT_TOKEN, STORAGE, FakeKaggle, running_server

from gandct.errors import GandctError
from gandct.fileio import read_csv
from gandct.stages.download import download_kaggle, extract_archive

DATASET = "someone/deepfake-faces"
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def png_bytes(seed: int) -> bytes:
    """A small real PNG image."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    return cv2.imencode(".png", pixels)[1].tobytes()


# Both layouts label_from_path reads (real_*/fake_* and real/ fake/), and files outside any labelled folder.
GOOD_MEMBERS = {
    "real_images/r0.png": png_bytes(0),
    "fake_stylegan/f0.png": png_bytes(1),
    "faces/real/r1.png": png_bytes(2),
    "faces/fake/f1.png": png_bytes(3),
    "faces/notes/n0.png": png_bytes(4),
    "README.md": b"# deepfake faces\n",
}
EXPECTED_ROWS = [  # (path, label, group, generator), sorted by path
    ("README.md", "", "README", ""),
    ("faces/fake/f1.png", "fake", "faces/fake/f1", "unknown"),
    ("faces/notes/n0.png", "", "faces/notes/n0", ""),
    ("faces/real/r1.png", "real", "faces/real/r1", ""),
    ("fake_stylegan/f0.png", "fake", "fake_stylegan/f0", "stylegan"),
    ("real_images/r0.png", "real", "real_images/r0", ""),
]


def zip_bytes(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """A zip archive of `members`; `symlinks` (name -> target) are stored as Unix symbolic links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.mkdir("faces")
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix, so the high 16 bits of external_attr are the file mode
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def set_central_directory_field(archive: bytes, offset: int, value: int) -> bytes:
    """Overwrite a 2-byte field of every central directory entry (8: flags, 10: compression method)."""
    data = bytearray(archive)
    start = data.find(b"PK\x01\x02")
    while start != -1:
        struct.pack_into("<H", data, start + offset, value)
        start = data.find(b"PK\x01\x02", start + 4)
    return bytes(data)


def tree(root: Path) -> dict[str, bytes | str]:
    """Everything below `root`: files with their bytes, folders and links marked, hidden entries included."""
    entries: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            entries[name] = f"link to {os.readlink(path)}"
        elif path.is_dir():
            entries[name] = "folder"
        else:
            entries[name] = path.read_bytes()
    return entries


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """`data/raw` holding an earlier Kaggle download and another source's files."""
    raw = tmp_path / "data" / "raw"
    (raw / "kaggle" / "real").mkdir(parents=True)
    (raw / "kaggle" / "real" / "old.png").write_bytes(png_bytes(99))
    (raw / "kaggle" / "files.csv").write_text("path,label,group,generator,origin\nreal/old.png,real,real/old,,k\n")
    (raw / "sample").mkdir()
    (raw / "sample" / "files.csv").write_text("path,label,group,generator,origin\n")
    return raw


@pytest.fixture
def kaggle_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The client's module, seeing an empty home folder, no KAGGLE_* variables and no proxy."""
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    for name in list(os.environ):
        if name.startswith("KAGGLE_") or name.lower() in PROXY_VARIABLES or name in {"NETRC", "VERBOSE"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    from kaggle.api import kaggle_api_extended

    # KaggleApi reads its config folder and its --local flag once, when first imported (perhaps before this
    # test's environment was set): give it the values a fresh process would compute here.
    api_class = kaggle_api_extended.KaggleApi
    monkeypatch.setattr(api_class, "config_dir", str(home / ".kaggle"))
    monkeypatch.setattr(api_class, "config", str(home / ".kaggle" / "kaggle.json"))
    monkeypatch.setattr(api_class, "args", ["--local"])
    return kaggle_api_extended


@pytest.fixture
def fake_kaggle(kaggle_module, monkeypatch: pytest.MonkeyPatch):
    """A running fake Kaggle serving DATASET; the client holds its legacy API key in KAGGLE_USERNAME/KAGGLE_KEY."""
    from kagglesdk import kaggle_env

    fake = FakeKaggle(datasets={DATASET: zip_bytes(GOOD_MEMBERS)})
    with running_server(fake) as url:
        # Every environment, not only LOCAL (http://localhost), so no setting can reach the real Kaggle.
        for env in kaggle_env.KaggleEnv:
            monkeypatch.setitem(kaggle_env._env_to_endpoint, env, url)
        monkeypatch.setenv("KAGGLE_USERNAME", fake.username)
        monkeypatch.setenv("KAGGLE_KEY", fake.key)
        yield fake


def download_fails(raw: Path, dataset: str = DATASET) -> str:
    """Run the download expecting a GandctError; check `data/raw` is byte for byte as before; return the message."""
    before = tree(raw)
    with pytest.raises(GandctError) as caught:
        download_kaggle(dataset, raw / "kaggle")
    assert tree(raw) == before
    return str(caught.value)


# --- success ---------------------------------------------------------------------------------------------


def test_download_replaces_the_earlier_one_and_labels_files(fake_kaggle: FakeKaggle, raw: Path) -> None:
    sample_before = tree(raw / "sample")
    download_kaggle(DATASET, raw / "kaggle")

    assert fake_kaggle.seen == [("POST", DOWNLOAD_DATASET, ""), ("GET", f"{STORAGE}{DATASET}.zip", "")]
    assert sorted(p.name for p in raw.iterdir()) == ["kaggle", "sample"]  # no temporary folder left behind
    assert tree(raw / "sample") == sample_before
    extracted = {name: data for name, data in tree(raw / "kaggle").items() if data != "folder"}
    assert extracted.pop("files.csv")
    assert extracted == GOOD_MEMBERS  # the earlier download's real/old.png is gone
    rows = read_csv(raw / "kaggle" / "files.csv")
    assert [(row["path"], row["label"], row["group"], row["generator"]) for row in rows] == EXPECTED_ROWS
    assert {row["origin"] for row in rows} == {f"kaggle:{DATASET}"}


def test_credentials_from_kaggle_json(fake_kaggle: FakeKaggle, raw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    config = Path.home() / ".kaggle" / "kaggle.json"
    config.write_text(json.dumps({"username": fake_kaggle.username, "key": fake_kaggle.key}))
    config.chmod(0o600)
    download_kaggle(DATASET, raw / "kaggle")
    assert (raw / "kaggle" / "fake_stylegan" / "f0.png").read_bytes() == GOOD_MEMBERS["fake_stylegan/f0.png"]


def test_access_token(fake_kaggle: FakeKaggle, raw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", fake_kaggle.token)
    download_kaggle(DATASET, raw / "kaggle")
    assert ("POST", INTROSPECT_TOKEN, "") in fake_kaggle.seen
    assert (raw / "kaggle" / "real_images" / "r0.png").read_bytes() == GOOD_MEMBERS["real_images/r0.png"]


# --- credentials -------------------------------------------------------------------------------------------


def assert_explains_credentials(message: str) -> None:
    for hint in ("KAGGLE_USERNAME", "KAGGLE_KEY", "~/.kaggle/kaggle.json", "https://www.kaggle.com/settings/api"):
        assert hint in message


def test_no_credentials(
    fake_kaggle: FakeKaggle, raw: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    message = download_fails(raw)
    assert message.startswith("no valid Kaggle credentials found")
    assert_explains_credentials(message)
    assert fake_kaggle.seen == []
    assert "Authentication required" not in capsys.readouterr().out  # the client's own help is not shown too


def test_rejected_key(fake_kaggle: FakeKaggle, raw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_KEY", "wrong-key")
    message = download_fails(raw)
    assert "refused the credentials" in message
    assert "HTTP 401" in message
    assert_explains_credentials(message)


def test_rejected_token(fake_kaggle: FakeKaggle, raw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_expired")
    message = download_fails(raw)
    assert message.startswith("no valid Kaggle credentials found")
    assert fake_kaggle.seen == [("POST", INTROSPECT_TOKEN, "")]


# --- server and network --------------------------------------------------------------------------------------


def test_unknown_dataset(fake_kaggle: FakeKaggle, raw: Path) -> None:
    message = download_fails(raw, "someone/no-such-data")
    assert "'someone/no-such-data' not found (HTTP 404)" in message
    assert "data.kaggle_dataset" in message


@pytest.mark.parametrize("status", [500, 503])
def test_server_error(fake_kaggle: FakeKaggle, raw: Path, status: int) -> None:
    fake_kaggle.api_status = status
    message = download_fails(raw)
    assert f"Kaggle server error (HTTP {status})" in message
    assert "try again later" in message


@pytest.mark.parametrize("credentials", ["key", "token"])
def test_no_network(fake_kaggle: FakeKaggle, raw: Path, monkeypatch: pytest.MonkeyPatch, credentials: str) -> None:
    from kagglesdk import kaggle_env

    if credentials == "token":  # checked online while authenticating, before the download starts
        monkeypatch.delenv("KAGGLE_USERNAME")
        monkeypatch.delenv("KAGGLE_KEY")
        monkeypatch.setenv("KAGGLE_API_TOKEN", fake_kaggle.token)

    with socket.socket() as probe:  # a port nobody listens on once the probe is closed: connection refused
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setitem(kaggle_env._env_to_endpoint, kaggle_env.KaggleEnv.LOCAL, f"http://127.0.0.1:{closed_port}")
    message = download_fails(raw)
    assert "could not reach Kaggle" in message
    assert "no network?" in message


@pytest.fixture
def no_sleep(kaggle_module, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's sleeps instead of waiting them out; return the list of delays asked for."""
    # After a broken transfer the client sleeps 2, 4, 8, 16, 32 s (plus jitter) between its 5 retries.
    # `kaggle_api_extended.time` is the time module itself, so this holds for the whole test.
    sleeps: list[float] = []
    monkeypatch.setattr(kaggle_module.time, "sleep", sleeps.append)
    return sleeps


def test_transfer_broken_off_once_is_resumed(fake_kaggle: FakeKaggle, raw: Path, no_sleep: list[float]) -> None:
    fake_kaggle.broken_transfers = 1
    download_kaggle(DATASET, raw / "kaggle")
    assert len(no_sleep) == 1
    assert fake_kaggle.seen[-1] == ("GET", f"{STORAGE}{DATASET}.zip", "bytes=0-")  # the client's resume request
    assert (raw / "kaggle" / "faces" / "real" / "r1.png").read_bytes() == GOOD_MEMBERS["faces/real/r1.png"]


def test_transfer_broken_off_every_time(fake_kaggle: FakeKaggle, raw: Path, no_sleep: list[float]) -> None:
    fake_kaggle.broken_transfers = 100
    message = download_fails(raw)
    assert message.startswith(f"Kaggle download of {DATASET} broke off")
    assert "IncompleteRead" in message
    assert len(no_sleep) == 5


def test_transfer_broken_off_then_storage_fails(fake_kaggle: FakeKaggle, raw: Path, no_sleep: list[float]) -> None:
    # The client's retry does not check the status: it saves the error page and then finds the size wrong.
    fake_kaggle.broken_transfers = 1
    fake_kaggle.storage_status = 503
    message = download_fails(raw)
    assert message.startswith(f"Kaggle download of {DATASET} broke off")
    assert "does not match expected size" in message


# --- archive content --------------------------------------------------------------------------------------


def test_truncated_zip(fake_kaggle: FakeKaggle, raw: Path) -> None:
    archive = fake_kaggle.datasets[DATASET]
    fake_kaggle.datasets[DATASET] = archive[: len(archive) * 2 // 3]
    message = download_fails(raw)
    assert "unreadable archive deepfake-faces.zip" in message


def test_member_failing_its_crc(fake_kaggle: FakeKaggle, raw: Path) -> None:
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("real/r0.png", GOOD_MEMBERS["real_images/r0.png"])
    damaged = stored.getvalue().replace(b"IDAT", b"IDAX", 1)
    fake_kaggle.datasets[DATASET] = damaged
    message = download_fails(raw)
    assert "broken archive deepfake-faces.zip: member 'real/r0.png' fails its CRC check" in message


@pytest.mark.parametrize(
    ("offset", "value", "problem"),
    [(10, 9, "compression method is not supported"), (8, 1, "encrypted")],
    ids=["deflate64", "encrypted"],
)
def test_archive_zipfile_cannot_read(fake_kaggle: FakeKaggle, raw: Path, offset: int, value: int, problem: str):
    fake_kaggle.datasets[DATASET] = set_central_directory_field(zip_bytes(GOOD_MEMBERS), offset, value)
    message = download_fails(raw)
    assert "unreadable archive deepfake-faces.zip" in message
    assert problem in message


@pytest.mark.parametrize(
    ("members", "symlinks", "problem"),
    [
        ({"../evil.png": b"x"}, None, "'../evil.png' points outside the target folder"),
        ({"real/../../evil.png": b"x"}, None, "'real/../../evil.png' points outside the target folder"),
        ({"..\\evil.png": b"x"}, None, "points outside the target folder"),
        ({"/tmp/evil.png": b"x"}, None, "'/tmp/evil.png' has an absolute path"),
        ({"C:/evil.png": b"x"}, None, "'C:/evil.png' has an absolute path"),
        ({}, {"real/evil.png": "/etc/passwd"}, "'real/evil.png' is a symbolic link"),
    ],
    ids=["dotdot", "nested-dotdot", "backslash-dotdot", "absolute", "drive-letter", "symlink"],
)
def test_unsafe_member(fake_kaggle: FakeKaggle, raw: Path, members: dict, symlinks: dict | None, problem: str):
    fake_kaggle.datasets[DATASET] = zip_bytes({**GOOD_MEMBERS, **members}, symlinks)
    message = download_fails(raw)
    assert message.startswith("unsafe archive: member")
    assert problem in message


def test_unsafe_member_refused_before_extracting_anything(tmp_path: Path) -> None:
    archive = tmp_path / "mixed.zip"
    archive.write_bytes(zip_bytes(GOOD_MEMBERS, {"zz/link.png": "../../secret"}))  # the link comes last
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(GandctError, match="is a symbolic link"):
        extract_archive(archive, target)
    assert list(target.iterdir()) == []


def test_dataset_without_labelled_folders(fake_kaggle: FakeKaggle, raw: Path) -> None:
    fake_kaggle.datasets[DATASET] = zip_bytes({"faces/a.png": png_bytes(5), "README.md": b"no labels\n"})
    message = download_fails(raw)
    assert "no file is under a real/ or fake/ folder" in message
