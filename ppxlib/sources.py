"""Open a shop's data wherever it lives and hand it over as ibis tables.

:func:`open` accepts a folder of files, a ``.duckdb`` file, an ibis backend, a connection URL,
or a dict of data frames. Whatever the source, the result is a :class:`Dataset` whose tables
are ibis expressions: nothing is read into Python until a computation asks for a small result.
"""

from __future__ import annotations

import builtins
import datetime as dt
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from ppxlib.contract import (
    CONTRACT,
    TABLES,
    ContractError,
    StructuralProblem,
    duplicate_columns,
)
from ppxlib.validation import (
    DataQuality,
    LongLinesError,
    compressed_message,
    file_kind,
    reading,
    utc_naive,
    validate_tables,
)

FILE_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".tsv", ".tsv.gz")
#: DuckDB's memory cap per connection ppx opens, unless ``$PPX_DUCKDB_MEMORY_LIMIT`` says
#: otherwise. DuckDB's own default is 80 % of the machine, per connection; a report runs
#: several kernels at once. DuckDB spills what does not fit to disk: at 10M orders the
#: customer summary runs as fast under this cap in a quarter less memory (README, Memory).
DUCKDB_MEMORY_LIMIT = "1GB"
#: DuckDB's threads per connection ppx opens, when set (see :func:`connect_duckdb`).
THREADS_ENV = "PPX_DUCKDB_THREADS"
CSV_DELIMITERS = (",", ";", "\t", "|")
#: Hive's name for a partition whose value was null.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


#: Connection-string settings (after ``?`` or ``;``) shown as they are. Every other setting
#: is masked: an allow-list, because a driver's next token setting will have a name nobody
#: thought of (``sig``, ``credentials_info``, ``X-Amz-Signature``, ...).
HARMLESS_SETTINGS = frozenset({
    "sslmode", "schema", "database", "databasename", "dbname", "db", "warehouse", "role",
    "region", "host", "port", "catalog", "project", "dataset", "location", "application",
    "application_name", "connect_timeout", "timeout", "search_path", "read_only",
    "memory_limit", "threads", "format", "encoding",
})
_URL = re.compile(r"\b([a-zA-Z][\w+.-]*://)([^\s<>]*)")
_URL_TAIL = re.compile(r"['\")\]},.]+$")  # quotes and brackets around a URL in a message
#: Outside URLs (paths, error messages): ``name=value`` where the name says it is a secret.
_SECRET_SETTING = re.compile(
    r"(?i)\b([\w.-]*(?:password|passwd|pass|pwd|token|secret|key|sig|signature|credential"
    r"|auth)[\w.-]*)=(\{[^}]*\}?|\"[^\"]*\"?|'[^']*'?|[^&\s;]+)")


def mask_secrets(text: str) -> str:
    """Hide passwords, tokens and signatures in a connection string, path or message.

    In a URL (``scheme://...``) everything that may hold a secret is masked unless known
    harmless: the user information before ``@`` (a user name is kept when a password
    follows it), and every setting after ``?`` or ``;`` whose name is not in
    :data:`HARMLESS_SETTINGS`. Outside URLs, ``name=value`` is masked when the name says
    password, token, key, secret, sig(nature), credential or auth (a folder called
    ``shop_password=...``).

    Examples
    --------
    >>> mask_secrets("postgres://ann:s3cret@db:5432/shop?sslmode=require&token=abc")
    'postgres://ann:***@db:5432/shop?sslmode=require&token=***'
    >>> mask_secrets("https://b.s3.amazonaws.com/o.csv?X-Amz-Credential=AK&X-Amz-Signature=f")
    'https://b.s3.amazonaws.com/o.csv?X-Amz-Credential=***&X-Amz-Signature=***'
    >>> mask_secrets("cannot open /data/shop_password=HUNTER2")
    'cannot open /data/shop_password=***'
    >>> mask_secrets("data/sample")
    'data/sample'
    """
    parts, last = [], 0
    for match in _URL.finditer(text):
        parts.append(_mask_names(text[last:match.start()]))
        rest = match.group(2)
        tail = _URL_TAIL.search(rest)
        tail_at = tail.start() if tail else len(rest)
        parts.append(match.group(1) + _mask_url_rest(rest[:tail_at]) + rest[tail_at:])
        last = match.end()
    parts.append(_mask_names(text[last:]))
    return "".join(parts)


def _mask_names(text: str) -> str:
    return _SECRET_SETTING.sub(r"\1=***", text)


def _mask_url_rest(rest: str) -> str:
    """Mask what follows ``scheme://``: user information, then the settings."""
    settings_at = min((i for i in (rest.find("?"), rest.find(";")) if i >= 0),
                      default=len(rest))
    place, settings = rest[:settings_at], rest[settings_at:]
    if "@" in place:  # user information: everything before the last @ of the address
        userinfo, place = place.rsplit("@", 1)
        user, colon, _password = userinfo.partition(":")
        shown = f"{user}:***" if colon and "/" not in user else "***"
        place = f"{shown}@{place}"
    return _mask_names(place) + re.sub(r"(?<=[?;&])([^?;&]*)", _mask_setting, settings)


def _mask_setting(match: re.Match) -> str:
    name, equals, _value = match.group(1).partition("=")
    if not match.group(1):
        return ""
    if not equals:
        return "***"
    return match.group(1) if name.strip().lower() in HARMLESS_SETTINGS else f"{name}=***"


@dataclass
class CleanDataset:
    """Tables that passed the contract, plus the tally of what was excluded.

    Attributes
    ----------
    orders, returns, surveys, tickets : ibis.Table or None
        Clean tables with the contract's column types; None when not provided.
    quality : DataQuality
        Rows read, excluded (by rule, with examples) and kept, per table.
    snapshot : str or None
        Which validated snapshot (:mod:`ppxlib.snapshot`) the tables were read from, if any:
        such tables cannot change, so results computed from them can be shared
        (:mod:`ppxlib.shared`).
    """

    orders: ir.Table
    returns: ir.Table | None
    surveys: ir.Table | None
    tickets: ir.Table | None
    quality: DataQuality
    snapshot: str | None = None

    def table(self, name: str) -> ir.Table | None:
        return getattr(self, name)


@dataclass
class Dataset:
    """A shop's tables as ibis expressions, as found in the source (not yet validated).

    Use :meth:`validate` to get clean tables and the data-quality tally.
    """

    backend: BaseBackend
    tables: dict[str, ir.Table | None]
    description: str
    validated: CleanDataset | None = field(default=None, repr=False)
    _clean: dict[Any, CleanDataset] = field(default_factory=dict, repr=False)
    #: Table -> the CSV file it was read from (so over-long lines can be left out).
    files: dict[str, Path] = field(default_factory=dict, repr=False)
    #: Table -> ``(line, bytes)`` of lines left out because no row can be that long.
    skipped: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)

    @property
    def orders(self) -> ir.Table | None:
        return self.tables.get("orders")

    @property
    def returns(self) -> ir.Table | None:
        return self.tables.get("returns")

    @property
    def surveys(self) -> ir.Table | None:
        return self.tables.get("surveys")

    @property
    def tickets(self) -> ir.Table | None:
        return self.tables.get("tickets")

    def validate(self, as_of: dt.datetime | str | None = None) -> CleanDataset:
        """Check every table against the contract (see :mod:`ppxlib.contract`).

        Parameters
        ----------
        as_of : datetime or str, optional
            Timestamps after this moment count as "in the future". Default: now (UTC). One
            with a time zone (``2026-11-01T06:00+02:00``) is converted to UTC.

        Returns
        -------
        CleanDataset
            Clean tables and the data-quality tally.

        Raises
        ------
        ppxlib.contract.ContractError
            On structural problems (missing required columns, unreadable columns, no orders).

        Examples
        --------
        >>> import ppxlib
        >>> clean = ppxlib.open("data/sample").validate()  # doctest: +SKIP
        >>> print(clean.quality.to_text())                  # doctest: +SKIP
        """
        as_of = utc_naive(as_of)
        if self.validated is not None:  # a snapshot (ppxlib.snapshot): checked when written
            stored = self.validated.quality.as_of
            if as_of is not None and stored is not None and as_of != stored:
                raise ValueError(
                    f"{self.description} was validated as of {stored:%Y-%m-%d %H:%M:%S}; "
                    f"open the original source to validate as of {as_of:%Y-%m-%d %H:%M:%S}"
                )
            return self.validated
        key = as_of
        if key not in self._clean:
            while True:
                try:
                    clean, quality = validate_tables(self.tables, as_of=as_of,
                                                     skipped=self.skipped)
                    break
                except LongLinesError as err:  # found only when the whole file was read
                    if not self._leave_out(err):
                        raise
            self._clean[key] = CleanDataset(**clean, quality=quality)
        return self._clean[key]

    def _leave_out(self, err: LongLinesError) -> bool:
        """Read an optional table again without its over-long lines; False if it cannot be."""
        path = self.files.get(err.table)
        if path is None or err.table in self.skipped or CONTRACT[err.table].required:
            return False
        self.tables[err.table], self.skipped[err.table] = _without_lines(
            self.backend, path, err.table, err.lines)
        return True


def connect_duckdb(database: str | os.PathLike = ":memory:", read_only: bool = False
                   ) -> BaseBackend:
    """A DuckDB connection set up the way ppx runs it.

    Memory is capped at ``$PPX_DUCKDB_MEMORY_LIMIT`` (default :data:`DUCKDB_MEMORY_LIMIT`;
    any DuckDB size such as ``"8GB"``), what does not fit spills to a private folder under
    the system's temporary directory, and naive timestamps are read as UTC. DuckDB runs
    ``$PPX_DUCKDB_THREADS`` threads when that is set (``ppx report`` sets it for its kernels:
    the machine's cores shared among the notebooks it runs at once), else one per core.

    Examples
    --------
    >>> con = connect_duckdb()
    >>> con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
    '953.6 MiB'
    """
    limit = os.environ.get("PPX_DUCKDB_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT
    threads = _duckdb_threads()
    # Per process: two kernels spilling into one folder would overwrite each other's files.
    spill = Path(tempfile.gettempdir()) / f"ppx-duckdb-{os.getpid()}"
    try:
        con = ibis.duckdb.connect(database, read_only=read_only, memory_limit=limit,
                                  temp_directory=str(spill),
                                  **({"threads": threads} if threads else {}))
    except duckdb.ParserException as err:
        if limit == DUCKDB_MEMORY_LIMIT:
            raise
        raise ValueError(f"PPX_DUCKDB_MEMORY_LIMIT={limit!r} is not a size DuckDB understands "
                         f"(e.g. 512MB, 8GB): {err}") from None
    # Without this, DuckDB keeps every customer-sized result in its input's order and cannot
    # spill that state: at 45M orders the customer summary ran out of the 1 GB cap. ppx never
    # relies on an unordered result's order (order-dependent steps say ORDER BY).
    con.raw_sql("SET preserve_insertion_order = false")
    _utc(con)
    return con


def _duckdb_threads() -> int | None:
    """``$PPX_DUCKDB_THREADS`` as a whole number of threads, or None when it is not set.

    Each DuckDB thread keeps its own hash tables and sort runs inside the connection's one
    memory cap, so fewer threads leave each more of it.
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"PPX_DUCKDB_THREADS={text!r} is not a whole number of threads "
                         "(1 or more)")
    return int(text)


def out_of_memory_message(message: str) -> str:
    r"""DuckDB's out-of-memory error in one line, with how to give it more.

    DuckDB's own advice (fewer threads, ...) is not what a ppx user can act on.

    Examples
    --------
    >>> out_of_memory_message("Out of Memory Error: failed to allocate 16 MiB\n\nPossible ...")
    ... # doctest: +ELLIPSIS
    'DuckDB ran out of memory (Out of Memory Error: failed to allocate 16 MiB); ppx caps ...'
    """
    first = message.strip().splitlines()[0] if message.strip() else "no details"
    return (f"DuckDB ran out of memory ({first}); ppx caps each DuckDB connection at "
            f"$PPX_DUCKDB_MEMORY_LIMIT (default {DUCKDB_MEMORY_LIMIT}): raise it, "
            "e.g. PPX_DUCKDB_MEMORY_LIMIT=8GB")


def _utc(con: BaseBackend) -> None:
    # Naive timestamps mean UTC; make the engine agree when it converts zoned ones.
    if con.name == "duckdb":
        con.raw_sql("SET TimeZone = 'UTC'")
    elif con.name == "pyspark":
        con._session.conf.set("spark.sql.session.timeZone", "UTC")


def _find_file(folder: Path, name: str) -> Path | None:
    found = [folder / f"{name}{suffix}" for suffix in FILE_SUFFIXES]
    found = [p for p in found if p.is_file()]
    partitioned = folder / name
    if partitioned.is_dir() and any(partitioned.rglob("*.parquet")):
        found.append(partitioned)
    if len(found) > 1:
        raise ValueError(
            f"{folder}: several files for table {name!r}: "
            f"{', '.join(p.name for p in found)}; keep one"
        )
    return found[0] if found else None


def _read_file(con: BaseBackend, path: Path, name: str) -> tuple[ir.Table, list]:
    """The table in ``path`` and the ``(line, bytes)`` of any lines left out of it."""
    if path.is_file():
        head = _head(path, name)
        if not head:
            columns = ", ".join(CONTRACT[name].required_columns)
            raise ContractError([StructuralProblem(
                name, None, f"the file {path.name} is empty (0 bytes); expected a header row "
                f"naming the columns ({columns}) and then one row per {name[:-1]}")])
        _check_kind(path, name, head)
    try:
        with reading(name):
            return _read(con, path, name), []
    except LongLinesError as err:
        if CONTRACT[name].required:
            raise
        return _without_lines(con, path, name, err.lines)


def _head(path: Path, name: str) -> bytes:
    """The first bytes of a file (decompressed for .gz); unreadable files are an error."""
    import gzip

    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read(8)
        with builtins.open(path, "rb") as handle:
            return handle.read(8)
    except PermissionError:
        raise ContractError([StructuralProblem(
            name, None, f"the file {path.name} cannot be read: permission denied (the "
            "account running ppx needs read access)")]) from None
    except (gzip.BadGzipFile, EOFError) as err:
        raise ContractError([StructuralProblem(
            name, None, f"the file {path.name} is not valid gzip data ({err}): "
            f"name it without .gz if it is plain text")]) from None
    except OSError as err:
        raise ContractError([StructuralProblem(
            name, None, f"the file {path.name} cannot be read: {err.strerror or err}")]
        ) from None


def _check_kind(path: Path, name: str, head: bytes) -> None:
    """A file whose content is not what its name says stops here, with what it is."""
    kind = file_kind(head)
    if path.name.endswith(".parquet"):
        if not head.startswith(b"PAR1"):
            what = f"it is {kind}" if kind else "it looks like text: a CSV file? then name it .csv"
            raise ContractError([StructuralProblem(
                name, None, f"the file {path.name} is not a Parquet file ({what})")])
    elif kind:
        raise ContractError([StructuralProblem(name, None, compressed_message(path.name, kind))])


def _read(con: BaseBackend, path: Path, name: str) -> ir.Table:
    # hive_partitioning off everywhere: DuckDB would otherwise turn any folder named
    # `amount=0` or `shop_password=x` on the path into a column of every row.
    if path.is_dir():
        return _read_partitioned(con, path, name)
    if path.name.endswith(".parquet"):
        return con.read_parquet(str(path), table_name=name, hive_partitioning=False)
    # Identifiers stay text: "00123" must not become 123.
    id_columns = {c.name for c in CONTRACT[name].columns if c.kind == "id"}
    header, delimiter = _csv_header(path)
    duplicated = duplicate_columns(name, _csv_header(path, strip=False)[0])
    if duplicated:  # DuckDB would rename the second copy to amount_1 and read on
        raise ContractError(duplicated)
    types = {c: "VARCHAR" for c in header if c.strip().lower() in id_columns}
    # skip=0: otherwise the sniffer may take a later line for the header and skip the rest.
    options: dict[str, Any] = {"header": True, "delim": delimiter, "skip": 0,
                               "hive_partitioning": False}
    if delimiter == ";":  # a semicolon file comes from a spreadsheet using decimal commas
        options["decimal_separator"] = ","
    if types:
        options["types"] = types
    return con.read_csv(str(path), table_name=name, **options)


def _read_partitioned(con: BaseBackend, folder: Path, name: str) -> ir.Table:
    """A folder of Parquet files for one table, partitioned on purpose or not.

    Folder names inside the table's folder of the form ``key=value`` give a column only when
    ``key`` is a contract column of the table (``orders/channel=web/part-0.parquet``); other
    keys (``year=2024``) are ignored, and folders above the table's folder never count. A
    key that is also a column inside the files is an error: which one is right cannot be told.
    """
    known = {c.name for c in CONTRACT[name].columns}
    keys: set[str] = set()
    for file in folder.rglob("*.parquet"):
        for part in file.relative_to(folder).parts[:-1]:
            key = part.split("=", 1)[0].strip().lower() if "=" in part else None
            if key in known:
                keys.add(key)
    files = str(folder / "**" / "*.parquet")
    if not keys:
        return con.read_parquet(files, table_name=name, hive_partitioning=False)
    table = con.read_parquet(files, table_name=name, hive_partitioning=False,
                             filename="_ppx_file")
    inside = {c.strip().lower() for c in table.columns} & keys
    if inside:
        raise ContractError([StructuralProblem(
            name, key, f"given both as a column in the files and as folder names "
            f"({key}=...) under {folder.name}/; keep one") for key in sorted(inside)])
    relative = table._ppx_file.substr(len(str(folder)) + 1)  # the path below the table folder
    values = {}
    for key in sorted(keys):
        value = relative.re_extract(f"(?i)(?:^|/){key}=([^/]*)/", 1)
        values[key] = ibis.cases((value.isin(["", HIVE_NULL]), ibis.null("string")),
                                 else_=value)
    return table.mutate(**values).drop("_ppx_file")


def _without_lines(con: BaseBackend, path: Path, name: str, lines: list[tuple[int, int]]
                   ) -> tuple[ir.Table, list[tuple[int, int]]]:
    """An optional table read from a copy of its file without the over-long lines.

    One comment of several megabytes in the surveys should cost that answer, not every
    report. The copy lives in a private temporary folder removed when Python exits.
    """
    import atexit
    import gzip
    import shutil

    drop = {number for number, _ in lines}
    folder = Path(tempfile.mkdtemp(prefix="ppx-lines-"))
    atexit.register(shutil.rmtree, folder, True)
    copy = folder / (path.name.removesuffix(".gz"))
    opener = gzip.open if path.name.endswith(".gz") else builtins.open
    with opener(path, "rb") as source, builtins.open(copy, "wb") as target:
        for number, line in enumerate(source, 1):
            if number not in drop:
                target.write(line)
    with reading(name):
        return _read(con, copy, name), list(lines)


def _csv_header(path: Path, strip: bool = True) -> tuple[list[str], str]:
    """The header's column names and the delimiter: the one of , ; \\t | it uses most.

    Spreadsheets in much of Europe save "CSV" with semicolons; the delimiter is settled here
    rather than left to the engine's sniffer so that id columns can be typed by name.
    """
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else builtins.open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline()
    if path.name.endswith((".tsv", ".tsv.gz")):
        delimiter = "\t"
    else:
        delimiter = max(CSV_DELIMITERS, key=first.count)
    names = [c.strip().strip('"') if strip else c.strip('"')
             for c in first.rstrip("\r\n").split(delimiter)]
    return names, delimiter


def _from_folder(folder: Path) -> Dataset:
    from ppxlib import snapshot  # it builds on this module

    if snapshot.is_snapshot(folder):
        return snapshot.read_snapshot(folder)
    con = connect_duckdb()
    tables: dict[str, ir.Table | None] = {}
    files: dict[str, Path] = {}
    skipped: dict[str, list[tuple[int, int]]] = {}
    for name in TABLES:
        path = _find_file(folder, name)
        tables[name] = None
        if path:
            tables[name], lines = _read_file(con, path, name)
            if lines:
                skipped[name] = lines
            if path.is_file() and not path.name.endswith(".parquet"):
                files[name] = path
    if tables["orders"] is None:
        expected = ", ".join(f"orders{s}" for s in FILE_SUFFIXES)
        raise FileNotFoundError(f"{folder}: no orders table (expected one of {expected})")
    return Dataset(con, tables, f"folder {folder}", files=files, skipped=skipped)


def _from_backend(con: BaseBackend, description: str, names: Mapping[str, str] | None) -> Dataset:
    """Contract tables from a backend: by their own names, or as ``names`` maps them.

    A mapped value may be a table name, ``database.table``, or a path to Parquet or CSV files
    the engine can read (``s3://bucket/orders/``, ``/data/orders.parquet``). A table named in
    ``names`` must exist; unnamed optional tables that are absent are simply not provided.
    """
    names = dict(names or {})
    unknown = sorted(set(names) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown table name(s) {', '.join(map(repr, unknown))}; "
                         f"expected some of {', '.join(TABLES)}")
    available = set(con.list_tables())
    tables: dict[str, ir.Table | None] = {}
    for name in TABLES:
        physical = names.get(name, name)
        try:
            tables[name] = _lookup(con, name, physical, available)
        except Exception as err:
            raise ValueError(f"{description}: cannot read {physical!r} as the {name} table: "
                             f"{mask_secrets(str(err)).splitlines()[0]}") from err
        if tables[name] is None and name in names:
            raise ValueError(f"{description}: no table {physical!r} (given for {name}); "
                             f"tables found: {', '.join(sorted(available)) or 'none'}")
    if tables["orders"] is None:
        raise ValueError(
            f"{description}: no table {names.get('orders', 'orders')!r}; "
            f"tables found: {', '.join(sorted(available)) or 'none'}"
        )
    return Dataset(con, tables, description)


def _lookup(con: BaseBackend, name: str, physical: str, available: set[str]) -> ir.Table | None:
    if "/" in physical or physical.endswith(FILE_SUFFIXES):
        reader = con.read_csv if ".csv" in physical or ".tsv" in physical else con.read_parquet
        # No hive partitioning: folder names on the path are not data (see _read). Only
        # DuckDB guesses partitions from paths.
        options = {"hive_partitioning": False} if con.name == "duckdb" else {}
        return reader(physical, table_name=f"ppx_{name}", **options)
    if physical in available:
        return con.table(physical)
    if "." in physical:
        database, table = physical.rsplit(".", 1)
        if table in con.list_tables(database=database):
            return con.table(table, database=database)
    return None


def _from_frames(frames: Mapping[str, Any]) -> Dataset:
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise ValueError(
            f"unknown table name(s) {', '.join(map(repr, unknown))}; "
            f"expected some of {', '.join(TABLES)}"
        )
    if frames.get("orders") is None:
        raise ValueError("no 'orders' frame given: orders is the one required table")
    con = connect_duckdb()
    tables: dict[str, ir.Table | None] = {}
    for name in TABLES:
        frame = frames.get(name)
        tables[name] = None if frame is None else con.create_table(name, _typed(frame))
    return Dataset(con, tables, "in-memory frames")


def _spark_session(url: str) -> Any:
    """A SparkSession for ``sc://host:port`` (Spark Connect) or ``spark:<master>``.

    ``spark:local[2]``, ``spark:yarn`` and ``spark://host:7077`` name a master for a classic
    session; an existing session of this process is reused (Spark allows only one).
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.config("spark.sql.session.timeZone", "UTC")
    if url.startswith("sc://"):
        return builder.remote(url).getOrCreate()
    master = url if url.startswith("spark://") else url.removeprefix("spark:")
    return builder.master(master).appName("ppx").getOrCreate()


def _typed(frame: Any) -> Any:
    """Give all-null object columns of a pandas frame a type (the engine refuses NULL types)."""
    if not isinstance(frame, pd.DataFrame):
        return frame
    untyped = [c for c in frame.columns
               if frame[c].dtype == object and frame[c].isna().all()]
    return frame.astype({c: "string" for c in untyped}) if untyped else frame


def open(  # noqa: A001 - the public name DESIGN.md promises
    source: Any, *, tables: Mapping[str, str] | None = None
) -> Dataset:
    """Open a shop's data.

    Parameters
    ----------
    source
        One of

        * a folder with ``orders`` and optionally ``returns``, ``surveys``, ``tickets`` as
          ``.parquet``, ``.csv``, ``.csv.gz`` (or a folder of Parquet files per table);
        * a ``.duckdb`` file (opened read-only) with tables of those names;
        * an ibis backend (DuckDB, PySpark, Postgres, ...), a ``SparkSession`` (tables are
          looked up in its catalog), or a connection URL for :func:`ibis.connect` such as
          ``"postgres://user@host/db"``;
        * a Spark URL: ``"sc://host:15002"`` (Spark Connect), ``"spark://host:7077"``,
          ``"spark:local[2]"`` or ``"spark:yarn"`` (a master for a classic session);
        * a dict of pandas (or polars, or Arrow) frames keyed by table name;
        * ``"env:NAME"``: any of the above read from the environment variable ``NAME`` (so a
          connection URL with a password never has to be written down);
        * an existing :class:`Dataset` (returned as is).
    tables
        For backends and URLs: contract name -> physical table when they differ: a table
        name, ``database.table``, or a path of Parquet/CSV files the engine reads
        (``{"orders": "shop.orders", "returns": "s3://bucket/returns/"}``).

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import pandas as pd, ppxlib
    >>> orders = pd.DataFrame({"order_id": [1, 2], "customer_id": ["a", "b"],
    ...                        "order_ts": pd.to_datetime(["2024-01-05", "2024-02-01"]),
    ...                        "amount": [20.0, 35.5]})
    >>> ds = ppxlib.open({"orders": orders})
    >>> ds.orders.count().execute(), ds.returns is None
    (2, True)
    """
    if isinstance(source, Dataset):
        return source
    if type(source).__name__ == "SparkSession":  # no pyspark import unless it is in use
        con = ibis.pyspark.connect(source)
        _utc(con)
        return _from_backend(con, "Spark session", tables)
    if isinstance(source, BaseBackend):
        _utc(source)
        return _from_backend(source, f"{source.name} backend", tables)
    if isinstance(source, Mapping):
        return _from_frames(source)
    if isinstance(source, str) and source.startswith(("sc://", "spark:")):
        con = ibis.pyspark.connect(_spark_session(source))
        _utc(con)
        return _from_backend(con, f"Spark {mask_secrets(source)}", tables)
    if isinstance(source, str) and source.startswith("env:"):
        variable = source.removeprefix("env:")
        if not os.environ.get(variable):
            raise ValueError(f"source is read from ${variable}, which is not set")
        return open(os.environ[variable], tables=tables)
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        if "://" in text and not Path(text).exists():
            con = ibis.connect(text)
            _utc(con)
            return _from_backend(con, mask_secrets(text), tables)
        path = Path(text).expanduser()
        if path.is_dir():
            return _from_folder(path)
        if path.is_file() and path.suffix in (".duckdb", ".ddb", ".db"):
            try:
                con = connect_duckdb(path, read_only=True)
            except duckdb.Error as err:  # not a database, a newer format, locked, ...
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err)
                if "lock" in str(err).lower():  # another process holds it: the environment
                    raise
                raise ValueError(f"cannot open {path}: not a DuckDB database ({first})"
                                 ) from None
            return _from_backend(con, f"DuckDB file {path}", tables)
        if not path.exists():
            raise FileNotFoundError(f"source not found: {mask_secrets(text)}")
        raise ValueError(
            f"cannot open {path}: give a folder of table files, a .duckdb file, "
            "a connection URL, an ibis backend or a dict of data frames"
        )
    raise TypeError(f"cannot open a source of type {type(source).__name__}")
