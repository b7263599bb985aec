#!/usr/bin/env python3
"""The bounce lab: real MTAs fail real messages and their DSNs are kept.

Run by regenerate.sh (as root, inside a private mount namespace where
/etc/resolv.conf points at the lab's DNS server). It starts:

- knotd on 127.0.53.53:53 serving the zone lab.test (one domain per
  scenario, MX hosts on 127.0.1.N, the catcher's domain on 127.0.2.1);
- a scripted destination SMTP server on 127.0.1.N:25 for each scenario
  that has one, failing the message the way scenarios.tsv says;
- a catcher SMTP server on 127.0.2.1:25 that accepts the DSNs;
- each MTA (Postfix, Exim, OpenSMTPD, Sendmail, dma, Courier, nullmailer,
  chasquid, and Haraka on Debian 12) as a private instance with its own
  config and spool (and, for the first four, chasquid and Haraka, its own
  port on 127.0.0.1).

It submits one message per scenario to each MTA, with the sender
lab-<mta>-<id>@catch.lab.test, waits for every DSN and writes them to
OUT/<mta>/<scenario>.eml and OUT/labels.tsv; a delay warning an MTA sent
before its final report goes to OUT/<mta>/<scenario>-delay.eml. Traffic
stays on loopback.
"""

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from mtas import MTA_NAMES, mtas_of
from scenario import CATCH_ADDR, CATCH_DOMAIN, DELAY, DNS_ADDR, ZONE, load_scenarios, log


# ---------------------------------------------------------------- DNS


def zone_records(scenarios, mtas):
    recs = ["catch MX 10 mx.catch", f"mx.catch A {CATCH_ADDR}"]
    for m in mtas:
        recs.append(f"{m.hostname.split('.')[0]} A 127.0.0.1")
    for s in scenarios:
        label = f"s{s.id}"
        if s.multi or s.local:
            continue  # its recipients are the other scenarios', or the MTA's own
        if s.name == "nxdomain":
            continue  # no record at all: NXDOMAIN
        if s.name == "nullmx":
            recs.append(f"{label} MX 0 .")
            continue
        recs.append(f"{label} MX 10 mx.{label}")
        if s.name == "mx-noaddress":
            continue  # the MX host's name does not exist
        recs.append(f"mx.{label} A {s.mx_addr}")
    return "\n".join(recs)


def start_knot(work, records):
    d = work / "knot"
    for sub in ["run", "storage", "zones"]:
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "zones" / f"{ZONE}.zone").write_text(
        f"$ORIGIN {ZONE}.\n$TTL 60\n@ SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n"
        f"@ NS ns.{ZONE}.\nns A {DNS_ADDR}\n{records}\n"
    )
    conf = d / "knot.conf"
    conf.write_text(
        f"server:\n    rundir: \"{d}/run\"\n    listen: {DNS_ADDR}@53\n"
        f"    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n"
        f"database:\n    storage: \"{d}/storage\"\nlog:\n  - target: stderr\n    any: info\n"
        f"zone:\n  - domain: {ZONE}\n    storage: \"{d}/zones\"\n    file: \"{ZONE}.zone\"\n"
        f"    journal-content: none\n    zonefile-sync: -1\n"
    )
    logf = open(d / "knotd.log", "w")
    proc = subprocess.Popen(["/usr/sbin/knotd", "-c", str(conf)], stdout=logf, stderr=logf)
    for _ in range(100):
        r = subprocess.run(
            ["kdig", f"@{DNS_ADDR}", "+short", "MX", CATCH_DOMAIN], capture_output=True, text=True
        )
        if "mx.catch" in r.stdout:
            return proc
        time.sleep(0.1)
    raise SystemExit(f"knotd does not answer on {DNS_ADDR}; see {d}/knotd.log")


# ---------------------------------------------------------------- SMTP servers


# Replies that are none: the server closes the connection without a word,
# or keeps it open without a word until the client gives up.
CLOSE = "(close)"
SILENT = "(silent)"


async def wait_for_close(reader):
    """Says nothing until the client closes the connection."""
    while await reader.read(4096):
        pass


async def send(writer, lines):
    out = []
    for i, line in enumerate(lines):
        code, rest = line[:3], line[4:]
        sep = " " if i == len(lines) - 1 else "-"
        out.append(f"{code}{sep}{rest}\r\n")
    writer.write("".join(out).encode())
    await writer.drain()


async def read_data(reader):
    body = []
    while True:
        line = await reader.readline()
        if not line:
            return None
        if line in (b".\r\n", b".\n"):
            return b"".join(body)
        if line.startswith(b"."):
            line = line[1:]
        body.append(line)


async def smtp_session(reader, writer, host, on_stage, on_message):
    """A minimal ESMTP server. on_stage(stage, sender) returns reply lines to
    fail that stage with, or None to accept; on_message(rcpts, data) gets each
    accepted message."""
    try:
        sender = ""
        fail = on_stage("connect", sender)
        if fail == [SILENT]:
            await wait_for_close(reader)
        elif fail and fail != [CLOSE]:
            await send(writer, fail)
        if fail:
            return
        await send(writer, [f"220 {host} ESMTP"])
        rcpts = []
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            verb = cmd[:4].upper()
            if verb in ("EHLO",):
                await send(writer, [f"250 {host}", "250 SIZE 10485760", "250 8BITMIME", "250 ENHANCEDSTATUSCODES"])
            elif verb == "HELO":
                await send(writer, [f"250 {host}"])
            elif verb == "MAIL":
                rcpts = []
                m = re.search(r"<([^>]*)>", cmd)
                sender = m.group(1) if m else ""
                fail = on_stage("mail", sender)
                if fail:
                    await send(writer, fail)
                    if fail[0].startswith("421"):
                        return
                else:
                    await send(writer, ["250 2.1.0 Ok"])
            elif verb == "RCPT":
                fail = on_stage("rcpt", sender)
                if fail:
                    await send(writer, fail)
                    if fail[0].startswith("421"):
                        return
                else:
                    m = re.search(r"<([^>]*)>", cmd)
                    rcpts.append(m.group(1) if m else cmd[8:])
                    await send(writer, ["250 2.1.5 Ok"])
            elif verb == "DATA":
                if not rcpts:
                    await send(writer, ["503 5.5.1 Error: need RCPT command"])
                    continue
                await send(writer, ["354 End data with <CR><LF>.<CR><LF>"])
                data = await read_data(reader)
                if data is None:
                    return
                fail = on_stage("data", sender)
                if fail == [SILENT]:
                    await wait_for_close(reader)
                if fail in ([CLOSE], [SILENT]):
                    return
                if fail:
                    await send(writer, fail)
                    if fail[0].startswith("421"):
                        return  # 421: the server closes the connection
                else:
                    on_message(rcpts, data)
                    await send(writer, ["250 2.0.0 Ok: queued"])
                rcpts = []
            elif verb in ("RSET", "NOOP"):
                rcpts = [] if verb == "RSET" else rcpts
                await send(writer, ["250 2.0.0 Ok"])
            elif verb == "QUIT":
                await send(writer, ["221 2.0.0 Bye"])
                return
            else:
                await send(writer, ["502 5.5.2 Error: command not recognized"])
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


class Lab:
    def __init__(self, scenarios):
        self.scenarios = scenarios
        self.dsns = {}  # rcpt local part -> list of raw messages
        self.lock = threading.Lock()

    def destination(self, s):
        host = f"mx.s{s.id}.{ZONE}"

        async def handler(reader, writer):
            def on_stage(stage, sender):
                if stage == s.stage:
                    return s.reply_lines(sender)
                return None

            def on_message(rcpts, data):
                log(f"destination {s.name}: accepted a message for {rcpts} (unexpected)")

            await smtp_session(reader, writer, host, on_stage, on_message)

        return handler

    async def catcher(self, reader, writer):
        def on_message(rcpts, data):
            with self.lock:
                for r in rcpts:
                    self.dsns.setdefault(r.split("@")[0].lower(), []).append(data)
            log(f"catcher: message for {rcpts}")

        await smtp_session(reader, writer, f"mx.{CATCH_DOMAIN}", lambda _stage, _sender: None, on_message)

    async def serve(self, ready):
        servers = [await asyncio.start_server(self.catcher, CATCH_ADDR, 25)]
        for s in self.scenarios:
            if s.stage not in ("none", "multi", "local"):
                servers.append(await asyncio.start_server(self.destination(s), s.mx_addr, 25))
        ready.set()
        await asyncio.gather(*(srv.serve_forever() for srv in servers))

    def start(self):
        ready = threading.Event()
        t = threading.Thread(target=lambda: asyncio.run(self.serve(ready)), daemon=True)
        t.start()
        if not ready.wait(10):
            raise SystemExit("the lab's SMTP servers did not start")


# ---------------------------------------------------------------- output

STATUS_RE = re.compile(r"^Status:\s*([245]\.\d{1,3}\.\d{1,3})", re.I | re.M)
DIAG_RE = re.compile(r"^Diagnostic-Code:[^;]*;\s*(?:[245]\d\d[ -])?([245]\.\d{1,3}\.\d{1,3})\b", re.I | re.M)


REPLY_RE = re.compile(r"\b[245]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b")


def dsn_status(text):
    """The status column: the enhanced code of the remote reply quoted in
    Diagnostic-Code or, when the DSN's Status is generic (X.0.0, as Exim and
    OpenSMTPD write), in the text; else the DSN's Status field; else empty."""
    m = DIAG_RE.search(text)
    if m:
        return m.group(1)
    status = STATUS_RE.search(text)
    if status is None or status.group(1).endswith(".0.0"):
        quoted = REPLY_RE.search(text)
        if quoted:
            return quoted.group(1)
    return status.group(1) if status else ""


# The subjects of the MTAs' delay warnings: Postfix "Delayed Mail (still
# being retried)", Exim "Warning: message 1abc-… delayed 20s", Sendmail
# "Warning: could not send message for past 20 seconds", OpenSMTPD "Delivery
# status notification: Delayed", Courier "WARNING: delayed mail.".
WARNING_SUBJECT_RE = re.compile(
    r"^Subject:\s*(Delayed Mail|Warning: message \S+ delayed|Warning: could not send message"
    r"|Delivery status notification: delayed|WARNING: delayed mail)",
    re.I | re.M,
)


def is_warning(raw, mta):
    """Whether a message that came back from MTA is a delay warning, not the
    final report. OpenSMTPD 6.8 sends its expiry report as a delay notice
    ("Delivery status notification: delayed", "Action: delayed") that says
    "Envelope expired"; nullmailer sends no warnings at all."""
    if not mta.sends_warnings:
        return False
    text = raw.decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    if re.search(r"^Action:\s*failed", text, re.I | re.M) or "Envelope expired" in text:
        return False
    return bool(re.search(r"^Action:\s*delayed", text, re.I | re.M) or WARNING_SUBJECT_RE.search(head))


def pick_finals(messages, mta):
    """Every final report among what came back from MTA, in order."""
    return [raw for raw in messages if not is_warning(raw, mta)]


def reported(text, rcpts):
    """Which of RCPTS a report's Final-Recipient fields name (all of them
    when it has no such field: the text then names them)."""
    named = [r for r in rcpts if recipient_fields(text, r)]
    return named if re.search(r"^Final-Recipient:", text, re.I | re.M) else list(rcpts)


def complete(s, messages, mta):
    """Whether scenario s has its final report; a multi scenario, reports
    naming each of its failed recipients (an MTA may split them)."""
    finals = pick_finals(messages, mta)
    if not s.multi:
        return bool(finals)
    named = {r for raw in finals for r in reported(raw.decode("utf-8", "replace"), [p.rcpt for p in s.parts])}
    return named == {p.rcpt for p in s.parts}


def report_files(s, count):
    """The file names of scenario s's COUNT final reports: NAME.eml, then
    NAME-2.eml, … (a multi scenario's recipients may come in several)."""
    return [f"{s.name}.eml"] + [f"{s.name}-{i}.eml" for i in range(2, count + 1)]


def pick_warning(messages, mta):
    """The first delay warning among what came back, if any."""
    return next((raw for raw in messages if is_warning(raw, mta)), None)


def write_output(out, mtas, scenarios, lab):
    """Saves each MTA's DSN for each scenario; returns how many are missing."""
    missing = 0
    for m in mtas:
        (out / m.name).mkdir(parents=True, exist_ok=True)
        for s in m.runs(scenarios):
            messages = lab.dsns.get(f"lab-{m.name}-{s.id}", [])
            if not complete(s, messages, m):
                log(f"MISSING: no DSN from {m.name} for {s.name}")
                missing += 1
                continue
            # The last final report; a multi scenario's may be split over several.
            finals = pick_finals(messages, m)
            if not s.multi:
                finals = finals[-1:]
            else:
                for stale in (out / m.name).glob(f"{s.name}-[0-9]*.eml"):
                    stale.unlink()  # a split report of an earlier run
            for file, raw in zip(report_files(s, len(finals)), finals):
                (out / m.name / file).write_bytes(raw.replace(b"\r\n", b"\n"))
            warning = pick_warning(messages, m)
            if warning is not None:
                (out / m.name / f"{s.name}{DELAY}.eml").write_bytes(warning.replace(b"\r\n", b"\n"))
    return missing


def label_rows(file, text, mta, s, warning):
    """The rows of one kept report of scenario s: one recipient, or for a
    multi scenario each failed recipient the report names (`reported`),
    with its own scenario's label, in the order the report part lists them
    (else the text names them first), as the shared corpus orders its
    labels; each with the status of its part of the report."""
    parts = [s]
    if s.multi:
        named = reported(text, [p.rcpt for p in s.parts])
        parts = sorted((p for p in s.parts if p.rcpt in named), key=lambda p: recipient_order(text, p.rcpt))
    rows = []
    for p in parts:
        label = mta.warning_label(p, text) if warning else mta.label(p, text)
        rows.append((file, p.rcpt, dsn_status(recipient_block(text, p.rcpt) if s.multi else text), *label))
    return rows


def recipient_fields(text, rcpt):
    """The match of RCPT's per-recipient fields in a report, from its
    Final-Recipient line to the next blank line; None when none names it."""
    return re.search(r"^Final-Recipient:[^\n]*" + re.escape(rcpt) + r"[^\n]*\n(?:[^\n]+\n)*", text, re.I | re.M)


def recipient_order(text, rcpt):
    """Where RCPT comes in the report: its Final-Recipient field, else its
    first mention (report parts come after the text)."""
    fields = recipient_fields(text, rcpt)
    return (0, fields.start()) if fields else (1, text.lower().find(rcpt))


def recipient_block(text, rcpt):
    """The per-recipient fields of RCPT in a report, else the whole text."""
    fields = recipient_fields(text, rcpt)
    return fields.group(0) if fields else text


def release_of(out):
    """The Debian release whose MTAs made the reports under OUT (its file
    `release`: the release's name, then the MTAs' package versions)."""
    path = out / "release"
    try:
        return path.read_text().split()[0]
    except (OSError, IndexError):
        raise SystemExit(f"{path}: missing or empty; it names the Debian release the lab ran on (regenerate)")


def write_release(out, pkg):
    """OUT/release: this system's Debian release and the versions of the
    packages the MTAs come from."""
    release = subprocess.run(
        ["sh", "-c", ". /etc/os-release && echo $VERSION_CODENAME"], capture_output=True, text=True
    ).stdout.strip()
    versions = [deb.name.removesuffix(".deb") for deb in sorted(pkg.glob("*/debs/*.deb"))]
    # Haraka comes from its npm package.
    for manifest in pkg.glob("*/node_modules/Haraka/package.json"):
        versions.append(f"Haraka_{json.loads(manifest.read_text())['version']}")
    postfix = subprocess.run(["dpkg-query", "-W", "postfix"], capture_output=True, text=True).stdout.split()
    out.mkdir(parents=True, exist_ok=True)
    (out / "release").write_text("\n".join([release, "_".join(postfix), *versions]) + "\n")
    return release


def write_labels(out, scenarios):
    """labels.tsv for every DSN kept under OUT (of this run or an earlier one):
    the reason and hard/soft follow from the scenario, the status from the
    message."""
    rows = []
    for name, mta in sorted(mtas_of(release_of(out)).items()):
        for s in scenarios:
            # The final report, then the delay warning sent before it (the
            # recipient's test also wants the warning's recipient `delayed`).
            finals = sorted(
                (f.name for f in (out / name).glob(f"{s.name}*.eml") if re.fullmatch(rf"{s.name}(-[0-9]+)?\.eml", f.name)),
                key=lambda f: (len(f), f),
            )
            for file, warning in [*((f, False) for f in finals), (f"{s.name}{DELAY}.eml", True)]:
                path = out / name / file
                if path.exists():
                    rows.extend(label_rows(f"{name}/{file}", path.read_text("utf-8", "replace"), mta, s, warning))
    (out / "labels.tsv").write_text(
        "file\trecipient\tstatus\treason\thardbounce\n" + "".join("\t".join(r) + "\n" for r in rows)
    )
    return len(rows)


def submit_all(mtas, scenarios):
    """Each MTA's messages, the MTAs side by side; the first failure of any
    ends the run (a thread would swallow its SystemExit)."""
    failures = []

    def submit(m):
        try:
            m.submit_all(scenarios)
        except BaseException as e:
            failures.append(f"{m.name}: {e}")

    submitters = [threading.Thread(target=submit, args=(m,)) for m in mtas]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    if failures:
        raise SystemExit("submitting failed: " + "; ".join(failures))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, help="configs, spools and logs (required unless --relabel)")
    ap.add_argument("--pkg", type=Path, help="the unpacked packages (required unless --relabel)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--mta", action="append", choices=MTA_NAMES)
    ap.add_argument("--scenario", action="append", help="run only these scenarios (names of scenarios.tsv)")
    ap.add_argument("--scenarios", type=Path, help="another scenario table than scenarios.tsv (sweep.py writes one)")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--relabel", action="store_true", help="only rewrite labels.tsv from the kept DSNs")
    args = ap.parse_args()
    scenarios = load_scenarios(args.scenarios)
    if args.relabel:
        if not args.out.is_dir():
            ap.error(f"--out {args.out}: not a directory; give the folder of kept reports (tests/data/lab)")
        log(f"{write_labels(args.out, scenarios)} labelled DSNs")
        return
    all_scenarios = scenarios
    if args.scenario:
        unknown = set(args.scenario) - {s.name for s in scenarios}
        if unknown:
            ap.error(f"no scenario named {', '.join(sorted(unknown))} in scenarios.tsv")
        scenarios = [s for s in scenarios if s.name in args.scenario]
    if args.work is None or args.pkg is None:
        ap.error("--work and --pkg are required to run the MTAs")
    classes = mtas_of(write_release(args.out, args.pkg))
    mtas = [classes[n](args.work, args.pkg) for n in (args.mta or MTA_NAMES)]
    # Every scenario's domain and server, whichever run: a multi scenario's
    # recipients are the others'.
    knot = start_knot(args.work, zone_records(all_scenarios, mtas))
    lab = Lab(all_scenarios)
    lab.start()
    started = []
    try:
        for m in mtas:
            log(f"starting {m.name}")
            shutil.rmtree(m.root, ignore_errors=True)
            m.start()
            started.append(m)
        submit_all(mtas, scenarios)
        log("submitted; waiting for the DSNs")
        want = {f"lab-{m.name}-{s.id}" for m in mtas for s in m.runs(scenarios)}
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            with lab.lock:
                # Done when every message has its final report (a delay
                # warning comes first for the temporary failures).
                have = {
                    f"lab-{m.name}-{s.id}"
                    for m in mtas
                    for s in m.runs(scenarios)
                    if complete(s, lab.dsns.get(f"lab-{m.name}-{s.id}", []), m)
                }
            if want <= have:
                break
            for m in mtas:
                m.kick()
            time.sleep(5)
        caught = args.work / "caught"
        caught.mkdir(exist_ok=True)
        for sender, msgs in lab.dsns.items():
            for i, raw in enumerate(msgs):
                (caught / f"{sender}-{i}.eml").write_bytes(raw)
        missing = write_output(args.out, mtas, scenarios, lab)
        total = write_labels(args.out, all_scenarios)
        log(f"{args.out}: {total} labelled DSNs; missing from this run: {missing}")
    finally:
        for m in started:
            m.stop()
        knot.send_signal(signal.SIGTERM)
        knot.wait()
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
