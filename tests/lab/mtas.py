"""The MTAs of the bounce lab: each a private instance with its own
configuration and spool, started, fed and stopped by lab.py. Each class
also says how its reports are labelled where an MTA does not quote the
scenario's error (see README.md, Labels)."""

import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from email.utils import formatdate, make_msgid
from pathlib import Path

from scenario import CATCH_ADDR, CATCH_DOMAIN, HERE, LOCAL_DOMAIN, QUOTA_FULL_OUTPUT, ZONE, load_scenarios, log

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


class Postfix(Mta):
    name = "postfix"
    port = 10025
    local_delivery = True

    def start(self):
        for d in ["etc", "queue", "data"]:
            (self.root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.write_aliases()
        shutil.chown(self.root / "data", "postfix")
        for f in ["main.cf", "master.cf"]:
            render(self.tmpl / f"{f}.in", self.root / "etc" / f, **self.vars())
        run(["/usr/sbin/postalias", "-c", self.root / "etc", self.root / "aliases"])
        run(["/usr/sbin/postfix", "-c", self.root / "etc", "start"])
        self.wait_listening()

    def stop(self):
        subprocess.run(["/usr/sbin/postfix", "-c", self.root / "etc", "stop"], capture_output=True)


class Exim(Mta):
    name = "exim"
    port = 10026
    local_delivery = True
    # A mailbox over its quota is a temporary failure to Exim's appendfile.
    retries = frozenset({"local-mailbox-full"})

    # A command that failed is "local delivery failed" (systemerror, as the
    # shared corpus reads Exim's words), with the command's output only
    # where the delivery failed for good (return_fail_output).
    program_failure = ("systemerror", "0")

    own_labels = {
        # An address no router takes is "Unrouteable address" to Exim
        # (hostunknown/1, as the shared corpus reads it).
        "local-userunknown": ("hostunknown", "1"),
        # Its dnslookup router freezes a message whose lowest MX is the
        # local host ("self = freeze", the default); timeout_frozen_after
        # returns it with Status 5.0.0 and no cause.
        "mx-self": ("onhold", "0"),
    }

    @property
    def conf(self):
        return self.root / "exim.conf"

    def start(self):
        for d in ["spool", "log"]:
            (self.root / d).mkdir(parents=True, exist_ok=True)
            shutil.chown(self.root / d, "Debian-exim", "Debian-exim")
        render(self.tmpl / "exim.conf.in", self.conf, **self.vars())
        self.write_aliases()
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
    local_delivery = True
    # It refuses an address of its own domain that is no user or alias at
    # RCPT (no report), and sets no mailbox size limit.
    never_reports = frozenset({"local-userunknown", "local-mailbox-full"})
    # A command that failed "exited abnormally", whatever its exit status.
    program_failure = ("mailererror", "0")
    # 6.8 returns expired mail with "Envelope expired" only. It reads a null
    # MX as "No MX found for domain", and a refusal in the greeting or an MX
    # host name without an address as a failed connection: all temporary.
    expiry_quotes_error = False
    retries = frozenset({"nullmx", "blocked-greeting", "mx-noaddress", "notaccept-greeting"})
    detects_self_mx = False
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
            "notaccept-greeting",
            "mx-self",
        }
    )

    @classmethod
    def retried(cls, s):
        # Any refusal in the greeting, as the sweep's replies given there.
        return super().retried(s) or s.stage == "connect"

    @classmethod
    def warning_label(cls, s, text=""):
        if s.name in cls.network_errors:
            return "networkerror", "0"
        return super().warning_label(s, text)

    def runs(self, scenarios):
        """Not the scenarios whose server replies in several lines without
        enhanced codes: its report glues the lines with no space between
        them ("messages from192.0.2.1 … Internetservice provider"), so a
        word that runs over a line's end is lost (with enhanced codes each
        line keeps its status, "rate of4.7.28 unsolicited", and is read). A
        refusal in the greeting it retries and never quotes."""
        return [s for s in super().runs(scenarios) if not (s.unmarked_multiline and not self.retried(s))]

    def start(self):
        spool = self.root / "var-spool"
        spool.mkdir(parents=True)
        os.chmod(self.root, 0o755)
        render(self.tmpl / "smtpd.conf.in", self.root / "smtpd.conf", **self.vars())
        self.write_aliases()
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


class Sendmail(Mta):
    name = "sendmail"
    port = 10028
    local_delivery = True
    # It refuses an address that is no local user at RCPT (no report), and
    # sets no mailbox size limit.
    never_reports = frozenset({"local-userunknown", "local-mailbox-full"})
    # It looks for its own names among the MX hosts, not its addresses.
    detects_self_mx = False

    def start(self):
        (self.root / "etc").mkdir(parents=True)
        (self.root / "mqueue").mkdir(mode=0o700)
        os.chmod(self.root, 0o755)
        render(self.tmpl / "sendmail.mc.in", self.root / "sendmail.mc", **self.vars())
        (self.root / "sendmail.cf").write_text(run(["m4", self.root / "sendmail.mc"]))
        self.write_aliases()
        # A queue run every 10 seconds retries the deferred messages.
        # Sendmail wants a fully qualified host name at start (else it waits
        # a minute): a private UTS namespace gives it its lab name.
        sendmail = self.pkg / "usr/libexec/sendmail/sendmail"
        # The aliases database first (newaliases).
        script = (
            f"hostname {self.hostname} && {sendmail} -C {self.root}/sendmail.cf -bi && "
            f"exec {sendmail} -C {self.root}/sendmail.cf -bd -q10s"
        )
        run(["unshare", "-u", "sh", "-c", script])
        self.wait_listening()

    def stop(self):
        kill_pidfile(self.root / "sendmail.pid")


def quotes_reply(s, text):
    """Whether report TEXT quotes scenario s's reply: the longest stretch of
    its last line without placeholders, whitespace collapsed."""
    stretch = max(re.split(r"\{[a-z_]+\}", s.reply[-1][4:]), key=len)
    return " ".join(stretch.split()) in " ".join(text.split())


def private_etc(root):
    """ROOT/etc-upper, the writable layer of a private overlay over /etc (see
    overlay), with the lab's resolv.conf copied up: the overlay hides the
    bind mount that regenerate.sh lays over /etc/resolv.conf."""
    etc = root / "etc-upper"
    etc.mkdir(parents=True)
    (root / "etc-work").mkdir()
    shutil.copy("/etc/resolv.conf", etc / "resolv.conf")
    return etc


def nsenter(pid, cmd):
    """CMD run in the mount and UTS namespaces of process PID, with its root
    (in a chroot, entering a mount namespace alone would start at the
    host's root) and / as working directory."""
    return ["nsenter", f"--target={pid}", "--mount", "--uts", "--root", "--wd=/", *cmd]


def usr_overlay(pkg):
    """The command that lays the unpacked package tree PKG/usr, read-only,
    over /usr in a nested mount namespace (binaries and paths compiled in)."""
    return f"mount -t overlay lab-usr -o lowerdir={pkg}/usr:/usr /usr"


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
    detects_self_mx = False
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
    # 1.0.16 takes a null MX for a failed connection and retries it (the
    # scenarios it retries read as failed connections).
    retries = frozenset({"nullmx"})

    @classmethod
    def reads_as_connection_failure(cls, s, text):
        """A null MX: its reports quote "Network is down", as for a refused
        connection. A 421 to MAIL, RCPT or the data, after which the server
        closes the connection: a report quotes only the command that
        followed, "<<< <command failed>", unless the attempt it quotes last
        was a fresh connection that got the 421 (it varies from run to
        run)."""
        closes = s.stage in ("mail", "rcpt", "data") and s.reply[-1].startswith("421")
        return s.name in cls.retries or (closes and not quotes_reply(s, text))

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
            f"{usr_overlay(self.pkg)} && "
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
        full = nsenter(self.ns.pid, cmd)
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


class Nullmailer(Mta):
    """nullmailer, the relay-only MTA: it hands every message to the
    smarthosts of its remotes file (no MX lookup), retries a temporary
    failure until queuelifetime (15 s here instead of a week) and writes a
    report with nullmailer-dsn for a permanent failure or an expired message,
    which it queues for its smarthost like any message. Its paths are
    compiled in: each scenario has an instance of its own, whose smarthost
    is the scenario's MX host, in a nested mount namespace that lays the
    unpacked package over /usr, a private layer over /etc and its own spool
    over /var/spool. The lab takes the reports from the spool (an empty
    sender line) and hands them to the catcher, as the smarthost would."""

    name = "nullmailer"
    # A smarthost is an address: the scenarios of the recipient's DNS (no
    # domain, null MX, MX host without an address), of several recipients
    # on several servers and of local delivery do not arise.
    never_reports = frozenset({"nxdomain", "nullmx", "mx-noaddress", "mx-self"})
    smarthost_only = True
    # It writes a report only when it moves a message to its failed queue;
    # nullmailer-dsn words it as a delay ("Action: delayed", "A final delivery
    # status notification will be generated …") when the last error was
    # temporary, though no other report follows.
    sends_warnings = False

    @classmethod
    def label(cls, s, text=""):
        """Its smtp module says nothing of a connection the server closed or
        left silent ("Sending failed: Protocol error", or its timeout): the
        report's "Diagnostic-Code: SMTP;" is empty and gives no cause."""
        if re.search(r"^Diagnostic-Code:[^;\n]*;[ \t]*$", text, re.I | re.M):
            return "onhold", "0"
        return super().label(s, text)

    def runs(self, scenarios):
        """Not the scenarios whose server replies in several lines: its
        nullmailer-dsn refuses such a diagnostic ("nullmailer-dsn failed:
        111"), so it writes no report."""
        return [s for s in super().runs(scenarios) if len(s.reply) == 1]

    def start(self):
        self.root.mkdir(parents=True)
        os.chmod(self.root, 0o755)
        self.ns = {}
        self.forwarded = set()

    def instance(self, s):
        """Starts scenario s's nullmailer-send (its remote the scenario's
        MX host); returns the process, whose namespace submissions enter."""
        root = self.root / f"s{s.id}"
        etc = private_etc(root)
        (etc / "nullmailer").mkdir()
        (etc / "mailname").write_text(self.hostname + "\n")
        control = dict(
            remotes=f"{s.mx_addr} smtp --port=25",
            queuelifetime="15",
            pausetime="5",
            maxpause="5",
            # Longer than queuelifetime: a server that says nothing fails the
            # message at the first attempt's timeout. (A second attempt is
            # not always killed at the timeout: it may wait for ever.)
            sendtimeout="20",
            defaultdomain=ZONE,
            adminaddr="",
        )
        for file, value in control.items():
            (etc / "nullmailer" / file).write_text(value + "\n")
        spool = root / "spool" / "nullmailer"
        for d in ["queue", "tmp", "failed"]:
            (spool / d).mkdir(parents=True)
        os.mkfifo(spool / "trigger", 0o622)
        for d in [spool, *spool.iterdir()]:
            shutil.chown(d, "mail", "root")
        os.chmod(root, 0o755)
        # The spool last: its trigger says the namespace is ready (submit).
        script = (
            f"hostname {self.hostname} && "
            f"{usr_overlay(self.pkg)} && "
            f"{overlay('/etc', root)} && mount --bind {root}/spool /var/spool && cd /var/spool/nullmailer && "
            "exec setpriv --reuid mail --regid root --clear-groups /usr/sbin/nullmailer-send"
        )
        log_file = open(root / "nullmailer-send.log", "w")
        return subprocess.Popen(
            ["unshare", "-m", "-u", "--propagation", "private", "sh", "-c", script],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

    def submit(self, s):
        proc = self.ns[s.id] = self.instance(s)
        sender = self.sender(s)
        cmd = ["/usr/sbin/sendmail", "-f", sender, *s.rcpts]
        for _ in range(100):
            # The namespace is ready once its spool is mounted.
            if subprocess.run(nsenter(proc.pid, ["test", "-p", "/var/spool/nullmailer/trigger"])).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"the nullmailer namespace of {s.name} did not come up")
        r = subprocess.run(nsenter(proc.pid, cmd), input=self.message(s, sender, "\n").encode(), capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"nullmailer's sendmail failed ({r.returncode}): {r.stderr.decode(errors='replace')}")

    def kick(self):
        """Hands each report queued (or failed at the smarthost) to the catcher."""
        for path in sorted(self.root.glob("s*/spool/nullmailer/*/*")):
            key = f"{path.parents[3].name}/{path.name}"  # sNN/FILE: it may move to failed/
            if path.parent.name not in ("queue", "failed") or key in self.forwarded:
                continue
            try:
                envelope, _, message = path.read_bytes().partition(b"\n\n")
            except FileNotFoundError:
                continue  # moved to failed/ meanwhile: read there next time
            sender, *rcpts = envelope.decode().split("\n")
            if sender:
                continue  # the message itself, not a report
            with smtplib.SMTP(CATCH_ADDR, 25, local_hostname=self.hostname, timeout=30) as c:
                c.sendmail("", rcpts, message)
            self.forwarded.add(key)

    def stop(self):
        for proc in self.ns.values():
            proc.terminate()
            proc.wait()


class Haraka(Mta):
    """Haraka, the Node.js MTA, from its npm package (Debian has none; the
    lab runs it on Debian 12 with the host's Node.js): its outbound queue
    delivers to the recipient domain's MX, retries a temporary failure after
    10 s three times (outbound.ini; about four days by default) and then
    returns the message. It sends no delay warning."""

    name = "haraka"
    port = 10032
    sends_warnings = False
    # It connects to the MX host's address on port 25, where no lab server
    # listens for mx-self, until it gives up.
    detects_self_mx = False
    # An MX host name without an address leaves it no host to try: it
    # retries, and its report says only "Too many failures (Tried all MXs)".
    own_labels = {"mx-noaddress": ("expired", "0")}

    @property
    def haraka(self):
        return self.pkg / "node_modules/Haraka/bin/haraka"

    def start(self):
        # An instance with Haraka's own default configuration (its report's
        # template, connection.ini …: an instance's file replaces the
        # package's), then the lab's files.
        run(["node", self.haraka, "-i", self.root])
        shutil.copytree(self.haraka.parents[1] / "config", self.root / "config", dirs_exist_ok=True)
        (self.root / "queue").mkdir()
        render(self.tmpl / "smtp.ini.in", self.root / "config" / "smtp.ini", **self.vars())
        for f in ["outbound.ini", "plugins", "log.ini"]:
            shutil.copy(self.tmpl / f, self.root / "config" / f)
        shutil.copy(self.tmpl / "lab_relay.js", self.root / "plugins")
        (self.root / "config" / "me").write_text(self.hostname + "\n")
        log_file = open(self.root / "haraka.log", "w")
        self.proc = subprocess.Popen(
            ["node", self.haraka, "-c", self.root],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_listening()


class Chasquid(Mta):
    """chasquid, the Go SMTP server: it relays only for authenticated users
    on its submission port (TLS first, a self-signed certificate here),
    delivers to the recipient domain's MX and writes its own report (RFC
    6533's message/global-delivery-status, addresses typed utf-8). It
    retries a temporary failure for 20 hours (compiled in, and kept in each
    queue item, not its file's time), so the lab gives it only the scenarios
    that fail at once; it sends no delay warning."""

    name = "chasquid"
    port = 10033
    smtp_port = 10034
    sends_warnings = False
    user = "lab"
    password = "lab-password"

    # Failures it retries although they are permanent to the scenario table:
    # a domain that does not resolve (it falls back to the domain's address,
    # whose lookup fails), a null MX, an MX host without an address, a refusal
    # in the greeting ("all MXs returned transient failures (last: Error
    # creating client: 554 …)"), and its own address on port 25.
    retries = frozenset({"nxdomain", "nullmx", "mx-noaddress", "blocked-greeting", "notaccept-greeting", "mx-self"})

    def runs(self, scenarios):
        # One report a message, once every recipient is done: a message with a
        # recipient it retries has none in the lab's time.
        def at_once(s):
            return not s.expiry and not self.retried(s) and all(at_once(p) for p in s.parts)

        return [s for s in super().runs(scenarios) if at_once(s)]

    @property
    def binary(self):
        return self.pkg / "usr/bin/chasquid"

    def start(self):
        etc = self.root / "etc"
        certs = etc / "certs" / self.hostname
        certs.mkdir(parents=True)
        (etc / "domains" / self.hostname).mkdir(parents=True)
        (self.root / "data").mkdir()
        render(self.tmpl / "chasquid.conf.in", etc / "chasquid.conf", SMTP_PORT=self.smtp_port, **self.vars())
        run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={self.hostname}",
             "-keyout", certs / "privkey.pem", "-out", certs / "fullchain.pem"]
        )
        run(
            [self.pkg / "usr/bin/chasquid-util", f"--configdir={etc}", "user-add",
             f"{self.user}@{self.hostname}", f"--password={self.password}"]
        )
        self.log = open(self.root / "chasquid.log", "w")
        self.proc = subprocess.Popen(
            [self.binary, f"--config_dir={etc}", "-v=1"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_listening()

    def submit(self, s):
        sender = self.sender(s)
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.lab.test", timeout=30) as c:
            c.starttls(context=ssl._create_unverified_context())
            c.login(f"{self.user}@{self.hostname}", self.password)
            c.sendmail(sender, s.rcpts, self.message(s, sender))


class OpenSmtpd7(OpenSmtpd):
    """OpenSMTPD 7.6 (Debian 13): as 6.8, but it knows RFC 7505 and fails a
    null MX at once ("Domain does not accept mail"), and its expiry report
    says `Action: failed`."""

    retries = OpenSmtpd.retries - {"nullmx"}


class Courier14(Courier):
    """Courier 1.4.1 (Debian 13): as 1.0.16, but it fails a null MX at once
    ("Domain does not receive mail.")."""

    retries = frozenset()


def mtas_of(release):
    """The MTA classes of a Debian release, by name."""
    by_release = {
        "bookworm": [Postfix, Exim, OpenSmtpd, Sendmail, Dma, Courier, Nullmailer, Haraka, Chasquid],
        "trixie": [Postfix, Exim, OpenSmtpd7, Sendmail, Dma, Courier14, Nullmailer, Chasquid],
    }
    if release not in by_release:
        raise SystemExit(f"the lab knows the MTAs of {', '.join(by_release)}, not of {release!r}")
    return {m.name: m for m in by_release[release]}


MTA_NAMES = sorted(mtas_of("bookworm"))
