"""Peak memory of the bank file parsers (and the CSV line reader) on hostile and large valid files:
each file is parsed in a fresh child process that reports its peak RSS (`ru_maxrss`) before and
after parsing. Prints a table; asserts nothing (docs/benchmarks.md, "Parser memory").

    .venv/bin/python bench/parser_memory.py                      # 1, 10 and 50 MB
    .venv/bin/python bench/parser_memory.py --sizes 1 10         # quicker
    .venv/bin/python bench/parser_memory.py --layer ../main/layers/scf/python   # another checkout

"RSS before" is the child once it has imported the parsers and read the file (the bytes are held,
as the ingest function holds them); "peak" is the most it used while parsing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
CAMT_054_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
PAIN_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"


# ---- files -------------------------------------------------------------------------------------


def _repeat(head: bytes, item: Callable[[int], bytes], tail: bytes, size: int) -> bytes:
    """`head`, as many items as fit in `size` bytes, `tail`."""
    parts, total, i = [head], len(head) + len(tail), 0
    while total + len(piece := item(i)) <= size:
        parts.append(piece)
        total += len(piece)
        i += 1
    parts.append(tail)
    return b"".join(parts)


def camt053(size: int) -> bytes:
    """A pretty-printed camt.053.001.08 of entries with one transaction each (about 1 KB an entry)."""
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{CAMT_NS}">\n <BkToCstmrStmt>\n'
        "  <GrpHdr><MsgId>BENCH-1</MsgId><CreDtTm>2026-11-30T18:00:00</CreDtTm></GrpHdr>\n"
        "  <Stmt>\n   <Id>STMT-1</Id>\n   <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id>"
        "<Ccy>EUR</Ccy></Acct>\n"
    ).encode()

    def entry(i: int) -> bytes:
        return (
            "   <Ntry>\n"
            f'    <Amt Ccy="EUR">{i % 9000 + 1}.{i % 100:02d}</Amt>\n'
            "    <CdtDbtInd>CRDT</CdtDbtInd>\n    <Sts><Cd>BOOK</Cd></Sts>\n"
            "    <BookgDt><Dt>2026-11-30</Dt></BookgDt>\n    <ValDt><Dt>2026-11-30</Dt></ValDt>\n"
            f"    <AcctSvcrRef>BANKREF-{i:010d}</AcctSvcrRef>\n"
            "    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>"
            "</BkTxCd>\n"
            "    <NtryDtls><TxDtls>\n"
            f"     <Refs><EndToEndId>SCF-E2E-{i:012d}</EndToEndId></Refs>\n"
            f'     <Amt Ccy="EUR">{i % 9000 + 1}.{i % 100:02d}</Amt>\n'
            "     <RltdPties><Dbtr><Pty><Nm>Buyer Company GmbH</Nm></Pty></Dbtr></RltdPties>\n"
            f"     <RmtInf><Ustrd>Invoice INV-{i:08d} settlement of supplier finance</Ustrd></RmtInf>\n"
            "    </TxDtls></NtryDtls>\n"
            "   </Ntry>\n"
        ).encode()

    return _repeat(head, entry, b"  </Stmt>\n </BkToCstmrStmt>\n</Document>\n", size)


def _notification(size: int, entries_open: bytes, item: bytes, entries_close: bytes) -> bytes:
    """A camt.054 notification whose body is `item` repeated to fill `size` bytes."""
    head = (
        f'<?xml version="1.0"?><Document xmlns="{CAMT_054_NS}"><BkToCstmrDbtCdtNtfctn>'
        "<GrpHdr><MsgId>X</MsgId></GrpHdr><Ntfctn><Id>N</Id>"
        "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>"
    ).encode() + entries_open
    tail = entries_close + b"</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    return head + item * ((size - len(head) - len(tail)) // len(item)) + tail


def camt054_element_bomb(size: int) -> bytes:
    """The issue's hostile file: a camt.054 made of empty elements (one million in 4 MB)."""
    return _notification(size, b"<Ntry>", b"<a/>", b"</Ntry>")


def camt054_empty_entries(size: int) -> bytes:
    """Entries with nothing in them: each one an error, none an entry."""
    return _notification(size, b"", b"<Ntry/>", b"")


def mt940(size: int) -> bytes:
    """German-style MT940: statements of 200 entries with structured :86: (about 230 B an entry)."""
    out: list[bytes] = []
    total, statement = 0, 0
    while True:
        statement += 1
        lines = [
            "{1:F01BANKDEFFAXXX0000000000}{2:O9400000000000BANKDEFFAXXX00000000000000000000N}{4:",
            f":20:STMT{statement:012d}",
            ":25:37040044/0532013000",
            f":28C:{statement}/1",
            ":60F:C261130EUR1000000,00",
        ]
        for i in range(200):
            lines += [
                f":61:2611301130C{i + 1},{i % 100:02d}NTRFNONREF//BANK{statement:06d}{i:04d}",
                f":86:166?00GUTSCHRIFT?20EREF+SCF-E2E-{statement:06d}{i:06d}?21SVWZ+Invoice INV-{i:08d}",
                "?22settlement of supplier finance?32Buyer Company GmbH",
            ]
        lines += [":62F:C261130EUR1020100,00", "-}"]
        chunk = ("\r\n".join(lines) + "\r\n").encode()
        if total + len(chunk) > size:
            return b"".join(out)
        out.append(chunk)
        total += len(chunk)


def mt940_minimal_entries(size: int) -> bytes:
    """The smallest entries MT940 allows (25 bytes each), in statements of 1,000: the item cap."""
    statement = (
        b":20:X\n:25:DE89370400440532013000\n:60F:C261130EUR1,00\n" + b":61:2611301130C1,00NTRF\n" * 1000
    )
    return statement * max(1, size // len(statement))


def mt940_tiny_lines(size: int) -> bytes:
    """One statement whose :86: goes on for millions of one-character lines."""
    head = b":20:X\n:25:DE89370400440532013000\n:60F:C261130EUR1,00\n:61:2611301130C1,00NTRFNONREF\n:86:"
    return head + b"x\n" * ((size - len(head)) // 2)


def mt940_no_line_break(size: int) -> bytes:
    head = b":20:X\n:25:DE89370400440532013000\n:60F:C261130EUR1,00\n:86:"
    return head + b"x" * (size - len(head))


def pain002(size: int) -> bytes:
    head = (
        f'<?xml version="1.0"?><Document xmlns="{PAIN_NS}"><CstmrPmtStsRpt>'
        "<GrpHdr><MsgId>R</MsgId><CreDtTm>2026-11-30T10:00:00</CreDtTm></GrpHdr>"
        "<OrgnlGrpInfAndSts><OrgnlMsgId>SCF-1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        "</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>\n"
    ).encode()

    def status(i: int) -> bytes:
        return (
            f"<TxInfAndSts><StsId>S{i}</StsId><OrgnlInstrId>I{i}</OrgnlInstrId>"
            f"<OrgnlEndToEndId>SCF-E2E-{i:012d}</OrgnlEndToEndId><TxSts>ACSC</TxSts>"
            "<AccptncDtTm>2026-11-30T10:00:00</AccptncDtTm></TxInfAndSts>\n"
        ).encode()

    return _repeat(head, status, b"</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>", size)


def csv_no_line_break(size: int) -> bytes:
    header = (
        b"supplier_id,document_id,document_type,document_date,due_date,amount,currency,status,reference\n"
    )
    return header + b"S-1,D-1," + b"x" * (size - len(header) - 8)


CASES: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "camt.053 valid": ("camt", camt053),
    "camt.054 element bomb": ("camt", camt054_element_bomb),
    "camt.054 empty entries": ("camt", camt054_empty_entries),
    "MT940 valid": ("mt940", mt940),
    "MT940 minimal entries": ("mt940", mt940_minimal_entries),
    "MT940 tiny lines": ("mt940", mt940_tiny_lines),
    "MT940 no line break": ("mt940", mt940_no_line_break),
    "pain.002 valid": ("pain002", pain002),
    "CSV no line break": ("csv", csv_no_line_break),
}


# ---- the child ---------------------------------------------------------------------------------


def _rss_mb() -> float:  # float-ok: megabytes
    """Peak RSS of this process (VmHWM: ru_maxrss would include the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover - not Linux


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(MB), b"")


def child(parser: str, path: Path) -> dict[str, Any]:
    from scf.adapters.files.camt import parse_camt
    from scf.adapters.files.mt940 import parse_mt940
    from scf.adapters.files.pain002 import parse_pain002
    from scf.adapters.files.platform_csv import read_rows
    from scf.adapters.s3 import S3ObjectLines
    from scf.domain.files import CsvSyntaxError

    if parser == "csv":  # streamed from the file as S3Inbox streams the object
        before = _rss_mb()
        started = time.monotonic()
        rows, outcome = 0, "read"
        try:
            for _ in read_rows(S3ObjectLines(_chunks(path))):
                rows += 1
        except CsvSyntaxError as exc:
            outcome = f"refused {exc.code} (line {exc.line})"
        seconds = time.monotonic() - started
        return {"before": before, "peak": _rss_mb(), "seconds": seconds, "outcome": f"{rows} rows, {outcome}"}
    data = path.read_bytes()
    before = _rss_mb()
    started = time.monotonic()
    parse = {"camt": parse_camt, "mt940": parse_mt940, "pain002": parse_pain002}[parser]
    result = parse(data)
    seconds = time.monotonic() - started
    entries = sum(len(s.entries) for s in result.statements)
    codes = sorted({e.code for e in result.errors})
    outcome = (
        f"{len(result.statements)} stmts, {entries} entries, {len(result.statuses)} statuses, "
        f"{len(result.errors)} errors {','.join(codes[:3])}"
    )
    return {"before": before, "peak": _rss_mb(), "seconds": seconds, "outcome": outcome}


# ---- the parent --------------------------------------------------------------------------------


def run(name: str, size_mb: int, directory: Path, layer: Path) -> dict[str, Any]:
    parser, make = CASES[name]
    path = directory / f"{name.replace(' ', '_')}-{size_mb}.bin"
    if not path.exists():
        path.write_bytes(make(size_mb * MB))
    env = {**os.environ, "PYTHONPATH": f"{layer}{os.pathsep}{ROOT}"}
    answer = subprocess.run(
        [sys.executable, __file__, "--child", parser, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        return {"before": 0, "peak": 0, "seconds": 0, "outcome": f"child failed: {answer.stderr[-300:]}"}
    figures: dict[str, Any] = json.loads(answer.stdout)
    return figures | {"bytes": path.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50], help="file sizes, MB")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--layer", type=Path, default=ROOT / "layers" / "scf" / "python")
    parser.add_argument("--child", nargs=2, metavar=("PARSER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    print(f"layer: {args.layer}")
    columns = f"{'RSS before':>10} | {'peak RSS':>8} | {'x file':>6} | {'parse s':>7}"
    print(f"| {'file':<24} | {'MB':>3} | {columns} | outcome")
    print(f"|{'-' * 26}|{'-' * 5}|{'-' * 12}|{'-' * 10}|{'-' * 8}|{'-' * 9}|---------")
    with tempfile.TemporaryDirectory(prefix="parser-memory-") as directory:
        for name in args.cases:
            for size in args.sizes:
                f = run(name, size, Path(directory), args.layer.resolve())
                ratio = (f["peak"] - f["before"]) * MB / f["bytes"] if f.get("bytes") else 0  # float-ok
                print(
                    f"| {name:<24} | {size:>3} | {f['before']:>7.0f} MB | {f['peak']:>5.0f} MB | "
                    f"{ratio:>6.1f} | {f['seconds']:>7.1f} | {f['outcome']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
