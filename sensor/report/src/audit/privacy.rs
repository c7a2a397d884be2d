//! `privacy.txt`: what personal data a report holds, in plain words, with the blanks the
//! operator fills in (legal basis, retention, contact).
//!
//! # Contract
//! - The statement names every kind of personal data the report's files carry (addresses,
//!   MACs, host names, peer addresses and their countries and networks, session times and
//!   volumes, keystroke timing figures, the protocol identifiers alerts quote as evidence)
//!   and says what they never carry (payloads beyond those identifiers, screen contents,
//!   which keys were pressed).
//! - It leaves the legal basis, the retention period and the contact as marked blanks
//!   (`[…]`): the operator knows them, farhand does not.
//! - Plain UTF-8 text, lines under 100 characters; the only data in it are the period, the
//!   sensor names and the counts.

use super::ReportMeta;
use super::period::rfc3339_seconds;
use crate::records::ReportData;
use std::fmt::Write as _;

/// `n` things: "1 alert", "3 alerts".
fn count(n: usize, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// The statement for the report of `data`.
pub(crate) fn statement(data: &ReportData, meta: &ReportMeta) -> String {
    let mut s = String::new();
    let sensors = if meta.sensors.is_empty() { "(none named)".to_string() } else { meta.sensors.join(", ") };
    let _ = write!(
        s,
        "PRIVACY STATEMENT FOR THIS REPORT\n\
         =================================\n\
         \n\
         Report:    {title}\n\
         Period:    {from} to {to} (UTC)\n\
         Sensors:   {sensors}\n\
         Generated: {generated}\n\
         Contents:  {alerts}, {sessions}, {endpoints}\n\
         \n\
         What this report is for\n\
         -----------------------\n\
         farhand watches the network traffic of company computers and flags sessions in which a\n\
         computer appears to be controlled from elsewhere (remote-control tools, relays, tunnels).\n\
         This report summarises what the sensors flagged in the period above, so that auditors can\n\
         check the alerts and how they were handled.\n\
         \n\
         Personal data in this report\n\
         ----------------------------\n\
         The report's files (report.html, alerts.csv, sessions.csv, report.json) contain:\n\
         \n\
         - Company endpoints: their IP addresses, MAC addresses and host names. A host name or\n\
         \x20 an address can often be linked to the person who uses that computer.\n\
         - Peers: the IP addresses and ports of the other side of each flagged connection, the\n\
         \x20 countries and network operators (autonomous systems) of those addresses, as looked\n\
         \x20 up in a geolocation database. Locations are approximate.\n\
         - Sessions: which tool was used, when each session started and ended, how many bytes\n\
         \x20 went each way, and latency figures (the relay gap) that suggest whether the\n\
         \x20 controlling person was behind a relay.\n\
         - Keystroke timing: for some sessions, how many keystrokes were counted and the median\n\
         \x20 time between them, with a rhythm label (human, automated, ...).\n\
         - Protocol identifiers the alerts quote as evidence: software version banners (SSH,\n\
         \x20 VNC), server and certificate names (TLS, QUIC), HTTP host names and user agents,\n\
         \x20 DNS names looked up, and the IDs remote-control services assign.\n\
         - The alerts' explanations and severities, and the names of the sensors.\n\
         \n\
         What this report does NOT contain\n\
         ---------------------------------\n\
         No packet payloads beyond the identifiers above. No screen contents, file contents,\n\
         messages or passwords. No keystroke contents: only the timing between keystrokes is\n\
         measured, never which keys were pressed. No data about traffic that raised no alert.\n\
         \n\
         Legal basis (to be completed by the operator)\n\
         ---------------------------------------------\n\
         Purpose: detecting unauthorised remote control of company computers.\n\
         Legal basis for the processing: [e.g. legitimate interest in the security of the\n\
         company's systems, GDPR Art. 6(1)(f); works-council agreement ref. ...]\n\
         Controller and contact for data-protection questions: [name, address, e-mail]\n\
         \n\
         Retention (to be completed by the operator)\n\
         -------------------------------------------\n\
         This report and its copies are kept for: [period, e.g. 12 months], then deleted.\n\
         Who may read it: [auditors, security team, ...]\n\
         The alert store it was built from keeps its rows for: [period].\n\
         \n\
         Integrity\n\
         ---------\n\
         manifest.json lists every file of this report with its size and SHA-256, and the\n\
         SHA-256 of the previous report's manifest.json, so a series of reports can be checked\n\
         for later changes or removals.\n",
        title = meta.title,
        from = rfc3339_seconds(data.from_us),
        to = rfc3339_seconds(data.to_us),
        generated = rfc3339_seconds(meta.generated_us),
        alerts = count(data.alerts.len(), "alert"),
        sessions = count(data.sessions.len(), "session"),
        endpoints = count(data.endpoints.len(), "endpoint"),
    );
    s
}
