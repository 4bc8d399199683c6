#!/usr/bin/env python3
"""Ground-truth labeller for PostgreSQL.log (a PostgreSQL 15 server log, log_line_prefix
'%m [%p] %q%u@%d ').

Writes PostgreSQL.log_structured_corrected.csv and PostgreSQL.log_templates_corrected.csv beside
this file.  Every Content must match exactly one rule below, and every rule must match a line;
otherwise the script stops without writing anything.

The header is the log_line_prefix: timestamp, time zone, [pid], and user@database for session
processes (%q: absent for the postmaster, checkpointer, startup process).  The Content starts at
the server's own severity/field label (LOG:, ERROR:, FATAL:, WARNING:, DETAIL:, HINT:, CONTEXT:,
STATEMENT:), which stays in the Content: DETAIL/HINT/CONTEXT/STATEMENT are not levels but parts
of one report, each on its own line.

A rule is T(template) or T(template, regex).  The template is the Loghub-2.0 truth template; the
regex (full match on Content) picks its lines.  Without a regex, the template itself is the regex
(constants literal, whitespace runs as \\s+, <*> as .+?).  Constants versus variables follow the
format strings in the PostgreSQL 15 source (errmsg/errdetail/...): every conversion is a
variable; the SQL text a client sent is one variable; consecutive conversions with nothing
between them are one <*>; a fixed sub-format that the server fills in itself (the rusage string,
the "(col)=(value)" key description) keeps its constant words.  RAISE messages from the
workload's DO blocks are labelled by their own format strings ('order % rejected: ...').

    python3 label.py
"""
FORMAT = r"<Date> <Time> <Timezone> \[<Pid>\] (<User>@<Database> )?<Content>"

# The shared machinery lives in ../common.py.
import os as _os
import sys as _sys

_sys.path.insert(0, _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".."))
from common import *  # noqa: E402,F401,F403

NUM = r"\d+"
MS = r"\d+\.\d+"
Q = r'"[^"]*"'
POS = r" at character \d+"  # appended by the server when the error has a cursor position

RULES = [
    # --- postmaster: start, stop, reload ------------------------------------------------------
    T("LOG: starting <*>", r"LOG:  starting (PostgreSQL .+)"),
    # "listening on %s address \"%s\", port %d"
    T("LOG: listening on <*> address \"<*>\", port <*>", r'LOG:  listening on (IPv4|IPv6) address "([^"]+)", port (\d+)'),
    T("LOG: listening on Unix socket \"<*>\"", r'LOG:  listening on Unix socket "([^"]+)"'),
    T("LOG: database system was shut down at <*>", r"LOG:  database system was shut down at (.+)"),
    T("LOG: database system was interrupted; last known up at <*>", r"LOG:  database system was interrupted; last known up at (.+)"),
    T("LOG: database system was not properly shut down; automatic recovery in progress"),
    T("LOG: redo starts at <*>/<*>", r"LOG:  redo starts at ([0-9A-F]+)/([0-9A-F]+)"),
    T("LOG: invalid record length at <*>/<*>: wanted <*>, got <*>", r"LOG:  invalid record length at ([0-9A-F]+)/([0-9A-F]+): wanted (\d+), got (\d+)"),
    # "redo done at %X/%X system usage: %s", the %s being pg_rusage_show()'s fixed format
    T("LOG: redo done at <*>/<*> system usage: CPU: user: <*> s, system: <*> s, elapsed: <*> s",
      r"LOG:  redo done at ([0-9A-F]+)/([0-9A-F]+) system usage: CPU: user: (\S+) s, system: (\S+) s, elapsed: (\S+) s"),
    T("LOG: database system is ready to accept connections"),
    T("LOG: received fast shutdown request"),
    T("LOG: received immediate shutdown request"),
    T("LOG: aborting any active transactions"),
    T("LOG: background worker \"<*>\" (PID <*>) exited with exit code <*>"),
    T("LOG: shutting down"),
    T("LOG: database system is shut down"),
    T("LOG: received SIGHUP, reloading configuration files"),
    T("LOG: parameter \"<*>\" changed to \"<*>\""),
    # --- checkpoints -----------------------------------------------------------------------------
    # "checkpoint starting:%s%s%s%s%s%s%s%s" (one %s per flag: consecutive, so one <*>)
    T("LOG: checkpoint starting: <*>", r"LOG:  checkpoint starting: ([a-z- ]+)"),
    T("LOG: checkpoint complete: wrote <*> buffers (<*>%); <*> WAL file(s) added, <*> removed, <*> recycled; "
      "write=<*> s, sync=<*> s, total=<*> s; sync files=<*>, longest=<*> s, average=<*> s; distance=<*> kB, estimate=<*> kB"),
    # --- connections -----------------------------------------------------------------------------
    T("LOG: connection received: host=<*> port=<*>", r"LOG:  connection received: host=(\S+) port=(\d+)"),
    T("LOG: connection received: host=<*>", r"LOG:  connection received: host=(\S+)"),
    T("LOG: connection authorized: user=<*> database=<*> application_name=<*>", r"LOG:  connection authorized: user=(\S+) database=(\S+) application_name=(\S+)"),
    # "disconnection: session time: %d:%02d:%02d.%03d user=%s database=%s host=%s%s%s"
    # (host, " port=" or "", port: consecutive, so one <*>)
    T("LOG: disconnection: session time: <*>:<*>:<*> user=<*> database=<*> host=<*>",
      r"LOG:  disconnection: session time: (\d+):(\d\d):(\d\d\.\d{3}) user=(\S+) database=(\S+) host=(\S+(?: port=\d+)?)"),
    T("FATAL: role \"<*>\" does not exist"),
    T("FATAL: database \"<*>\" does not exist"),
    T("FATAL: terminating connection due to administrator command"),
    # --- statements (log_min_duration_statement = 0, log_statement = 'all') -----------------------
    T("LOG: duration: <*> ms statement: <*>", rf"LOG:  duration: ({MS}) ms  statement: (.*)"),
    T("LOG: statement: <*>", r"LOG:  statement: (.*)"),
    T("LOG: duration: <*> ms parse <*>: <*>", rf"LOG:  duration: ({MS}) ms  parse (<unnamed>|\w+): (.*)"),
    # "bind %s%s%s: %s" (statement name, "/" or "", portal name)
    T("LOG: duration: <*> ms bind <*>: <*>", rf"LOG:  duration: ({MS}) ms  bind (<unnamed>|\w+(?:/\w+)?): (.*)"),
    T("LOG: duration: <*> ms execute <*>: <*>", rf"LOG:  duration: ({MS}) ms  execute (<unnamed>|\w+(?:/\w+)?): (.*)"),
    # "parameters: %s" (the list "$1 = '...', $2 = '...'" is one string)
    T("DETAIL: parameters: <*>", r"DETAIL:  parameters: (\$1 = .*)"),
    T("STATEMENT: <*>", r"STATEMENT:  (.+)"),
    T("LOG: temporary file: path \"<*>\", size <*>", r'LOG:  temporary file: path "([^"]+)", size (\d+)'),
    # --- locks -----------------------------------------------------------------------------------
    # "process %d still waiting for %s on %s after %ld.%03d ms" (lock mode, locktag description)
    T("LOG: process <*> still waiting for <*> on <*> after <*> ms", rf"LOG:  process (\d+) still waiting for (\w+) on (.+) after ({MS}) ms"),
    T("LOG: process <*> acquired <*> on <*> after <*> ms", rf"LOG:  process (\d+) acquired (\w+) on (.+) after ({MS}) ms"),
    T("DETAIL: Process holding the lock: <*>. Wait queue: <*>.", r"DETAIL:  Process holding the lock: ([\d, ]+)\. Wait queue: ([\d, ]+)\."),
    T("CONTEXT: while updating tuple (<*>,<*>) in relation \"<*>\""),
    T("ERROR: canceling statement due to lock timeout"),
    T("ERROR: canceling statement due to statement timeout"),
    # --- errors ----------------------------------------------------------------------------------
    T("ERROR: syntax error at or near \"<*>\" at character <*>", rf'ERROR:  syntax error at or near "(.*)"{POS}'),
    T("ERROR: relation \"<*>\" does not exist at character <*>", rf'ERROR:  relation "([^"]+)" does not exist{POS}'),
    T("ERROR: relation \"<*>\" already exists"),
    T("ERROR: column \"<*>\" does not exist at character <*>", rf'ERROR:  column "([^"]+)" does not exist{POS}'),
    T("ERROR: missing FROM-clause entry for table \"<*>\" at character <*>", rf'ERROR:  missing FROM-clause entry for table "([^"]+)"{POS}'),
    # "Perhaps you meant to reference the column \"%s.%s\"." (DV makes <*>.<*> one <*>)
    T("HINT: Perhaps you meant to reference the column \"<*>\".", r'HINT:  Perhaps you meant to reference the column "(\w+)\.(\w+)"\.'),
    # "function %s does not exist" (the signature name(argtypes) is one string)
    T("ERROR: function <*> does not exist at character <*>", rf"ERROR:  function (\w+\([\w, ]*\)) does not exist{POS}"),
    T("HINT: No function matches the given name and argument types. You might need to add explicit type casts."),
    T("ERROR: invalid input syntax for type <*>: \"<*>\" at character <*>", rf'ERROR:  invalid input syntax for type (\w+): "([^"]*)"{POS}'),
    T("ERROR: division by zero"),
    T("ERROR: duplicate key value violates unique constraint \"<*>\""),
    # errdetail("Key %s already exists.") with the key description "(%s)=(%s)"
    T("DETAIL: Key (<*>)=(<*>) already exists.", r"DETAIL:  Key \(([^)]+)\)=\(([^)]*)\) already exists\."),
    T("ERROR: insert or update on table \"<*>\" violates foreign key constraint \"<*>\""),
    T("DETAIL: Key (<*>)=(<*>) is not present in table \"<*>\".", r'DETAIL:  Key \(([^)]+)\)=\(([^)]*)\) is not present in table "([^"]+)"\.'),
    T("ERROR: new row for relation \"<*>\" violates check constraint \"<*>\""),
    # "null value in column ... violates not-null constraint": "null" is a variable by the
    # Loghub-2.0 BL/US rule, even as constant text
    T("ERROR: <*> value in column \"<*>\" of relation \"<*>\" violates not-<*> constraint",
      r'ERROR:  null value in column "([^"]+)" of relation "([^"]+)" violates not-null constraint'),
    # errdetail("Failing row contains %s.") with the row "(v1, v2, ...)": a list, one <*>
    T("DETAIL: Failing row contains (<*>).", r"DETAIL:  Failing row contains \((.*)\)\."),
    T("ERROR: permission denied for table <*>"),
    T("ERROR: current transaction is aborted, commands ignored until end of transaction block"),
    T("WARNING: there is no transaction in progress"),
    # --- RAISE in the workload's DO blocks: their own format strings -----------------------------
    T("WARNING: low stock for sku <*>", r"WARNING:  low stock for sku (SKU-\d+)"),
    T("ERROR: order <*> rejected: credit limit"),
    # "PL/pgSQL function %s line %d at %s"
    T("CONTEXT: PL/pgSQL function <*> line <*> at <*>", r"CONTEXT:  PL/pgSQL function (\w+) line (\d+) at (\w+)"),
]

if __name__ == "__main__":
    main("PostgreSQL", FORMAT, RULES)
