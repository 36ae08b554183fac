"""The services' concurrency guarantees, with real threads on real storages."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sessions_blob.backends.storage import SessionStore
from tests.support.uploads import edit_upload
from tests.uploads.conftest import GOOD_CSV, Api, Backend
from uploads import profiling, services
from uploads.documents import PHASES, RunProgress, UploadDocument, display_name
from uploads.exceptions import UploadError


def _files(*names: str) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, GOOD_CSV, "text/csv") for name in names]


def _run_together(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; results or errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_process_calls_that_loaded_together_cannot_both_run(
    api: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, log_lines: Any
) -> None:
    """Both callers read "uploaded" before either writes: the compare-and-set
    lets one through and sends the other back to re-read, and it sees
    "processing". (With a plain save both would profile the files.)"""
    session_id = api.new_session()
    both_loaded = threading.Barrier(2, timeout=10)
    first_load: set[int] = set()
    real_load = SessionStore.load

    def load_together(store: SessionStore) -> Any:
        data = real_load(store)
        me = threading.get_ident()
        if me not in first_load:
            first_load.add(me)
            both_loaded.wait()
        return data

    monkeypatch.setattr(SessionStore, "load", load_together)

    results = _run_together(
        2, lambda i: services.upload_session_process(session_key=session_id)
    )

    done = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, UploadError)]
    assert len(done) == 1, results
    assert [e.code for e in refused] == ["already_processing"]
    assert done[0].doc.status == "completed"
    runs = [r for r in log_lines.records if "processing 1 file(s)" in r.getMessage()]
    assert len(runs) == 1


def test_many_concurrent_process_calls_run_once(
    api: Api, backend: Backend, log_lines: Any
) -> None:
    session_id = api.new_session()

    results = _run_together(
        6, lambda i: services.upload_session_process(session_key=session_id)
    )

    done = [r for r in results if not isinstance(r, Exception)]
    codes = sorted(r.code for r in results if isinstance(r, UploadError))
    assert len(done) == 1, results
    assert set(codes) <= {"already_processing", "nothing_to_process"}
    assert len(codes) == 5
    runs = [r for r in log_lines.records if "processing 1 file(s)" in r.getMessage()]
    assert len(runs) == 1


def test_concurrent_uploads_to_one_session_keep_every_file(
    api: Api, backend: Backend
) -> None:
    session_id = api.new_session()
    store = SessionStore(session_id)

    results = _run_together(
        4,
        lambda i: services.upload_session_add_files(
            session=SessionStore(session_id),
            files=_files(f"{i}.csv"),
            create=False,
        ),
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    final = services.upload_session_get(session_key=session_id).doc
    assert sorted(f.name for f in final.files) == [
        "0.csv",
        "1.csv",
        "2.csv",
        "3.csv",
        "good.csv",
    ]
    assert sorted(f.path for f in final.files) == backend.files()
    assert store.session_key == session_id


def test_upload_racing_a_delete_leaves_nothing_behind(
    api: Api, backend: Backend
) -> None:
    session_id = api.new_session()

    def work(i: int) -> Any:
        if i == 0:
            return services.upload_session_delete(session_key=session_id)
        return services.upload_session_add_files(
            session=SessionStore(session_id),
            files=_files("late.csv"),
            create=False,
        )

    results = _run_together(2, work)

    added = results[1]
    if isinstance(added, UploadError):  # the delete came first
        assert added.code == "session_not_found"
    assert backend.files() == []
    with pytest.raises(UploadError) as err:
        services.upload_session_get(session_key=session_id)
    assert err.value.code == "session_not_found"


def test_a_new_session_is_created_on_the_callers_session(backend: Backend) -> None:
    caller = SessionStore()

    created = services.upload_session_add_files(
        session=caller, files=_files("a.csv"), create=True
    )

    assert caller.session_key == created.key
    assert (
        services.upload_session_get(session_key=created.key).doc.files[0].name
        == "a.csv"
    )


def test_no_session_and_no_create_is_404(backend: Backend) -> None:
    with pytest.raises(UploadError) as err:
        services.upload_session_add_files(
            session=SessionStore("d" * 32),
            files=_files("a.csv"),
            create=False,
        )
    assert err.value.code == "session_not_found"
    assert backend.files() == []


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("plain.csv", "plain.csv"),
        ("a\x00b\x07c.csv", "abc.csv"),
        ("  spaced.csv  ", "spaced.csv"),
        ("\u202etxt.exe", "txt.exe"),
        ("\x00\x01", "unnamed"),
        ("y" * 300, "y" * 255),
        ("z" * 300 + ".csv", "z" * 251 + ".csv"),
    ],
)
def test_display_name(given: str, shown: str) -> None:
    assert display_name(given) == shown


def test_a_session_deleted_while_processing_leaves_nothing_behind(
    api: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = api.new_session()
    real_profile = profiling.profile_csv

    def profile_then_delete(*args: Any, **kwargs: Any) -> Any:
        result = real_profile(*args, **kwargs)
        services.upload_session_delete(session_key=session_id)
        return result

    monkeypatch.setattr(profiling, "profile_csv", profile_then_delete)

    with pytest.raises(UploadError) as err:
        services.upload_session_process(session_key=session_id)

    assert err.value.code == "session_not_found"
    assert backend.files() == []  # the run's analytics were removed too


def test_processing_records_its_progress(
    api: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status readers see which file is being profiled; the end clears it."""
    session_id = api.new_session(("a.csv", GOOD_CSV), ("b.csv", GOOD_CSV))
    seen: list[UploadDocument] = []
    real_profile = profiling.profile_csv

    def profile_then_look(*args: Any, **kwargs: Any) -> Any:
        result = real_profile(*args, **kwargs)
        seen.append(services.upload_session_get(session_key=session_id).doc)
        return result

    monkeypatch.setattr(profiling, "profile_csv", profile_then_look)
    done = services.upload_session_process(session_key=session_id)

    assert [d.status for d in seen] == ["processing", "processing"]
    progress = [d.progress for d in seen]
    assert [(p["file"], p["files"]) for p in progress if p] == [(1, 2), (2, 2)]
    assert all(p and p["phase"] in PHASES for p in progress)
    assert done.doc.status == "completed" and done.doc.progress is None
    assert api.get(session_id).json()["progress"] is None


def test_progress_is_throttled_and_only_written_by_the_run(
    api: Api, backend: Backend
) -> None:
    session_id = api.new_session()

    def hold(run: str) -> None:
        def start(doc: UploadDocument) -> None:
            doc.status, doc.run = "processing", run

        edit_upload(session_id, start)

    def progress() -> RunProgress | None:
        return services.upload_session_get(session_key=session_id).doc.progress

    hold("mine")
    record = services.ProgressRecorder(session_id, "mine", files=2)
    record(1, "reading")
    assert progress() == {"file": 1, "files": 2, "phase": "reading"}
    record(1, "aggregating")  # within PROGRESS_INTERVAL of the last write
    assert progress() == {"file": 1, "files": 2, "phase": "reading"}
    record(2, "reading")  # a new file is always written
    assert progress() == {"file": 2, "files": 2, "phase": "reading"}

    hold("another")  # taken over: the old run's recorder changes nothing
    record(1, "reading")
    assert progress() == {"file": 2, "files": 2, "phase": "reading"}
    document = api.get(session_id).json()
    assert document["progress"] == {
        "file": 2,
        "files": 2,
        "phase": "reading",
        "message": "File 2 of 2: reading the file",
    }
