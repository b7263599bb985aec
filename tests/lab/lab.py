#!/usr/bin/env python3
"""The bounce lab: real MTAs fail real messages and their DSNs are kept.

Run by regenerate.sh (as root, inside a private mount namespace where
/etc/resolv.conf points at the lab's DNS server). It starts:

- knotd on 127.0.53.53:53 serving the zone lab.test (one domain per
  scenario, MX hosts on 127.0.1.N, the catcher's domain on 127.0.2.1);
- a scripted destination SMTP server on 127.0.1.N:25 for each scenario
  that has one, failing the message the way scenarios.tsv says;
- a catcher SMTP server on 127.0.2.1:25 that accepts the DSNs;
- each MTA (Postfix, Exim, OpenSMTPD, Sendmail, dma, Courier) as a
  private instance with its own config and spool (and, for the first four,
  its own port on 127.0.0.1).

It submits one message per scenario to each MTA, with the sender
lab-<mta>-<id>@catch.lab.test, waits for every DSN and writes them to
OUT/<mta>/<scenario>.eml and OUT/labels.tsv; a delay warning an MTA sent
before its final report goes to OUT/<mta>/<scenario>-delay.eml. Traffic
stays on loopback.
"""

import argparse
import asyncio
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from email.utils import formatdate, make_msgid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZONE = "lab.test"
DNS_ADDR = "127.0.53.53"
CATCH_ADDR = "127.0.2.1"
CATCH_DOMAIN = f"catch.{ZONE}"
RCPT_LOCAL = "reader"
CLIENT = "127.0.0.1"
# File name suffix of a kept delay warning.
DELAY = "-delay"


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


class Scenario:
    def __init__(self, cols):
        self.id, self.name, self.stage, expiry, reply, self.reason, self.hard = cols
        self.expiry = expiry == "yes"
        self.reply = reply.split("\\n")
        # A "multi" scenario sends one message to the recipients of the
        # scenarios its reply column lists (by id), and to one address that
        # accepts it; load_scenarios() fills this in.
        self.parts = []

    @property
    def multi(self):
        return self.stage == "multi"

    @property
    def rcpts(self):
        """The message's recipients."""
        if self.multi:
            return [p.rcpt for p in self.parts] + [f"{RCPT_LOCAL}@{CATCH_DOMAIN}"]
        return [self.rcpt]

    @property
    def domain(self):
        return f"s{self.id}.{ZONE}"

    @property
    def rcpt(self):
        return f"{RCPT_LOCAL}@{self.domain}"

    @property
    def mx_addr(self):
        return f"127.0.1.{int(self.id)}"

    def reply_lines(self, sender):
        """The reply with {rcpt}, {client}, {sender} (the MAIL FROM address)
        and {sender_domain} filled in."""
        domain = sender.rpartition("@")[2] or CATCH_DOMAIN
        return [
            line.format(rcpt=self.rcpt, client=CLIENT, sender=sender, sender_domain=domain)
            for line in self.reply
        ]


def load_scenarios():
    out = []
    for line in (HERE / "scenarios.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        out.append(Scenario(line.split("\t")))
    by_id = {s.id: s for s in out}
    for s in out:
        if s.multi:
            s.parts = [by_id[i] for i in s.reply[0].split()]
            if any(p.multi or p.expiry for p in s.parts):
                raise SystemExit(f"scenario {s.name}: its parts must fail at once, and not be multi themselves")
    return out


# ---------------------------------------------------------------- DNS


def zone_records(scenarios, mtas):
    recs = [f"catch MX 10 mx.catch", f"mx.catch A {CATCH_ADDR}"]
    for m in mtas:
        recs.append(f"{m.hostname.split('.')[0]} A 127.0.0.1")
    for s in scenarios:
        label = f"s{s.id}"
        if s.multi:
            continue  # its recipients are the other scenarios'
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
            if s.stage not in ("none", "multi"):
                servers.append(await asyncio.start_server(self.destination(s), s.mx_addr, 25))
        ready.set()
        await asyncio.gather(*(srv.serve_forever() for srv in servers))

    def start(self):
        ready = threading.Event()
        t = threading.Thread(target=lambda: asyncio.run(self.serve(ready)), daemon=True)
        t.start()
        if not ready.wait(10):
            raise SystemExit("the lab's SMTP servers did not start")


# ---------------------------------------------------------------- MTAs


def render(template, dest, **vars):
    text = template.read_text()
    for k, v in vars.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise SystemExit(f"{template}: no value for {left}")
    dest.write_text(text)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


class Mta:
    name = ""
    port = 0
    # Whether the DSN sent when the queue lifetime ends quotes the last error
    # (the remote reply or the connection failure).
    expiry_quotes_error = True
    # Scenarios this MTA treats as temporary although the scenario table
    # does not, so it retries until the queue lifetime ends.
    retries = frozenset()
    # Scenarios the MTA never reports on, so the lab does not run them.
    never_reports = frozenset()
    # Whether it returns each failed recipient of a message in a report of
    # its own: the lab keeps one report a scenario, so it does not give it
    # the multi scenarios.
    one_report_per_recipient = False
    # Scenarios whose reports (warning and final) quote an error that is not
    # the scenario's but a failed connection, as after a refused one.
    reads_as_connection_failure = frozenset()

    @classmethod
    def label(cls, s):
        """(reason, hardbounce) for scenario s: its own label, or `expired`
        where this MTA reports only that the message expired in the queue
        or that its connections kept failing."""
        expiry = s.expiry or s.name in cls.retries
        if (expiry and not cls.expiry_quotes_error) or s.name in cls.reads_as_connection_failure:
            return "expired", "0"
        return s.reason, s.hard

    @classmethod
    def warning_label(cls, s):
        """(reason, hardbounce) for this MTA's delay warning in scenario s:
        it quotes the last error, as the final report does (a failed
        connection reads `expired`, as the refused scenario's warnings do)."""
        if s.name in cls.reads_as_connection_failure:
            return "expired", "0"
        return s.reason, s.hard

    def __init__(self, work, pkg):
        self.root = work / self.name
        self.pkg = pkg / self.name  # unpacked package tree (unused for Postfix)
        self.tmpl = HERE / "mta" / self.name
        self.hostname = f"mta-{self.name}.{ZONE}"

    def vars(self):
        return dict(ROOT=self.root, PKG=self.pkg, PORT=self.port, HOSTNAME=self.hostname)

    def wait_listening(self):
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} does not listen on 127.0.0.1:{self.port}; logs in {self.root}")

    def sender(self, s):
        return f"lab-{self.name}-{s.id}@{CATCH_DOMAIN}"

    @staticmethod
    def message(s, sender, eol="\r\n"):
        """A neutral message for scenario s: nothing in it says what happens."""
        return eol.join(
            [
                f"From: Lab Sender <{sender}>",
                f"To: {', '.join(f'<{r}>' for r in s.rcpts)}",
                f"Subject: Lab message {s.id}",
                f"Date: {formatdate(localtime=False)}",
                f"Message-ID: {make_msgid(domain=CATCH_DOMAIN)}",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=us-ascii",
                "",
                "Hello,",
                "",
                "this is a message of the winback bounce lab.",
                "",
            ]
        )

    def submit(self, s):
        sender = self.sender(s)
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.lab.test", timeout=30) as c:
            c.sendmail(sender, s.rcpts, self.message(s, sender))

    def runs(self, scenarios):
        """The scenarios this MTA is given."""
        return [
            s
            for s in scenarios
            if s.name not in self.never_reports and not (s.multi and self.one_report_per_recipient)
        ]

    def submit_all(self, scenarios):
        began = time.time()
        scenarios = self.runs(scenarios)
        for s in scenarios:
            self.submit(s)
        log(f"{self.name}: {len(scenarios)} messages submitted in {time.time() - began:.1f}s")

    def kick(self):
        """Asks the MTA to retry its queue now (optional)."""


class Postfix(Mta):
    name = "postfix"
    port = 10025

    def start(self):
        for d in ["etc", "queue", "data"]:
            (self.root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        shutil.chown(self.root / "data", "postfix")
        for f in ["main.cf", "master.cf"]:
            render(self.tmpl / f"{f}.in", self.root / "etc" / f, **self.vars())
        run(["/usr/sbin/postfix", "-c", self.root / "etc", "start"])
        self.wait_listening()

    def stop(self):
        subprocess.run(["/usr/sbin/postfix", "-c", self.root / "etc", "stop"], capture_output=True)


class Exim(Mta):
    name = "exim"
    port = 10026

    @property
    def conf(self):
        return self.root / "exim.conf"

    def start(self):
        for d in ["spool", "log"]:
            (self.root / d).mkdir(parents=True, exist_ok=True)
            shutil.chown(self.root / d, "Debian-exim", "Debian-exim")
        render(self.tmpl / "exim.conf.in", self.conf, **self.vars())
        # A queue runner every 10 seconds retries the deferred messages.
        run([self.pkg / "usr/sbin/exim4", "-C", self.conf, "-bd", "-q10s"])
        self.wait_listening()

    def stop(self):
        kill_pidfile(self.root / "exim.pid")


def kill_pidfile(path):
    try:
        os.kill(int(path.read_text().split()[0]), signal.SIGTERM)
    except (OSError, ValueError, IndexError) as e:
        log(f"cannot stop the process of {path}: {e}")


class OpenSmtpd(Mta):
    name = "opensmtpd"
    port = 10027
    # 6.8 returns expired mail with "Envelope expired" only. It reads a null
    # MX as "No MX found for domain", and a refusal in the greeting or an MX
    # host name without an address as a failed connection: all temporary.
    expiry_quotes_error = False
    retries = frozenset({"nullmx", "blocked-greeting", "mx-noaddress"})
    # Its delay warnings quote a remote reply, but say only "Network error on
    # destination MXs" for a refused connection or greeting (or one closed or
    # silent before the greeting) and "No MX found for domain" for a null MX or
    # an MX host without an address.
    network_errors = frozenset(
        {
            "refused",
            "blocked-greeting",
            "too-many-connections",
            "nullmx",
            "mx-noaddress",
            "dropped-greeting",
            "greeting-timeout",
        }
    )

    @classmethod
    def warning_label(cls, s):
        if s.name in cls.network_errors:
            return "networkerror", "0"
        return s.reason, s.hard

    def start(self):
        spool = self.root / "var-spool"
        spool.mkdir(parents=True)
        os.chmod(self.root, 0o755)
        render(self.tmpl / "smtpd.conf.in", self.root / "smtpd.conf", **self.vars())
        # The spool path and the server name are compiled in or taken from
        # the system: a nested namespace gives smtpd its own /var/spool and
        # host name, leaving the host's untouched.
        script = (
            f"hostname {self.hostname} && mount --bind {spool} /var/spool && "
            f"exec {self.pkg}/usr/sbin/smtpd -d -f {self.root}/smtpd.conf"
        )
        self.log = open(self.root / "smtpd.log", "w")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "-u", "--propagation", "private", "sh", "-c", script],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_listening()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Sendmail(Mta):
    name = "sendmail"
    port = 10028

    def start(self):
        (self.root / "etc").mkdir(parents=True)
        (self.root / "mqueue").mkdir(mode=0o700)
        os.chmod(self.root, 0o755)
        render(self.tmpl / "sendmail.mc.in", self.root / "sendmail.mc", **self.vars())
        (self.root / "sendmail.cf").write_text(run(["m4", self.root / "sendmail.mc"]))
        # A queue run every 10 seconds retries the deferred messages.
        # Sendmail wants a fully qualified host name at start (else it waits
        # a minute): a private UTS namespace gives it its lab name.
        sendmail = self.pkg / "usr/libexec/sendmail/sendmail"
        script = f"hostname {self.hostname} && exec {sendmail} -C {self.root}/sendmail.cf -bd -q10s"
        run(["unshare", "-u", "sh", "-c", script])
        self.wait_listening()

    def stop(self):
        kill_pidfile(self.root / "sendmail.pid")


def private_etc(root):
    """ROOT/etc-upper, the writable layer of a private overlay over /etc (see
    overlay), with the lab's resolv.conf copied up: the overlay hides the
    bind mount that regenerate.sh lays over /etc/resolv.conf."""
    etc = root / "etc-upper"
    etc.mkdir(parents=True)
    (root / "etc-work").mkdir()
    shutil.copy("/etc/resolv.conf", etc / "resolv.conf")
    return etc


def overlay(target, root, name="etc"):
    """The command that lays a private overlay over TARGET in a nested mount
    namespace, its writable layer ROOT/NAME-upper (work dir ROOT/NAME-work)."""
    return (
        f"mount -t overlay lab-{name} -o lowerdir={target},upperdir={root}/{name}-upper,"
        f"workdir={root}/{name}-work {target}"
    )


class Dma(Mta):
    """DragonFly Mail Agent: no daemon and no listener; each message is
    handed to the binary, which forks a process that delivers it and retries
    a temporary failure with a growing back-off until the queue file is five
    days old (compiled in). The lab ages the queue files of the messages
    still waiting by six days and asks for a queue run, so dma gives up on
    them at its next attempt as it would after five days."""

    name = "dma"
    # "Could not deliver for the last 432000 seconds. Giving up." is all its
    # report says of a message that kept failing temporarily.
    expiry_quotes_error = False
    # A null MX and an MX host name without an address are temporary
    # failures to it: it retries them until it gives up.
    retries = frozenset({"nullmx", "mx-noaddress"})
    # When the server closes the connection without a reply, its delivery
    # process spins at full CPU reading the closed socket and never retries
    # or reports; when the server says nothing, the process ends at its
    # five-minute timeout without a report, and every queue run that picks
    # the message up again ends the same way.
    never_reports = frozenset({"dropped-greeting", "dropped-data", "greeting-timeout", "data-timeout"})
    # One delivery process, and one report, for each recipient.
    one_report_per_recipient = True

    def start(self):
        etc = private_etc(self.root)
        (etc / "dma").mkdir()
        # dma drops root for the user and group mail, which must own the spool.
        spool = self.root / "spool"
        spool.mkdir(mode=0o770)
        shutil.chown(spool, "mail", "mail")
        os.chmod(self.root, 0o755)
        render(self.tmpl / "dma.conf.in", etc / "dma" / "dma.conf", **self.vars())

    def dma(self, args, stdin=None):
        """Runs the unpacked dma with ARGS under the private /etc overlay."""
        script = f"{overlay('/etc', self.root)} && exec {self.pkg}/usr/sbin/dma \"$@\""
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "dma", *args]
        r = subprocess.run(cmd, input=stdin, capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"dma {' '.join(args)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")

    def submit(self, s):
        sender = self.sender(s)
        self.dma(["-f", sender, *s.rcpts], stdin=self.message(s, sender, "\n").encode())

    def kick(self):
        old = time.time() - 6 * 86400
        for f in (self.root / "spool").glob("Q*"):
            try:
                os.utime(f, (old, old))
            except FileNotFoundError:
                pass  # delivered or returned meanwhile
        self.dma(["-q"])

    def stop(self):
        subprocess.run(["pkill", "-f", f"{self.pkg}/usr/sbin/dma"], capture_output=True)


class Courier(Mta):
    """The Courier mail server. Its paths are compiled in: a nested mount
    namespace, kept open by a process that sleeps, lays the unpacked
    package tree over /usr and private writable layers over /etc and
    /var/lib (its spool), with its own host name; courierd and each
    submission run inside it (nsenter)."""

    name = "courier"
    # 1.0.16 takes a null MX for a failed connection and retries it; its
    # reports quote "Network is down", as for a refused connection. After a
    # 421 to MAIL the server closes the connection, and the reports quote
    # only the RSET that followed: "<<< <command failed>".
    retries = frozenset({"nullmx"})
    reads_as_connection_failure = frozenset({"nullmx", "ratelimited"})

    def start(self):
        etc, var = private_etc(self.root), self.root / "var-upper"
        for d in [var, self.root / "var-work"]:
            d.mkdir()
        os.chmod(self.root, 0o755)
        shutil.copytree(self.pkg / "etc/courier", etc / "courier")
        render(self.tmpl / "control.in", self.root / "control", **self.vars())
        for line in (self.root / "control").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                file, value = line.split(None, 1)
                (etc / "courier" / file).write_text(value + "\n")
        shutil.copytree(self.pkg / "var/lib/courier", var / "courier")
        for d in [var / "courier", *(var / "courier").rglob("*")]:
            shutil.chown(d, "courier", "courier")
        script = (
            f"mount -t overlay lab-usr -o lowerdir={self.pkg}/usr:/usr /usr && "
            f"{overlay('/etc', self.root)} && {overlay('/var/lib', self.root, 'var')} && "
            f"hostname {self.hostname} && exec sleep infinity"
        )
        self.ns = subprocess.Popen(["unshare", "-m", "-u", "--propagation", "private", "sh", "-c", script])
        for _ in range(100):
            if self.inside(["test", "-d", "/var/lib/courier/msgq"]).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the courier namespace did not come up")
        self.log = open(self.root / "courierd.log", "w")
        # As courierctl.start runs it: the environment of /etc/courier/courierd only.
        self.courierd = self.inside(
            ["env", "-i", "/bin/sh", "-c", "set -a; . /etc/courier/courierd; exec /usr/lib/courier/courier/courierd"],
            wait=False,
        )

    def inside(self, cmd, stdin=None, wait=True):
        """Runs CMD in the namespace; returns the finished process, or the
        running one when not WAIT."""
        full = ["nsenter", f"--target={self.ns.pid}", "--mount", "--uts", "--wd=/", *cmd]
        if not wait:
            return subprocess.Popen(full, stdout=self.log, stderr=subprocess.STDOUT)
        return subprocess.run(full, input=stdin, capture_output=True)

    def submit(self, s):
        sender = self.sender(s)
        r = self.inside(["/usr/sbin/sendmail", "-f", sender, *s.rcpts], stdin=self.message(s, sender, "\n").encode())
        if r.returncode != 0:
            raise SystemExit(f"courier's sendmail failed ({r.returncode}): {r.stderr.decode(errors='replace')}")

    def stop(self):
        # courierd starts its modules (courieresmtp, courierdsn) as children
        # that outlive it: end every process of the namespace.
        mine = os.readlink(f"/proc/{self.ns.pid}/ns/mnt")
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and os.readlink(proc / "ns/mnt") == mine and int(proc.name) != self.ns.pid:
                    os.kill(int(proc.name), signal.SIGTERM)
            except OSError:
                pass  # ended meanwhile
        self.courierd.wait()
        self.ns.terminate()
        self.ns.wait()


MTAS = {m.name: m for m in [Postfix, Exim, OpenSmtpd, Sendmail, Dma, Courier]}


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


def is_warning(raw):
    """Whether a message that came back is a delay warning, not the final report.
    OpenSMTPD 6.8 sends its expiry report as a delay notice ("Delivery status
    notification: delayed", "Action: delayed") that says "Envelope expired"."""
    text = raw.decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    if re.search(r"^Action:\s*failed", text, re.I | re.M) or "Envelope expired" in text:
        return False
    return bool(re.search(r"^Action:\s*delayed", text, re.I | re.M) or WARNING_SUBJECT_RE.search(head))


def pick_dsn(messages):
    """The final report among what came back (delay warnings are kept apart)."""
    finals = [raw for raw in messages if not is_warning(raw)]
    return finals[-1] if finals else None


def pick_warning(messages):
    """The first delay warning among what came back, if any."""
    return next((raw for raw in messages if is_warning(raw)), None)


def write_output(out, mtas, scenarios, lab):
    """Saves each MTA's DSN for each scenario; returns how many are missing."""
    missing = 0
    for m in mtas:
        (out / m.name).mkdir(parents=True, exist_ok=True)
        for s in m.runs(scenarios):
            raw = pick_dsn(lab.dsns.get(f"lab-{m.name}-{s.id}", []))
            if raw is None:
                log(f"MISSING: no DSN from {m.name} for {s.name}")
                missing += 1
                continue
            (out / m.name / f"{s.name}.eml").write_bytes(raw.replace(b"\r\n", b"\n"))
            warning = pick_warning(lab.dsns.get(f"lab-{m.name}-{s.id}", []))
            if warning is not None:
                (out / m.name / f"{s.name}{DELAY}.eml").write_bytes(warning.replace(b"\r\n", b"\n"))
    return missing


def label_rows(file, text, mta, s, warning):
    """The rows of one kept report of scenario s: one recipient, or for a
    multi scenario each failed recipient with its own scenario's label, in
    the order the report part lists them (else the text names them first),
    as the shared corpus orders its labels; each with the status of its
    part of the report."""
    parts = sorted(s.parts, key=lambda p: recipient_order(text, p.rcpt)) if s.multi else [s]
    rows = []
    for p in parts:
        label = mta.warning_label(p) if warning else mta.label(p)
        rows.append((file, p.rcpt, dsn_status(recipient_block(text, p.rcpt) if s.multi else text), *label))
    return rows


def recipient_order(text, rcpt):
    """Where RCPT comes in the report: its Final-Recipient field, else its
    first mention (report parts come after the text)."""
    block = re.search(r"^Final-Recipient:[^\n]*" + re.escape(rcpt), text, re.I | re.M)
    return (0, block.start()) if block else (1, text.lower().find(rcpt))


def recipient_block(text, rcpt):
    """The per-recipient fields of RCPT in a report (from its Final-Recipient
    to the next blank line), else the whole text."""
    m = re.search(r"^Final-Recipient:[^\n]*" + re.escape(rcpt) + r"[^\n]*\n(?:[^\n]+\n)*", text, re.I | re.M)
    return m.group(0) if m else text


def write_labels(out, scenarios):
    """labels.tsv for every DSN kept under OUT (of this run or an earlier one):
    the reason and hard/soft follow from the scenario, the status from the
    message."""
    rows = []
    for name, mta in sorted(MTAS.items()):
        for s in scenarios:
            # The final report, then the delay warning sent before it (the
            # recipient's test also wants the warning's recipient `delayed`).
            for file, warning in [(f"{s.name}.eml", False), (f"{s.name}{DELAY}.eml", True)]:
                path = out / name / file
                if path.exists():
                    rows.extend(label_rows(f"{name}/{file}", path.read_text("utf-8", "replace"), mta, s, warning))
    (out / "labels.tsv").write_text(
        "file\trecipient\tstatus\treason\thardbounce\n" + "".join("\t".join(r) + "\n" for r in rows)
    )
    return len(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, help="configs, spools and logs (required unless --relabel)")
    ap.add_argument("--pkg", type=Path, help="the unpacked packages (required unless --relabel)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--mta", action="append", choices=sorted(MTAS))
    ap.add_argument("--scenario", action="append", help="run only these scenarios (names of scenarios.tsv)")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--relabel", action="store_true", help="only rewrite labels.tsv from the kept DSNs")
    args = ap.parse_args()
    scenarios = load_scenarios()
    if args.relabel:
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
    mtas = [MTAS[n](args.work, args.pkg) for n in (args.mta or sorted(MTAS))]
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
        submitters = [threading.Thread(target=m.submit_all, args=(scenarios,)) for m in mtas]
        for t in submitters:
            t.start()
        for t in submitters:
            t.join()
        log("submitted; waiting for the DSNs")
        want = {f"lab-{m.name}-{s.id}" for m in mtas for s in m.runs(scenarios)}
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            with lab.lock:
                # Done when every message has its final report (a delay
                # warning comes first for the temporary failures).
                have = {k for k, msgs in lab.dsns.items() if pick_dsn(msgs) is not None}
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
