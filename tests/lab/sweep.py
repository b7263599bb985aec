"""A sweep of documented replies through the lab's real MTAs.

The wordings table (tests/data/bounce/mta-wordings.tsv) and the providers'
documented replies (../shared/bounce-references/provider-replies.tsv, read
as tests/data/bounce/provider-replies-expected.tsv says) are checked by the
Rust tests in reports laid out by hand. This sweep has real MTAs quote each
permanent (5xx) one-line reply instead: every reply becomes a scenario of
its own (the destination server gives it, at RCPT TO, or at the end of the
data for content and authentication refusals), each MTA of the lab writes
its report as it does, with its own wrapping, quoting and status, and the
classifier reads every report with and without its report part.

    python3 tests/lab/sweep.py table WORK/sweep.tsv
    tests/lab/regenerate.sh --scenarios WORK/sweep.tsv --out WORK/out \\
        --mta postfix --mta exim --mta sendmail --mta opensmtpd --mta courier \\
        --mta dma --mta haraka --mta chasquid
    python3 tests/lab/sweep.py check WORK/sweep.tsv WORK/out [--winback BIN]

`check` prints each report whose reading differs from the reply's
documented meaning, then the counts. A difference is something to look
at, not always a defect: an MTA may add its own meaning (a status of its
own for a reply that has none).
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from lab import release_of
from mtas import mtas_of
from scenario import load_scenarios

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WORDINGS = REPO / "tests/data/bounce/mta-wordings.tsv"
PROVIDERS = REPO.parent / "shared/bounce-references/provider-replies.tsv"
EXPECTED = REPO / "tests/data/bounce/provider-replies-expected.tsv"
# Scenario ids of the sweep: above the hand-written table's (1-254).
FIRST_ID = 1000
# Refusals a server gives after the data, when it has seen the message.
AFTER_DATA = {"spamdetected", "virusdetected", "emailtoolarge", "contenterror", "authfailure", "notcompliantrfc"}
# Refusals of our sender or our host, which a server may give as early as
# MAIL FROM (`table --sender-at-mail`).
SENDER_SIDE = {"rejected", "blocked", "badreputation", "requireptr", "securityerror", "ratelimited", "authfailure"}
HARD = {"userunknown", "hostunknown", "hasmoved"}
# The wordings table labels a few unknown-user replies `filtered`: its rows
# stand for reports that name no command, where the same words are as often
# a filter's after the data (see the table). Through an MTA that names the
# command they are unknown users.
UNKNOWN_USER = re.compile(r"(?i)no such user|invalid (user|recipient)|mailbox invalid")
# The MTAs whose reports name neither the command nor an addressing status
# for a reply without one (OpenSMTPD: "a@b: 550 Unknown user", Status
# 5.0.0). The same unknown-user words are then as often a filter's after
# the data: the shared corpus labels its generic wordings `filtered` in
# such reports, and Sisimai reads every unknown-user wording so. winback
# reads the generic ones `filtered` and the specific ones ("Recipient
# address rejected", "mailbox unavailable") `userunknown`; the sweep
# accepts either there.
NO_COMMAND = {"opensmtpd"}
# Where the recipient's address goes, until the reply is written out.
RCPT = "\0rcpt\0"
ADDRESS = re.compile(r"<?[\w.+-]+@[\w-]+(?:\.[\w-]+)+>?")


def fill(text):
    """A documented reply's placeholders (`<IP address>`, `<domain>`, …)
    replaced by plausible values, as tests/bounce_provider_replies.rs does."""

    def value(m):
        name = m.group(1).lower()
        if "ipv6" in name:
            return "2001:db8::1"
        if "ip" in name or "client address" in name:
            return "192.0.2.1"
        if any(w in name for w in ("address", "userid", "@", "path")):
            return RCPT
        if "domain" in name or "host" in name:
            return "example.com"
        return "x1"

    return re.sub(r"<([^<>@]*)>", value, text)


def reply_of(text):
    """One SMTP reply line for the destination server to give: braces kept
    from str.format, addresses become the recipient's."""
    text = ADDRESS.sub(RCPT, text.replace("{", "{{").replace("}", "}}"))
    return text.replace(RCPT, "<{rcpt}>")


# A reply as a sending MTA quoted it in a row: Postfix "host mx.b.example[…]
# said: 550 … (in reply to RCPT TO command)", "… refused to talk to me: 550
# …", Exim "…: SMTP error from remote mail server after RCPT TO:<a@b>: 550 …".
QUOTED = re.compile(
    r"^(?:host \S+ (?:said|(?P<greeting>refused to talk to me)):"
    r"|\S+ \[[\d.]+\]: SMTP error from remote mail server after (?P<after>[^:]*)(?::<[^>]*>[^:]*)?:) "
    r"(?P<reply>[45]\d\d[ -].*?)(?: \(in reply to (?P<command>[A-Za-z ]+) command\))?$"
)


def quoted_stage(m):
    """The stage a quoted reply answered, where its row says (the greeting or
    MAIL FROM: there a refusal means our host or our sender); else None."""
    said = m.group("command") or m.group("after") or ""
    if m.group("greeting") or said == "initial connection":
        return "connect"
    if said.startswith("MAIL FROM"):
        return "mail"
    return None


def wording_rows():
    for n, line in enumerate(WORDINGS.read_text().splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        family, _shape, _status, action, text, reason, _hard = line.split("\t")
        quoted = QUOTED.match(text)
        stage = None
        if quoted:
            text, stage = quoted.group("reply"), quoted_stage(quoted)
        # One reply line each; not a report's quote that glued a multi-line
        # reply's lines together ("rate of4.7.28 unsolicited"), which no
        # server sends.
        if "\\n" in text or not re.match(r"[45]\d\d[ -]", text) or re.search(r"[a-z][245]\.\d+\.\d", text):
            continue
        yield f"w{n}", family, text[:3] + " " + text[4:], {reason}, stage


def provider_rows():
    expected = {}
    for line in EXPECTED.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        provider, status, text, want = line.split("\t")
        expected[(provider, status, text)] = want
    for n, line in enumerate(PROVIDERS.read_text().splitlines()[1:], 2):
        c = line.split("\t")
        if len(c) < 4 or not c[1][:1] in ("4", "5"):
            continue
        want = expected.get((c[0], c[2], c[3]), "skip")
        if want == "skip":
            continue
        status = c[2].split("-")[0].replace("X.", c[1][0] + ".")
        text = fill(c[3])
        reasons = set(want.split("|"))
        yield f"p{n}", c[0], f"{c[1]} {status} {text}" if status else f"{c[1]} {text}", reasons, None


def wrapped(reply, width):
    """REPLY as a multi-line reply of lines up to about WIDTH characters,
    each starting with the code and the enhanced status as Gmail writes
    them ("550-5.7.1 … / 550 5.7.1 …"); a short reply stays one line."""
    m = re.match(r"(\d{3}) ((?:[245]\.\d{1,3}\.\d{1,3} )?)(.*)", reply)
    if width is None or not m or len(reply) <= width:
        return reply
    code, status, words = m.group(1), m.group(2), m.group(3).split()
    lines, line = [], ""
    for w in words:
        if line and len(code) + 1 + len(status) + len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    return "\\n".join(f"{code}{'-' if i < len(lines) - 1 else ' '}{status}{l}" for i, l in enumerate(lines))


def stage_of(reasons, sender_at_mail):
    """Where the destination gives a reply of these meanings."""
    if sender_at_mail and reasons <= SENDER_SIDE:
        return "mail"
    return "data" if reasons & AFTER_DATA else "rcpt"


def write_table(path, width=None, sender_at_mail=False):
    rows = [*wording_rows(), *provider_rows()]
    lines = [
        "# Generated by tests/lab/sweep.py table: one documented reply a scenario"
        + (f", as a multi-line reply of lines up to {width} characters." if width else "."),
        "# id\tname\tstage\texpiry\treply\treason\thardbounce\taccepted reasons\tsource",
    ]
    for i, (name, source, text, reasons, stage) in enumerate(rows):
        reasons = sorted(reasons)
        stage = stage or stage_of(set(reasons), sender_at_mail)
        # A temporary refusal: the MTA retries until its queue lifetime ends.
        expiry = "yes" if text.startswith("4") else "no"
        lines.append(
            "\t".join([str(FIRST_ID + i), name, stage, expiry, wrapped(reply_of(text), width), reasons[0], "1" if HARD & set(reasons) else "0", "|".join(reasons), source])
        )
    Path(path).write_text("\n".join(lines) + "\n")
    print(f"{path}: {len(rows)} scenarios")


def load(path):
    table = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        c = line.split("\t")
        table[c[1]] = {"reply": c[4], "reasons": set(c[7].split("|")), "source": c[8]}
    return table


def accepted(row, mta, lab_label):
    """The (reason, hardbounce) readings right for ROW's reply in MTA's
    report: LAB_LABEL where the lab's labelling turns the scenario into
    something else for this MTA (a bare expiry), else the reply's meaning."""
    if lab_label[0] != sorted(row["reasons"])[0]:
        return {lab_label}
    reasons = set(row["reasons"])
    # The reply's words, its lines joined (as `table --wrap` split them).
    words = re.sub(r"\\n\d{3}[ -](?:[245]\.\d{1,3}\.\d{1,3} )?", " ", row["reply"])
    if reasons == {"filtered"} and UNKNOWN_USER.search(words):
        reasons = {"userunknown"}
    if "userunknown" in reasons and mta in NO_COMMAND and not re.search(r"\b5\.1\.\d|rcpt to", words, re.I):
        reasons = reasons | {"filtered"}
    permanent = row["reply"].startswith("5")
    return {(r, "1" if r in HARD or (r == "notaccept" and permanent) else "0") for r in reasons}


def strip_report(raw):
    """The report without its message/delivery-status part: what a reader
    of the text alone has."""
    return re.sub(
        rb"(?ims)^content-type:\s*message/delivery-status.*?(?=^--)", b"Content-Type: text/plain\n\n(removed)\n\n", raw
    )


def classify(winback, folder):
    out = subprocess.run([winback, "bounce", "classify", "--format", "tsv", str(folder)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"winback bounce classify failed: {out.stderr}")
    rows = {}
    for line in out.stdout.splitlines()[1:]:
        c = line.split("\t")
        rows.setdefault("/".join(Path(c[0]).parts[-2:]), []).append(c)
    return rows


def check(table_path, out, winback):
    table = load(table_path)
    scenarios = {sc.name: sc for sc in load_scenarios(table_path)}
    classes = mtas_of(release_of(Path(out)))
    files = sorted(p for p in Path(out).glob("*/*.eml") if not p.stem.endswith("-delay"))
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp)
        for f in files:
            (bare / f.parent.name).mkdir(exist_ok=True)
            (bare / f.parent.name / f.name).write_bytes(strip_report(f.read_bytes()))
        readings = {"report": classify(winback, out), "text": classify(winback, bare)}
    counts = {}
    for form, rows in readings.items():
        for f in files:
            key = f"{f.parent.name}/{f.name}"
            want = table[f.stem]
            got = rows.get(key, [])
            verdicts = [(c[3], c[4]) for c in got if c[1].startswith("reader@")]
            lab_label = classes[f.parent.name].label(scenarios[f.stem], f.read_text("utf-8", "replace"))
            right = accepted(want, f.parent.name, lab_label)
            if form == "text" and ("expired", "0") in right:
                # A final failure after connection errors is `expired` by the
                # report part's status and `networkerror` by the text alone,
                # taken as one (as tests/bounce_lab.rs compares them).
                right.add(("networkerror", "0"))
            ok = len(verdicts) == 1 and verdicts[0] in right
            counts.setdefault((form, f.parent.name), [0, 0])[0 if ok else 1] += 1
            if not ok:
                print(f"{form}\t{key}\t{want['source']}\twant {sorted(right)}\tgot {[c[1:5] for c in got]}\t{want['reply']}")
    for (form, mta), (good, bad) in sorted(counts.items()):
        print(f"# {form:6} {mta:10} {good} right, {bad} differ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="write the scenario table")
    t.add_argument("path")
    t.add_argument("--wrap", type=int, metavar="WIDTH", help="give each reply longer than WIDTH as a multi-line reply")
    t.add_argument("--sender-at-mail", action="store_true", help="give refusals of our sender or host at MAIL FROM")
    c = sub.add_parser("check", help="classify the kept reports and compare")
    c.add_argument("table")
    c.add_argument("out")
    c.add_argument("--winback", default=str(REPO / "target/release/winback"))
    args = ap.parse_args()
    if args.cmd == "table":
        write_table(args.path, args.wrap, args.sender_at_mail)
    else:
        check(args.table, args.out, args.winback)


if __name__ == "__main__":
    main()
