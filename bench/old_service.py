#!/usr/bin/env python3
"""The old Python vector-restore service's restore algorithm, re-implemented
for the benchmark (bench/README.md says why and how faithfully).

For each table of the set, in one transaction:
  1. read the whole CSV file with csv.reader into a list (header, then rows);
  2. in the cmetadata column, keep values that parse as JSON and turn the rest
     (the legacy Python dict repr) into JSON with ast.literal_eval and
     json.dumps(ensure_ascii=False);
  3. write all rows with csv.writer into an io.StringIO;
  4. TRUNCATE the table (CASCADE, as the foreign key requires) and
     copy_expert("COPY table (columns) FROM STDIN WITH CSV", buffer).
Then COMMIT.

NULL: csv.reader gives '' for an unquoted empty field (NULL in the legacy
files) and for a quoted "" alike; csv.writer writes '' back as an unquoted
empty field, which COPY ... WITH CSV reads as NULL. So NULL stays NULL and an
empty string becomes NULL, as with the old service (the legacy files cannot
tell the two apart anyway).

Prints a JSON object of its phases' seconds on stdout.
"""

import argparse
import ast
import csv
import io
import json
import sys
import time

import psycopg2

# Lifted only so vectors of many thousand dimensions (fields over 128 KiB)
# do not stop the benchmark; it changes nothing else.
csv.field_size_limit(sys.maxsize)


def fix_metadata(value):
    """The old service's cmetadata repair."""
    if not value:
        return value
    try:
        json.loads(value)
        return value
    except (ValueError, TypeError):
        pass
    try:
        return json.dumps(ast.literal_eval(value), ensure_ascii=False)
    except (ValueError, SyntaxError):
        return value


def restore_table(cur, table, path, phases):
    t = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    phases["read_s"] += time.perf_counter() - t

    t = time.perf_counter()
    fixed = 0
    if "cmetadata" in header:
        i = header.index("cmetadata")
        for row in data:
            new = fix_metadata(row[i])
            if new is not row[i]:
                fixed += 1
            row[i] = new
    phases["fix_s"] += time.perf_counter() - t

    t = time.perf_counter()
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in data:
        writer.writerow(row)
    buf.seek(0)
    phases["buffer_s"] += time.perf_counter() - t

    t = time.perf_counter()
    cur.execute(f"TRUNCATE TABLE {table} CASCADE")
    cur.copy_expert(f"COPY {table} ({', '.join(header)}) FROM STDIN WITH CSV", buf)
    phases["copy_s"] += time.perf_counter() - t
    return len(data), fixed


def main():
    start = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--collection-csv", required=True)
    ap.add_argument("--embedding-csv", required=True)
    args = ap.parse_args()

    phases = {"connect_s": 0.0, "read_s": 0.0, "fix_s": 0.0, "buffer_s": 0.0, "copy_s": 0.0, "commit_s": 0.0}
    t = time.perf_counter()
    conn = psycopg2.connect(args.dsn)
    conn.set_client_encoding("UTF8")
    phases["connect_s"] = time.perf_counter() - t
    rows, fixed = {}, {}
    try:
        with conn.cursor() as cur:
            for table, path in (("langchain_pg_collection", args.collection_csv),
                                ("langchain_pg_embedding", args.embedding_csv)):
                rows[table], fixed[table] = restore_table(cur, table, path, phases)
        t = time.perf_counter()
        conn.commit()
        phases["commit_s"] = time.perf_counter() - t
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()
    phases["total_s"] = time.perf_counter() - start
    json.dump({"phases": phases, "rows": rows, "metadata_converted": fixed}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
