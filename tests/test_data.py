"""Reading STS data: each format, and every malformed file named by file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_embedeval.measure.data import load_sts, read_file
from pytest_embedeval.errors import DataError

from .conftest import TINY_PAIRS

STSB_LINE = "main-captions\tMSRvid\t2012test\t{id:04d}\t{score}\t{s1}\t{s2}"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def stsb_text(pairs: list[tuple[str, str, float]] = TINY_PAIRS) -> str:
    return "\n".join(STSB_LINE.format(id=i, score=s, s1=a, s2=b) for i, (a, b, s) in enumerate(pairs)) + "\n"


def test_stsb_folder_keeps_quotes_and_ignores_extra_fields(tmp_path: Path) -> None:
    text = stsb_text() + 'main-forums\tanswers\t2015\t0099\t2.40\tHe said "hi" to me.\tShe said "bye.\tlicense\textra\n'
    write(tmp_path / "sts-dev.csv", text)
    data = load_sts(tmp_path, "dev")
    assert (data.name, data.split, len(data)) == ("stsb", "dev", 7)
    assert data.sentences1[-1] == 'He said "hi" to me.' and data.sentences2[-1] == 'She said "bye.'
    assert data.scores[-1] == 2.4


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])  # legal inside JSON strings too
def test_unicode_line_separators_inside_a_sentence_stay_text(tmp_path: Path, separator: str) -> None:
    """Only newlines end a line: str.splitlines would cut these sentences in two (and shift line numbers)."""
    pairs = [(f"Left{separator}right.", "Plain.", 1.0), *TINY_PAIRS]
    stsb = read_file(write(tmp_path / "sts-dev.csv", stsb_text(pairs).replace("\n", "\r\n")))
    jsonl = read_file(write(tmp_path / "p.jsonl", "".join(
        f'{{"sentence1": "{a}", "sentence2": "{b}", "score": {s}}}\n' for a, b, s in pairs)))
    assert stsb == jsonl == [(a, b, float(s)) for a, b, s in pairs]
    broken = write(tmp_path / "q.jsonl", '{"sentence1": "a", "sentence2": "b", "score": 1}\n'
                                         f'{{"sentence1": "x{separator}y", "score": 2}}\n')
    with pytest.raises(DataError, match=r"q.jsonl:2: missing key\(s\) sentence2"):
        read_file(broken)


def test_real_stsb_dev_split(stsb_dir: Path) -> None:
    data = load_sts(stsb_dir, "dev")
    assert len(data) == 1500
    assert len(set(data.sentences1 + data.sentences2)) == 2910
    assert min(data.scores) == 0.0 and max(data.scores) == 5.0


def test_csv_tsv_jsonl_give_the_same_pairs(tmp_path: Path) -> None:
    header = "sentence1,sentence2,score\n"
    csv_text = header + "".join(f'"{a}","{b}",{s}\n' for a, b, s in TINY_PAIRS)
    tsv_text = "score\tsentence2\tsentence1\n" + "".join(f"{s}\t{b}\t{a}\n" for a, b, s in TINY_PAIRS)
    jsonl_text = "".join(f'{{"sentence1": "{a}", "sentence2": "{b}", "score": {s}}}\n' for a, b, s in TINY_PAIRS)
    expected = [(a, b, float(s)) for a, b, s in TINY_PAIRS]
    for name, text in (("p.csv", csv_text), ("p.tsv", tsv_text), ("p.jsonl", jsonl_text)):
        assert read_file(write(tmp_path / name, text)) == expected


def test_folder_with_named_split_files(tmp_path: Path) -> None:
    write(tmp_path / "test.jsonl", "".join(f'{{"sentence1": "{a}", "sentence2": "{b}", "score": {s}}}\n'
                                          for a, b, s in TINY_PAIRS))
    data = load_sts(tmp_path, "test")
    assert (data.name, data.split, len(data)) == (tmp_path.name, "test", 6)
    with pytest.raises(DataError, match="no file for split 'dev' .looked for sts-dev.csv, dev.csv, dev.tsv, dev.jsonl"):
        load_sts(tmp_path, "dev")


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    a = load_sts(write(tmp_path / "a.csv", "sentence1,sentence2,score\n" + "".join(
        f'"{x}","{y}",{s}\n' for x, y, s in TINY_PAIRS)), "dev")
    b = load_sts(write(tmp_path / "b.jsonl", "".join(
        f'{{"sentence1": "{x}", "sentence2": "{y}", "score": {s}}}\n' for x, y, s in TINY_PAIRS)), "dev")
    changed = TINY_PAIRS[:-1] + [(TINY_PAIRS[-1][0], TINY_PAIRS[-1][1], 0.5)]
    c = load_sts(write(tmp_path / "c.jsonl", "".join(
        f'{{"sentence1": "{x}", "sentence2": "{y}", "score": {s}}}\n' for x, y, s in changed)), "dev")
    assert a.fingerprint == b.fingerprint != c.fingerprint


GOOD = "sentence1,sentence2,score\n" + "".join(f'"{a}","{b}",{s}\n' for a, b, s in TINY_PAIRS)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("sts-dev.csv", "a\tb\tc\n", r"sts-dev.csv:1: expected at least 7 tab-separated fields .* found 3"),
        ("sts-dev.csv", stsb_text().replace("\t4.8\t", "\tfour\t"), r"sts-dev.csv:1: score 'four' is not a number"),
        ("sts-dev.csv", stsb_text().replace("\t4.2\t", "\tnan\t"), r"sts-dev.csv:2: score 'nan' is not a finite"),
        ("sts-dev.csv", stsb_text().replace("\t3.1\t", "\t7.5\t"), r"sts-dev.csv:4: score 7.5 is outside the STS scale 0-5"),
        ("sts-dev.csv", stsb_text().replace("A dog runs in the park.", " "), r"sts-dev.csv:3: sentence1 is empty"),
        ("p.csv", "sentence1,score\nx,1\n", r"p.csv:1: missing column\(s\) sentence2; the header has sentence1, score"),
        ("p.csv", GOOD + "sentence1,sentence2,score\n", r"p.csv:8: the header line is repeated"),
        ("p.csv", GOOD.replace(",0.6\n", ",0.6,extra\n"), r"p.csv:4: expected 3 fields as in the header, found 4"),
        ("p.csv", GOOD.replace(",3.9\n", ",\n"), r"p.csv:6: score '' is not a number"),
        ("p.csv", "", r"p.csv: the file is empty"),
        ("p.csv", "sentence1,sentence2,score\n", r"p.csv: 0 pair\(s\) in split 'dev'; a correlation needs at least 3"),
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d,2\n", r"0? ?2 pair\(s\)"),
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d,1\ne,f,1\n", r"every gold score is 1; a correlation is undefined"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b"}\n', r"p.jsonl:1: missing key\(s\) score"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "score": 1}\n{oops\n', r"p.jsonl:2: not valid JSON"),
        ("p.jsonl", '["a", "b", 1]\n', r"p.jsonl:1: expected a JSON object"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": 3, "score": 1}\n', r"p.jsonl:1: sentence2 is not text: 3"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "score": true}\n', r"p.jsonl:1: score is not a number"),
        ("p.txt", "x", r"p.txt: unknown data file type '.txt'"),
        ("p.csv", GOOD.encode() + "caf\xe9,b,1\n".encode("latin-1"), r"p.csv:8: not valid UTF-8 \(byte 0xe9\)"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path: Path, name: str, text: str | bytes, message: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(DataError, match=message) as raised:
        load_sts(path, "dev")
    assert str(path) in str(raised.value)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"STS data path {tmp_path / 'nope'} does not exist"):
        load_sts(tmp_path / "nope", "dev")


def test_malformed_file_fails_the_test_with_file_and_line_only(pytester: pytest.Pytester) -> None:
    write(pytester.path / "bad.csv", GOOD.replace(",4.2\n", ",high\n"))
    pytester.makepyfile("""
        def test_sts(embed_eval):
            embed_eval.sts()
    """)
    result = pytester.runpytest("--embed-models=minilm", "--embed-sts-path=bad.csv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"DataError: {pytester.path / 'bad.csv'}:3: score 'high' is not a number"])
    assert "Traceback" not in result.stdout.str() and "site-packages" not in result.stdout.str()
