"""The MTAs of the bounce lab: each a private instance with its own
configuration and spool, started, fed and stopped by lab.py. Each class
also says how its reports are labelled where an MTA does not quote the
scenario's error (see README.md, Labels)."""

import os
import shutil
import signal
import smtplib
import ssl
import subprocess

from scenario import log
from mta_base import Mta, render, run
from mtas_ns import Courier, Courier14, Dma, Nullmailer


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
