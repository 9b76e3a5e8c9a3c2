"""A row-normalizing process for big imports: ``python -m contacts.normalize_worker``.

Why a plain subprocess and not ``multiprocessing``: the import runs inside a Celery prefork worker, which is a
daemonic process, and daemonic processes may not start ``multiprocessing`` children. A subprocess speaking
length-prefixed pickles over stdin/stdout works under any Celery pool and any start method, needs no Django
(``contacts.rows`` is pure), and exits by itself when its parent goes away (stdin closes).

Protocol, each message = 8-byte little-endian length + pickle:
    parent → child: ("spec", RowSpec) once, then per chunk ("rows", [cells, …]) (records already parsed: XLSX,
                    UTF-16) or ("block", (encoding, delimiter, bytes)) (whole CSV records as bytes)
    child → parent: per chunk, in order, (record count, results, original cells joined by the unit separator —
                    None for "rows", whose cells the parent still has)
"""

from __future__ import annotations

import pickle
import sys

HEADER = 8


def read_message(stream):
    header = stream.read(HEADER)
    if len(header) < HEADER:
        return None
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # noqa: S301 - our own parent process is the only writer


def write_message(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(HEADER, "little"))
    stream.write(data)
    stream.flush()


def main() -> int:
    from contacts.rows import normalize_block, normalize_rows

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    spec = None
    while True:
        message = read_message(stdin)
        if message is None:
            return 0
        kind, payload = message
        if kind == "spec":
            spec = payload
        elif kind == "rows":
            write_message(stdout, (len(payload), normalize_rows(spec, payload), None))
        elif kind == "block":
            write_message(stdout, normalize_block(spec, *payload))


if __name__ == "__main__":
    sys.exit(main())
