//! Prints how fast an import's distinct domains are resolved: 10,000
//! domains (9,000 with MX through a wildcard, 1,000 NXDOMAIN) against a
//! local Knot DNS server, at a few concurrency levels.

#[path = "../tests/support/dns.rs"]
mod dns;

use std::time::{Duration, Instant};

use winback::dns::{MailDomain, MailDomainChecker, Resolver};

const DOMAINS: usize = 10_000;

fn main() {
    let server = dns::DnsServer::start(&[
        ("bulk.test", "* MX 10 mx.bulk.test.\nmx A 127.0.0.2\n"),
        ("nx.test", "only A 127.0.0.3\n"),
    ]);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let domains: Vec<String> =
        (0..DOMAINS).map(|i| if i % 10 == 0 { format!("d{i}.nx.test") } else { format!("d{i}.bulk.test") }).collect();
    for concurrency in [16, 64, 256] {
        let resolver = Resolver::with_nameservers(&[server.addr()], Duration::from_secs(5), 2).expect("resolver");
        let checker = MailDomainChecker::with_limits(resolver, concurrency, DOMAINS);
        let start = Instant::now();
        let answers = rt.block_on(checker.check_all(&domains));
        let secs = start.elapsed().as_secs_f64();
        let mx = answers.values().filter(|a| matches!(a, MailDomain::Mx(_))).count();
        let no_mail = answers.values().filter(|a| **a == MailDomain::NoMail).count();
        let temp = answers.values().filter(|a| matches!(a, MailDomain::TempFail(_))).count();
        println!(
            "mail_domain batch: {DOMAINS} domains, concurrency {concurrency}: {secs:.2} s, {:.0} domains/s \
             (mx {mx}, no_mail {no_mail}, tempfail {temp})",
            DOMAINS as f64 / secs
        );
    }
}
