"""The lab's scenarios (scenarios.tsv) and the names and addresses they use."""

import re
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZONE = "lab.test"
DNS_ADDR = "127.0.53.53"
CATCH_ADDR = "127.0.2.1"
CATCH_DOMAIN = f"catch.{ZONE}"
RCPT_LOCAL = "reader"
# The domain every MTA delivers itself (stage "local" scenarios).
LOCAL_DOMAIN = f"local.{ZONE}"
# A stage "local" reply naming no alias: the address is no local user.
NO_SUCH_USER = "(none)"
# A stage "local" reply naming a mailbox file already over the MTA's size
# limit.
FULL_MAILBOX = "(full mailbox)"
# What {bin}/quota-full prints: Dovecot's LDA (dovecot-lda -e) on a full
# mailbox.
QUOTA_FULL_OUTPUT = "Quota exceeded (mailbox for user is full)"
CLIENT = "127.0.0.1"
# File name suffix of a kept delay warning.
DELAY = "-delay"


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


class Scenario:
    def __init__(self, cols):
        # Columns after the seventh are the table writer's (sweep.py's).
        self.id, self.name, self.stage, expiry, reply, self.reason, self.hard = cols[:7]
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
    def unmarked_multiline(self):
        """Whether the reply has several lines and no enhanced status after
        their codes ("550-SC-001 …", not "550-5.7.1 …")."""
        return len(self.reply) > 1 and not any(re.match(r"\d{3}[- ][245]\.\d{1,3}\.\d{1,3}\b", l) for l in self.reply)

    @property
    def local(self):
        """Whether the MTA itself is the destination and fails the delivery."""
        return self.stage == "local"

    @property
    def domain(self):
        return LOCAL_DOMAIN if self.local else f"s{self.id}.{ZONE}"

    @property
    def rcpt(self):
        return f"s{self.id}@{LOCAL_DOMAIN}" if self.local else f"{RCPT_LOCAL}@{self.domain}"

    def alias(self, mail):
        """The aliases-file line of a local scenario (None for none): its
        address to the command or file of the reply column, {bin} being the
        folder MAIL and FULL_MAILBOX the file MAIL/full.mbox."""
        target = self.reply[0]
        if not self.local or target == NO_SUCH_USER:
            return None
        if target == FULL_MAILBOX:
            target = str(mail / "full.mbox")
        return f's{self.id}: "{target.format(bin=mail)}"'

    @property
    def mx_addr(self):
        """The MX host's address: the scenario's own, or for mx-self the
        address the MTAs listen on (no lab server answers there on port 25).
        Ids 1-254 are 127.0.1.ID; larger ones (a generated table's, see
        sweep.py) 127.X.Y.Z above 127.100.0.0."""
        if self.name == "mx-self":
            return CLIENT
        n = int(self.id)
        if n < 255:
            return f"127.0.1.{n}"
        return f"127.{100 + n // 64516}.{n // 254 % 254 + 1}.{n % 254 + 1}"

    def reply_lines(self, sender):
        """The reply with {rcpt}, {client}, {sender} (the MAIL FROM address)
        and {sender_domain} filled in."""
        domain = sender.rpartition("@")[2] or CATCH_DOMAIN
        return [
            line.format(rcpt=self.rcpt, client=CLIENT, sender=sender, sender_domain=domain)
            for line in self.reply
        ]


def load_scenarios(table=None):
    """The scenarios of TABLE (default: scenarios.tsv beside this file)."""
    out = []
    for line in Path(table or HERE / "scenarios.tsv").read_text().splitlines():
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
