"""The bounce lab's MTAs that run in private mount namespaces over an
unpacked package tree (dma, Courier, nullmailer): their paths are compiled
in, so each gets overlays of /usr, /etc and its spool (see mtas.py)."""

import os
import re
import shutil
import signal
import smtplib
import subprocess
import time
from pathlib import Path

from scenario import CATCH_ADDR, ZONE
from mta_base import Mta, render


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


class Courier14(Courier):
    """Courier 1.4.1 (Debian 13): as 1.0.16, but it fails a null MX at once
    ("Domain does not receive mail.")."""

    retries = frozenset()
