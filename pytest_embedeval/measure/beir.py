"""Retrieval sets in BEIR's own layout, read strictly: every problem names ``file:line``.

A folder holds ``corpus.jsonl`` (``{"_id", "title", "text"}`` a line),
``queries.jsonl`` (``{"_id", "text"}``) and ``qrels/<split>.tsv`` (a header,
then ``query-id<TAB>corpus-id<TAB>score``), as BEIR and MTEB ship them.  From
the hub, ``hub:ORG/NAME`` reads MTEB's layout through ``datasets``: configs
``corpus`` and ``queries`` and the qrels in the default config's split.

What MTEB does is kept: queries without any qrels line are dropped (never
scored); queries whose qrels are all 0 stay and score 0; a document's text
is ``title + " " + text`` stripped when it has a title.  What MTEB would let
pass and we refuse, because it is a broken file, not data: a malformed line,
a missing or duplicate id, an empty query, a qrels line naming a query or
document that does not exist, a qrels pair listed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.accuracy import TaskData
from pytest_embedeval.measure.data import _decode, _lines, read_jsonl_records

QRELS_HEADER = ("query-id", "corpus-id", "score")


@dataclass(frozen=True)
class BeirSet(TaskData):
    """Queries, corpus and graded relevance of one split (queries without qrels already dropped)."""

    query_ids: tuple[str, ...]
    queries: tuple[str, ...]
    doc_ids: tuple[str, ...]
    docs: tuple[str, ...]  # (title + " " + text).strip(), as MTEB encodes them
    qrels: dict[str, dict[str, int]] = field(compare=False)
    dropped_queries: int = 0  # queries with no qrels line in this split

    def content(self) -> tuple[Iterable[tuple[Any, ...]], ...]:
        qrels = ((qid, did, grade) for qid in sorted(self.qrels) for did, grade in sorted(self.qrels[qid].items()))
        return zip(self.query_ids, self.queries), zip(self.doc_ids, self.docs), qrels

    def counts(self) -> str:
        return f"{len(self.queries)} queries, {len(self.docs)} documents"


def _doc_text(title: Any, text: str) -> str:
    return f"{title} {text}".strip() if title else text.strip()


def _identifier(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise DataError(f"{where}: '_id' is missing, empty or not a string: {value!r}")
    return str(value)


def _unique(seen: dict[str, str], key: str, where: str, what: str) -> None:
    if key in seen:
        raise DataError(f"{where}: duplicate {what} id {key!r} (first at {seen[key]})")
    seen[key] = where


def _text(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(f"{where}: '{name}' is not text: {value!r}")
    return value


def read_corpus(path: Path) -> dict[str, str]:
    docs: dict[str, str] = {}
    seen: dict[str, str] = {}
    for where, record in read_jsonl_records(path, "_id and text"):
        key = _identifier(record.get("_id"), where)
        _unique(seen, key, where, "document")
        if "text" not in record and "title" not in record:
            raise DataError(f"{where}: a document needs 'text' (and may have 'title')")
        docs[key] = _doc_text(_text(record, "title", where), _text(record, "text", where))
    if not docs:
        raise DataError(f"{path}: the corpus is empty")
    return docs


def read_queries(path: Path) -> dict[str, tuple[str, str]]:
    """Query id -> (text, file:line)."""
    queries: dict[str, tuple[str, str]] = {}
    seen: dict[str, str] = {}
    for where, record in read_jsonl_records(path, "_id and text"):
        key = _identifier(record.get("_id"), where)
        _unique(seen, key, where, "query")
        if "text" not in record:
            raise DataError(f"{where}: a query needs 'text'")
        text = _text(record, "text", where)
        if not text.strip():
            raise DataError(f"{where}: query {key!r} is empty")
        queries[key] = (text, where)
    return queries


def parse_qrels(rows: Iterable[tuple[str, list[str]]], queries: dict[str, Any],
                docs: dict[str, str]) -> dict[str, dict[str, int]]:
    """``(file:line, fields)`` rows -> {query: {document: grade}}, every id checked against the files."""
    qrels: dict[str, dict[str, int]] = {}
    for where, fields in rows:
        if len(fields) != 3:
            raise DataError(f"{where}: expected 3 tab-separated fields ({', '.join(QRELS_HEADER)}), "
                            f"found {len(fields)}")
        qid, did, raw = (f.strip() for f in fields)
        try:
            grade = int(raw)
        except ValueError:
            raise DataError(f"{where}: score {raw!r} is not a whole number") from None
        if qid not in queries:
            raise DataError(f"{where}: query id {qid!r} is not in the queries")
        if did not in docs:
            raise DataError(f"{where}: corpus id {did!r} is not in the corpus")
        if did in qrels.setdefault(qid, {}):
            raise DataError(f"{where}: query {qid!r} and document {did!r} are judged twice")
        qrels[qid][did] = grade
    return qrels


def read_qrels(path: Path, queries: dict[str, Any], docs: dict[str, str]) -> dict[str, dict[str, int]]:
    lines = _lines(_decode(path))
    header = tuple(f.strip() for f in lines[0].split("\t")) if lines else ()
    if header != QRELS_HEADER:
        raise DataError(f"{path}:1: expected the header {chr(9).join(QRELS_HEADER)!r} (tab-separated), "
                        f"found {lines[0][:80] if lines else ''!r}")
    rows = ((f"{path}:{number}", line.split("\t")) for number, line in enumerate(lines[1:], start=2)
            if line.strip())
    qrels = parse_qrels(rows, queries, docs)
    if not qrels:
        raise DataError(f"{path}: no relevance judgements")
    return qrels


def assemble(name: str, split: str, source: str, queries: dict[str, str], docs: dict[str, str],
             qrels: dict[str, dict[str, int]]) -> BeirSet:
    """Keep the queries that have qrels, in file order (MTEB drops the rest at load time)."""
    kept = [qid for qid in queries if qid in qrels]
    return BeirSet(name, split, source, tuple(kept), tuple(queries[q] for q in kept), tuple(docs),
                   tuple(docs.values()), qrels, dropped_queries=len(queries) - len(kept))


def load_beir_local(folder: Path, split: str) -> BeirSet:
    if not folder.is_dir():
        raise DataError(f"retrieval set {folder} is not a folder (BEIR layout: corpus.jsonl, queries.jsonl, "
                        "qrels/<split>.tsv)")
    files = {"corpus": folder / "corpus.jsonl", "queries": folder / "queries.jsonl",
             "qrels": folder / "qrels" / f"{split}.tsv"}
    missing = [str(path.relative_to(folder)) for path in files.values() if not path.is_file()]
    if missing:
        have = ", ".join(sorted(p.name for p in (folder / "qrels").glob("*.tsv"))) or "none"
        raise DataError(f"{folder}: missing {', '.join(missing)} (BEIR layout; qrels splits here: {have})")
    docs = read_corpus(files["corpus"])
    located = read_queries(files["queries"])
    qrels = read_qrels(files["qrels"], located, docs)
    return assemble(folder.name, split, str(folder), {q: text for q, (text, _) in located.items()}, docs, qrels)


def load_beir_hub(hub_id: str, split: str) -> BeirSet:
    """MTEB's hub layout through ``datasets`` (configs corpus, queries, default); fails fast offline."""
    from pytest_embedeval.core.hub import load_hub_tables

    corpus, query_rows, qrel_rows = load_hub_tables(
        hub_id, [("corpus", "corpus"), ("queries", "queries"), ("default", split)],
        what=f"retrieval set {hub_id!r}", local="pass --embed-retrieval-path=FOLDER")
    where = f"hub:{hub_id}"
    docs: dict[str, str] = {}
    seen: dict[str, str] = {}
    for i, row in enumerate(corpus):
        key = _identifier(row.get("_id"), f"{where}[corpus] row {i}")
        _unique(seen, key, f"{where}[corpus] row {i}", "document")
        docs[key] = _doc_text(row.get("title") or "", row.get("text") or "")
    queries: dict[str, str] = {}
    seen = {}
    for i, row in enumerate(query_rows):
        key = _identifier(row.get("_id"), f"{where}[queries] row {i}")
        _unique(seen, key, f"{where}[queries] row {i}", "query")
        if not str(row.get("text") or "").strip():
            raise DataError(f"{where}[queries] row {i}: query {key!r} is empty")
        queries[key] = row["text"]
    rows = ((f"{where}[{split}] row {i}", [str(r["query-id"]), str(r["corpus-id"]), str(r["score"])])
            for i, r in enumerate(qrel_rows))
    return assemble(hub_id.rsplit("/", 1)[-1], split, where, queries, docs, parse_qrels(rows, queries, docs))


def load_beir(location: str | Path, split: str) -> BeirSet:
    """``hub:ORG/NAME`` from the hub, else a local BEIR folder."""
    try:
        if isinstance(location, str) and location.startswith("hub:"):
            return load_beir_hub(location[len("hub:"):], split)
        return load_beir_local(Path(location), split)
    except OSError as exc:
        raise DataError(f"{exc.filename or location}: {exc.strerror or exc}") from None
