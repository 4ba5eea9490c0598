"""``records.stream``: the same images and the same errors as reading the whole
text (the reference: ``iter_records`` and ``load`` as they were before streaming,
copied here), whatever the chunk size, for every input form; bounded reading."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from imgfilter.io import records
from imgfilter.io.catalog import API_EXAMPLE, generate
from imgfilter.io.records import Catalog, RecordError, SeenIds, load, stream

from .fixtures import RECORDS, uid

# ---- the reference: reading the whole text, as load() did before stream() -------------


def reference_iter_records(text: str) -> Iterator[tuple[str, Any]]:
    stripped = text.lstrip()
    if not stripped:
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        if stripped[0] == "{" and e.msg == "Extra data":
            yield from reference_json_lines(text)
            return
        raise RecordError(f"line {e.lineno} column {e.colno}", None, None, f"not JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise RecordError("document", None, None, f"not usable JSON: {e}") from None
    if isinstance(doc, dict) and "images" in doc:
        doc = doc["images"]
        label = "images[{}]"
    elif isinstance(doc, list):
        label = "item {}"
    elif isinstance(doc, dict):
        yield "line 1", doc
        return
    else:
        raise RecordError("document", None, None, "expected {\"images\": [...]}, a JSON array or JSON Lines")
    if not isinstance(doc, list):
        raise RecordError("document", None, "images", "must be a list")
    for i, rec in enumerate(doc):
        yield label.format(i), rec


def reference_json_lines(text: str) -> Iterator[tuple[str, Any]]:
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip(" \t\r"):
            continue
        try:
            yield f"line {n}", json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordError(f"line {n}", None, None, f"not JSON: {e.msg}") from None
        except (ValueError, RecursionError) as e:
            raise RecordError(f"line {n}", None, None, f"not usable JSON: {e}") from None


Outcome = tuple[str, Any]


def outcome_of(fn: Any) -> Outcome:
    try:
        images = list(fn())
    except RecordError as e:
        return "error", (e.position, e.image_id, e.field, e.message)
    return "images", [(img.id, json.dumps(img.wire, sort_keys=True), img.raw) for img in images]


def reference(text: str) -> Outcome:
    return outcome_of(lambda: Catalog.from_records(reference_iter_records(text.removeprefix("\ufeff"))).images)


# the two documented differences (README "Decisions"): a saved response whose
# records were already given cannot become JSON Lines or take a second "images"
DOCUMENTED = ("a saved response ({\"images\": [...]}) is followed by more text", "is given more than once")


def assert_same(text: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "_CHUNK", chunk)
    new = outcome_of(lambda: stream(io.StringIO(text)))
    if new[0] == "error" and new[1][3] in DOCUMENTED:
        ref = reference(text)
        assert ref != new
        # what the whole-text reader says of line 1 (an error there) is what the stream says
        assert new[1][3] == DOCUMENTED[1] or not (ref[0] == "error" and ref[1][0] == "line 1"), (text[:300], chunk)
        return
    assert new == reference(text), (text[:300], chunk)


# ---- generated texts ----------------------------------------------------------------

SMALL = [*API_EXAMPLE, *RECORDS[:4]]
VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                     | st.text(max_size=6), lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=4), kids, max_size=3), max_leaves=8)


@st.composite
def record(draw: st.DrawFn) -> dict[str, Any]:
    base = dict(draw(st.sampled_from(SMALL)))
    base["id"] = draw(st.sampled_from([uid(draw(st.integers(1, 6))), uid(1).upper(), "not-a-uuid"]))
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(["name", "min_ram", "created_at", "protected", "tags", "custom", "__support_x"]))
        base[key] = draw(VALUE)
    return base


def _dump(value: Any, pretty: bool) -> str:
    return json.dumps(value, indent=1 if pretty else None, ensure_ascii=False)


@st.composite
def document(draw: st.DrawFn) -> str:
    recs = draw(st.lists(record(), max_size=5))
    form = draw(st.sampled_from(["array", "response", "lines", "one"]))
    pretty = draw(st.booleans())
    if form == "array":
        text = _dump(recs, pretty)
    elif form == "response":
        extra = draw(st.dictionaries(st.sampled_from(["schema", "next", "first"]), VALUE, max_size=2))
        items = list(extra.items())
        at = draw(st.integers(0, len(items)))
        text = _dump(dict([*items[:at], ("images", recs), *items[at:]]), pretty)
    elif form == "lines":
        sep = draw(st.sampled_from(["\n", "\r\n", "\n\n", "\n \t\n"]))
        text = sep.join(_dump(r, False) for r in recs) + draw(st.sampled_from(["", "\n", "\n\n  "]))
    else:
        text = _dump(recs[0] if recs else {}, pretty)
    lead = draw(st.sampled_from(["", "", " \n", "\ufeff", "\n\n", "\x0c"]))
    return lead + text


@st.composite
def broken(draw: st.DrawFn) -> str:
    """A document with a few characters inserted, deleted or replaced."""
    text = draw(document())
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        ch = draw(st.sampled_from([*list('[]{},:" \n\r\t0-.eE\\x'), "NaN", "1e400", "null", "\u2028", "9" * 30]))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        text = text[:i] + ("" if kind == "delete" else ch) + text[i + (kind != "insert"):]
    return text


CHUNKS = st.sampled_from([1, 2, 3, 7, 64, 100, 1 << 20])
_SETTINGS = settings(max_examples=max(300, settings().max_examples), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_SETTINGS
@given(text=document(), chunk=CHUNKS)
@example(text='{"images": [], "next": 1}\n', chunk=1)
def test_documents_stream_as_they_load_whole(text: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(text, chunk, monkeypatch)


@_SETTINGS
@given(text=broken(), chunk=CHUNKS)
@example(text="[1, 2", chunk=1)
@example(text='{"id": 1}\n{"id": 2', chunk=3)
@example(text="[" + "9" * 5000 + "]", chunk=100)
def test_broken_documents_fail_as_they_fail_whole(text: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(text, chunk, monkeypatch)


@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 20])
@pytest.mark.parametrize("text", [
    "", "   \n ", "42", "7", "[", "]", '"x"', "[]", "{}", "[1, 2", "[1,]", "[,]", "[1 2]", "[] x", "[]\n[]\n",
    "{", '{"a"',
    '{"a" 1}', '{"a": }', '{"a": 1,}', '{"a": 1 "b": 2}', '{"images": 3}', '{"images": [1], "images": 3}',
    '{"images": 3, "images": []}', '{"images": []} x', '{"id": 1}\n' + "[" * 100_000,
    "[" * 100_000 + "]" * 100_000, '["\\ud800"]', '[{"id": "x"}]\n', '["unterminated', '[1.5e', '[123',
    "\ufeff[]", "\x0c[]", "\u2028{}", '{"a": 1}\n{"b": 2}', '{"a": 1} {"b": 2}',
    '{\n"images": [{"id": 1}]\n}\n{"id": 2}', '{"images": [{"id": 1}]}\n{"id": 2}',
    '{"images": [{"id": 1}]} {"id": 2}', '[{"id": 1}X]', '{"images": [{"id": 1}X]}',  # not a delimiter
    # a line not JSON whose first character is all that is not blank, read from the start of the window
    json.dumps(RECORDS[0]) + "\nx" + " " * 5000 + "\n", json.dumps(RECORDS[0]) + "\n{" + " " * 5000 + "\n",
    "X", "Xy", "{}", "{}x", "\n{}", " {}\n", '{"a"X 1}', '{"a": 1X}',  # a letter where a delimiter belongs
    '\n{\n"images": [' + json.dumps(RECORDS[0]) + ']}\n' + json.dumps(RECORDS[1]),  # line 1 blank, line 2 "{"
    '{"images": [{"id": 1},\n{"id": 3}]}\n{"id": 2}',  # line 1 ends inside the response
    '{"images": [{"id": 1},\n{"id": 3},\n{"id": 4}, {"id": 5}]}\n{"id": 2}',
])
def test_edge_texts(text: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(text, chunk, monkeypatch)


@pytest.mark.parametrize("chunk", [1, 100, 1 << 20])
@pytest.mark.parametrize("text", [
    "[" + "9" * 10_000 + "]",  # too long to read: cut by a chunk when first seen
    "[[" + "9" * 4300 + ", " + "9" * 10_000 + "]]",  # the longest number allowed, then one too long
    "[" + "9" * 5000,  # the text ends inside it
    "[1, " + "9" * 4301 + "]",
    "9" * 5000,  # the whole document: a number, read whole
])
def test_numbers_too_long_to_read_are_counted_whole(text: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error counts the number's digits in the whole text, not those of one chunk."""
    assert reference(text)[0] == "error"
    assert_same(text, chunk, monkeypatch)


@pytest.mark.parametrize("chunk", [1, 2, 1 << 20])
@pytest.mark.parametrize("text", ["\n[1,}", "\n\n[1,\n}", " \n[1,}", "\n{\"a\": 1 \"b\"}", "[\n1,\n\n}",
                                  # in a key of the response object: a bad escape, a control character, no end
                                  '{"count": 1,\n "ima\\qges": []}', '\n{"images": [], "a\x01": 1}', '{"imag',
                                  '{"ima\\qges": [], "pad": "' + "x" * 200 + '"}'])  # far from the end read
def test_syntax_errors_name_line_and_column_of_the_whole_text(
        text: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "_CHUNK", chunk)
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    with pytest.raises(json.JSONDecodeError) as ref:
        json.loads(text)
    e = ref.value
    assert (info.value.position, info.value.message) == (f"line {e.lineno} column {e.colno}", f"not JSON: {e.msg}")


def test_a_syntax_error_after_a_bad_record_is_the_error_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """A document's own error comes first, as when the whole text is read first."""
    text = json.dumps([{"id": "bad"}, *generate(300)]) + "]"
    monkeypatch.setattr(records, "_CHUNK", 4096)
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    assert info.value.message == "not JSON: Extra data"
    assert info.value.position == f"line 1 column {len(text)}"
    lines = json.dumps({"id": "bad"}) + "\n{oops\n"
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(lines)))
    assert (info.value.position, info.value.field) == ("line 1", "id")  # JSON Lines: line by line


def test_duplicates_are_found_in_the_stream_and_name_the_first() -> None:
    recs = generate(50)
    text = "\n".join(json.dumps(r) for r in [*recs, {**recs[7], "id": recs[7]["id"].upper()}])
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    assert (info.value.position, info.value.field) == ("line 51", "id")
    assert info.value.message == "duplicate id: also line 8"
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(json.dumps({"images": [*recs, recs[0]]}))))
    assert info.value.message == "duplicate id: also images[0]" and info.value.position == "images[50]"


def test_documented_differences(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second "images", or more text after a saved response whose records were given."""
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO('{"images": [], "images": []}')))
    assert (info.value.position, info.value.field, info.value.message) == (
        "document", "images", "is given more than once")
    doc = json.dumps({"images": [], "id": uid(1)})
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(doc + "\n" + json.dumps(RECORDS[1]))))
    assert info.value.message == "a saved response ({\"images\": [...]}) is followed by more text"
    assert reference(doc + "\n" + json.dumps(RECORDS[1]))[0] == "images"  # read whole: two records


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
@pytest.mark.parametrize("head", ["", " \t", "\r"])
@pytest.mark.parametrize("pretty", [False, True])
def test_a_saved_response_followed_by_more_text(head: str, pretty: bool, chunk: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Line 1 is read as JSON Lines would read it: its error, else the documented refusal at line 1."""
    monkeypatch.setattr(records, "_CHUNK", chunk)
    body = json.dumps({"images": [RECORDS[0]], "next": None}, indent=1 if pretty else None)
    text = head + body + "\n" + json.dumps(RECORDS[1]) + "\n"
    line1 = text.partition("\n")[0]
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    got = (info.value.position, info.value.image_id, info.value.field, info.value.message)
    if pretty and not head.strip(" \t\r"):  # line 1 is "{" (after blanks): not JSON
        assert got == ("line 1", None, None, "not JSON: Expecting property name enclosed in double quotes")
    else:  # line 1 is the whole response: a record without an id
        assert got == ("line 1", None, "id", "missing")
    assert reference(text)[1] == got
    assert line1.strip()


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_a_bad_first_record_of_a_saved_response_followed_by_more_text(
        chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream reads on past a bad record to find the document's own error; when the
    document turns out to be JSON Lines, line 1's error is that error, as read whole
    (the stream gave the documented refusal instead)."""
    monkeypatch.setattr(records, "_CHUNK", chunk)
    text = json.dumps({"images": [{"id": "bad"}, RECORDS[0]]}) + "\n" + json.dumps(RECORDS[1])
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    assert (info.value.position, info.value.image_id, info.value.field, info.value.message) == (
        "line 1", None, "id", "missing")
    assert reference(text)[1] == ("line 1", None, "id", "missing")


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
@pytest.mark.parametrize("line1", ["", "   ", "\t\r"])
def test_a_saved_response_after_a_blank_line_or_a_long_line_1_is_refused(
        line1: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "_CHUNK", chunk)
    refusal = ("line 1", None, None, "a saved response ({\"images\": [...]}) is followed by more text")
    # the response is also a record (it has an id): read whole, JSON Lines of two records
    text = line1 + "\n" + json.dumps({"images": [RECORDS[0]], "id": uid(9)}) + "\n" + json.dumps(RECORDS[1])
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    assert (info.value.position, info.value.image_id, info.value.field, info.value.message) == refusal
    assert reference(text)[0] == "images"
    # a line 1 that ends before the records is read back whole, however long
    text = (json.dumps({"pad": "p" * 100}).rstrip("}") + ',\n"images": [' + json.dumps(RECORDS[0]) + "]}\n"
            + json.dumps(RECORDS[1]))
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    monkeypatch.setattr(records, "_LINE1_CAP", 40)
    with pytest.raises(RecordError) as capped:
        list(stream(io.StringIO(text)))
    expected = ("line 1", None, None, "not JSON: Expecting property name enclosed in double quotes")
    assert (info.value.position, info.value.image_id, info.value.field, info.value.message) == expected
    assert (capped.value.position, capped.value.image_id, capped.value.field, capped.value.message) == expected
    # a line 1 longer than the stream keeps is not read back: the refusal, whatever it holds
    monkeypatch.setattr(records, "_LINE1_CAP", 40)
    text = json.dumps({"images": RECORDS[:5]}) + "\n" + json.dumps(RECORDS[6])
    with pytest.raises(RecordError) as info:
        list(stream(io.StringIO(text)))
    got = (info.value.position, info.value.image_id, info.value.field, info.value.message)
    # read in one chunk, nothing of line 1 was dropped: it is read back whole (a record without an id)
    assert got == (refusal if chunk < len(text) else ("line 1", None, "id", "missing"))


# ---- sources ------------------------------------------------------------------------


def test_paths_binary_and_text_files_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = generate(40)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"images": recs}), encoding="utf-8-sig")
    want = [r["id"] for r in recs]
    assert [img.id for img in stream(path)] == want
    assert [img.id for img in stream(str(path))] == want
    with path.open("rb") as f:
        assert [img.id for img in stream(f)] == want
    with path.open(encoding="utf-8-sig") as t:
        assert [img.id for img in stream(t)] == want
    assert [img.id for img in stream(io.BytesIO(b"\xef\xbb\xbf" + json.dumps(recs).encode()))] == want
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(json.dumps(r) for r in recs)))
    assert [img.id for img in stream("-")] == want


@pytest.mark.parametrize("body", [b"\xff", b"[1, \xe4\xb8]", b'["ok", "\xe4\xb8\xadx\xc3"]', b"\xe4"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 20])  # 3: the BOM alone in the first chunk
@pytest.mark.parametrize("lead", [0, 5000])
def test_bytes_that_are_not_utf8_say_what_read_text_says(tmp_path: Path, body: bytes, bom: bytes, chunk: int,
                                                         lead: int, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(bom + b" " * lead + body)
    with pytest.raises(UnicodeDecodeError) as whole:
        path.read_text(encoding="utf-8-sig")
    monkeypatch.setattr(records, "_CHUNK", chunk)
    with pytest.raises(RecordError) as info:
        list(stream(path))
    assert (info.value.position, info.value.message) == (str(path), f"cannot read: {whole.value}")


def test_newlines_are_read_as_read_text_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "cr.jsonl"
    path.write_bytes(b"\r".join(json.dumps(r).encode() for r in RECORDS[:3]) + b"\r\n{oops\r\n")
    with pytest.raises(RecordError) as whole:
        Catalog.from_records(reference_iter_records(path.read_text(encoding="utf-8-sig")))
    with pytest.raises(RecordError) as info:
        list(stream(path))
    assert info.value.position == whole.value.position == "line 4"


def test_missing_file_and_unreadable_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RecordError) as info:
        list(stream(tmp_path / "missing.json"))
    assert info.value.position == str(tmp_path / "missing.json") and "cannot read" in info.value.message

    class Broken(io.StringIO):
        def read(self, n: int | None = -1) -> str:
            raise OSError("disk gone")

    with pytest.raises(RecordError) as info:
        list(stream(Broken()))
    assert (info.value.position, info.value.message) == ("input", "cannot read: disk gone")  # a file without a name

    class BrokenText(io.StringIO):  # a named text file that fails after its first chunk
        name = "images.json"

        def read(self, n: int | None = -1) -> str:
            if self.tell():
                raise OSError("disk gone")
            return super().read(n)

    big = json.dumps(generate(400))
    with pytest.raises(RecordError) as info:
        list(stream(BrokenText(big)))
    assert (info.value.position, info.value.message) == ("images.json", "cannot read: disk gone")
    monkeypatch.setattr("sys.stdin", BrokenText(big))
    with pytest.raises(RecordError) as info:
        list(stream("-"))
    assert (info.value.position, info.value.message) == ("-", "cannot read: disk gone")

    class BrokenLater(io.BytesIO):  # a binary file that fails after its first chunk
        name = "images.jsonl"

        def read(self, n: int | None = -1) -> bytes:
            if self.tell():
                raise OSError("disk gone")
            return super().read(n)

    with pytest.raises(RecordError) as info:
        list(stream(BrokenLater(b"\n".join(json.dumps(r).encode() for r in generate(400)))))
    assert (info.value.position, info.value.image_id, info.value.field, info.value.message) == (
        "images.jsonl", None, None, "cannot read: disk gone")


def test_streaming_reads_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first image comes after one chunk of a large array, not after the whole text."""
    recs = generate(2000)
    text = json.dumps(recs)
    monkeypatch.setattr(records, "_CHUNK", 4096)
    src = io.StringIO(text)
    first = next(stream(src))
    assert first.id == recs[0]["id"]
    assert src.tell() <= 2 * 4096 < len(text)
    lines = io.StringIO("\n".join(json.dumps(r) for r in recs))
    it = stream(lines)
    next(it)
    assert lines.tell() <= 2 * 4096

    class BomFirst(io.StringIO):  # a text file whose first read gives its BOM alone
        def read(self, n: int | None = -1) -> str:
            return super().read(1 if self.tell() == 0 else n)

    bom = BomFirst("\ufeff" + text)
    assert next(stream(bom)).id == recs[0]["id"]
    assert bom.tell() <= 2 * 4096 + 1


def test_load_is_the_stream_gathered() -> None:
    recs = generate(100)
    cat = load(io.StringIO(json.dumps({"images": recs})))
    assert [img.raw for img in cat.images] == recs
    assert cat.by_id[recs[5]["id"]].raw == recs[5]


class _Generated(io.RawIOBase):
    """A JSON Lines or JSON array file of ``n`` large records, made as it is read (never whole)."""

    def __init__(self, n: int, array: bool) -> None:
        self._n, self._i, self._array = n, 0, array
        self._pending = b"[" if array else b""
        self._base = generate(50)
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self._pending) < len(buffer) and self._i <= self._n:
            if self._i == self._n:
                self._pending += b"]" if self._array else b""
            else:
                rec = dict(self._base[self._i % 50], id=str(uuid.UUID(int=self._i + 1, version=4)),
                           __description="d" * 3000)
                sep = (b"," if self._i else b"") if self._array else b"\n"
                self._pending += sep + json.dumps(rec).encode()
            self._i += 1
        out, self._pending = self._pending[:len(buffer)], self._pending[len(buffer):]
        buffer[:len(out)] = out
        self.size += len(out)
        return len(out)


@pytest.mark.parametrize("array", [False, True])
def test_memory_does_not_grow_with_the_file(array: bool) -> None:
    """Streaming a 50 MB file holds a few chunks and the id index, not the text or the images."""
    import tracemalloc

    src = _Generated(15_000, array)
    tracemalloc.start()
    try:
        count = sum(1 for _ in stream(io.BufferedReader(src)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 15_000 and src.size > 45 * 2**20
    assert peak < 12 * 2**20, peak  # 1 MiB chunks (as bytes and as text), one record, the id index


# ---- the table of ids seen ------------------------------------------------------------------

@given(st.lists(st.integers(0, 2**128 - 1) | st.sampled_from([0, 1, 2**64, 2**128 - 1]), max_size=3000))
def test_seen_ids_answers_as_a_dict_would(keys: list[int]) -> None:
    """The first record number of each id, as ``dict.setdefault`` gives it, through
    every growth of the table (it starts small)."""
    seen, reference = SeenIds(capacity=4), dict[int, int]()
    for n, key in enumerate(keys):
        assert seen.first(key, n) == reference.setdefault(key, n)
    assert len(seen) == len(reference)


@pytest.mark.parametrize("capacity", [0, 3, 12, -4])
def test_seen_ids_capacity_is_a_power_of_two(capacity: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        SeenIds(capacity)


@pytest.mark.parametrize("capacity", [1, 2, 4])
def test_seen_ids_from_the_smallest_table(capacity: int) -> None:
    """1 (2 to the 0th) is a power of two: a table of one slot grows as it fills."""
    seen = SeenIds(capacity)
    assert [seen.first(k, n) for n, k in enumerate([5, 7, 5, 9, 7, 2**127])] == [0, 1, 0, 3, 1, 5]
    assert len(seen) == 4


@pytest.mark.parametrize("capacity", [1, 4])
def test_seen_ids_past_four_billion_records(capacity: int) -> None:
    """Record numbers past 32 bits (a stream of more than four billion records)
    are kept whole, through the growth of the table, as those before them."""
    seen, reference = SeenIds(capacity), dict[int, int]()
    numbers = [7, 0xFFFFFFFE, 0xFFFFFFFF, 2**40 + 3, *range(2**33, 2**33 + 20), 2**64 - 2]
    for key, n in enumerate(numbers):
        assert seen.first(key * 2**70 + key, n) == reference.setdefault(key * 2**70 + key, n)
    for key, n in enumerate(numbers):  # each again, as a later record: the first one's number
        assert seen.first(key * 2**70 + key, 2**64 - 2) == n
        assert seen.first(key * 2**70 + key, 5) == n
    assert len(seen) == len(numbers)


def test_seen_ids_are_not_piled_on_one_slot_by_chosen_ids() -> None:
    """Ids that agree in every bit a plain hash would use (equal low halves, equal
    low XOR high, or one Python ``hash`` as integers, which is what piled the
    previous dict of ids onto one slot) still spread: the longest run of occupied slots, which
    bounds the cost of a lookup, stays short, where a plain hash would make one run
    of all of them (a file of such ids would take quadratic time)."""
    seen = SeenIds()
    constant = 0x0123456789ABCDEF
    for n in range(1, 20_001):
        seen.first((n << 64) | constant, n)  # the same low half
        seen.first(((n << 32) << 64) | ((n << 32) ^ constant), 20_000 + n)  # the same low ^ high
        seen.first(constant + n * (2**61 - 1), 40_000 + n)  # one hash() as ints (a dict of them piles up)
    run = longest = 0
    for slot in seen._first:
        run = run + 1 if slot else 0
        longest = max(longest, run)
    assert longest < 200, longest


def test_duplicate_ids_far_apart_are_found_with_both_positions(tmp_path: Path) -> None:
    """After the table has grown many times, a duplicate still names the first record."""
    lines = [json.dumps(r) for r in generate(5000)]
    lines.append(lines[10])
    path = tmp_path / "images.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"^line 5001 \(id [0-9a-f-]{36}\): field .id.: duplicate id: also line 11$"):
        for _ in stream(path):
            pass



@pytest.mark.parametrize("cap", [4, 5, 6])
def test_the_window_keeps_line_1_up_to_its_cap_exactly(cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the window drops of line 1, while it keeps it (``line1 == []``), is
    kept until line 1's newline, and given up (``None``) once it is more than
    ``_LINE1_CAP`` characters; the line and column of the dropped text are
    counted whatever is kept."""
    monkeypatch.setattr(records, "_LINE1_CAP", cap)
    w = records._Window(io.StringIO("").read)
    w.buf, w.pos, w.line1 = "abcde", 5, []
    w._drop(3)  # "abc"
    w._drop(2)  # "de": five characters of line 1 dropped
    assert (w.line1, w.line1_done) == ((["abc", "de"], False) if cap >= 5 else (None, False))
    assert (w.buf, w.pos, w.lines, w.col) == ("", 0, 0, 5)
    w.buf, w.pos = "f\ngh\ni", 6
    w._drop(4)  # "f", then line 2's "gh": six characters of line 1 in all
    assert w.line1 == (["abc", "de", "f"] if cap >= 6 else None)
    assert (w.buf, w.pos, w.lines, w.col) == ("\ni", 2, 1, 2)
    w._drop(1)  # line 1 is done: line 2's end and line 3 are not part of it
    assert w.line1 == (["abc", "de", "f"] if cap >= 6 else None)
    assert (w.buf, w.lines, w.col) == ("i", 2, 0)


def test_the_window_keeps_an_empty_line_1() -> None:
    w = records._Window(io.StringIO("").read)
    w.buf, w.pos, w.line1 = "\nab", 3, []
    w._drop(3)
    assert (w.line1, w.line1_done, w.lines, w.col) == ([""], True, 1, 2)
    w.buf, w.pos = "cd", 2
    w._drop(2)
    assert (w.line1, w.lines, w.col) == ([""], 1, 4)


def test_the_window_keeps_line_1_to_its_first_newline() -> None:
    """Only what is dropped counts, and line 1 ends at its first newline."""
    w = records._Window(io.StringIO("").read)
    w.buf, w.pos, w.line1 = "ab\ncd", 2, []
    w._drop(2)  # "ab": line 1 goes on in the window
    assert (w.line1, w.line1_done, w.buf) == (["ab"], False, "\ncd")
    w = records._Window(io.StringIO("").read)
    w.buf, w.pos, w.line1 = "a\nb\nc", 5, []
    w._drop(5)
    assert (w.line1, w.line1_done, w.lines, w.col) == (["a"], True, 2, 1)
