"""The base of the bounce lab's MTAs (see mtas.py): what every private
instance does (configure, start, submit, wait, stop) and the helpers its
subclasses share."""

import os
import re
import smtplib
import socket
import subprocess
import time
from email.utils import formatdate, make_msgid

from scenario import CATCH_DOMAIN, HERE, LOCAL_DOMAIN, QUOTA_FULL_OUTPUT, ZONE, load_scenarios, log

# The mailbox size limit of the MTAs that set one; the file of the
# "(full mailbox)" alias is already over it.
MAILBOX_LIMIT = 20000


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
    # Whether the lab has it deliver mail itself (the stage "local" scenarios:
    # its aliases file, local users, a mailbox size limit).
    local_delivery = False
    # Whether it sends every message to one smarthost instead of the
    # recipient domain's MX: the several-recipient scenarios (their
    # recipients are on several servers) do not arise.
    smarthost_only = False
    # Whether it sends delay warnings before the final report: nullmailer
    # does not, and words its only report as a delay when the last error was
    # temporary.
    sends_warnings = True
    # Whether it sees that a domain's MX host is itself (the mx-self
    # scenario) and says so; else it connects to its own address on port 25,
    # where nothing listens, until the queue lifetime ends.
    detects_self_mx = True
    # Labels of its own for scenarios whose report says something else than
    # the scenario's cause, by scenario name (see README.md, Labels).
    own_labels = {}

    @classmethod
    def retried(cls, s):
        """Whether this MTA retries scenario s, which fails at once, until the
        queue lifetime ends."""
        return s.name in cls.retries

    @classmethod
    def reads_as_connection_failure(cls, s, text):
        """Whether this MTA's report TEXT (warning or final) of scenario s
        quotes an error that is not the scenario's but a failed connection,
        as after a refused one."""
        return s.name == "mx-self" and not cls.detects_self_mx

    # What this MTA's report says of an alias's command that failed, where
    # it neither passes on what the exit status means nor returns output
    # the command printed: (reason, hardbounce), or None where it does.
    program_failure = None

    @classmethod
    def local_label(cls, s, text):
        """The label of a local scenario whose report TEXT does not say the
        scenario's cause (see program_failure), else None."""
        command = s.local and s.reply[0].startswith("|")
        if cls.program_failure and command and QUOTA_FULL_OUTPUT not in text:
            return cls.program_failure
        return cls.own_labels.get(s.name)

    @classmethod
    def label(cls, s, text=""):
        """(reason, hardbounce) for scenario s: its own label, or `expired`
        where this MTA reports only that the message expired in the queue
        or that its connections kept failing."""
        expiry = s.expiry or cls.retried(s)
        if (expiry and not cls.expiry_quotes_error) or cls.reads_as_connection_failure(s, text):
            return "expired", "0"
        return cls.local_label(s, text) or (s.reason, s.hard)

    @classmethod
    def warning_label(cls, s, text=""):
        """(reason, hardbounce) for this MTA's delay warning in scenario s:
        it quotes the last error, as the final report does (a failed
        connection reads `expired`, as the refused scenario's warnings do)."""
        if cls.reads_as_connection_failure(s, text):
            return "expired", "0"
        return cls.local_label(s, text) or (s.reason, s.hard)

    def __init__(self, work, pkg):
        self.root = work / self.name
        self.pkg = pkg / self.name  # unpacked package tree (unused for Postfix)
        self.tmpl = HERE / "mta" / self.name
        self.hostname = f"mta-{self.name}.{ZONE}"

    def vars(self):
        return dict(
            ROOT=self.root,
            PKG=self.pkg,
            PORT=self.port,
            HOSTNAME=self.hostname,
            LOCAL_DOMAIN=LOCAL_DOMAIN,
            MAILBOX_LIMIT=MAILBOX_LIMIT,
        )

    def write_aliases(self):
        """ROOT/aliases for the local scenarios, and in ROOT/mail (writable
        by all: the MTAs deliver to files and run commands as unprivileged
        users, and lock files beside the mailbox) the mailbox file over the
        size limit and the quota-full command they name."""
        mail = self.root / "mail"
        mail.mkdir(parents=True, exist_ok=True)
        os.chmod(mail, 0o1777)
        full = mail / "full.mbox"
        full.write_text("From old@lab.test Thu Jan  1 00:00:00 2026\n\n" + ("x" * 69 + "\n") * (MAILBOX_LIMIT // 50))
        os.chmod(full, 0o666)
        quota = mail / "quota-full"
        quota.write_text(f"#!/bin/sh\necho '{QUOTA_FULL_OUTPUT}' >&2\nexit \"$1\"\n")
        os.chmod(quota, 0o755)
        lines = [a for s in load_scenarios() if (a := s.alias(mail))]
        (self.root / "aliases").write_text("\n".join(lines) + "\n")

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
            if s.name not in self.never_reports
            and not (s.multi and (self.one_report_per_recipient or self.smarthost_only))
            and not (s.local and not self.local_delivery)
        ]

    def submit_all(self, scenarios):
        began = time.time()
        scenarios = self.runs(scenarios)
        for s in scenarios:
            self.submit(s)
        log(f"{self.name}: {len(scenarios)} messages submitted in {time.time() - began:.1f}s")

    def kick(self):
        """Asks the MTA to retry its queue now (optional)."""

    def stop(self):
        """Stops the MTA's daemon (those that run one process, `self.proc`;
        the others say how they stop)."""
        self.proc.terminate()
        self.proc.wait()
