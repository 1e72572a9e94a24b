import os

import numpy as np
import pytest

from harness.core.errors import HarnessError
from harness.load.records import RECORD_DTYPE, RecordWriter, classify_error, read_records


def _write(path, n, flush_every=0):
    w = RecordWriter(path)
    for i in range(n):
        w.add(float(i), float(i) + 0.5, float(i) + 1.0, f"/api/x{i % 3}", "GET" if i % 2 else "POST",
              200 if i % 5 else 503, "" if i % 7 else "reset", 100 + i)
        if flush_every and i % flush_every == flush_every - 1:
            w.flush()
    return w


def test_round_trip_keeps_every_field(tmp_path):
    path = tmp_path / "r.rec"
    _write(path, 100, flush_every=30).close()
    rec = read_records(path)
    assert len(rec) == 100
    i = np.arange(100)
    assert np.array_equal(rec.intended, i.astype(float))
    assert np.array_equal(rec.start, i + 0.5)
    assert np.array_equal(rec.latency, np.ones(100))
    assert list(rec.endpoint[:4]) == ["/api/x0", "/api/x1", "/api/x2", "/api/x0"]
    assert list(rec.method[:2]) == ["POST", "GET"]
    assert (rec.status[i % 5 == 0] == 503).all() and (rec.status[i % 5 != 0] == 200).all()
    assert (rec.error[i % 7 == 0] == "reset").all() and (rec.error[i % 7 != 0] == "").all()
    assert np.array_equal(rec.bytes, 100 + i)
    assert rec.dropped_bytes == 0


def test_unflushed_records_are_not_on_disk_but_flushed_ones_are(tmp_path):
    path = tmp_path / "r.rec"
    w = _write(path, 10)
    w.flush()
    w.add(1, 1, 2, "/late", "GET", 200, "", 1)
    assert len(read_records(path)) == 10  # like a crash before the next flush: at most that interval is lost
    w.close()
    assert len(read_records(path)) == 11


def test_torn_last_chunk_is_dropped_and_counted(tmp_path):
    path = tmp_path / "r.rec"
    _write(path, 20, flush_every=10).close()
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 7)  # a crash in the middle of the last write
    rec = read_records(path)
    assert len(rec) == 10
    assert rec.dropped_bytes > 0


def test_two_writers_appending_to_one_file(tmp_path):
    path = tmp_path / "r.rec"
    a, b = RecordWriter(path), RecordWriter(path)
    for i in range(50):
        a.add(i, i, i + 1, "/a", "GET", 200, "", 1)
        b.add(i, i, i + 2, "/b", "POST", 500, "", 2)
        if i % 10 == 0:
            a.flush()
            b.flush()
    a.close()
    b.close()
    rec = read_records(path)
    assert len(rec) == 100
    assert (rec.status[rec.endpoint == "/b"] == 500).all()
    assert (rec.method[rec.endpoint == "/a"] == "GET").all()


def test_record_is_compact():
    assert RECORD_DTYPE.itemsize <= 48


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(HarnessError, match="no request records"):
        read_records(tmp_path / "nope.rec")
    other = tmp_path / "x.rec"
    other.write_bytes(b"hello world, not records")
    with pytest.raises(HarnessError, match="not a request records file"):
        read_records(other)


def test_empty_file_reads_as_no_records(tmp_path):
    p = tmp_path / "e.rec"
    p.write_bytes(b"")
    assert len(read_records(p)) == 0


def test_select_between_and_endpoint_filters(tmp_path):
    path = tmp_path / "r.rec"
    _write(path, 30).close()
    rec = read_records(path)
    assert len(rec.between(9.0, 19.0)) == 10  # end in (9, 19] -> ends 10..19
    assert set(rec.for_endpoints(["/api/x1"]).endpoint) == {"/api/x1"}
    post = rec.for_endpoints(["POST /api/x1"])
    assert set(post.method) == {"POST"} and len(post) == 5


def test_classify_error_walks_the_chain():
    class Wrapped(Exception):
        pass

    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as inner:
            raise Wrapped("max retries") from inner
    except Wrapped as exc:
        assert classify_error(exc, 0) == "refused"
    assert classify_error(ConnectionResetError(), 0) == "reset"
    assert classify_error(TimeoutError(), 0) == "timeout"
    assert classify_error(Exception("read timed out"), 0) == "timeout"
    assert classify_error(Exception("something odd"), 0) == "other"
    assert classify_error(Exception("500 Server Error"), 500) == ""
    assert classify_error(None, 0) == ""


def test_file_is_appended_with_o_append(tmp_path):
    path = tmp_path / "r.rec"
    _write(path, 3).close()
    size = os.path.getsize(path)
    _write(path, 3).close()  # a second run into the same file appends, never truncates
    assert os.path.getsize(path) > size and len(read_records(path)) == 6
